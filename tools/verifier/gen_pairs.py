"""Builds the pair verifier's training and validation sets (JSON lines
{"a", "b", "label", "kind", "split"}) from ../shared/data plus generated hard
examples. Seeded; the same seed gives the same files.

Splits are by text: every pair of the shared sets is put in a connected
component of texts (pairs that share a text are joined), and whole components go
to validation, so no text is on both sides. Generated families go to validation
by name, and slot values by value, so validation prompts use families and words
the model never saw in training.

Usage: python3 gen_pairs.py --data ../../../shared/data --out DIR [--seed 7]
"""

import argparse
import hashlib
import json
import os
import random
import re

from families import (CITIES, COUNTRIES, DIRECTIONS_TRAIN_ONLY, FAMILIES, LANGUAGES, OPPOSITE_GROUPS, PEOPLE, PROG_LANGS,
                      change_pairs, composed_pairs, composed_qualifier_pairs, composed_role_pairs, nominal_role_pairs,
                      near_noun_pairs, order_pairs, question_word_pairs, relation_pairs, voice_pairs)

VAL_SHARE = 0.15


def bucket(key, seed):
    """A stable number in [0, 1) for a string (independent of PYTHONHASHSEED)."""
    h = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(h[:8], "little") / 2**64


# ---------------------------------------------------------------- shared sets

def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def split_by_component(rows, seed, name):
    parent = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for r in rows:
        ra, rb = find(r["a"]), find(r["b"])
        if ra != rb:
            parent[ra] = rb
    out = []
    for r in rows:
        root = find(r["a"])
        split = "val" if bucket(f"{name}:{root}", seed) < VAL_SHARE else "train"
        out.append({"a": r["a"], "b": r["b"], "label": int(r["label"]), "kind": name, "split": split})
    return out


# ------------------------------------------------------- surface paraphrases

CONTRACTIONS = [
    ("what is", "what's"), ("it is", "it's"), ("do not", "don't"), ("does not", "doesn't"),
    ("can not", "can't"), ("cannot", "can't"), ("i am", "i'm"), ("is not", "isn't"), ("are not", "aren't"),
    ("how is", "how's"), ("who is", "who's"), ("that is", "that's"), ("there is", "there's"),
    ("i would", "i'd"), ("you are", "you're"), ("will not", "won't"), ("should not", "shouldn't"),
]

PREFIXES = ["Hey, ", "Quick question: ", "Hi! ", "Hello, ", "I was wondering, ", "Question: ", "pls ", "Please, "]
SUFFIXES = [" Thanks!", " thanks", " Please.", " please", " ?", "??", " Thank you."]


def keep_case(src, repl):
    return repl[0].upper() + repl[1:] if src[:1].isupper() else repl


def surface(text, rng):
    """A rewording that keeps the meaning: case, punctuation, contractions,
    politeness, an occasional dropped letter."""
    t = text
    ops = rng.sample(["case", "punct", "contract", "prefix", "suffix", "typo", "space"], k=rng.randint(1, 3))
    for op in ops:
        if op == "case":
            t = rng.choice([t.lower(), t.lower().capitalize(), t.upper() if len(t) < 40 else t.lower()])
        elif op == "punct":
            t = t.rstrip("?.! ") if t.rstrip().endswith(("?", ".", "!")) else t.rstrip() + rng.choice(["?", ".", "!"])
        elif op == "contract":
            pairs = CONTRACTIONS[:]
            rng.shuffle(pairs)
            for long, short in pairs:
                if rng.random() < 0.5:
                    long, short = short, long
                pat = re.compile(r"\b" + re.escape(long) + r"\b", re.IGNORECASE)
                if pat.search(t):
                    t = pat.sub(lambda m: keep_case(m.group(0), short), t, count=1)
                    break
        elif op == "prefix":
            p = rng.choice(PREFIXES)
            t = p + (t[0].lower() + t[1:] if t[:1].isupper() and not t[:2].isupper() else t)
        elif op == "suffix":
            t = t + rng.choice(SUFFIXES)
        elif op == "typo":
            words = t.split(" ")
            long = [i for i, w in enumerate(words) if len(w) >= 7 and w.isalpha()]
            if long:
                i = rng.choice(long)
                w = words[i]
                j = rng.randrange(1, len(w) - 1)
                words[i] = w[:j] + w[j + 1:] if rng.random() < 0.5 else w[:j] + w[j + 1] + w[j] + w[j + 2:]
                t = " ".join(words)
        elif op == "space":
            t = t.replace(", ", " , ") if rng.random() < 0.5 else t.replace("?", " ?")
    return t.strip() if t.strip() else text


