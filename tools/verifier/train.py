"""Fine-tunes the pair verifier: all-MiniLM-L6-v2 read as a cross-encoder
([CLS] a [SEP] b [SEP], token types 0/1), LoRA adapters on every attention and
feed-forward matrix, trained LayerNorms and token-type embeddings, and a small
head over the mean of the token vectors. Only what is new is written
(adapter.safetensors); the gateway rebuilds the verifier from the base weights
it already fetches plus that file (src/verifier.rs).

Seeded and CPU-only. Prints the validation precision/recall curve, writes the
calibration table (min precision -> cut-off, on validation pairs above the
prefilter cosine) and reference scores for a few fixed pairs into verifier.json.

Usage (scripts/train-verifier.sh runs it with the shipped settings):
  python3 train.py --model ../../models/all-MiniLM-L6-v2 --data out --out ../../assets/verifier
"""

import argparse
import hashlib
import json
import math
import os
import random
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer

import spelling

# Must match src/verifier/encode.rs.
MAX_TEXT_BYTES = 2048
MAX_PAIR_TOKENS = 256
CLS, SEP = 101, 102

TARGETS = ["attention.self.query", "attention.self.key", "attention.self.value",
           "attention.output.dense", "intermediate.dense", "output.dense"]

REFERENCE_PAIRS = [
    ("What is the capital of Australia?", "what's the capital city of australia"),
    ("Did the Romans conquer the Greeks?", "Did the Greeks conquer the Romans?"),
    ("How long should I boil an egg for a soft yolk?", "How long should I boil an egg for a hard yolk?"),
    ("Give me a recipe for chocolate chip cookies.", "Can you give me a chocolate chip cookie recipe?"),
    ("How do I install Docker on Ubuntu?", "How do I uninstall Docker on Ubuntu?"),
    ("Translate 'good morning' into French.", "Translate 'good morning' into German."),
]


def cap_bytes(text, limit=MAX_TEXT_BYTES):
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    return raw[:limit].decode("utf-8", errors="ignore")


class Encoder:
    """The verifier's input encoding, identical to the Rust one for every pair
    that fits MAX_PAIR_TOKENS (all but 3 of the 190k pairs of the three splits).
    A longer pair is cut from the end of its longer side here, for training;
    the gateway reads it where the two texts differ, or not at all."""

    def __init__(self, path):
        self.tok = Tokenizer.from_file(path)
        self.tok.no_truncation()
        self.tok.no_padding()
        self.cache = {}
        self.vocab = None

    def ids(self, text):
        got = self.cache.get(text)
        if got is None:
            got = self.tok.encode(cap_bytes(text), add_special_tokens=False).ids
            self.cache[text] = got
        return got

    def align(self, a, b):
        """The pair with its keyboard slips read as the words they slipped
        from (spelling.py, the gateway's src/verifier/spelling.rs)."""
        if self.vocab is None:
            self.vocab = {t for t in self.tok.get_vocab() if t.isalpha()}
        return spelling.align(a, b, self.vocab)

    def same(self, a, b):
        """The gateway's Reading::Same (src/verifier/encode.rs): the same
        tokens but for terminal punctuation one side lacks — scored 1 there
        without the model (from stop 38)."""
        x, y = list(self.ids(a)), list(self.ids(b))
        ends = {self.tok.token_to_id(t) for t in ".?!"}

        def split(t):
            n = 0
            while n < len(t) and t[len(t) - 1 - n] in ends:
                n += 1
            return t[:len(t) - n], t[len(t) - n:]

        (bx, ex), (by, ey) = split(x), split(y)
        return bx == by and (ex == ey or not ex or not ey)

    def pair(self, a, b):
        x, y = list(self.ids(a)), list(self.ids(b))
        budget = MAX_PAIR_TOKENS - 3
        while len(x) + len(y) > budget:
            if len(x) >= len(y):
                x.pop()
            else:
                y.pop()
        ids = [CLS] + x + [SEP] + y + [SEP]
        types = [0] * (len(x) + 2) + [1] * (len(y) + 1)
        return ids, types


