#!/usr/bin/env python3
"""The development gate a candidate verifier passes before its one validation read (stop 46's rule).

Reads dev_eval.py --dump files of the shipped adapter and of the candidate, for
dev, dev_typo, dev_order, dev_wh and dev_format (PREFIX.FILE.jsonl), each at
its own cut-off (min_precision 0.95 of its calibration), and checks:
  - per kind, errors (misses of a positive, hits of a negative) at most the
    shipped adapter's plus two standard deviations (between seeds, measured on
    stops 44-46: order rewordings 6.3, question-word changes 15, generated
    paraphrases 19, order swaps 3, misspelt paraphrases 4, kinds of text 9;
    otherwise max(sqrt(shipped errors), 2));
  - all development positives together at least the shipped count less 0.5 %;
  - changes of kind of text (dev-format-value) at least 18 fewer false hits
    than the shipped adapter (the gain the format family exists for).
It also prints the order rewordings' hits by distinct ordered pair.

Usage (the candidate's cut-off from its verifier.json, the shipped one 0.7044):
  for f in dev dev_typo dev_order dev_wh dev_format; do
    target/verifier-venv/bin/python tools/verifier/dev_eval.py --data tools/verifier/out/$f.jsonl \
        --dump target/runs/ship.$f.jsonl assets/verifier; done
  python3 tools/verifier/dev_gate.py target/runs/ship 0.7044 target/runs/CAND 0.7533
Exit status 0 on a pass, 1 on a failure.
"""
import json
import math
import sys

FILES = ["dev", "dev_typo", "dev_order", "dev_wh", "dev_format"]
SD = {"dev-order-paraphrase": 6.3, "wh-change": 15, "gen-paraphrase": 19, "dev-order-direction": 3,
      "typo-positive": 4}


def sd_of(kind, shipped_errors):
    if kind in SD:
        return SD[kind]
    if kind.startswith("dev-format-"):
        return 9
    return max(math.sqrt(shipped_errors), 2)


def load(prefix, cut):
    """(file, kind, label) -> (pairs, errors, distinct hit pairs)."""
    out = {}
    for f in FILES:
        with open(f"{prefix}.{f}.jsonl") as fh:
            for line in fh:
                r = json.loads(line)
                key = (f, r["kind"], r["label"])
                n, e, hits = out.get(key, (0, 0, set()))
                hit = r["score"] >= cut
                if hit:
                    hits.add((r["a"], r["b"]))
                out[key] = (n + 1, e + (hit != bool(r["label"])), hits)
    return out


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    ship, ship_cut, cand, cand_cut = sys.argv[1], float(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    shipped, candidate = load(ship, ship_cut), load(cand, cand_cut)
    ok = True
    pos_ship = pos_cand = total = 0
    for key in sorted(shipped):
        n, es, _ = shipped[key]
        ec = candidate[key][1]
        limit = es + 2 * sd_of(key[1], es)
        bad = ec > limit
        ok &= not bad
        if key[2]:
            total += n
            pos_ship += n - es
            pos_cand += n - ec
        print(f"{key[0]:10} {key[1]:28} label {key[2]} pairs {n:5}  errors shipped {es:5} candidate {ec:5} "
              f"limit {limit:7.1f}{'  FAIL' if bad else ''}")
    limit = pos_ship - 0.005 * total
    print(f"positives: shipped {pos_ship}/{total}, candidate {pos_cand}, limit {limit:.1f}"
          f"{'  FAIL' if pos_cand < limit else ''}")
    ok &= pos_cand >= limit
    fmt = next(k for k in shipped if k[1] == "dev-format-value")
    print(f"changes of kind (dev-format-value) false hits: shipped {shipped[fmt][1]}, candidate {candidate[fmt][1]}, "
          f"limit {shipped[fmt][1] - 18}{'  FAIL' if candidate[fmt][1] > shipped[fmt][1] - 18 else ''}")
    ok &= candidate[fmt][1] <= shipped[fmt][1] - 18
    order = next(k for k in shipped if k[1] == "dev-order-paraphrase")
    print(f"order rewordings hit, distinct ordered pairs: shipped {len(shipped[order][2])}, "
          f"candidate {len(candidate[order][2])}")
    print("GATE", "PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
