"""Writes the development split's misspelling pairs (tools/verifier/out/dev_typo.jsonl)
from tools/verifier/out/dev.jsonl: each kind of dev pair with one side
misspelled (lexicon.typo_pairs; its label kept; in a negative only a word both
sides share is misspelled) and dev texts beside themselves misspelled. Kinds:
typo-pure, typo-positive, typo-neg-<the dev kind>. Texts of the development
split only, so it measures what full_tune.py --typo-share teaches on texts it
never trained on.

--misspell (stop 40) writes dev_misspell.jsonl instead: the same pairs with
misspellings that are not keyboard slips (lexicon.misspelling: a vowel for a
vowel, the last letter left out), which the gateway's slip alignment does not
cover (stop 40's candidate that aligned them was not shipped).

Usage: python3 tools/verifier/typo_dev.py [--data tools/verifier/out] [--n 3000] [--misspell]
  then: python3 tools/verifier/dev_eval.py --data tools/verifier/out/dev_typo.jsonl DIR …
"""

import argparse
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lexicon  # noqa: E402
import train  # noqa: E402


def main():
    ap = argparse.ArgumentParser(usage=__doc__)
    ap.add_argument("--data", default="tools/verifier/out")
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--misspell", action="store_true")
    args = ap.parse_args()
    rows = train.load(os.path.join(args.data, "dev.jsonl"))
    edit = lexicon.misspelling if args.misspell else None
    out = lexicon.typo_pairs(random.Random(99), rows, args.n, edit=edit)
    for r in out:
        if r["kind"] == "typo-negative":
            r["kind"] = "typo-neg-" + r["of"]
        r["split"] = "dev"
    path = os.path.join(args.data, "dev_misspell.jsonl" if args.misspell else "dev_typo.jsonl")
    with open(path, "w") as f:
        for r in out:
            f.write(json.dumps(r) + "\n")
    print(f"wrote {len(out)} pairs to {path}")


if __name__ == "__main__":
    main()
