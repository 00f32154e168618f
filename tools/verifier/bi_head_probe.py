"""Would the embedder's own view of a pair help the verifier decide? Two probes,
both read as the gateway decides (calibrated cut-off, default vetoes):

- `cosine`: the verifier's logit plus a weight on the pair's cosine;
- `head`: the verifier's logit plus a logistic head over the embedder's vectors
  of the two texts ([u*v, |u-v|, cos], L2-regularised, its strength chosen by
  4-fold cross-validation) fitted on training pairs above the prefilter.

The combination's weights are fitted on the validation split and measured on
it by 2-fold cross-fitting (folds by connected component of texts, seed 7): fit
and calibrate on one fold, decide the other, pool the held-out decisions; the
verifier alone is cross-fitted the same way, so the comparison is fair. Reads
the embeddings `l2-eval` caches in target/l2-eval/ (named by a hash of the
texts, computed here the same way), so run l2-eval on both files first:

  python3 tools/verifier/bi_head_probe.py sample --out /tmp/trainbig.jsonl
  cargo run --release -p l2-eval -- /tmp/trainbig.jsonl --pairwise-only
  cargo run --release -p l2-eval -- tools/verifier/out/val.jsonl --verifier --pairwise-only --dump /tmp/val.dump
  python3 tools/verifier/bi_head_probe.py read --train /tmp/trainbig.jsonl --dump /tmp/val.dump [--qqp-head]
"""

import argparse
import hashlib
import json
import math
import os
import random
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prefilter_sweep import NEAR  # noqa: E402
from train import calibrate, curve  # noqa: E402

DIM = 384
CACHE = "target/l2-eval"


def embeddings(texts):
    """The vectors l2-eval cached for exactly these texts, in order."""
    h = hashlib.sha256()
    for t in texts:
        b = t.encode()
        h.update(struct.pack("<Q", len(b)))
        h.update(b)
    path = os.path.join(CACHE, h.digest()[:8].hex() + ".f32")
    if not os.path.exists(path):
        raise SystemExit(f"{path} is missing: run l2-eval on this pair file first")
    v = np.fromfile(path, dtype="<f4").reshape(-1, DIM)
    assert len(v) == len(texts), path
    return v


def features(a, b):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    cos = (a * b).sum(1, keepdims=True)
    return np.hstack([a * b * 10, np.abs(a - b) * 5, cos * 5, np.ones((len(a), 1))])


def fit(x, y, lam):
    """L2-regularised logistic regression by Newton's method (bias unpenalised)."""
    w = np.zeros(x.shape[1])
    reg = lam * np.eye(x.shape[1])
    reg[-1, -1] = 0
    for _ in range(40):
        p = 1 / (1 + np.exp(-x @ w))
        hess = (x * (p * (1 - p))[:, None]).T @ x + reg
        w += np.linalg.solve(hess, x.T @ (y - p) - reg @ w)
    return w


def log_loss(x, y, w):
    p = np.clip(1 / (1 + np.exp(-x @ w)), 1e-6, 1 - 1e-6)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def sample(args):
    rng = random.Random(args.seed)
    rows = open(os.path.join(args.data, "train.jsonl")).readlines()
    qqp = [r for r in rows if json.loads(r)["kind"] == "qqp"]
    rest = [r for r in rows if json.loads(r)["kind"] != "qqp"]
    with open(args.out, "w") as f:
        f.writelines(qqp + rng.sample(rest, args.generated))
    print(f"{len(qqp)} QQP + {args.generated} other training pairs -> {args.out}")


def head_scores(args, val_pairs):
    train = [json.loads(line) for line in open(args.train)]
    x_all = features(embeddings([p["a"] for p in train]), embeddings([p["b"] for p in train]))
    keep = (x_all[:, -2] / 5 >= args.prefilter) & np.array([p["kind"] == "qqp" or not args.qqp_head for p in train])
    x, y = x_all[keep], np.array([p["label"] for p in train])[keep]
    print(f"head: {len(y)} training pairs above the prefilter ({int(y.sum())} positives)")
    idx = np.arange(len(y))
    np.random.default_rng(0).shuffle(idx)
    folds = np.array_split(idx, 4)
    best = None
    for lam in (1, 3, 10, 30, 100):
        loss = 0.0
        for f in folds:
            k = np.ones(len(y), bool)
            k[f] = False
            loss += log_loss(x[f], y[f], fit(x[k], y[k], lam)) / 4
        print(f"  strength {lam}: cross-validated log loss {loss:.4f}")
        if best is None or loss < best[0]:
            best = (loss, lam)
    w = fit(x, y, best[1])
    return features(embeddings([p["a"] for p in val_pairs]), embeddings([p["b"] for p in val_pairs])) @ w