# ------------------------------------------------------------------ model

class LayerNorm(nn.Module):
    def __init__(self, w, b, eps):
        super().__init__()
        self.weight = nn.Parameter(w.clone())
        self.bias = nn.Parameter(b.clone())
        self.eps = eps

    def forward(self, x):
        return F.layer_norm(x, x.shape[-1:], self.weight, self.bias, self.eps)


class LoraLinear(nn.Module):
    def __init__(self, w, b, rank, alpha, lora):
        super().__init__()
        self.register_buffer("w", w)
        self.register_buffer("b", b)
        self.lora = lora
        if lora:
            self.a = nn.Parameter(torch.randn(rank, w.shape[1]) / math.sqrt(w.shape[1]))
            self.bm = nn.Parameter(torch.zeros(w.shape[0], rank))
            self.scale = alpha / rank

    def forward(self, x):
        y = F.linear(x, self.w, self.b)
        if self.lora:
            y = y + F.linear(F.linear(x, self.a), self.bm) * self.scale
        return y


class Layer(nn.Module):
    def __init__(self, sd, p, cfg, rank, alpha):
        super().__init__()
        lin = lambda name: LoraLinear(sd[f"{p}.{name}.weight"], sd[f"{p}.{name}.bias"], rank, alpha, True)
        self.q, self.k, self.v = lin("attention.self.query"), lin("attention.self.key"), lin("attention.self.value")
        self.o = lin("attention.output.dense")
        self.ln1 = LayerNorm(sd[f"{p}.attention.output.LayerNorm.weight"], sd[f"{p}.attention.output.LayerNorm.bias"], cfg["layer_norm_eps"])
        self.i = lin("intermediate.dense")
        self.out = lin("output.dense")
        self.ln2 = LayerNorm(sd[f"{p}.output.LayerNorm.weight"], sd[f"{p}.output.LayerNorm.bias"], cfg["layer_norm_eps"])
        self.heads = cfg["num_attention_heads"]
        self.drop = nn.Dropout(cfg["hidden_dropout_prob"])

    def forward(self, x, bias):
        n, t, d = x.shape
        h = self.heads
        split = lambda y: y.view(n, t, h, d // h).transpose(1, 2)
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=0.1 if self.training else 0.0)
        att = att.transpose(1, 2).reshape(n, t, d)
        x = self.ln1(x + self.drop(self.o(att)))
        y = self.out(F.gelu(self.i(x)))
        return self.ln2(x + self.drop(y))