# ---------------------------------------------------- perturbation negatives

ANTONYMS = [
    ("big", "small"), ("best", "worst"), ("increase", "decrease"), ("before", "after"), ("most", "least"),
    ("male", "female"), ("buy", "sell"), ("start", "stop"), ("win", "lose"), ("hot", "cold"),
    ("cheap", "expensive"), ("fast", "slow"), ("good", "bad"), ("easy", "hard"), ("first", "last"),
    ("above", "below"), ("more", "less"), ("positive", "negative"), ("pros", "cons"),
    ("advantages", "disadvantages"), ("true", "false"), ("love", "hate"), ("men", "women"),
    ("boys", "girls"), ("husband", "wife"), ("legal", "illegal"), ("possible", "impossible"),
    ("happy", "sad"), ("rich", "poor"), ("high", "low"), ("long", "short"), ("young", "old"),
    ("early", "late"), ("north", "south"), ("east", "west"), ("left", "right"), ("online", "offline"),
    ("import", "export"), ("upload", "download"), ("input", "output"), ("accept", "reject"),
    ("agree", "disagree"), ("like", "dislike"), ("safe", "dangerous"), ("healthy", "unhealthy"),
    ("install", "uninstall"), ("enable", "disable"), ("encrypt", "decrypt"), ("add", "remove"),
    ("benefits", "side effects"), ("strengths", "weaknesses"), ("maximum", "minimum"), ("soft", "hard"),
    ("beginner", "advanced"), ("formal", "informal"), ("weak", "strong"), ("heavy", "light"),
    ("wet", "dry"), ("inside", "outside"), ("day", "night"), ("summer", "winter"), ("cause", "prevent"),
    ("gain", "lose"), ("rise", "fall"), ("open", "close"), ("borrow", "lend"), ("teacher", "student"),
    ("employer", "employee"), ("landlord", "tenant"), ("buyer", "seller"), ("parents", "children"),
    ("uphill", "downhill"), ("deep", "shallow"), ("thick", "thin"), ("narrow", "wide"), ("raw", "cooked"),
    ("public", "private"), ("internal", "external"), ("import", "export"), ("sweet", "sour"),
    ("introvert", "extrovert"), ("democrats", "republicans"), ("capitalism", "socialism"),
    ("iphone", "android"), ("windows", "mac"), ("cat", "dog"), ("cats", "dogs"), ("tea", "coffee"),
    ("morning", "evening"), ("weekday", "weekend"), ("boy", "girl"), ("man", "woman"),
]

