#!/usr/bin/env bash
# Trains the L2 pair verifier from ../shared/data plus generated hard examples
# and writes assets/verifier/{adapter.safetensors,verifier.json} (the gateway
# compiles them in). A development tool: PyTorch from PyPI in a virtual
# environment of its own; the gateway never needs Python.
# Seeded; prints the validation precision/recall curve and the calibration.
#
# One stage, as the shipped adapter was made: LoRA rank 16 on every attention
# and feed-forward matrix, 256k examples at lr 6e-4 under bfloat16 autocast
# (weights, optimiser, validation and calibration in f32), the QQP pairs seen
# twice as often and the relations family (role swaps, directions) twice as
# often. 62.6 min on this 2-core machine (about 85 pairs/s when idle).
# Usage: bash scripts/train-verifier.sh [other train.py options]
# (set VENV to reuse an environment)
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
"$venv/bin/python" tools/verifier/train.py --model models/all-MiniLM-L6-v2 --data "$out" \
  --out assets/verifier --seed 7 --rank 16 --alpha 32 --examples 256000 --lr 6e-4 \
  --qqp-extra 1.0 --repeat-family relations=2 --bf16 "$@"
