"""Reads candidate adapters on the development split's held-out qualifier
groups (tools/verifier/out/dev.jsonl, family "qualifiers": the groups'
paraphrases against their opposite-qualifier and opposite-change pairs) as a
ranking, not at one cut-off: a training change that lowers the whole region's
scores cuts false hits at a fixed cut-off without separating anything better.

For each adapter directory: the paraphrases and false hits at --cut, the area
under the curve of the paraphrases against each negative kind (the chance a
paraphrase outscores a negative), the share of paraphrases above the score
that lets 1 / 2 / 5 % of the qualifier and change negatives through, and the
other development positives at --cut. The verifier alone (no prefilter, no
vetoes).

Usage: python3 tools/verifier/region_eval.py [--cut 0.78] DIR [DIR …]
"""

import argparse
import bisect
import json
import os
import sys

import torch
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train  # noqa: E402

MODEL = "models/all-MiniLM-L6-v2"


def main():
    ap = argparse.ArgumentParser(usage=__doc__)
    ap.add_argument("--cut", type=float, default=0.78)
    ap.add_argument("--data", default="tools/verifier/out/dev.jsonl")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("dirs", nargs="+")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = train.load(args.data)
    sd = load_file(os.path.join(MODEL, "model.safetensors"))
    with open(os.path.join(MODEL, "config.json")) as f:
        cfg = json.load(f)
    enc = train.Encoder(os.path.join(MODEL, "tokenizer.json"))
    for directory in args.dirs:
        adapter = load_file(os.path.join(directory, "adapter.safetensors"))
        rank = adapter["encoder.layer.0.attention.self.query.lora_a"].shape[0]  # alpha = 2 x rank, as shipped
        model = train.Verifier(sd, cfg, rank, 2 * rank)
        model.load_adapter(adapter)
        s = train.scores(model, enc, [(r["a"], r["b"]) for r in rows])
        pos = [x for x, r in zip(s, rows) if r.get("family") == "qualifiers" and r["label"] == 1]
        line = [f"paraphrases {sum(p >= args.cut for p in pos)}/{len(pos)}"]
        for kind in ("gen-qualifier", "gen-change", "gen-value"):
            neg = sorted(x for x, r in zip(s, rows) if r["kind"] == kind)
            auc = sum(bisect.bisect_left(neg, p) for p in pos) / (len(pos) * len(neg))
            line.append(f"{kind} {sum(n >= args.cut for n in neg)}/{len(neg)} auc {auc:.4f}")
        negs = sorted((x for x, r in zip(s, rows) if r["kind"] in ("gen-qualifier", "gen-change")), reverse=True)
        for rate in (0.01, 0.02, 0.05):
            t = negs[int(rate * len(negs))]
            line.append(f"recall@{rate:g} {sum(p > t for p in pos) / len(pos):.3f}")
        other = [x for x, r in zip(s, rows) if r["label"] == 1 and r.get("family") != "qualifiers"]
        line.append(f"other positives {sum(o >= args.cut for o in other)}/{len(other)}")
        print(directory, " | ".join(line), flush=True)


if __name__ == "__main__":
    main()
