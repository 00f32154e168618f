#!/usr/bin/env bash
# Installs the official OpenAI SDKs the conformance suite (tests/sdk.rs) runs:
# Python openai==3.57.0 in target/sdk-venv, Node openai 6.49.0 in
# tests/sdk/node/node_modules (from its package-lock.json). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/sdk-venv
if ! "$venv/bin/python" -c 'import openai, sys; sys.exit(openai.__version__ != "3.57.0")' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'openai==3.57.0'
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "error: the SDK suite needs Node.js 20+ and npm (Debian: apt-get install nodejs npm)" >&2
  exit 1
fi
if [ ! -f tests/sdk/node/node_modules/openai/package.json ] ||
  ! grep -q '"version": "6.49.0"' tests/sdk/node/node_modules/openai/package.json; then
  (cd tests/sdk/node && npm ci --no-audit --no-fund --silent)
fi
echo "SDKs ready: $("$venv/bin/python" -c 'import openai; print("python openai", openai.__version__)'), node openai 6.49.0"
