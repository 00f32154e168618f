"""Can the base learn whose role is whose across voices? A diagnostic, not
part of training: fine-tunes *every* weight of all-MiniLM-L6-v2 read as a
cross-encoder (no LoRA, as a bound on what an adapter could reach) on the
voice pairs alone (families.voice_pairs, 8,400 training pairs), prints the
training loss every 100 steps, then the score quantiles of the development
split's held-out voice pairs (dev-voice-*: unseen verbs, an unseen actor
kind). A loss stuck near 0.43 is the base rate of positives among
voice-changed pairs: the model tells "the voice changed", not who did what.

--write-data DIR writes the same pairs as DIR/train.jsonl (with a link to the
validation split) for train.py runs with an adapter (--data DIR).

Usage: python3 tools/verifier/voice_probe.py [--lr 5e-5] [--examples 32000] [--freeze-embeddings] [--write-data DIR]
"""

import argparse
import json
import os
import random
import sys
import time

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train  # noqa: E402
from families import voice_pairs  # noqa: E402

MODEL = "models/all-MiniLM-L6-v2"


def main():
    ap = argparse.ArgumentParser(usage=__doc__)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--examples", type=int, default=32000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dev", default="tools/verifier/out/dev.jsonl")
    ap.add_argument("--write-data", default="")
    ap.add_argument("--freeze-embeddings", action="store_true",
                    help="keep the word embeddings the base's (as a shipped adapter must)")
    args = ap.parse_args()
    rows = voice_pairs(random.Random(20), 8400)
    if args.write_data:
        os.makedirs(args.write_data, exist_ok=True)
        with open(os.path.join(args.write_data, "train.jsonl"), "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
        val = os.path.join(args.write_data, "val.jsonl")
        if not os.path.exists(val):
            os.symlink(os.path.abspath("tools/verifier/out/val.jsonl"), val)
        print(f"wrote {len(rows)} pairs to {args.write_data}/train.jsonl")
        return
    torch.manual_seed(1)
    torch.set_num_threads(args.threads)
    sd = load_file(os.path.join(MODEL, "model.safetensors"))
    with open(os.path.join(MODEL, "config.json")) as f:
        cfg = json.load(f)
    enc = train.Encoder(os.path.join(MODEL, "tokenizer.json"))
    model = train.Verifier(sd, cfg, 1, 2)
    # Every base weight trainable, LoRA off.
    for layer in model.layers:
        for lin in (layer.q, layer.k, layer.v, layer.o, layer.i, layer.out):
            lin.lora = False
            w, b = lin.w.clone(), lin.b.clone()
            del lin.w, lin.b
            lin.w, lin.b = torch.nn.Parameter(w), torch.nn.Parameter(b)
    base_word = model.word.clone()
    if not args.freeze_embeddings:
        del model.word
        model.word = torch.nn.Parameter(base_word.clone())
    params = [p for p in model.parameters() if p.requires_grad]
    print(f"{sum(p.numel() for p in params)} trainable weights, {len(rows)} voice pairs", flush=True)
    bf16 = train.native_bf16() and train.bf16_pays()  # as train.py --bf16
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    rng = random.Random(1)
    steps, step, loss_sum, started = args.examples // 32, 0, 0.0, time.time()
    while step < steps:
        for (ids, types, mask), y in train.batches(enc, rows, 32, rng, swap=True):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = model(ids, types, mask)
            loss = F.binary_cross_entropy_with_logits(logits.float(), y)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            for group in opt.param_groups:  # warm-up over 50 steps, then linear decay
                group["lr"] = args.lr * min(1.0, (step + 1) / 50) * max(0.0, (steps - step) / steps)
            opt.step()
            step += 1
            loss_sum += loss.item()
            if step % 100 == 0:
                print(f"step {step}/{steps} loss {loss_sum / 100:.4f} "
                      f"{step * 32 / (time.time() - started):.1f} pairs/s", flush=True)
                loss_sum = 0.0
            if step >= steps:
                break
    if not args.freeze_embeddings:  # which word vectors moved most
        moved = (model.word.detach() - base_word).norm(dim=1)
        top = moved.topk(20)
        words = [enc.tok.id_to_token(i) for i in top.indices.tolist()]
        print("word vectors moved most:", ", ".join(f"{w} {v:.3f}" for w, v in zip(words, top.values.tolist())))
    dev = [r for r in train.load(args.dev) if r["kind"].startswith("dev-voice")]
    probs = train.scores(model, enc, [(r["a"], r["b"]) for r in dev])
    for kind in sorted({r["kind"] for r in dev}):
        s = sorted(p for p, r in zip(probs, dev) if r["kind"] == kind)
        print(f"{kind:22} {len(s):4} pairs: score q10 {s[len(s) // 10]:.3f} q50 {s[len(s) // 2]:.3f} "
              f"q90 {s[9 * len(s) // 10]:.3f}")


if __name__ == "__main__":
    main()
