#!/usr/bin/env bash
# Trains the L2 pair verifier from ../shared/data plus generated hard examples
# and writes assets/verifier/{adapter.safetensors,verifier.json} (the gateway
# compiles them in). A development tool: PyTorch from PyPI in a virtual
# environment of its own; the gateway never needs Python.
# Seeded; prints the validation precision/recall curve and the calibration.
#
# Two stages, as the shipped adapter was made:
#   1. LoRA rank 16 on all attention and feed-forward matrices, 160k examples,
#      lr 6e-4 (about 105 min on 2 busy cores);
#   2. from stage 1, 64k more examples at lr 3e-4 with the relations family
#      (role swaps, directions) seen 3x as often (about 50 min).
# Usage: bash scripts/train-verifier.sh [other train.py options for both stages]
# (set VENV to reuse an environment, STAGE1 to start stage 2 from an adapter)
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${VENV:-target/verifier-venv}"
data="${DATA:-../shared/data}"
bash scripts/fetch-model.sh
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    'torch>=2.4' 'safetensors>=0.4' 'tokenizers>=0.20' 'numpy>=1.26'
fi
out=tools/verifier/out
"$venv/bin/python" tools/verifier/gen_pairs.py --data "$data" --out "$out" --seed 7
stage1="${STAGE1:-}"
if [ -z "$stage1" ]; then
  "$venv/bin/python" tools/verifier/train.py --model models/all-MiniLM-L6-v2 --data "$out" \
    --out "$out/stage1" --seed 7 --rank 16 --alpha 32 --examples 160000 --lr 6e-4 "$@"
  stage1="$out/stage1/adapter.safetensors"
fi
"$venv/bin/python" tools/verifier/train.py --model models/all-MiniLM-L6-v2 --data "$out" \
  --out assets/verifier --seed 7 --rank 16 --alpha 32 --init "$stage1" \
  --examples 64000 --lr 3e-4 --repeat-family relations=3 "$@"
