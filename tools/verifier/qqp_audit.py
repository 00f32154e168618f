"""How much of the Quora-style precision gap is the labels: a blind hand audit
of the gateway's Quora hits on the validation split (stop 48).

The target the default misses is QQP precision 0.93 at recall 0.45; the shipped
default reads 0.821 / 0.571 on the validation split. QQP labels were made for
"duplicate question", by other readers, and the README has long said the
precision they allow is capped by their noise, without a number. This tool
measures it:

1. `sample`: from `l2-eval`'s `--dump` of the validation split (rows in the
   order of `val.jsonl`), every QQP pair the gateway's default decision answers
   from the other (a score, score ≥ the cut-off, the shipped vetoes pass);
   draws N of them at random (seeded) and writes two files: the blind one
   (`id`, `a`, `b` only — no label, no score, shuffled) to judge by hand, and
   the key (`id`, the row in the split, label, score).
2. Judge the blind file by hand: for each line add `"same": true|false|null`
   (one answer serves both, the data's own definition of label 1; null for a
   borderline pair — one answer serves one way only, or only in part) — the
   reader never sees the label.
3. `read`: joins the judged file with the key and prints the judged precision
   of the hits (with a 95 % Wilson interval), the labelled precision of the same
   sample, and the agreement table (label × judgement).

Usage:
  target/release/l2-eval tools/verifier/out/val.jsonl --verifier --pairwise-only --dump D
  python3 tools/verifier/qqp_audit.py sample --dump D --val tools/verifier/out/val.jsonl \
      --cut 0.7044 --n 200 --seed 48 --blind B.jsonl --key K.jsonl
  python3 tools/verifier/qqp_audit.py read --judged B_judged.jsonl --key K.jsonl
"""

import argparse
import json
import math
import random
import sys


def hits(dump_path, val_path, cut, kind):
    """(index, pair, dump row) of every pair of `kind` the default answers."""
    with open(dump_path) as d, open(val_path) as v:
        rows = [json.loads(line) for line in d]
        pairs = [json.loads(line) for line in v]
    if len(rows) != len(pairs):
        sys.exit(f"dump has {len(rows)} rows, {val_path} {len(pairs)} pairs: not the same split")
    out = []
    for i, (row, pair) in enumerate(zip(rows, pairs)):
        if row["kind"] != pair.get("kind") or row["label"] != pair["label"]:
            sys.exit(f"row {i}: dump and split disagree on kind or label")
        if pair.get("kind") != kind:
            continue
        score = row["score"]
        if score is not None and score >= cut and row["vetoes_pass"]:
            out.append((i, pair, row))
    return out


def wilson(k, n, z=1.96):
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (mid - half, mid + half)


def sample(args):
    found = hits(args.dump, args.val, args.cut, args.kind)
    pos = sum(1 for _, p, _ in found if p["label"] == 1)
    print(f"{len(found)} {args.kind} hits at cut-off {args.cut}: {pos} labelled same, "
          f"{len(found) - pos} labelled different (labelled precision {pos / max(len(found), 1):.3f})")
    rng = random.Random(args.seed)
    chosen = rng.sample(found, min(args.n, len(found)))
    rng.shuffle(chosen)
    with open(args.blind, "w") as b, open(args.key, "w") as k:
        for n, (i, pair, row) in enumerate(chosen):
            b.write(json.dumps({"id": n, "a": pair["a"], "b": pair["b"]}, ensure_ascii=False) + "\n")
            k.write(json.dumps({"id": n, "row": i, "label": pair["label"], "score": row["score"]}) + "\n")
    print(f"wrote {len(chosen)} blind pairs to {args.blind}, their key to {args.key}")


def read(args):
    with open(args.key) as f:
        key = {r["id"]: r for r in map(json.loads, f)}
    with open(args.judged) as f:
        judged = {r["id"]: r for r in map(json.loads, f)}
    missing = sorted(set(key) - set(judged))
    if missing:
        sys.exit(f"{len(missing)} pairs not judged (ids {missing[:10]}…)")
    # Judgement: True (one answer serves both), False (it does not), None
    # (borderline: serves one way only, or only in part).
    names = {True: "same", None: "borderline", False: "different"}
    table = {(l, s): 0 for l in (0, 1) for s in names}
    for i, k in key.items():
        if "same" not in judged[i] or judged[i]["same"] not in names:
            sys.exit(f"id {i}: 'same' must be true, false or null (borderline)")
        table[(k["label"], judged[i]["same"])] += 1
    n = len(key)
    print(f"{n} hits judged blind")
    print("| | judged same | borderline | judged different |")
    print("|---|---|---|---|")
    for label, name in ((1, "labelled same (1)"), (0, "labelled different (0)")):
        print(f"| {name} | {table[(label, True)]} | {table[(label, None)]} | {table[(label, False)]} |")
    labelled = sum(table[(1, s)] for s in names)
    same = table[(0, True)] + table[(1, True)]
    border = table[(0, None)] + table[(1, None)]
    for what, k in (("labelled precision", labelled), ("judged precision, borderline as different", same),
                    ("judged precision, borderline as same", same + border)):
        lo, hi = wilson(k, n)
        print(f"{what}: {k / n:.3f} (95 % {lo:.3f}–{hi:.3f})")
    neg = n - labelled
    if neg:
        print(f"labelled-different hits judged same: {table[(0, True)]} of {neg}, borderline {table[(0, None)]}")
    if labelled:
        print(f"labelled-same hits judged different: {table[(1, False)]} of {labelled}, borderline {table[(1, None)]}")
    if args.show:
        for i, k in sorted(key.items()):
            j = judged[i]
            if j["same"] is None or (k["label"] == 1) != j["same"]:
                print(f"  label {k['label']} judged {names[j['same']]} score {k['score']:.3f}: "
                      f"{j['a']!r} / {j['b']!r}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample")
    s.add_argument("--dump", required=True)
    s.add_argument("--val", default="tools/verifier/out/val.jsonl")
    s.add_argument("--cut", type=float, required=True)
    s.add_argument("--kind", default="qqp")
    s.add_argument("--n", type=int, default=200)
    s.add_argument("--seed", type=int, default=48)
    s.add_argument("--blind", required=True)
    s.add_argument("--key", required=True)
    r = sub.add_parser("read")
    r.add_argument("--judged", required=True)
    r.add_argument("--key", required=True)
    r.add_argument("--show", action="store_true", help="print the pairs where label and judgement differ")
    args = ap.parse_args()
    sample(args) if args.cmd == "sample" else read(args)


if __name__ == "__main__":
    main()
