"""Fine-tunes every encoder matrix of the verifier (not a LoRA) and ships the
result as a LoRA of higher rank: the truncated SVD of each matrix's whole
update against the base weights.

Why: a rank-16 LoRA never learns whose role is whose across voices ("Did A
outbid B?" / "Was B outbid by A?"): its loss stays at the base rate however
long it trains, while fine-tuning every weight crosses that plateau after
~55k voice examples and then generalises to unseen verbs (voice_probe.py).
The update that crossing leaves is spread over full-rank matrices; its
truncated SVD keeps the directions that carry it, and the adapter format
(lora_a, lora_b per matrix, src/verifier/model.rs merges W + B·A) carries
any rank.

Starts from an adapter (its LoRA merged into the weights, its LayerNorms,
token types and head loaded), trains the 36 encoder matrices and their
biases, the LayerNorms, the token-type embeddings and the head (word and
position embeddings stay the base's: the gateway shares them with the
embedder), on the training split with the voice pairs mixed in at
--voice-share of the examples. Prints the loss of the voice pairs and of the
rest every 200 steps. Then, for each --ranks R, writes OUT/rR/adapter.safetensors
(float16 factors, the biases that changed, float32 LayerNorms and head) and
prints the development split's voice scores of each, and of the untruncated
model, so the rank is chosen on dev. Calibrate the chosen one with
train.py --calibrate-only --rank R --out OUT/rR.

--noun-share mixes in families.near_noun_pairs (near-neighbour nouns across
wordings: "How do I reset my voicemail PIN?" / "how can I reset my door code")
the same way; --qualifier-share mixes in fresh composed qualifier pairs
(families.composed_qualifier_pairs over the training qualifier groups and
families.EXTRA_QUALIFIER_GROUPS: "What's a good spicy curry recipe?" / "How do
I make a mild curry?"), drawn anew rather than repeating the training split's
rows; --lexicon-share mixes in WordNet antonym and synonym swaps of training
texts (lexicon.py: "What is the best way to learn French?" / "... the worst
way ..."), --lexicon-cross a share of them as a training paraphrase pair beside
itself with an antonym swapped into one side; --extra-nouns adds the console sign-in noun group;
--order-share mixes in families.order_pairs (which place is the source and which
the destination whatever the order of the words: "from A to B" / "to B from A"
against "to A from B"; its held-out frames and places are
tools/verifier/out/dev_order.jsonl, reported beside dev.jsonl). A generated pair
with a text of the validation split is dropped (from stop 31: before it, about
9 in 7,200 noun pairs carried one of two validation texts). --blend
with --resume starts from a weight average of the resumed run and the init
adapter merged. --wh-share mixes in families.question_word_pairs (another
question word about one subject: "When did X …?" / "Why did X …?"; --wh-positive
the share of two wordings of one question word), reported on
tools/verifier/out/dev_wh.jsonl; --opener-share draws again the training
split's positives whose two texts open with different words (stop 41).
--format-share mixes in families.format_pairs (another kind of text to write:
"Write a short poem about X." / "Write a short story about X."), reported on
tools/verifier/out/dev_format.jsonl (format_dev.py; stop 43). --typo-order draws
that share of the --typo-share pairs from order pairs, --typo-skip-family draws none
from the families named (stop 47). --distill W
keeps the init adapter's own scores as soft labels (weight W) on every row
but the new family's, so a new family is learnt without the drift a plain
fine-tune brings elsewhere (stop 44).

Usage:
  target/verifier-venv/bin/python tools/verifier/full_tune.py --init assets/verifier/adapter.safetensors \
      --examples 128000 --voice-share 0.5 --lr 5e-5 --ranks 32,48,64 --out target/full
"""

import argparse
import json
import os
import random
import sys
import time

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lexicon  # noqa: E402
import train  # noqa: E402
from families import (EXTRA_NEAR_NOUN_GROUPS, EXTRA_QUALIFIER_GROUPS, composed_qualifier_pairs,  # noqa: E402
                      format_pairs, near_noun_pairs, order_pairs, voice_pairs)

MODEL = "models/all-MiniLM-L6-v2"
NAMES = ["attention.self.query", "attention.self.key", "attention.self.value",
         "attention.output.dense", "intermediate.dense", "output.dense"]