class Verifier(nn.Module):
    def __init__(self, sd, cfg, rank, alpha):
        super().__init__()
        self.register_buffer("word", sd["embeddings.word_embeddings.weight"])
        self.register_buffer("pos", sd["embeddings.position_embeddings.weight"])
        self.types = nn.Parameter(sd["embeddings.token_type_embeddings.weight"].clone())
        self.ln = LayerNorm(sd["embeddings.LayerNorm.weight"], sd["embeddings.LayerNorm.bias"], cfg["layer_norm_eps"])
        self.layers = nn.ModuleList(Layer(sd, f"encoder.layer.{i}", cfg, rank, alpha) for i in range(cfg["num_hidden_layers"]))
        d = cfg["hidden_size"]
        self.dense = nn.Linear(d, d)
        self.cls = nn.Linear(d, 1)
        self.drop = nn.Dropout(0.1)

    def forward(self, ids, types, mask):
        t = ids.shape[1]
        x = self.word[ids] + self.pos[:t].unsqueeze(0) + self.types[types]
        x = self.drop(self.ln(x))
        bias = torch.zeros(mask.shape, dtype=x.dtype).masked_fill(mask == 0, -1e4)[:, None, None, :]
        for layer in self.layers:
            x = layer(x, bias)
        m = mask.unsqueeze(-1).to(x.dtype)
        pooled = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return self.cls(self.drop(torch.tanh(self.dense(pooled)))).squeeze(-1)

    def adapter_tensors(self):
        """What is new against the base weights, by base weight name."""
        out = {"embeddings.token_type_embeddings.weight": self.types.detach(),
               "embeddings.LayerNorm.weight": self.ln.weight.detach(), "embeddings.LayerNorm.bias": self.ln.bias.detach(),
               "head.dense.weight": self.dense.weight.detach(), "head.dense.bias": self.dense.bias.detach(),
               "head.out.weight": self.cls.weight.detach(), "head.out.bias": self.cls.bias.detach()}
        for i, layer in enumerate(self.layers):
            p = f"encoder.layer.{i}"
            for name, lin in [("attention.self.query", layer.q), ("attention.self.key", layer.k),
                              ("attention.self.value", layer.v), ("attention.output.dense", layer.o),
                              ("intermediate.dense", layer.i), ("output.dense", layer.out)]:
                out[f"{p}.{name}.lora_a"] = lin.a.detach()
                out[f"{p}.{name}.lora_b"] = (lin.bm * lin.scale).detach()
            out[f"{p}.attention.output.LayerNorm.weight"] = layer.ln1.weight.detach()
            out[f"{p}.attention.output.LayerNorm.bias"] = layer.ln1.bias.detach()
            out[f"{p}.output.LayerNorm.weight"] = layer.ln2.weight.detach()
            out[f"{p}.output.LayerNorm.bias"] = layer.ln2.bias.detach()
        return {k: v.contiguous().float() for k, v in out.items()}

    @torch.no_grad()
    def load_adapter(self, tensors):
        """The inverse of adapter_tensors: starts from an earlier run's weights."""
        self.types.copy_(tensors["embeddings.token_type_embeddings.weight"])
        self.ln.weight.copy_(tensors["embeddings.LayerNorm.weight"])
        self.ln.bias.copy_(tensors["embeddings.LayerNorm.bias"])
        self.dense.weight.copy_(tensors["head.dense.weight"])
        self.dense.bias.copy_(tensors["head.dense.bias"])
        self.cls.weight.copy_(tensors["head.out.weight"])
        self.cls.bias.copy_(tensors["head.out.bias"])
        for i, layer in enumerate(self.layers):
            p = f"encoder.layer.{i}"
            for name, lin in [("attention.self.query", layer.q), ("attention.self.key", layer.k),
                              ("attention.self.value", layer.v), ("attention.output.dense", layer.o),
                              ("intermediate.dense", layer.i), ("output.dense", layer.out)]:
                a = tensors[f"{p}.{name}.lora_a"].float()  # float16 factors (full_tune.py) too
                if a.shape != lin.a.shape:
                    raise SystemExit(f"--init: rank {a.shape[0]} differs from --rank {lin.a.shape[0]}")
                lin.a.copy_(a)
                lin.bm.copy_(tensors[f"{p}.{name}.lora_b"].float() / lin.scale)
                if f"{p}.{name}.bias" in tensors:  # a bias full_tune.py trained
                    lin.b.copy_(tensors[f"{p}.{name}.bias"])
            layer.ln1.weight.copy_(tensors[f"{p}.attention.output.LayerNorm.weight"])
            layer.ln1.bias.copy_(tensors[f"{p}.attention.output.LayerNorm.bias"])
            layer.ln2.weight.copy_(tensors[f"{p}.output.LayerNorm.weight"])
            layer.ln2.bias.copy_(tensors[f"{p}.output.LayerNorm.bias"])


# ------------------------------------------------------------------- data

