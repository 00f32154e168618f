"""Fit against generalisation on QQP: scores up to --limit QQP pairs of the
training and the validation split (tools/verifier/out) with each adapter
directory given and prints, per split, the mean log loss and the precision at
recall 0.3 / 0.4 / 0.45 / 0.5 over pairs above the prefilter cosine 0.80
(recall counts every positive). A large gap says the adapter is limited by
the data, not by its capacity.

Usage: python3 tools/verifier/qqp_fit.py [--limit 4000] [--threads 2] DIR [DIR …]
"""

import argparse
import json
import math
import os
import random
import sys

import torch
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train  # noqa: E402

MODEL = "models/all-MiniLM-L6-v2"


def main():
    ap = argparse.ArgumentParser(usage=__doc__)
    ap.add_argument("--limit", type=int, default=4000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", default="tools/verifier/out")
    ap.add_argument("dirs", nargs="+")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    sd = load_file(os.path.join(MODEL, "model.safetensors"))
    with open(os.path.join(MODEL, "config.json")) as f:
        cfg = json.load(f)
    enc = train.Encoder(os.path.join(MODEL, "tokenizer.json"))
    splits = {}
    for split in ("train", "val"):
        rows = [r for r in train.load(os.path.join(args.data, f"{split}.jsonl")) if r["kind"] == "qqp"]
        random.Random(1).shuffle(rows)
        rows = rows[:args.limit]
        pairs = [(r["a"], r["b"]) for r in rows]
        splits[split] = (pairs, [int(r["label"]) for r in rows], train.cosines(sd, cfg, enc, pairs))
    for directory in args.dirs:
        with open(os.path.join(directory, "verifier.json")) as f:
            rank = json.load(f).get("rank", 16)
        model = train.Verifier(sd, cfg, rank, 2 * rank)  # alpha = 2 x rank, as shipped
        model.load_adapter(load_file(os.path.join(directory, "adapter.safetensors")))
        for split, (pairs, labels, cos) in splits.items():
            probs = train.scores(model, enc, pairs)
            points = train.curve(probs, labels, [c >= 0.80 for c in cos])
            loss = -sum(math.log(max(1e-7, p if y else 1 - p)) for p, y in zip(probs, labels)) / len(labels)
            at = " ".join(f"P@R{want}={max((prec for _, prec, rec in points if rec >= want), default=0.0):.3f}"
                          for want in (0.3, 0.4, 0.45, 0.5))
            print(f"{directory} {split}: {len(labels)} pairs, loss {loss:.4f}, {at}", flush=True)


if __name__ == "__main__":
    main()