def linears(model):
    for i, layer in enumerate(model.layers):
        for name, lin in zip(NAMES, (layer.q, layer.k, layer.v, layer.o, layer.i, layer.out)):
            yield f"encoder.layer.{i}.{name}", lin


def unfreeze(model):
    """Merges each LoRA into its matrix and makes matrix and bias trainable."""
    for _, lin in linears(model):
        with torch.no_grad():
            w = lin.w + (lin.bm @ lin.a) * lin.scale
            b = lin.b.clone()
        lin.lora = False
        del lin.w, lin.b, lin.a, lin.bm
        lin.w, lin.b = torch.nn.Parameter(w), torch.nn.Parameter(b)


def low_rank(model, sd, rank):
    """The adapter of one rank: per matrix, the SVD of (trained - base) cut
    to `rank` (lora_b = U·S, lora_a = V^T, float16), plus every other trained
    tensor (biases that moved, LayerNorms, token types, head) in float32."""
    out = {}
    for name, lin in linears(model):
        delta = (lin.w.detach() - sd[f"{name}.weight"]).double()
        u, s, vh = torch.linalg.svd(delta, full_matrices=False)
        out[f"{name}.lora_a"] = vh[:rank].float().half()
        out[f"{name}.lora_b"] = (u[:, :rank] * s[:rank]).float().half()
        if not torch.equal(lin.b.detach(), sd[f"{name}.bias"]):
            out[f"{name}.bias"] = lin.b.detach().clone()
    out.update(model_other_tensors(model))  # LayerNorms, token types and head, as train.py writes them
    return {k: v.contiguous() for k, v in out.items()}


def model_other_tensors(model):
    out = {"embeddings.token_type_embeddings.weight": model.types.detach(),
           "embeddings.LayerNorm.weight": model.ln.weight.detach(), "embeddings.LayerNorm.bias": model.ln.bias.detach(),
           "head.dense.weight": model.dense.weight.detach(), "head.dense.bias": model.dense.bias.detach(),
           "head.out.weight": model.cls.weight.detach(), "head.out.bias": model.cls.bias.detach()}
    for i, layer in enumerate(model.layers):
        p = f"encoder.layer.{i}"
        out[f"{p}.attention.output.LayerNorm.weight"] = layer.ln1.weight.detach()
        out[f"{p}.attention.output.LayerNorm.bias"] = layer.ln1.bias.detach()
        out[f"{p}.output.LayerNorm.weight"] = layer.ln2.weight.detach()
        out[f"{p}.output.LayerNorm.bias"] = layer.ln2.bias.detach()
    return {k: v.float().clone() for k, v in out.items()}


def dev_report(label, model, enc, dev, cut):
    probs = train.scores(model, enc, [(r["a"], r["b"]) for r in dev])
    print(f"{label} (dev, {len(dev)} pairs, cut {cut}):")
    for kind in sorted({r["kind"] for r in dev}):
        idx = [i for i, r in enumerate(dev) if r["kind"] == kind]
        s = sorted(probs[i] for i in idx)
        above = sum(1 for v in s if v >= cut)
        print(f"  {kind:24} {above:5}/{len(s):5} above = {above / len(s):.3f}   "
              f"q10 {s[len(s) // 10]:.3f} q50 {s[len(s) // 2]:.3f} q90 {s[9 * len(s) // 10]:.3f}", flush=True)


