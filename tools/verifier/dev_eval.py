"""Scores the development pairs (tools/verifier/out/dev.jsonl: composed
qualifier and noun groups held out of training, see families._dev_group) with
each adapter directory given, so candidate stages are compared before the
validation split is read.

Per kind: how many pairs score at or above the cut-off. The cut-off is the
directory's min_precision 0.95 entry when its verifier.json has a calibration,
else --cut (default 0.83, about the shipped adapter's). The verifier alone (no
cosine prefilter, no rule vetoes), so a negative counted here is one the
gateway would answer from the other question if its cosine cleared the
prefilter.

--dump F writes each pair's score (the last directory's) for a comparison.

Usage: python3 tools/verifier/dev_eval.py [--cut C] [--data tools/verifier/out/dev.jsonl] [--dump F] DIR [DIR …]
"""

import argparse
import json
import os
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train  # noqa: E402

MODEL = "models/all-MiniLM-L6-v2"


def main():
    ap = argparse.ArgumentParser(usage=__doc__)
    ap.add_argument("--cut", type=float, default=0.83)
    ap.add_argument("--data", default="tools/verifier/out/dev.jsonl")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dump", default="", help="write every pair's score to this JSON-lines file (one directory)")
    ap.add_argument("dirs", nargs="+")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = train.load(args.data)
    pairs = [(r["a"], r["b"]) for r in rows]
    sd = load_file(os.path.join(MODEL, "model.safetensors"))
    with open(os.path.join(MODEL, "config.json")) as f:
        cfg = json.load(f)
    enc = train.Encoder(os.path.join(MODEL, "tokenizer.json"))
    for directory in args.dirs:
        meta = {}
        if os.path.exists(os.path.join(directory, "verifier.json")):
            with open(os.path.join(directory, "verifier.json")) as f:
                meta = json.load(f)
        cut = next((r["cutoff"] for r in meta.get("calibration") or [] if r["min_precision"] == 0.95), args.cut)
        path = os.path.join(directory, "adapter.safetensors")
        with safe_open(path, "pt") as f:
            rank = int(meta.get("rank") or (f.metadata() or {}).get("rank", 16))
        model = train.Verifier(sd, cfg, rank, 2 * rank)  # alpha = 2 x rank
        model.load_adapter(load_file(path))
        got = train.scores(model, enc, pairs)
        print(f"{directory} (cut-off {cut:.4f}, {len(rows)} pairs):")
        for kind in sorted({r["kind"] for r in rows}):
            idx = [i for i, r in enumerate(rows) if r["kind"] == kind]
            above = sum(1 for i in idx if got[i] >= cut)
            word = "hit (recall)" if rows[idx[0]]["label"] else "false hits"
            print(f"  {kind:16} {above:5}/{len(idx):5} {word} = {above / len(idx):.3f}")
        if args.dump:
            with open(args.dump, "w") as f:
                for r, score in zip(rows, got):
                    f.write(json.dumps({"kind": r["kind"], "label": r["label"], "a": r["a"], "b": r["b"],
                                        "score": round(float(score), 5)}) + "\n")


if __name__ == "__main__":
    main()
