"""The prefilter cosine, measured: reads an l2-eval dump made with a low
--prefilter (every pair down to that cosine scored by the gateway's own
verifier) and, for each prefilter given, recalibrates on the pairs above it
(min_precision 0.95 and 0.97, 200 pairs of support, as train.py) and decides
as the gateway does (cosine >= prefilter, score >= cut-off, default vetoes).
Prints precision / recall overall, on generated, QQP, MRPC and generated
paraphrase pairs, and the near-miss false hits by kind.

Usage:
  cargo run --release -p l2-eval -- tools/verifier/out/val.jsonl --verifier --pairwise-only \\
      --verifier-dir assets/verifier --prefilter 0.55 --dump /tmp/val55.jsonl
  python3 tools/verifier/prefilter_sweep.py /tmp/val55.jsonl 0.60,0.70,0.75,0.80,0.85
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train import calibrate, curve  # noqa: E402

NEAR = {"gen-qualifier", "gen-role-swap", "gen-direction", "gen-intent", "gen-value", "perturb-antonym",
        "perturb-number", "perturb-entity", "perturb-negation", "perturb-direction"}


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    labels = [r["label"] for r in rows]
    probs = [r["score"] if r["score"] is not None else 0.0 for r in rows]
    low = min(r.get("read_cos", r["cos"]) for r in rows if r["score"] is not None and not r.get("slips", False))
    for p in (float(x) for x in sys.argv[2].split(",")):
        if p < low - 1e-3:  # cosines are stored rounded
            raise SystemExit(f"the dump scored pairs down to cosine {low:.3f} only; prefilter {p} needs a lower one")
        # Below the prefilter the gateway reads a pair only when it is the same
        # prompt but for keyboard slips (dumps from stop 39 on carry `slips`).
        # `read_cos` (from stop 39): the cosine of the pair with its slips aligned, when higher.
        keep = [(r.get("read_cos", r["cos"]) >= p or r.get("slips", False)) and r["score"] is not None
                for r in rows]
        for row in calibrate(curve(probs, labels, keep), [0.95, 0.97], 200):
            cut = row["cutoff"]
            hit = [k and s >= cut and r["vetoes_pass"] for k, s, r in zip(keep, probs, rows)]

            def pr(select):
                idx = [i for i, r in enumerate(rows) if select(r)]
                tp = sum(1 for i in idx if hit[i] and labels[i])
                fp = sum(1 for i in idx if hit[i] and not labels[i])
                pos = sum(labels[i] for i in idx)
                return f"{tp / max(tp + fp, 1):.3f} / {tp / max(pos, 1):.3f}"

            # What each veto refused of what the verifier passed (dumps
            # before stop 35 lack the `veto` field).
            vetoed = {}
            for k, s, r in zip(keep, probs, rows):
                if k and s >= cut and r.get("veto"):
                    pos, neg = vetoed.get(r["veto"], (0, 0))
                    vetoed[r["veto"]] = (pos + r["label"], neg + 1 - r["label"])
            near = {}
            for i, r in enumerate(rows):
                if hit[i] and not labels[i] and r["kind"] in NEAR:
                    near[r["kind"]] = near.get(r["kind"], 0) + 1
            print(f"prefilter {p:.2f} min_precision {row['min_precision']} cut-off {cut:.4f}: "
                  f"all {pr(lambda r: True)}, generated {pr(lambda r: r['kind'] not in ('qqp', 'mrpc'))}, "
                  f"QQP {pr(lambda r: r['kind'] == 'qqp')}, MRPC {pr(lambda r: r['kind'] == 'mrpc')}, "
                  f"paraphrases {pr(lambda r: r['kind'] == 'gen-paraphrase')}; "
                  f"near-miss false hits {sum(near.values())} {dict(sorted(near.items()))}; "
                  f"refused by a veto after the verifier passed them (positives, negatives): "
                  f"{dict(sorted(vetoed.items()))}")


if __name__ == "__main__":
    main()