def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def batches(enc, rows, size, rng, swap):
    """Batches of similar length (fewer pad tokens), in random order."""
    order = list(range(len(rows)))
    rng.shuffle(order)
    chunks = [order[i:i + size * 50] for i in range(0, len(order), size * 50)]
    out = []
    for chunk in chunks:
        chunk.sort(key=lambda i: len(enc.ids(rows[i]["a"])) + len(enc.ids(rows[i]["b"])))
        out += [chunk[i:i + size] for i in range(0, len(chunk), size)]
    rng.shuffle(out)
    for group in out:
        pairs = []
        for i in group:
            a, b = rows[i]["a"], rows[i]["b"]
            if swap and rng.random() < 0.5:
                a, b = b, a
            pairs.append((a, b))
        yield collate(enc, pairs), torch.tensor([float(rows[i]["label"]) for i in group])


def collate(enc, pairs):
    encoded = [enc.pair(a, b) for a, b in pairs]
    t = max(len(ids) for ids, _ in encoded)
    ids = torch.zeros(len(encoded), t, dtype=torch.long)
    types = torch.zeros(len(encoded), t, dtype=torch.long)
    mask = torch.zeros(len(encoded), t, dtype=torch.long)
    for r, (i, ty) in enumerate(encoded):
        ids[r, :len(i)] = torch.tensor(i)
        types[r, :len(ty)] = torch.tensor(ty)
        mask[r, :len(i)] = 1
    return ids, types, mask


@torch.no_grad()
def scores(model, enc, pairs, size=128):
    model.eval()
    pairs = [enc.align(a, b) for a, b in pairs]
    out = []
    order = sorted(range(len(pairs)), key=lambda i: len(enc.ids(pairs[i][0])) + len(enc.ids(pairs[i][1])))
    result = [0.0] * len(pairs)
    for s in range(0, len(order), size):
        group = order[s:s + size]
        ids, types, mask = collate(enc, [pairs[i] for i in group])
        p = torch.sigmoid(model(ids, types, mask)).tolist()
        for i, v in zip(group, p):
            result[i] = 1.0 if enc.same(*pairs[i]) else v
    model.train()
    return result


@torch.no_grad()
def cosines(sd, cfg, enc, pairs, size=256):
    """The base embedder's cosine of each pair (mean pooling, as the gateway)."""
    base = Verifier(sd, cfg, 1, 1).eval()
    for layer in base.layers:
        for lin in (layer.q, layer.k, layer.v, layer.o, layer.i, layer.out):
            lin.lora = False
    texts = sorted({t for p in pairs for t in p}, key=lambda t: len(enc.ids(t)))
    vecs = {}
    for s in range(0, len(texts), size):
        group = texts[s:s + size]
        encoded = [[CLS] + enc.ids(t)[:254] + [SEP] for t in group]
        t = max(len(e) for e in encoded)
        ids = torch.zeros(len(group), t, dtype=torch.long)
        mask = torch.zeros(len(group), t, dtype=torch.long)
        for r, e in enumerate(encoded):
            ids[r, :len(e)] = torch.tensor(e)
            mask[r, :len(e)] = 1
        x = base.word[ids] + base.pos[:t].unsqueeze(0) + base.types[torch.zeros_like(ids)]
        x = base.ln(x)
        bias = torch.zeros(mask.shape).masked_fill(mask == 0, -1e4)[:, None, None, :]
        for layer in base.layers:
            x = layer(x, bias)
        m = mask.unsqueeze(-1).float()
        v = F.normalize((x * m).sum(1) / m.sum(1), dim=-1)
        for text, row in zip(group, v):
            vecs[text] = row
    return [float(vecs[a] @ vecs[b]) for a, b in pairs]


def curve(probs, labels, keep):
    """(cut-off, precision, recall) at every distinct score, over kept pairs;
    recall counts every positive (a positive below the prefilter is missed)."""
    positives = sum(labels)
    items = sorted(((p, l) for p, l, k in zip(probs, labels, keep) if k), reverse=True)
    out, tp, fp = [], 0, 0
    for p, l in items:
        tp += l
        fp += 1 - l
        out.append((p, tp / (tp + fp), tp / max(positives, 1)))
    return out


