#!/usr/bin/env bash
# End-to-end cluster check, as an operator would run it: Redis, three gateway
# nodes, the real HAProxy in front of them (deploy/haproxy.cfg's settings) and
# a real Prometheus scraping them with dashboards/alerts.yml loaded. Drives a
# mixed workload through the balancer (paraphrases filled on one node answered
# by another, streams, upstream faults, rate limits), then proves through
# Prometheus's HTTP API that every dashboard panel's query returns data and
# runs `promtool check rules` on the alerts. HAProxy and Prometheus come from
# Debian's packages and are installed when missing.
#
#   bash scripts/cluster-e2e.sh            # long form: release build, more load,
#                                          # renders docs/dashboard.png from the run
#   bash scripts/cluster-e2e.sh --short    # what the test command runs (debug build)
set -euo pipefail
cd "$(dirname "$0")/.."

short=0
[ "${1:-}" = "--short" ] && short=1

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || {
    echo "error: the cluster check needs ${missing[*]} (Debian: apt-get install haproxy prometheus redis-server)" >&2
    exit 1
  }
  echo "installing ${missing[*]} ..."
  as_root apt-get update -q
  # Debian's packages would start their own services on the standard ports:
  # not here (policy-rc.d refuses service starts during the install).
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [ ! -e $policy ]; then
    as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod +x $policy"
    own_policy=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  if [ $own_policy = 1 ]; then as_root rm -f $policy; fi
fi
bash scripts/fetch-model.sh >/dev/null

if [ $short = 1 ]; then
  # --tests: the features the test command's build resolved, so the
  # binaries link against what it already compiled.
  cargo build --locked --workspace --bins --tests
  bin=target/debug
else
  cargo build --locked --release --workspace --bins --benches
  bin=target/release
fi

args=(--bin "$bin" --haproxy "$(command -v haproxy)" --prometheus "$(command -v prometheus)"
      --promtool "$(command -v promtool)")
[ $short = 1 ] && args+=(--short) || args+=(--png docs/dashboard.png)
exec python3 tools/cluster-e2e/run.py "${args[@]}"