def main():
    ap = argparse.ArgumentParser(usage=__doc__)
    ap.add_argument("--init", required=True, help="the adapter.safetensors to start from")
    ap.add_argument("--resume", default="", help="an earlier run's OUT/full.pt (every trained weight): "
                    "continues from it (--init still names the chain's adapter); several, comma-separated: "
                    "from their uniform weight average (runs from one init: a model soup)")
    ap.add_argument("--blend", type=float, default=1.0,
                    help="with --resume: start from blend x the resumed weights + (1 - blend) x the init "
                    "adapter merged (with --examples 0, just that weight average)")
    ap.add_argument("--data", default="tools/verifier/out")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--examples", type=int, default=128000)
    ap.add_argument("--voice-share", type=float, default=0.5)
    ap.add_argument("--order-share", type=float, default=0.0,
                    help="share of families.order_pairs (which place is the source and which the destination, "
                    "whatever order the words come in)")
    ap.add_argument("--order-balanced", action="store_true",
                    help="order pairs from families.order_pairs(balanced=True): reworded pairs with the names "
                    "reversed as often swaps as rewordings")
    ap.add_argument("--noun-share", type=float, default=0.0,
                    help="share of families.near_noun_pairs (near-neighbour nouns across wordings)")
    ap.add_argument("--extra-nouns", action="store_true",
                    help="the noun pairs also draw on families.EXTRA_NEAR_NOUN_GROUPS (console sign-in items)")
    ap.add_argument("--qualifier-share", type=float, default=0.0,
                    help="share of fresh composed qualifier pairs (training and extra qualifier groups)")
    ap.add_argument("--lexicon-share", type=float, default=0.0,
                    help="share of lexicon.swap_pairs: training texts with one word swapped for a WordNet "
                    "antonym (negative) or synonym (positive)")
    ap.add_argument("--lexicon-positive", type=float, default=0.35,
                    help="the share of the lexicon pairs that are positives (synonym or typo swaps)")
    ap.add_argument("--lexicon-typos", type=float, default=0.5,
                    help="the share of the lexicon's positives that are a word misspelled, not a synonym "
                    "(stop 32's full 10 and 11 ran before typos: 0)")
    ap.add_argument("--lexicon-cross", type=float, default=0.0,
                    help="the share of the lexicon rows made by lexicon.cross_pairs: a training positive pair "
                    "beside itself with an antonym swapped into one side")
    ap.add_argument("--lexicon-clean", action="store_true",
                    help="lexicon.word_pairs(clean=True): antonyms only in the part of speech each word mostly "
                         "has in SemCor; no swap inside a name")
    ap.add_argument("--lexicon-indirect-min", type=int, default=1,
                    help="lexicon.word_pairs(indirect_min=K): indirect antonyms only between words tagged at "
                         "least 2K times in SemCor")
    ap.add_argument("--wh-share", type=float, default=0.0,
                    help="share of families.question_word_pairs (two question words about one subject: negatives)")
    ap.add_argument("--wh-positive", type=float, default=0.4,
                    help="share of --wh-share pairs that are two wordings of one question word (positives)")
    ap.add_argument("--wh-wordings", type=int, default=0,
                    help="keep only the first that many wordings of each question-word group (0: all)")
    ap.add_argument("--wh-positive-wordings", type=int, default=-1,
                    help="keep that many wordings of each question-word group for the positives alone (0: all; "
                         "-1: as --wh-wordings), so two wordings of one question word are seen in every form while "
                         "the negatives keep --wh-wordings' openers (stop 50)")
    ap.add_argument("--wh-no-tasks", action="store_true",
                    help="leave the task groups (\"How do I …\" / \"How often should I …\") out of --wh-share")
    ap.add_argument("--wh-only-relations", action="store_true",
                    help="--wh-share pairs from the relations family's templates alone")
    ap.add_argument("--opener-share", type=float, default=0.0,
                    help="share of the training split's positives whose two texts open with different words "
                         "(\"How can I …\" / \"What's the best way to …\"), drawn again beside --wh-share so "
                         "that the opener alone does not decide")
    ap.add_argument("--format-share", type=float, default=0.0,
                    help="share of families.format_pairs (another kind of text to write, the topic kept)")
    ap.add_argument("--distill", type=float, default=0.0,
                    help="weight of the init adapter's own scores as soft labels on every row that is not of a "
                         "new family (--format-share): loss = (1-W)*BCE(label) + W*BCE(teacher); keeps what the "
                         "shipped adapter knows while the new family is learnt (stop 44)")
    ap.add_argument("--distill-labels", default="",
                    help="comma-separated families learnt from their labels alone under --distill, besides the new "
                         "one: order (the --order-share pairs), wh (the --wh-share pairs), opener (the --opener-share "
                         "pairs), typo (the --typo-share pairs); FAMILY:LABEL learns only that family's rows of that "
                         "label from their labels and distils the others (wh:0: question-word changes from labels, "
                         "question-word rewordings from the init adapter, stop 49)")
    ap.add_argument("--typo-share", type=float, default=0.0,
                    help="share of lexicon.typo_pairs: a training text beside itself misspelled (label 1), or a "
                    "training row with one side misspelled, its label kept (in a negative only a shared word)")
    ap.add_argument("--typo-pure", type=float, default=0.3,
                    help="the share of the --typo-share pairs that are a text beside itself misspelled")
    ap.add_argument("--typo-order", type=float, default=0.0,
                    help="the share of the --typo-share pairs drawn from fresh families.order_pairs rows (both "
                    "labels, one side misspelled, the label kept) rather than the training split, so misspelt "
                    "pairs are not all pairs worded alike (stop 47)")
    ap.add_argument("--typo-skip-family", default="",
                    help="comma-separated training families the --typo-share pairs are not drawn from (relations: "
                    "misspelt role and direction pairs learnt from their labels cost held-out order rewordings, "
                    "stop 47)")
    ap.add_argument("--typo-augment", type=float, default=0.0,
                    help="each example of the mix (voice, noun, lexicon … rows included) has one side misspelled "
                    "with this probability, its label kept (in a negative only a word both sides share)")
    ap.add_argument("--bf16", choices=("auto", "on", "off"), default="auto",
                    help="bfloat16 autocast: on where the CPU has it natively, off, or auto (when it is faster)")
    ap.add_argument("--wordnet", default="target/wordnet/dict", help="WordNet 3.0 dict/ (fetch_wordnet.sh)")
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--qqp-extra", type=float, default=1.0)
    ap.add_argument("--repeat-family", action="append", default=["relations=3", "qualifiers=3"],
                    help="FAMILY=N: that family's rows N times as often; appends to the default "
                    "relations=3, qualifiers=3, applied in order (qualifiers=2 makes them 6 times)")
    ap.add_argument("--ranks", default="32,48,64")
    ap.add_argument("--cut", type=float, default=0.78, help="dev: the cut-off counted (about the shipped one)")
    args = ap.parse_args()
    if args.wh_positive_wordings == 1 or (0 < args.wh_wordings < 2):
        ap.error("--wh-wordings and --wh-positive-wordings need two wordings at least (or 0: all)")

    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    torch.set_num_threads(args.threads)
    # "auto" times both on this CPU; under load (another job beside it) that
    # timing is noise, so it can be set.
    bf16 = train.native_bf16() and (args.bf16 == "on" or (args.bf16 == "auto" and train.bf16_pays()))
    started = time.time()
    sd = load_file(os.path.join(MODEL, "model.safetensors"))
    with open(os.path.join(MODEL, "config.json")) as f:
        cfg = json.load(f)
    enc = train.Encoder(os.path.join(MODEL, "tokenizer.json"))
    init = load_file(args.init)
    rank_in = init["encoder.layer.0.attention.self.query.lora_a"].shape[0]
    model = train.Verifier(sd, cfg, rank_in, 2 * rank_in)
    model.load_adapter(init)
    teacher = None
    # (family, label or None for both) learnt from their labels alone.
    label_only = [(f.partition(":")[0], int(f.partition(":")[2]) if f.partition(":")[2] else None)
                  for f in args.distill_labels.split(",") if f]
    if args.distill:
        # The init adapter, merged and frozen: its scores are the soft labels.
        teacher = train.Verifier(sd, cfg, rank_in, 2 * rank_in)
        teacher.load_adapter(init)
        unfreeze(teacher)
        teacher.eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
    unfreeze(model)
    if args.resume:
        start = {k: v.detach().clone() for k, v in model.state_dict().items()}
        states = [torch.load(p) for p in args.resume.split(",")]
        model.load_state_dict({k: sum(st[k] for st in states) / len(states) if v.is_floating_point() else v
                               for k, v in states[0].items()})
        print(f"resumed from {args.resume}" + (" (their average)" if len(states) > 1 else ""))
        if args.blend != 1.0:
            # A weight average of two points of one training (the init adapter merged and
            # the resumed run that started from it), as train.py --average does for LoRAs.
            mixed_state = {k: (args.blend * v + (1.0 - args.blend) * start[k]) if v.is_floating_point() else v
                           for k, v in model.state_dict().items()}
            model.load_state_dict(mixed_state)
            print(f"blended: {args.blend} x {args.resume} + {1.0 - args.blend:g} x the init adapter")

    rows = train.load(os.path.join(args.data, "train.jsonl"))
    qqp = [r for r in rows if r["kind"] == "qqp"]
    rng.shuffle(qqp)
    whole, part = divmod(args.qqp_extra, 1.0)
    rows += qqp * int(whole) + qqp[: int(len(qqp) * part)]
    for spec in args.repeat_family:
        family, _, times = spec.partition("=")
        rows += [r for r in rows if r.get("family") == family] * max(int(times or 2) - 1, 0)
    voice = [dict(r, voice=True) for r in voice_pairs(random.Random(20), 8400)]
    n_voice = int(args.examples * args.voice_share)
    n_noun = int(args.examples * args.noun_share)
    n_order = int(args.examples * args.order_share)
    order = [dict(r, order=True) for r in order_pairs(random.Random(27), max(n_order, 1), balanced=args.order_balanced)]
    nouns = near_noun_pairs(random.Random(22), max(n_noun, 1),
                            extra=EXTRA_NEAR_NOUN_GROUPS if args.extra_nouns else ())
    n_qual = int(args.examples * args.qualifier_share)
    quals = composed_qualifier_pairs(random.Random(23), max(n_qual, 1), extra=EXTRA_QUALIFIER_GROUPS)
    held = {t.strip().lower() for r in train.load(os.path.join(args.data, "val.jsonl")) for t in (r["a"], r["b"])}

    def unseen(pairs):
        return [r for r in pairs if r["a"].strip().lower() not in held and r["b"].strip().lower() not in held]

    n_lex = int(args.examples * args.lexicon_share)
    lex = []
    if n_lex:
        antonyms, synonyms = lexicon.word_pairs(args.wordnet, clean=args.lexicon_clean,
                                                indirect_min=args.lexicon_indirect_min)
        # Word pairs that a validation pair changes are not taught, nor any
        # pair with a word that a development pair changes ("bigger" / "small"
        # against the dev group's "bigger" / "smaller"), so neither split is
        # flattered by the lexicon.
        dev_changed = lexicon.changed_words(train.load(os.path.join(args.data, "dev.jsonl")))
        measured = dev_changed | lexicon.changed_words(train.load(os.path.join(args.data, "val.jsonl")))
        dev_words = {w for pair in dev_changed for w in pair}

        def kept(pairs):
            return {p for p in pairs if p not in measured and p[0] not in dev_words and p[1] not in dev_words}

        antonyms, synonyms = kept(antonyms), kept(synonyms)
        texts = sorted({t for r in rows for t in (r["a"], r["b"])})
        n_cross = int(n_lex * args.lexicon_cross)
        lex = lexicon.swap_pairs(random.Random(24), texts, antonyms, synonyms, 2 * (n_lex - n_cross),
                                 positive_share=args.lexicon_positive, typo_share=args.lexicon_typos,
                                 clean=args.lexicon_clean)
        if n_cross:
            positives = [r for r in rows if r["label"] == 1 and r["kind"] in ("gen-paraphrase", "qqp", "mrpc")]
            # Adjective, adverb and verb antonyms only: a noun's opposite is too
            # often another sense ("question" / "answer" in "Question: …").
            modifiers = kept(lexicon.word_pairs(args.wordnet, kinds=("a", "s", "r", "v"), clean=args.lexicon_clean,
                                                indirect_min=args.lexicon_indirect_min)[0])
            cross = lexicon.cross_pairs(random.Random(25), positives, modifiers, 2 * n_cross, clean=args.lexicon_clean)
            lex = lex[: n_lex - n_cross] + cross
            random.Random(26).shuffle(lex)
        print(f"lexicon: {len(antonyms) // 2} antonym and {len(synonyms) // 2} synonym word pairs "
              f"(the changed words of dev and validation pairs left out)", flush=True)
    n_wh = int(args.examples * args.wh_share)
    wh = []
    if n_wh:
        from gen_pairs import values_for  # noqa: E402
        from families import RELATION_SIDES, RELATION_VERBS, question_word_pairs  # noqa: E402
        sides = [values_for(pool, "train", 7) for pool in RELATION_SIDES]
        wh = question_word_pairs(random.Random(30), 2 * n_wh, relation_sides=sides,
                                 relation_verbs=values_for(RELATION_VERBS, "train", 7), positive_share=args.wh_positive,
                                 wordings=args.wh_wordings or None, tasks=not args.wh_no_tasks,
                                 only_relations=args.wh_only_relations,
                                 positive_wordings=None if args.wh_positive_wordings < 0 else args.wh_positive_wordings)
        wh = [dict(r, wh=True) for r in wh]
    n_opener = int(args.examples * args.opener_share)
    opener = []
    if n_opener:
        def first_word(text):
            words = text.lower().split()
            return words[0].strip("?,.!:'\"") if words else ""
        opener = [dict(r, opener=True) for r in rows
                  if r["label"] == 1 and first_word(r["a"]) != first_word(r["b"])]
        random.Random(31).shuffle(opener)
        print(f"{len(opener)} training positives open with different words", flush=True)
    n_format = int(args.examples * args.format_share)
    formats = [dict(r, new=True) for r in format_pairs(random.Random(32), n_format)] if n_format else []
    n_typo = int(args.examples * args.typo_share)
    n_typo_order = int(n_typo * args.typo_order)
    skipped = {f for f in args.typo_skip_family.split(",") if f}
    typo_source = [r for r in rows if r.get("family") not in skipped] if skipped else rows
    typos = [dict(r, typo=True) for r in lexicon.typo_pairs(random.Random(28), typo_source, n_typo - n_typo_order,
                                                            pure_share=args.typo_pure)] if n_typo else []
    if n_typo_order:
        # Misspelt order pairs: a reworded pair with one side misspelt stays the same
        # question (and a misspelt swap another one), so the typo rows do not teach
        # that only a pair worded alike survives a slip.
        source = order_pairs(random.Random(33), 2 * n_typo_order, balanced=args.order_balanced)
        typos += [dict(r, typo=True, order=True)
                  for r in lexicon.typo_pairs(random.Random(34), source, n_typo_order, pure_share=0.0)]
        random.Random(35).shuffle(typos)
    voice, nouns, quals, lex, order = unseen(voice), unseen(nouns), unseen(quals), unseen(lex), unseen(order)
    typos, wh, formats = unseen(typos), unseen(wh), unseen(formats)
    n_format = min(n_format, len(formats))
    rng.shuffle(rows)
    mixed = (rows[: args.examples - n_voice - n_noun - n_qual - n_lex - n_order - n_typo - n_wh - n_opener - n_format]
             + [voice[i % len(voice)] for i in range(n_voice)] + nouns[:n_noun] + quals[:n_qual] + lex[:n_lex]
             + order[:n_order] + typos[:n_typo] + wh[:n_wh] + formats[:n_format]
             + [opener[i % len(opener)] for i in range(n_opener if opener else 0)])
    if args.typo_augment:
        trng = random.Random(29)
        for i, r in enumerate(mixed):
            if trng.random() < args.typo_augment:
                a, b = (r["a"], r["b"]) if trng.random() < 0.5 else (r["b"], r["a"])
                keep = None if r["label"] else {w.lower() for w in lexicon.WORD.findall(a)}
                other = lexicon.misspelled(trng, b, keep=keep, words=2 if trng.random() < 0.25 else 1)
                if other:
                    mixed[i] = dict(r, a=a, b=other)
    dev = [r for r in train.load(os.path.join(args.data, "dev.jsonl"))]
    dev_order = os.path.join(args.data, "dev_order.jsonl")
    dev += train.load(dev_order) if os.path.exists(dev_order) else []
    dev_wh = os.path.join(args.data, "dev_wh.jsonl")
    dev += train.load(dev_wh) if os.path.exists(dev_wh) else []
    params = [p for p in model.parameters() if p.requires_grad]
    print(f"{sum(p.numel() for p in params)} trainable weights; {len(mixed)} examples, {n_voice} of them voice "
          f"pairs; bf16 {bf16}", flush=True)
    head = [p for n, p in model.named_parameters() if n.startswith(("dense", "cls"))]
    rest = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith(("dense", "cls"))]
    opt = torch.optim.AdamW([{"params": rest, "lr": args.lr}, {"params": head, "lr": args.lr * 2}], weight_decay=0.01)
    steps = len(mixed) // args.batch
    warm = max(steps // 20, 1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / (steps - warm))))
    fresh = lambda: {"voice": [0.0, 0], "order": [0.0, 0], "rest": [0.0, 0]}  # noqa: E731
    step, sums = 0, fresh()
    order_rng = random.Random(args.seed + 1)
    while step < steps:
        for group, ((ids, types, mask), y) in group_batches(enc, mixed, args.batch, order_rng):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = model(ids, types, mask)
            each = F.binary_cross_entropy_with_logits(logits.float(), y, reduction="none")
            loss = each.mean()
            if teacher is not None:
                with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    soft = torch.sigmoid(teacher(ids, types, mask).float())
                old = torch.tensor([0.0 if r.get("new") or any(r.get(f) and lab in (None, r["label"])
                                                                for f, lab in label_only) else args.distill
                                    for r in group])
                kept = F.binary_cross_entropy_with_logits(logits.float(), soft, reduction="none")
                loss = ((1.0 - old) * each + old * kept).mean()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            step += 1
            for r, l in zip(group, each.tolist()):
                s = sums["voice" if r.get("voice") else "order" if r.get("order") else "rest"]
                s[0] += l
                s[1] += 1
            if step % 200 == 0:
                el = time.time() - started
                print(f"step {step}/{steps} loss voice {sums['voice'][0] / max(sums['voice'][1], 1):.4f} "
                      f"order {sums['order'][0] / max(sums['order'][1], 1):.4f} "
                      f"rest {sums['rest'][0] / max(sums['rest'][1], 1):.4f} "
                      f"{step * args.batch / el:.1f} pairs/s {el / 60:.1f} min", flush=True)
                sums = fresh()
            if step >= steps:
                break
    print(f"trained in {(time.time() - started) / 60:.1f} min", flush=True)
    model.eval()
    dev_report("untruncated", model, enc, dev, args.cut)
    os.makedirs(args.out, exist_ok=True)
    torch.save({k: v for k, v in model.state_dict().items()}, os.path.join(args.out, "full.pt"))
    record = {"full_tune": {"init": train.records_of(args.init), "resume": args.resume or None,
                            "blend": args.blend if args.resume else None,
                            "seed": args.seed, "examples": len(mixed),
                            "voice_share": args.voice_share, "noun_share": args.noun_share,
                            "order_share": args.order_share, "order_balanced": args.order_balanced,
                            "qualifier_share": args.qualifier_share, "extra_nouns": args.extra_nouns,
                            "lexicon_share": args.lexicon_share, "lexicon_positive": args.lexicon_positive,
                            "lexicon_typos": args.lexicon_typos, "typo_share": args.typo_share,
                            "typo_pure": args.typo_pure, "typo_order": args.typo_order,
                            "typo_skip_family": args.typo_skip_family,
                            "wh_share": args.wh_share, "wh_positive": args.wh_positive,
                            "opener_share": args.opener_share, "format_share": args.format_share, "wh_wordings": args.wh_wordings,
                            "wh_positive_wordings": args.wh_positive_wordings,
                            "wh_no_tasks": args.wh_no_tasks, "wh_only_relations": args.wh_only_relations, "typo_augment": args.typo_augment,
                            "lexicon_cross": args.lexicon_cross, "lexicon_clean": args.lexicon_clean,
                            "lexicon_indirect_min": args.lexicon_indirect_min, "distill": args.distill, "distill_labels": args.distill_labels,
                            "lr": args.lr, "bf16": bf16,
                            "seconds": round(time.time() - started)}}
    for rank in [int(r) for r in args.ranks.split(",") if r]:
        tensors = low_rank(model, sd, rank)
        directory = os.path.join(args.out, f"r{rank}")
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, "adapter.safetensors")
        save_file(tensors, path, metadata={"rank": str(rank), "format": "g-aigateway-verifier-1"})
        with open(os.path.join(directory, "verifier.json"), "w") as f:
            json.dump({"training": dict(record["full_tune"], svd_rank=rank)}, f, indent=2)
        check = train.Verifier(sd, cfg, rank, 2 * rank)
        check.load_adapter(load_file(path))
        dev_report(f"rank {rank} ({os.path.getsize(path)} bytes)", check.eval(), enc, dev, args.cut)


def group_batches(enc, rows, size, rng):
    """train.batches, also yielding the rows of each batch."""
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
            if rng.random() < 0.5:
                a, b = b, a
            pairs.append((a, b))
        yield [rows[i] for i in group], (train.collate(enc, pairs), torch.tensor([float(rows[i]["label"]) for i in group]))


if __name__ == "__main__":
    main()