def calibrate(points, targets, min_support):
    """For each wanted precision, the lowest cut-off at which precision stays at
    or above it for every higher cut-off too, counting only cut-offs with at
    least `min_support` validation pairs above them: precision measured on a
    handful of pairs is noise (one mislabelled pair at the very top would move
    it by percents), and letting it decide would make every wanted precision
    above it unreachable."""
    table = []
    for want in targets:
        best = None
        floor = 1.0
        for i, (p, prec, rec) in enumerate(points):  # descending cut-off
            if i + 1 >= min_support:
                floor = min(floor, prec)
            if floor >= want and i + 1 >= min_support:
                best = (p, prec, rec)
        if best is None:
            best = (1.0, 1.0, 0.0)
        table.append({"min_precision": want, "cutoff": round(best[0], 6), "val_precision": round(best[1], 4),
                      "val_recall": round(best[2], 4)})
    return table


def report(name, probs, labels, cut):
    tp = sum(1 for p, l in zip(probs, labels) if p >= cut and l)
    fp = sum(1 for p, l in zip(probs, labels) if p >= cut and not l)
    pos = sum(labels)
    prec = tp / (tp + fp) if tp + fp else 1.0
    print(f"  {name:26} n {len(labels):6} pos {pos:6}  precision {prec:.3f} recall {tp / max(pos, 1):.3f} "
          f"false-hit rate {fp / max(len(labels) - pos, 1):.3f}")


def native_bf16():
    """Whether this CPU computes bfloat16 natively (else autocast emulates it, slowly)."""
    cpu = torch.cpu
    return any(getattr(cpu, name, lambda: False)() for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))


