"""Scores the chaos run's account questions (benches/chaos.rs: "How do I
{verb} my {noun} on account N?" and its "how can I …" wording) as verifier
pairs on one account number, and counts how many pass the min_precision 0.95
cut-off of each adapter directory given:

- noun changes: one verb, two nouns (72 ordered pairs; the cached side in the
  first wording, the asked side alternating between the two);
- verb changes: one noun, two verbs (120 ordered pairs, the same way);
- paraphrases: one question in its two wordings (24 pairs).

The verifier alone (no cosine prefilter, no rule vetoes), so a pass is a pair
the gateway would answer from the other question if its cosine cleared the
prefilter. Prints the noun and verb changes that pass.

Usage: python3 tools/verifier/account_pairs.py assets/verifier [OTHER_ADAPTER_DIR …]
"""

import itertools
import json
import os
import sys

import torch
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train  # noqa: E402

VERBS = ["reset", "change", "delete", "recover", "verify", "export"]
NOUNS = ["password", "email address", "billing details", "username"]
MODEL = "models/all-MiniLM-L6-v2"


def question(verb, noun, paraphrase, account=7):
    if paraphrase:
        return f"how can I {verb} my {noun} on account {account}"
    return f"How do I {verb} my {noun} on account {account}?"


def pair_sets():
    nouns = [(question(v, a, False), question(v, b, i % 2 == 1))
             for v in VERBS for i, (a, b) in enumerate(itertools.permutations(NOUNS, 2))]
    verbs = [(question(a, n, False), question(b, n, i % 2 == 1))
             for n in NOUNS for i, (a, b) in enumerate(itertools.permutations(VERBS, 2))]
    paraphrases = [(question(v, n, False), question(v, n, True)) for v in VERBS for n in NOUNS]
    return [("noun changes", nouns, False), ("verb changes", verbs, False), ("paraphrases", paraphrases, True)]


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    torch.set_num_threads(1)
    sd = load_file(os.path.join(MODEL, "model.safetensors"))
    with open(os.path.join(MODEL, "config.json")) as f:
        cfg = json.load(f)
    enc = train.Encoder(os.path.join(MODEL, "tokenizer.json"))
    for directory in sys.argv[1:]:
        with open(os.path.join(directory, "verifier.json")) as f:
            meta = json.load(f)
        model = train.Verifier(sd, cfg, meta["rank"], 2 * meta["rank"])  # alpha = 2 x rank, as trained
        model.load_adapter(load_file(os.path.join(directory, "adapter.safetensors")))
        cut = next(r["cutoff"] for r in meta["calibration"] if r["min_precision"] == 0.95)
        for name, pairs, same in pair_sets():
            got = train.scores(model, enc, pairs)
            passed = [(p, s) for p, s in zip(pairs, got) if s >= cut]
            print(f"{directory}: {name} {len(passed)}/{len(pairs)} pass the 0.95 cut-off {cut:.4f}")
            if not same:
                for (a, b), s in passed:
                    print(f"  {s:.3f}  {a} | {b}")


if __name__ == "__main__":
    main()