# More opposites, for training-split perturbations only (main: a generator of
# their own, so the validation split, whose perturbations use ANTONYMS alone, is
# unchanged): the verifier should learn "one word turned into its opposite" over
# many words, not only those it will be measured on. The development groups'
# qualifiers (families._dev_group: ascending/descending, raw/cooked, cheapest/
# fastest, bigger/smaller, …) are left out so dev.jsonl still measures unseen ones.
ANTONYMS_TRAIN_ONLY = [
    ("accurate", "inaccurate"), ("active", "passive"), ("alive", "dead"), ("always", "never"),
    ("ancient", "modern"), ("arrive", "depart"), ("asleep", "awake"), ("attack", "defend"),
    ("beautiful", "ugly"), ("begin", "end"), ("bottom", "top"), ("brave", "cowardly"), ("broad", "narrow"),
    ("calm", "anxious"), ("careful", "careless"), ("catch", "throw"), ("clean", "dirty"), ("clear", "cloudy"),
    ("common", "rare"), ("complex", "simple"), ("connect", "disconnect"), ("correct", "incorrect"),
    ("create", "destroy"), ("cruel", "kind"), ("decline", "approve"), ("deny", "admit"),
    ("deposit", "withdraw"), ("difficult", "easy"), ("domestic", "foreign"), ("empty", "full"),
    ("encourage", "discourage"), ("entrance", "exit"), ("expand", "shrink"), ("fail", "pass"), ("fake", "real"),
    ("far", "near"), ("fat", "thin"), ("fertile", "barren"), ("forget", "remember"), ("forward", "backward"),
    ("freeze", "melt"), ("fresh", "stale"), ("friend", "enemy"), ("generous", "stingy"), ("guilty", "innocent"),
    ("hire", "fire"), ("honest", "dishonest"), ("horizontal", "vertical"), ("include", "exclude"),
    ("inhale", "exhale"), ("junior", "senior"), ("legal", "unlawful"), ("lend", "borrow"), ("liquid", "solid"),
    ("lock", "unlock"), ("loose", "tight"), ("loud", "quiet"), ("major", "minor"), ("maximize", "minimize"),
    ("mild", "severe"), ("minority", "majority"), ("natural", "artificial"), ("noisy", "silent"),
    ("obey", "disobey"), ("optimist", "pessimist"), ("optional", "mandatory"), ("ordinary", "special"),
    ("paid", "unpaid"), ("part-time", "full-time"), ("permanent", "temporary"), ("plus", "minus"),
    ("polite", "rude"), ("profit", "loss"), ("push", "pull"), ("qualified", "unqualified"), ("receive", "send"),
    ("reward", "punishment"), ("rough", "smooth"), ("rural", "urban"), ("sharp", "dull"), ("shy", "outgoing"),
    ("sick", "healthy"), ("sink", "float"), ("sober", "drunk"), ("sour", "sweet"), ("spicy", "mild"),
    ("stable", "unstable"), ("success", "failure"), ("sunrise", "sunset"), ("support", "oppose"),
    ("tall", "short"), ("tame", "wild"), ("teach", "learn"), ("tidy", "messy"), ("tiny", "huge"),
    ("together", "apart"), ("tough", "tender"), ("transparent", "opaque"), ("true", "untrue"),
    ("unique", "common"), ("upper", "lower"), ("upstairs", "downstairs"), ("useful", "useless"),
    ("vertical", "flat"), ("victory", "defeat"), ("visible", "invisible"), ("voluntary", "compulsory"),
    ("warm", "cool"), ("wealthy", "poor"), ("wide", "narrow"), ("wise", "foolish"), ("worse", "better"),
    ("younger", "older"), ("cheaper", "pricier"), ("longer", "shorter"), ("higher", "lower"),
    ("stronger", "weaker"), ("heavier", "lighter"), ("earlier", "later"), ("closer", "farther"),
    ("introduce", "abolish"), ("overweight", "underweight"), ("overpaid", "underpaid"),
    ("overrated", "underrated"), ("overestimate", "underestimate"), ("inbound", "outbound"),
    ("incoming", "outgoing"), ("indoor", "outdoor"), ("interior", "exterior"), ("maximal", "minimal"),
    ("predator", "prey"), ("prefix", "suffix"), ("sender", "recipient"), ("winner", "loser"),
    ("victim", "attacker"), ("parent", "child"), ("supplier", "customer"),
]


def swap_antonym_from(lexicon, t, rng):
    found = [(x, y) for a, b in lexicon for x, y in ((a, b), (b, a))
             if re.search(r"\b" + re.escape(x) + r"\b", t, re.IGNORECASE)]
    if not found:
        return None
    x, y = rng.choice(found)
    return re.sub(r"\b" + re.escape(x) + r"\b", lambda m: keep_case(m.group(0), y), t, count=1, flags=re.IGNORECASE)


NUMBER_WORDS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "twenty", "hundred"]

ENTITY_LISTS = [COUNTRIES, CITIES, LANGUAGES, PROG_LANGS, PEOPLE]

AUX = ["is", "are", "can", "do", "does", "should", "will", "was", "were", "did", "would", "could"]