def bf16_pays():
    """Whether bfloat16 autocast is faster than f32 here, timed on a layer
    shaped like the encoder's feed-forward (forward and backward, 2,048 tokens):
    some CPUs with AVX512-BF16 multiply bfloat16 slower than f32 (stop 27's
    Xeon: 52 against 99 GFLOPS on one thread), so native support is not
    enough."""
    layer = torch.nn.Sequential(torch.nn.Linear(384, 1536), torch.nn.GELU(), torch.nn.Linear(1536, 384))
    x = torch.randn(2048, 384)

    def run(bf16):
        best = float("inf")
        for _ in range(4):
            t = time.time()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                y = layer(x)
            y.float().sum().backward()
            best = min(best, time.time() - t)
        return best

    return run(True) < run(False)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="../../models/all-MiniLM-L6-v2")
    ap.add_argument("--data", default="out")
    ap.add_argument("--out", default="../../assets/verifier")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--rank", type=int, default=32)
    ap.add_argument("--alpha", type=float, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--examples", type=int, default=240000, help="training examples seen in all")
    ap.add_argument("--lr", type=float, default=6e-4)
    ap.add_argument("--prefilter", type=float, default=0.80)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--val-limit", type=int, default=0)
    ap.add_argument("--repeat-family", action="append", default=[], metavar="FAMILY=TIMES",
                    help="see a family's training pairs this many times as often (e.g. relations=2)")
    ap.add_argument("--init", default="",
                    help="an adapter.safetensors to start from (same rank): fine-tunes an earlier run further")
    ap.add_argument("--bf16", action="store_true",
                    help="train under bfloat16 autocast (weights and the optimiser stay f32; the validation "
                         "scores and calibration are computed in f32, as the gateway runs)")
    ap.add_argument("--qqp-extra", type=float, default=0.5,
                    help="extra QQP training pairs, as a share of them (its labels are the hardest): 0.5 sees half of "
                         "them twice, 2.0 sees every one three times")
    ap.add_argument("--max-minutes", type=float, default=0,
                    help="fit training into this many minutes from the start (loading included, validation not): "
                         "after a few steps the run measures its speed and trains on fewer examples if needed")
    ap.add_argument("--no-validation", action="store_true",
                    help="write the adapter only (a first stage that a second one starts from)")
    ap.add_argument("--min-support", type=int, default=200,
                    help="calibration: validation pairs that must lie above a cut-off before its precision counts")
    ap.add_argument("--calibrate-only", action="store_true",
                    help="no training: load the adapter in --out, re-score the validation split and rewrite "
                         "verifier.json (its training record kept)")
    ap.add_argument("--average", nargs="+", default=[], metavar="ADAPTER",
                    help="no training: write the mean of these adapters (same rank, one run fine-tuned from the "
                         "other: a weight average of two points of one training) to --out, then validate and "
                         "calibrate it as --calibrate-only does")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    torch.set_num_threads(args.threads)
    if args.bf16 and not native_bf16():
        print("warning: this CPU has no native bfloat16 (AVX512-BF16 or AMX); bfloat16 autocast would be "
              "about 10x slower than f32 here, so training runs in f32", flush=True)
        args.bf16 = False
    elif args.bf16 and not bf16_pays():
        print("warning: bfloat16 autocast is slower than f32 on this CPU (a feed-forward layer timed both "
              "ways), so training runs in f32", flush=True)
        args.bf16 = False
    started = time.time()
    sd = load_file(os.path.join(args.model, "model.safetensors"))
    cfg = json.load(open(os.path.join(args.model, "config.json")))
    enc = Encoder(os.path.join(args.model, "tokenizer.json"))
    model = Verifier(sd, cfg, args.rank, args.alpha)
    # The starting adapter's own record (its SHA-256 and training, nested, read
    # before --out may overwrite it), so verifier.json tells the whole chain.
    init_record = records_of(args.init) if args.init else None
    if args.init:
        init = load_file(args.init)
        if "encoder.layer.0.attention.self.query.bias" in init:
            # adapter_tensors() writes no matrix biases: training on would drop them.
            raise SystemExit(f"--init: {args.init} is a full_tune.py adapter (trained biases); continue it with "
                             "full_tune.py --resume, or calibrate it with --calibrate-only")
        model.load_adapter(init)
        print(f"started from {args.init}")
    if args.average:
        training = {"average": [records_of(a) for a in args.average]}  # before --out may be overwritten
        adapter = average_adapters(args.average, args.out)
        if args.no_validation:
            with open(os.path.join(args.out, "verifier.json"), "w") as f:
                json.dump({"training": training}, f, indent=2)
            print(f"\nwrote {adapter} (the mean of {len(args.average)} adapters, not validated)")
            return
        model.load_adapter(load_file(adapter))
        val = load(os.path.join(args.data, "val.jsonl"))
        validate_and_write(model, enc, sd, cfg, val, args, adapter, training)
        print(f"\nwrote {adapter} (the mean of {len(args.average)} adapters) in {(time.time() - started) / 60:.1f} min")
        return
    if args.calibrate_only:
        adapter = os.path.join(args.out, "adapter.safetensors")
        model.load_adapter(load_file(adapter))
        with open(os.path.join(args.out, "verifier.json")) as f:
            training = json.load(f)["training"]
        val = load(os.path.join(args.data, "val.jsonl"))
        if args.val_limit:
            rng.shuffle(val)
            val = val[:args.val_limit]
        validate_and_write(model, enc, sd, cfg, val, args, adapter, training)
        print(f"\nrewrote {os.path.join(args.out, 'verifier.json')} in {(time.time() - started) / 60:.1f} min")
        return
    train = load(os.path.join(args.data, "train.jsonl"))
    qqp = [r for r in train if r["kind"] == "qqp"]
    rng.shuffle(qqp)
    whole, part = divmod(args.qqp_extra, 1.0)
    train += qqp * int(whole) + qqp[: int(len(qqp) * part)]
    for spec in args.repeat_family:
        family, _, times = spec.partition("=")
        rows = [r for r in train if r.get("family") == family]
        if not rows:
            raise SystemExit(f"--repeat-family: no training pairs of family {family!r}")
        train += rows * max(int(times or 2) - 1, 0)
    val = load(os.path.join(args.data, "val.jsonl"))
    if args.val_limit:
        rng.shuffle(val)
        val = val[:args.val_limit]
    print(f"train {len(train)} pairs, val {len(val)} pairs; {sum(p.numel() for p in model.parameters() if p.requires_grad)} trainable")

    head = [p for n, p in model.named_parameters() if n.startswith(("dense", "cls"))]
    rest = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith(("dense", "cls"))]
    opt = torch.optim.AdamW([{"params": rest, "lr": args.lr}, {"params": head, "lr": args.lr * 2}], weight_decay=0.01)
    steps = args.examples // args.batch
    warm = max(steps // 20, 1)
    # The schedule reads `steps` and `warm` when called, so a budget cut below
    # shortens it (decay included) rather than stopping it half-way.
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / (steps - warm))))
    step, seen, loss_sum = 0, 0, 0.0
    asked, window = steps, (0, time.time())
    while step < steps:
        for (ids, types, mask), y in batches(enc, train, args.batch, rng, swap=True):
            # The time budget: measured after 40 steps, then again every 100
            # steps during the first half, each time at the speed of the last
            # window (a machine that gets busier or quieter moves the end),
            # never past the examples asked for.
            if args.max_minutes and (step == 40 or (step % 100 == 0 and 40 < step < steps // 2)):
                per_step = (time.time() - window[1]) / (step - window[0])
                window = (step, time.time())
                left = args.max_minutes * 60 - (time.time() - started)
                fit = min(step + int(max(left, 0) / per_step), asked)
                if fit != steps:
                    print(f"budget: {args.batch / per_step:.1f} pairs/s here, so {fit * args.batch} of "
                          f"{asked * args.batch} examples fit in --max-minutes {args.max_minutes}; training on those",
                          flush=True)
                    steps = fit
                    warm = min(warm, max(steps // 20, 1))
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
                logits = model(ids, types, mask)
            loss = F.binary_cross_entropy_with_logits(logits.float(), y)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            seen += len(y)
            loss_sum += loss.item()
            if step % 200 == 0 or step == 10:
                el = time.time() - started
                print(f"step {step}/{steps} seen {seen} loss {loss_sum / 200:.4f} {seen / el:.1f} pairs/s {el / 60:.1f} min", flush=True)
                loss_sum = 0.0
            if step >= steps:
                break

    train_secs = time.time() - started
    os.makedirs(args.out, exist_ok=True)
    adapter = os.path.join(args.out, "adapter.safetensors")
    save_file(model.adapter_tensors(), adapter, metadata={"rank": str(args.rank), "format": "g-aigateway-verifier-1"})
    training = {"seed": args.seed, "init": init_record, "examples": seen,
                "batch": args.batch, "lr": args.lr, "alpha": args.alpha, "bf16": args.bf16,
                "train_pairs": len(train), "val_pairs": len(val), "seconds": round(train_secs)}
    if args.no_validation:
        # The training record alone, for a later --calibrate-only or --average.
        with open(os.path.join(args.out, "verifier.json"), "w") as f:
            json.dump({"training": training}, f, indent=2)
        print(f"\nwrote {adapter} (not validated) in {(time.time() - started) / 60:.1f} min")
        return
    validate_and_write(model, enc, sd, cfg, val, args, adapter, training)
    print(f"\nwrote {adapter} ({os.path.getsize(adapter)} bytes) in {(time.time() - started) / 60:.1f} min")


def average_adapters(paths, out):
    """The element-wise mean of adapters of one rank (LoRA factors, head,
    layer norms). Sound for two points of one training (a run and one
    fine-tuned from it): their factors stay close, so the mean of the factors
    is close to the mean of the weight updates."""
    tensors = [load_file(p) for p in paths]
    names = set(tensors[0])
    if any(set(t) != names or any(t[n].shape != tensors[0][n].shape for n in names) for t in tensors[1:]):
        raise SystemExit("--average: the adapters differ in tensors or rank")
    mean = {n: sum(t[n] for t in tensors) / len(tensors) for n in sorted(names)}
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "adapter.safetensors")
    with safe_open(paths[0], "pt") as f:
        metadata = f.metadata()
    save_file(mean, path, metadata=metadata)
    return path


def records_of(adapter):
    """The training record next to an adapter (its verifier.json), if any."""
    meta = os.path.join(os.path.dirname(adapter) or ".", "verifier.json")
    record = {"adapter": os.path.basename(os.path.dirname(os.path.abspath(adapter))), "sha256": sha256(adapter)}
    if os.path.exists(meta):
        with open(meta) as f:
            record["training"] = json.load(f).get("training")
    return record


def validate_and_write(model, enc, sd, cfg, val, args, adapter, training):
    """Scores the validation split (f32), prints the curve, the calibration and
    the figures by kind, and writes verifier.json next to the adapter."""
    pairs = [(r["a"], r["b"]) for r in val]
    labels = [int(r["label"]) for r in val]
    probs = scores(model, enc, pairs)
    cos = cosines(sd, cfg, enc, pairs)
    # As the gateway: above the prefilter, or the same prompt but for keyboard
    # slips (src/verifier/encode.rs same_but_for_slips, from stop 39).
    keep = [c >= args.prefilter or enc.same(*enc.align(a, b)) for c, (a, b) in zip(cos, pairs)]
    points = curve(probs, labels, keep)
    print(f"\nvalidation: {len(val)} pairs, {sum(keep)} above the prefilter cosine {args.prefilter}")
    print("| cut-off | precision | recall |")
    for p, prec, rec in points[:: max(1, len(points) // 40)]:
        print(f"| {p:.4f} | {prec:.4f} | {rec:.4f} |")
    targets = [0.80, 0.85, 0.90, 0.925, 0.95, 0.97, 0.98, 0.99]
    table = calibrate(points, targets, args.min_support)
    print(f"\ncalibration (min precision -> cut-off; at least {args.min_support} pairs above a cut-off):")
    for row in table:
        print(f"  {row}")
    cut95 = next(r["cutoff"] for r in table if r["min_precision"] == 0.95)
    print(f"\nby kind at the 0.95 cut-off {cut95:.4f} (prefilter applied):")
    kinds = sorted({r["kind"] for r in val})
    for kind in kinds:
        idx = [i for i, r in enumerate(val) if r["kind"] == kind]
        report(kind, [probs[i] if keep[i] else 0.0 for i in idx], [labels[i] for i in idx], cut95)
    report("cosine >= 0.95 alone", [1.0 if c >= 0.95 else 0.0 for c in cos], labels, 0.5)

    refs = [{"a": a, "b": b, "score": s} for (a, b), s in zip(REFERENCE_PAIRS, scores(model, enc, REFERENCE_PAIRS))]
    meta = {
        "format": "g-aigateway-verifier-1",
        "base_sha256": sha256(os.path.join(args.model, "model.safetensors")),
        "adapter_sha256": sha256(adapter),
        "rank": args.rank,
        "max_text_bytes": MAX_TEXT_BYTES,
        "max_pair_tokens": MAX_PAIR_TOKENS,
        "prefilter": args.prefilter,
        "calibration_min_support": args.min_support,
        "calibration": table,
        "reference": refs,
        "training": training,
    }
    with open(os.path.join(args.out, "verifier.json"), "w") as f:
        json.dump(meta, f, indent=2)
    for r in refs:
        print(f"  {r['score']:.4f}  {r['a']} | {r['b']}")

if __name__ == "__main__":
    main()
