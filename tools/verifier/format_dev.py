"""Writes tools/verifier/out/dev_format.jsonl: held-out pairs of
families.format_pairs (the study group of kinds to write, and the last two
wordings in at least half the pairs), for the development gate of a
candidate trained with full_tune.py --format-share.

Usage: python3 tools/verifier/format_dev.py [--out tools/verifier/out/dev_format.jsonl] [--n 600]
"""

import argparse
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from families import format_pairs  # noqa: E402


def main():
    ap = argparse.ArgumentParser(usage=__doc__)
    ap.add_argument("--out", default="tools/verifier/out/dev_format.jsonl")
    ap.add_argument("--n", type=int, default=600)
    args = ap.parse_args()
    rows = format_pairs(random.Random(43), args.n, split="dev")
    with open(args.out, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    print(f"{len(rows)} pairs ({sum(r['label'] for r in rows)} positive) -> {args.out}")


if __name__ == "__main__":
    main()