def change_number(t, rng):
    m = list(re.finditer(r"\b\d+(\.\d+)?\b", t))
    if m:
        x = rng.choice(m)
        old = x.group(0)
        for _ in range(10):
            if "." in old:
                new = f"{float(old) + rng.choice([-1, 1]) * rng.choice([0.1, 0.5, 1, 2]):.{len(old.split('.')[1])}f}"
            else:
                n = int(old)
                new = str(max(0, n + rng.choice([-1, 1]) * rng.choice([1, 2, 3, 5, 10, max(1, n // 2)])))
            if new != old:
                return t[:x.start()] + new + t[x.end():]
        return None
    words = [w for w in NUMBER_WORDS if re.search(r"\b" + w + r"\b", t, re.IGNORECASE)]
    if words:
        w = rng.choice(words)
        other = rng.choice([n for n in NUMBER_WORDS if n != w])
        return re.sub(r"\b" + w + r"\b", lambda m: keep_case(m.group(0), other), t, count=1, flags=re.IGNORECASE)
    return None


def swap_antonym(t, rng):
    return swap_antonym_from(ANTONYMS, t, rng)


NEGATABLE = {"is": "isn't", "are": "aren't", "can": "can't", "does": "doesn't", "do": "don't", "did": "didn't",
             "should": "shouldn't", "will": "won't", "was": "wasn't", "were": "weren't", "would": "wouldn't",
             "could": "couldn't", "has": "hasn't", "have": "haven't"}
POSITIVE_OF = {v: k for k, v in NEGATABLE.items()}


def flip_negation(t, rng):
    """Adds or removes one negation where English puts it: "Is X ...?" ->
    "Isn't X ...?", "Why do we ...?" -> "Why don't we ...?", "X is not Y" -> "X is Y"."""
    m = re.search(r"\b(\w+n't)\b", t, re.IGNORECASE)
    if m and m.group(1).lower() in POSITIVE_OF:
        return t[:m.start()] + keep_case(m.group(1), POSITIVE_OF[m.group(1).lower()]) + t[m.end():]
    m = re.search(r"\b(is|are|was|were|do|does|did|can|should) not\b", t, re.IGNORECASE)
    if m:
        return t[:m.start()] + m.group(1) + t[m.end():]
    m = re.match(r"(Why|How come|When|Where|What) (\w+) ", t, re.IGNORECASE)
    if m and m.group(1).lower() == "why" and m.group(2).lower() in NEGATABLE:
        return t[:m.start(2)] + NEGATABLE[m.group(2).lower()] + t[m.end(2):]
    m = re.match(r"(\w+) ", t)
    if m and m.group(1).lower() in NEGATABLE and rng.random() < 0.5:
        return keep_case(m.group(1), NEGATABLE[m.group(1).lower()]) + t[m.end(1):]
    m = re.search(r"\b(is|are|was|were)\b (\w+)", t)
    if m and len(t[:m.start()].split()) >= 3 and m.group(2).lower() not in ("a", "an", "the", "there", "it", "this", "that"):
        return t[:m.end(1)] + " not" + t[m.end(1):]
    return None


def swap_entity(t, rng):
    for lst in rng.sample(ENTITY_LISTS, len(ENTITY_LISTS)):
        present = [e for e in lst if re.search(r"\b" + re.escape(e) + r"(?!\w)", t)]
        if present:
            e = rng.choice(present)
            other = rng.choice([x for x in lst if x != e and x not in present])
            return re.sub(r"\b" + re.escape(e) + r"(?!\w)", other, t, count=1)
    return None


def swap_direction(t, rng):
    m = re.search(r"\bfrom (\w+) to (\w+)\b", t, re.IGNORECASE)
    if m and m.group(1).lower() != m.group(2).lower():
        return t[:m.start()] + f"from {m.group(2)} to {m.group(1)}" + t[m.end():]
    m = re.search(r"\b(\w+) (into|than|over|before|after) (\w+)\b", t)
    if m and m.group(1).lower() not in AUX and m.group(1).lower() != m.group(3).lower() and m.group(1)[0].isupper():
        return t[:m.start()] + f"{m.group(3)} {m.group(2)} {m.group(1)}" + t[m.end():]
    return None


def swap_symmetric(t, rng):
    """Positive: swapping the two sides of a symmetric phrase keeps the meaning."""
    m = re.search(r"\bbetween (\w+) and (\w+)\b", t)
    if m:
        return t[:m.start()] + f"between {m.group(2)} and {m.group(1)}" + t[m.end():]
    m = re.search(r"\b(\w+) (vs\.?|versus|or) (\w+)\b", t)
    if m and m.group(1)[:1].isupper() and m.group(3)[:1].isupper():
        return t[:m.start()] + f"{m.group(3)} {m.group(2)} {m.group(1)}" + t[m.end():]
    return None


PERTURB = [("number", change_number), ("antonym", swap_antonym), ("negation", flip_negation),
           ("entity", swap_entity), ("direction", swap_direction)]


def perturbations(texts, rng, split, per_text=1):
    out = []
    for t in texts:
        kinds = rng.sample(PERTURB, len(PERTURB))
        made = 0
        for name, fn in kinds:
            if name == "negation" and rng.random() < 0.6:
                continue
            new = fn(t, rng)
            if new and new.strip() and new.lower() != t.lower():
                a, b = (t, new) if rng.random() < 0.5 else (new, t)
                if rng.random() < 0.3:
                    b = surface(b, rng)
                out.append({"a": a, "b": b, "label": 0, "kind": f"perturb-{name}", "split": split})
                made += 1
                if made >= per_text:
                    break
        sym = swap_symmetric(t, rng)
        if sym and sym != t:
            out.append({"a": t, "b": sym, "label": 1, "kind": "perturb-symmetric", "split": split})
    return out


# ------------------------------------------------------------- the families

def atom(v):
    return v[0] if isinstance(v, tuple) else v


def values_for(slot_values, split, seed):
    """Values a split may use: small lists are shared, larger ones split by value."""
    if len(slot_values) < 8:
        return slot_values
    keep = [v for v in slot_values if (bucket(f"value:{atom(v)}", seed) < VAL_SHARE) == (split == "val")]
    return keep if len(keep) >= 2 else slot_values


def render(template, bind):
    out = template
    for slot, value in bind.items():
        out = out.replace("{" + slot + "}", str(value))
    return out[0].upper() + out[1:] if out else out


def bind_values(fam, choices, rng):
    """One binding of every slot: tuple slots take one side (the other side is
    the hard negative), units expand to u0/u1."""
    bind, flips = {}, {}
    for slot, vals in choices.items():
        v = rng.choice(vals)
        if slot == "u":
            a, b = v if rng.random() < 0.5 else (v[1], v[0])
            bind["u0"], bind["u1"] = a, b
        elif isinstance(v, tuple):
            i = rng.randrange(2)
            bind[slot], flips[slot] = v[i], v[1 - i]
        else:
            bind[slot] = v
    ordered = [s for s in ("a", "b") if s in choices]
    if len(ordered) == 2 and bind["a"] == bind["b"]:
        return None
    if fam["name"] == "visa" and bind["c"] == bind["from"]:
        return None
    return bind, flips


def family_pairs(fam, split, seed, rng, n):
    choices = {s: values_for(v, split, seed) for s, v in fam["slots"].items()}
    out = []
    tries = 0
    while len(out) < n and tries < n * 20:
        tries += 1
        got = bind_values(fam, choices, rng)
        if not got:
            continue
        bind, flips = got
        t1, t2 = rng.sample(fam["templates"], 2) if len(fam["templates"]) > 1 else (fam["templates"][0],) * 2
        base = render(t1, bind)
        roll = rng.random()
        kind = fam["name"]
        if roll < 0.42:
            other = render(t2, bind)
            if rng.random() < 0.35:
                other = surface(other, rng)
            label, what = 1, "paraphrase"
        else:
            what, other = negative_of(fam, choices, bind, flips, t2, rng)
            if other is None:
                continue
            label = 1 if what == "symmetric-swap" else 0
            if rng.random() < 0.25:
                other = surface(other, rng)
        if other.strip().lower() == base.strip().lower() and label == 0:
            continue
        a, b = (base, other) if rng.random() < 0.5 else (other, base)
        out.append({"a": a, "b": b, "label": label, "kind": f"gen-{what}", "family": kind, "split": split})
    return out


def negative_of(fam, choices, bind, flips, template, rng):
    options = []
    if flips:
        options.append("qualifier")
    swappable = {s for s in bind if s in choices and len(choices[s]) > 1 and s not in flips}
    if "u0" in bind:
        options.append("direction")
    if swappable:
        options += ["value", "value"]
    if fam["negatives"]:
        options.append("intent")
    if fam["symmetric"]:
        options.append("symmetric-swap")
    if fam["ordered"] and fam["ordered"] != ("u0", "u1"):
        options += ["role-swap", "role-swap"]
    if not options:
        return None, None
    what = rng.choice(options)
    new = dict(bind)
    if what == "qualifier":
        s = rng.choice(list(flips))
        new[s] = flips[s]
    elif what == "direction":
        new["u0"], new["u1"] = bind["u1"], bind["u0"]
    elif what == "value":
        s = rng.choice(sorted(swappable))
        others = [atom(v) for v in choices[s] if atom(v) != bind[s]]
        if s == "u":
            return None, None
        new[s] = rng.choice(others)
        if "a" in new and "b" in new and new["a"] == new["b"]:
            return None, None
    elif what == "intent":
        template = rng.choice(fam["negatives"])
    elif what in ("symmetric-swap", "role-swap"):
        x, y = fam["ordered"] or ("a", "b")
        new[x], new[y] = bind[y], bind[x]
    return what, render(template, new)


def generated(seed, per_family):
    rng = random.Random(seed)
    out = relation_pairs(rng, "train", seed, per_family * 12, values_for, bucket)
    out += relation_pairs(rng, "val", seed, per_family * 2, values_for, bucket)
    for fam in FAMILIES:
        val_family = bucket(f"family:{fam['name']}", seed) < 0.2
        if val_family:
            out += family_pairs(fam, "val", seed, rng, per_family // 3)
        else:
            out += family_pairs(fam, "train", seed, rng, per_family)
            out += family_pairs(fam, "val", seed, rng, per_family // 8)
    # Training-only direction forms, from a generator of their own so the
    # validation split above does not change with them.
    out += relation_pairs(random.Random(seed + 1), "train", seed, per_family * 4, values_for, bucket,
                          only=DIRECTIONS_TRAIN_ONLY)
    # Composed ordered and symmetric forms (training only, a generator of their own).
    out += composed_pairs(random.Random(seed + 2), seed, per_family * 12, values_for)
    # Composed roles (training only, a generator of their own).
    out += composed_role_pairs(random.Random(seed + 3), per_family * 8)
    # Composed qualifiers and near-neighbour nouns (training only, a generator of their own).
    out += composed_qualifier_pairs(random.Random(seed + 4), per_family * 10)
    # Roles in noun forms (training only, a generator of their own).
    out += nominal_role_pairs(random.Random(seed + 7), per_family * 6)
    # Opposite changes and actions in several tenses (training only, a generator of their own).
    out += change_pairs(random.Random(seed + 9), per_family * 6)
    out += change_pairs(random.Random(seed + 11), per_family * 10, groups=OPPOSITE_GROUPS)
    return out


# -------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="../../../shared/data")
    ap.add_argument("--out", default="out")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--per-family", type=int, default=700)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)

    qqp = split_by_component(read_jsonl(os.path.join(args.data, "qqp_dev.jsonl")), args.seed, "qqp")
    mrpc = split_by_component(read_jsonl(os.path.join(args.data, "mrpc_train.jsonl")), args.seed, "mrpc")
    rows = qqp + mrpc

    # Surface positives and perturbation negatives of real texts, each in its text's split.
    by_split = {"train": set(), "val": set()}
    for r in qqp:
        by_split[r["split"]].add(r["a"])
        by_split[r["split"]].add(r["b"])
    for split, texts in by_split.items():
        texts = sorted(texts)
        rng.shuffle(texts)
        share = texts[: len(texts) // 3]
        rows += perturbations(share, rng, split)
        for t in texts[: len(texts) // 8]:
            rows.append({"a": t, "b": surface(t, rng), "label": 1, "kind": "surface", "split": split})

    # Training only: opposites of the larger lexicon in the training split's
    # real questions (a generator of its own, after the rows above are made).
    extra = random.Random(args.seed + 6)
    texts = sorted(by_split["train"])
    extra.shuffle(texts)
    made = 0
    for t in texts:
        if made >= 8000:
            break
        new = swap_antonym_from(ANTONYMS_TRAIN_ONLY, t, extra)
        if new and new.lower() != t.lower():
            a, b = (t, new) if extra.random() < 0.5 else (new, t)
            rows.append({"a": a, "b": b, "label": 0, "kind": "perturb-antonym", "split": "train"})
            made += 1

    rows += generated(args.seed, args.per_family)
    rng.shuffle(rows)
    # Voice and roles (training only, a generator of their own), added after
    # the shuffle so that the validation split stays byte for byte as it was.
    voice = voice_pairs(random.Random(args.seed + 13), args.per_family * 12)
    rows += [voice[i] for i in random.Random(args.seed + 13).sample(range(len(voice)), len(voice))]
    # No text on both sides: generated families with short slot lists share
    # those lists between the splits, so a prompt can come out the same in
    # both; a training pair with a text of the validation split (compared
    # case-insensitively) is dropped. The validation split is unchanged.
    held = {t.strip().lower() for r in rows if r["split"] == "val" for t in (r["a"], r["b"])}
    dropped = sum(1 for r in rows if r["split"] != "val" and {r["a"].strip().lower(), r["b"].strip().lower()} & held)
    rows = [r for r in rows if r["split"] == "val" or not {r["a"].strip().lower(), r["b"].strip().lower()} & held]
    print(f"dropped {dropped} training pairs with a text of the validation split")
    counts = {}
    for split in ("train", "val"):
        path = os.path.join(args.out, f"{split}.jsonl")
        with open(path, "w") as f:
            for r in rows:
                if r["split"] == split:
                    f.write(json.dumps(r) + "\n")
                    key = (split, r["kind"].split("-")[0] if r["kind"].startswith("gen") else r["kind"])
                    counts.setdefault(key, [0, 0])[r["label"]] += 1
    # Development pairs: composed qualifier, noun and nominal-role groups held out of training,
    # to compare candidate stages before the validation split is read.
    dev = composed_qualifier_pairs(random.Random(args.seed + 5), 2000, "dev")
    dev += nominal_role_pairs(random.Random(args.seed + 8), 800, "dev")
    dev += change_pairs(random.Random(args.seed + 10), 800, "dev")
    dev += change_pairs(random.Random(args.seed + 12), 800, "dev", groups=OPPOSITE_GROUPS)
    dev += voice_pairs(random.Random(args.seed + 14), 1000, "dev")
    dev += near_noun_pairs(random.Random(args.seed + 15), 600, "dev")
    with open(os.path.join(args.out, "dev.jsonl"), "w") as f:
        for r in dev:
            f.write(json.dumps(r) + "\n")
            counts.setdefault(("dev", r["kind"]), [0, 0])[r["label"]] += 1
    # Marker-order pairs of the held-out frames and places (families.order_pairs), in a
    # file of their own so that dev.jsonl stays as it was for comparing with earlier stops.
    with open(os.path.join(args.out, "dev_order.jsonl"), "w") as f:
        for r in order_pairs(random.Random(args.seed + 16), 600, "dev"):
            if {r["a"].strip().lower(), r["b"].strip().lower()} & held:
                continue
            f.write(json.dumps(r) + "\n")
            counts.setdefault(("dev", r["kind"]), [0, 0])[r["label"]] += 1
    # Question-word pairs of the held-out subjects (families.question_word_pairs, from stop 41),
    # in a file of their own for the same reason.
    with open(os.path.join(args.out, "dev_wh.jsonl"), "w") as f:
        for r in question_word_pairs(random.Random(args.seed + 17), 600, "dev"):
            if {r["a"].strip().lower(), r["b"].strip().lower()} & held:
                continue
            f.write(json.dumps(r) + "\n")
            counts.setdefault(("dev", r["kind"]), [0, 0])[r["label"]] += 1
    for (split, kind), (neg, pos) in sorted(counts.items()):
        print(f"{split:5} {kind:22} pos {pos:6} neg {neg:6}")


if __name__ == "__main__":
    main()
