"""The antonym veto's word list, and what the veto would refuse.

`build` writes the surface-form antonym pairs the gateway's `antonyms` veto
reads (assets/verifier/antonyms.txt): WordNet 3.0's direct antonyms of common
adjectives, adverbs and verbs (lexicon.word_pairs, the part-of-speech clean-up
on, indirect ones left out), each pair inflected alike ("harder" / "softer",
"increases" / "decreases"), one pair per line, each pair once (the gateway reads
both directions). Nothing of the evaluation data goes into it.

`measure` counts, per kind and label, the rows of JSONL pair files that the veto
would refuse (a word only on one side whose antonym is only on the other side,
words as the gateway splits them); with --dump (dev_eval.py / l2-eval dumps,
which carry each row's score) and --cut it counts the hits it removes.

Usage:
  python3 tools/verifier/antonym_list.py build --wordnet target/wordnet/dict --out assets/verifier/antonyms.txt
  python3 tools/verifier/antonym_list.py measure --list assets/verifier/antonyms.txt tools/verifier/out/train.jsonl
"""

import argparse
import collections
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

VOWELS = set("aeiou")

# Irregular forms WordNet's base forms would miss, by part of speech.
IRREGULAR = {
    ("a", "good"): ["better", "best"],
    ("a", "bad"): ["worse", "worst"],
    ("a", "little"): ["less", "least"],
    ("a", "much"): ["more", "most"],
    ("a", "many"): ["more", "most"],
    ("a", "far"): ["farther", "farthest"],
    ("a", "near"): ["nearer", "nearest"],
}


def _cvc(word):
    return (len(word) >= 3 and word[-1] not in VOWELS | set("wxy") and word[-2] in VOWELS
            and word[-3] not in VOWELS)


def _plural(word):
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in VOWELS:
        return word[:-1] + "ies"
    return word + "s"


def _suffixed(word, suffix):
    """word + "ed" / "ing" / "er" / "est", every plausible spelling."""
    if word.endswith("e"):
        return [word[:-1] + suffix] if not (suffix == "ing" and word.endswith("ee")) else [word + suffix]
    if word.endswith("y") and word[-2:-1] not in VOWELS and suffix != "ing":
        return [word[:-1] + "i" + suffix]
    out = [word + suffix]
    if _cvc(word):
        out.append(word + word[-1] + suffix)
    return out


def forms(word, pos):
    """The inflections of a base form, in slots that pair with another word's:
    adjectives [base, comparative, superlative], verbs [base, -s, -ed, -ing],
    adverbs [base]. A slot may hold several spellings."""
    if pos in ("a", "s"):
        if (("a", word)) in IRREGULAR:
            more, most = IRREGULAR[("a", word)]
            return [[word], [more], [most]]
        if len(word) > 6 and not word.endswith("y"):
            return [[word]]  # "more important", not "importanter"
        return [[word], _suffixed(word, "er"), _suffixed(word, "est")]
    if pos == "v":
        return [[word], [_plural(word)], _suffixed(word, "ed"), _suffixed(word, "ing")]
    return [[word]]


def build(wordnet):
    import lexicon

    pairs = set()
    for pos in ("a", "r", "v"):
        kinds = ("a", "s") if pos == "a" else (pos,)
        antonyms, _ = lexicon.word_pairs(wordnet, kinds=kinds, clean=True, indirect_min=10 ** 9)
        for a, b in antonyms:
            if "_" in a or "_" in b or a > b:
                continue
            for slot_a, slot_b in zip(forms(a, pos), forms(b, pos)):
                for x in slot_a:
                    for y in slot_b:
                        if x != y:
                            pairs.add((min(x, y), max(x, y)))
    return sorted(pairs)


def _stopwords():
    """The gateway's STOPWORDS, read from its source so the two cannot drift."""
    src = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../src/semantic/verify.rs")).read()
    body = src[src.index("const STOPWORDS"):]
    body = body[body.index("[") + 1:body.index("];")]
    return set(re.findall(r'"([^"]+)"', body))


STOPWORDS = _stopwords()
MARKERS = {"to", "into", "onto", "towards", "from", "than", "before", "after", "by"}


