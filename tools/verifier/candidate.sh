#!/usr/bin/env bash
# One candidate verifier as stops 44-50 made them: three fine-tunes from the
# shipped adapter side by side (seeds 71-73, one thread each, niced), their
# uniform weight average (a soup; BLEND=W averages it with the shipped adapter,
# W the soup's share), calibrated on the validation split as train.py does for
# the shipped adapter, the development dumps, and the development gate
# (tools/verifier/dev_gate.py) against the shipped adapter's dumps.
# Nothing here reads the validation split beyond the calibration table; the
# validation read (l2-eval --verifier-dir OUT/NAME/r80) is a separate, stated step.
# Usage: bash tools/verifier/candidate.sh NAME [extra full_tune.py options]
#   e.g. bash tools/verifier/candidate.sh QW4 --opener-share 0.05 --typo-share 0.05 \
#        --typo-skip-family relations --wh-share 0.1 --wh-positive 0.4 --wh-wordings 2 \
#        --wh-positive-wordings 0 --wh-no-tasks --distill-labels opener,typo,wh,order:1 --order-share 0.1
# Needs: scripts/fetch-model.sh, the venv of scripts/train-verifier.sh, tools/verifier/fetch_wordnet.sh,
# gen_pairs.py's out/ (train, val, dev, dev_order, dev_wh), typo_dev.py and format_dev.py's files.
# Exits with the gate's status (0: passed). About 15 minutes for the three runs on a 2-core Xeon alone, 30 beside other work; 5-8 for the rest.
set -euo pipefail
cd "$(dirname "$0")/../.."
name="$1"; shift
py="${VENV:-target/verifier-venv}/bin/python"
out="${OUT:-target/runs}"
mkdir -p "$out"
base=(--init assets/verifier/adapter.safetensors --examples 24000 --voice-share 0.15 --noun-share 0.1
      --lexicon-share 0.15 --lexicon-positive 0.35 --lexicon-typos 0 --lexicon-clean --lr 2e-5 --ranks 80
      --distill 0.7 --format-share 0.1 --order-share 0.05 --order-balanced --threads 1)
pids=()
for seed in 71 72 73; do
  nice -n 5 "$py" tools/verifier/full_tune.py "${base[@]}" --seed "$seed" --out "$out/$name.s$seed" "$@" \
    > "$out/$name.s$seed.log" 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
"$py" tools/verifier/full_tune.py --init assets/verifier/adapter.safetensors \
  --resume "$out/$name.s71/full.pt,$out/$name.s72/full.pt,$out/$name.s73/full.pt" ${BLEND:+--blend "$BLEND"} \
  --examples 0 --ranks 80 --out "$out/$name"
"$py" tools/verifier/train.py --model models/all-MiniLM-L6-v2 --data tools/verifier/out --rank 80 --alpha 160 \
  --threads 2 --calibrate-only --out "$out/$name/r80"
files=(dev dev_typo dev_order dev_wh dev_format)
for f in "${files[@]}"; do
  [ -f "$out/ship.$f.jsonl" ] || "$py" tools/verifier/dev_eval.py --threads 2 --data "tools/verifier/out/$f.jsonl" \
    --dump "$out/ship.$f.jsonl" assets/verifier
  "$py" tools/verifier/dev_eval.py --threads 2 --data "tools/verifier/out/$f.jsonl" \
    --dump "$out/$name.$f.jsonl" "$out/$name/r80"
done
cut_of() { python3 -c "import json,sys; m=json.load(open(sys.argv[1])); print(next(r['cutoff'] for r in m['calibration'] if r['min_precision'] == 0.95))" "$1"; }
python3 tools/verifier/dev_gate.py "$out/ship" "$(cut_of assets/verifier/verifier.json)" "$out/$name" "$(cut_of "$out/$name/r80/verifier.json")"
