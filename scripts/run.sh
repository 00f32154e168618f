#!/usr/bin/env bash
# Runs the gateway with the full product on: fetches and verifies the
# embedding model when it is missing (the semantic cache and its verifier need
# it), builds, and starts `g-aigateway` with the given arguments.
#   bash scripts/run.sh                 # proxies to DeepSeek (DEEPSEEK_API_KEY)
#   bash scripts/run.sh --demo          # no provider needed: the bundled mock
#   bash scripts/run.sh --config gateway.toml
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/fetch-model.sh
exec cargo run --release --bin g-aigateway -- "$@"