def words(text):
    """The gateway's words and roots (semantic::verify::Text): lower case,
    split on anything but letters, digits, apostrophes and dots, apostrophes
    and outer dots dropped; a root drops a possessive "s"."""
    out, roots = [], []
    for raw in re.split(r"[^\w'’.]|_", text):
        w = raw.strip(".'’")
        if w:
            word = w.replace("'", "").replace("’", "").lower()
            out.append(word)
            roots.append(word[:-1] if w.endswith(("'s", "’s", "'S", "’S")) else word)
    return out, roots


def _inflects(word, other):
    """`other` is `word` with a short ending ("slow" / "slowing")."""
    return other.startswith(word) and len(other) - len(word) <= 3


def _content(roots):
    pos = {}
    for i, w in enumerate(roots):
        if w not in STOPWORDS and w not in MARKERS:
            pos.setdefault(w, []).append(i)
    return pos


def vetoed(a, b, antonyms):
    """The (word, antonym) the veto refuses a and b for, or None (mirrors
    semantic::verify::antonym_swapped): a word only in one text whose antonym
    is only in the other, neither text holding the other word in another
    form ("fast" / "slowing … slow"), and not a converse ("X shorter than Y"
    / "Y taller than X": two shared words on either side of the antonym,
    swapped)."""
    (wa, ra), (wb, rb) = words(a), words(b)
    sa, sb = set(wa), set(wb)
    ca, cb = _content(ra), _content(rb)
    shared = [(ca[w][0], cb[w][0]) for w in ca if w in cb and len(ca[w]) == 1 and len(cb[w]) == 1]
    for x in sa - sb:
        for y in sb - sa:
            if (x, y) not in antonyms:
                continue
            if any(_inflects(y, w) for w in wa) or any(_inflects(x, w) for w in wb):
                continue
            ia, ib = wa.index(x), wb.index(y)
            if any(p[0] < ia < q[0] and q[1] < ib < p[1] for p in shared for q in shared):
                continue
            return (x, y)
    return None


def load_list(path):
    out = set()
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                x, y = line.split()
                out |= {(x, y), (y, x)}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--wordnet", default="target/wordnet/dict")
    b.add_argument("--out", default="assets/verifier/antonyms.txt")
    m = sub.add_parser("measure")
    m.add_argument("--list", default="assets/verifier/antonyms.txt")
    m.add_argument("--cut", type=float, default=None, help="with dumps: count only rows scored at or above it")
    m.add_argument("--show", type=int, default=0, help="print that many vetoed rows per kind and label")
    m.add_argument("files", nargs="+")
    args = ap.parse_args()
    if args.cmd == "build":
        pairs = build(args.wordnet)
        with open(args.out, "w") as f:
            f.write("# Antonym pairs for the `antonyms` veto: WordNet 3.0 direct antonyms of common adjectives,\n"
                    "# adverbs and verbs, inflected alike (tools/verifier/antonym_list.py build).\n"
                    "# Derived from WordNet 3.0, under its license:\n#\n")
            with open(os.path.join(args.wordnet, "LICENSE.txt")) as lic:
                for line in lic:
                    f.write(("# " + line.rstrip()).rstrip() + "\n")
            f.write("#\n")
            for x, y in pairs:
                f.write(f"{x} {y}\n")
        print(f"{len(pairs)} pairs -> {args.out}")
        return
    antonyms = load_list(args.list)
    counts = collections.Counter()
    total = collections.Counter()
    shown = collections.Counter()
    for path in args.files:
        with open(path) as f:
            for line in f:
                r = json.loads(line)
                score = r.get("score", r.get("verifier"))
                if args.cut is not None and score is not None and score < args.cut:
                    continue
                if args.cut is not None and r.get("vetoes_pass") is False:
                    continue
                key = (r.get("kind", "?"), int(r["label"]))
                total[key] += 1
                why = vetoed(r["a"], r["b"], antonyms)
                if why:
                    counts[key] += 1
                    if shown[key] < args.show:
                        shown[key] += 1
                        print(f"  [{key[0]} {key[1]}] {why}: {r['a']!r} / {r['b']!r}")
    print(f"{'kind':<28} {'label':>5} {'rows':>7} {'vetoed':>7}")
    for key in sorted(total):
        print(f"{key[0]:<28} {key[1]:>5} {total[key]:>7} {counts[key]:>7}")
    for label in (0, 1):
        n = sum(v for k, v in total.items() if k[1] == label)
        c = sum(v for k, v in counts.items() if k[1] == label)
        print(f"label {label}: {c} of {n} vetoed")


if __name__ == "__main__":
    main()