def read(args):
    rows = [json.loads(line) for line in open(args.dump)]
    pairs = [json.loads(line) for line in open(args.val)]
    assert len(rows) == len(pairs) and all(r["kind"] == p["kind"] for r, p in zip(rows, pairs))
    lab = np.array([r["label"] for r in rows])
    kept = np.array([r["score"] is not None for r in rows])
    vp = np.array([r["vetoes_pass"] for r in rows])
    kind = [r["kind"] for r in rows]

    def logit(p):
        p = min(max(p, 1e-6), 1 - 1e-6)
        return math.log(p / (1 - p))

    ver = np.array([logit(r["score"]) if r["score"] is not None else -20.0 for r in rows])
    if args.probe == "cosine":
        extra = np.array([r["cos"] - args.prefilter for r in rows])
    else:
        extra = head_scores(args, pairs)
    # Folds by connected component of texts, so no text is in both.
    parent = {}

    def find(t):
        while parent.setdefault(t, t) != t:
            parent[t] = parent[parent[t]]
            t = parent[t]
        return t

    for p in pairs:
        ra, rb = find(p["a"].lower()), find(p["b"].lower())
        if ra != rb:
            parent[ra] = rb
    rng = random.Random(7)
    fold_of = {r: rng.randrange(2) for r in sorted({find(p["a"].lower()) for p in pairs})}
    fold = np.array([fold_of[find(p["a"].lower())] for p in pairs])

    def combine(mask):
        a = np.stack([ver[mask], extra[mask], np.ones(mask.sum())], 1)
        return fit(a, lab[mask], 1e-6)

    weights = [combine((fold != f) & kept) for f in (0, 1)]
    print(f"{args.probe}: combination weights (verifier logit, {args.probe}, bias) per fold:",
          [np.round(w, 3).tolist() for w in weights])
    qqp = np.array([k == "qqp" for k in kind])
    qqp_pos = int((qqp & (lab == 1)).sum())

    def precision_at(score):
        m = qqp & kept & vp
        order = np.argsort(-score[m])
        tp = np.cumsum(lab[m][order])
        fp = np.cumsum(1 - lab[m][order])
        out = []
        for r in (0.3, 0.45, 0.55):
            i = int(np.searchsorted(tp, r * qqp_pos))
            out.append(f"{tp[i] / (tp[i] + fp[i]):.3f}" if i < len(tp) else "-")
        return " / ".join(out)

    held_out = np.zeros(len(rows))
    for f, w in zip((0, 1), weights):
        held_out[fold == f] = (w[0] * ver + w[1] * extra + w[2])[fold == f]
    print(f"QQP precision at recall 0.3 / 0.45 / 0.55: verifier {precision_at(ver)}, {args.probe} alone "
          f"{precision_at(extra)}, verifier + {args.probe} (held out) {precision_at(held_out)}")
    for want in (0.95, 0.97):
        for name, combo in (("verifier", False), (f"verifier + {args.probe}", True)):
            hit = np.zeros(len(rows), bool)
            for f, w in zip((0, 1), weights):
                s = w[0] * ver + w[1] * extra + w[2] if combo else ver
                s = 1 / (1 + np.exp(-s))
                ix = np.where(fold != f)[0]
                cut = calibrate(curve(s[ix].tolist(), lab[ix].tolist(), kept[ix].tolist()), [want], 200)[0]["cutoff"]
                hit |= (fold == f) & kept & (s >= cut) & vp

            def pr(sel):
                sel = np.asarray(sel)
                tp = int((hit & sel & (lab == 1)).sum())
                fp = int((hit & sel & (lab == 0)).sum())
                return f"{tp / max(tp + fp, 1):.3f} / {tp / max(int((sel & (lab == 1)).sum()), 1):.3f}"

            near = {}
            for i in np.where(hit & (lab == 0))[0]:
                if kind[i] in NEAR:
                    near[kind[i]] = near.get(kind[i], 0) + 1
            print(f"min_precision {want} {name}: all {pr(np.ones(len(rows), bool))}, generated "
                  f"{pr([k not in ('qqp', 'mrpc') for k in kind])}, QQP {pr(qqp)}, MRPC "
                  f"{pr([k == 'mrpc' for k in kind])}; near-miss false hits {sum(near.values())} "
                  f"{dict(sorted(near.items()))}")


def main():
    ap = argparse.ArgumentParser(usage=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample")
    s.add_argument("--data", default="tools/verifier/out")
    s.add_argument("--out", required=True)
    s.add_argument("--generated", type=int, default=12000)
    s.add_argument("--seed", type=int, default=12)
    r = sub.add_parser("read")
    r.add_argument("--probe", choices=("cosine", "head"), default="head")
    r.add_argument("--train", help="training pairs for the head (embedded by l2-eval)")
    r.add_argument("--qqp-head", action="store_true", help="fit the head on the QQP training pairs only")
    r.add_argument("--val", default="tools/verifier/out/val.jsonl")
    r.add_argument("--dump", required=True)
    r.add_argument("--prefilter", type=float, default=0.80)
    args = ap.parse_args()
    if args.cmd == "sample":
        sample(args)
    else:
        if args.probe == "head" and not args.train:
            raise SystemExit("--probe head needs --train")
        read(args)


if __name__ == "__main__":
    main()
