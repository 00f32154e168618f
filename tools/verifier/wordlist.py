"""Writes target/verifier/words.txt.gz: English words of four letters or more
that are not whole words of the verifier's vocabulary — WordNet 3.0's
single-word lemmas (tools/verifier/fetch_wordnet.sh), their regular
inflections (plurals, -ed, -ing, -er, -est) and the irregular verb forms and
plurals listed below.

A development tool, not shipped (stop 40). The gateway's slip alignment
(src/verifier/spelling.rs) takes a word for known when it is a whole word of
the vocabulary, so a real word the vocabulary splits into pieces can be taken
for a slip of one it has: "payers" is aligned to "players", "manger" to
"manager", "invades" to "invaded". Stop 40's candidate counted this list's
words as known too (and aligned misspellings that are not slips: a vowel for
a vowel, the last letter left out); it failed its validation rule by two
positives (recall 0.7862 -> 0.7860) and was not shipped — see the README.

Usage: python3 tools/verifier/wordlist.py [--wordnet target/wordnet/dict]
       [--model models/all-MiniLM-L6-v2] [--out target/verifier/words.txt.gz]
Deterministic: the same inputs give the same bytes (gzip without a time)."""

import argparse
import gzip
import json
import os
import re

# Irregular verbs: base, past, participle (forms that are not base + ed).
IRREGULAR_VERBS = """
arise arose arisen; awake awoke awoken; bear bore borne born; beat beat beaten;
become became become; begin began begun; bend bent; bet bet; bind bound;
bite bit bitten; bleed bled; blow blew blown; break broke broken; breed bred;
bring brought; build built; burn burnt; burst burst; buy bought; cast cast;
catch caught; choose chose chosen; cling clung; come came come; cost cost;
creep crept; cut cut; deal dealt; dig dug; dive dove; draw drew drawn;
dream dreamt; drink drank drunk; drive drove driven; dwell dwelt; eat ate eaten;
fall fell fallen; feed fed; feel felt; fight fought; find found; flee fled;
fling flung; fly flew flown; forbid forbade forbidden; forecast forecast;
foresee foresaw foreseen; foretell foretold; forget forgot forgotten;
forgive forgave forgiven; forsake forsook forsaken; freeze froze frozen;
get got gotten; give gave given; go went gone; grind ground; grow grew grown;
hang hung; have had; hear heard; hide hid hidden; hit hit; hold held; hurt hurt;
keep kept; kneel knelt; knit knit; know knew known; lay laid; lead led;
lean leant; leap leapt; learn learnt; leave left; lend lent; let let; lie lay lain;
light lit; lose lost; make made; mean meant; meet met; mislead misled;
mistake mistook mistaken; misunderstand misunderstood; mow mown; outdo outdid outdone;
outgrow outgrew outgrown; overcome overcame overcome; overdo overdid overdone;
overhear overheard; override overrode overridden; overrun overran overrun;
oversee oversaw overseen; oversleep overslept; overtake overtook overtaken;
overthrow overthrew overthrown; pay paid; prove proven; put put; quit quit;
read read; rebuild rebuilt; redo redid redone; rewrite rewrote rewritten;
rid rid; ride rode ridden; ring rang rung; rise rose risen; run ran run;
saw sawn; say said; see saw seen; seek sought; sell sold; send sent; set set;
sew sewn; shake shook shaken; shed shed; shine shone; shoot shot; show shown;
shrink shrank shrunk shrunken; shut shut; sing sang sung; sink sank sunk;
sit sat; slay slew slain; sleep slept; slide slid; sling slung; slit slit;
smell smelt; sow sown; speak spoke spoken; speed sped; spell spelt;
spend spent; spill spilt; spin spun; spit spat; split split; spoil spoilt;
spread spread; spring sprang sprung; stand stood; steal stole stolen;
stick stuck; sting stung; stink stank stunk; stride strode stridden;
strike struck stricken; string strung; strive strove striven; swear swore sworn;
sweep swept; swell swollen; swim swam swum; swing swung; take took taken;
teach taught; tear tore torn; tell told; think thought; throw threw thrown;
thrust thrust; tread trod trodden; undergo underwent undergone;
understand understood; undertake undertook undertaken; undo undid undone;
upset upset; wake woke woken; wear wore worn; weave wove woven; weep wept;
win won; wind wound; withdraw withdrew withdrawn; withhold withheld;
withstand withstood; wring wrung; write wrote written
"""

IRREGULAR_PLURALS = """
analyses axes bacteria cacti children criteria crises curricula data diagnoses
dice feet fungi geese hypotheses indices larvae lice matrices media men mice
nuclei oases oxen parentheses phenomena radii stimuli syllabi teeth theses
vertebrae vertices women
"""


def inflections(word, pos):
    out = {word}
    if pos & {"noun", "verb"}:
        if re.search(r"(s|x|z|ch|sh)$", word):
            out.add(word + "es")
        elif re.search(r"[^aeiou]y$", word):
            out.add(word[:-1] + "ies")
        else:
            out.add(word + "s")
    if "verb" in pos:
        if word.endswith("e"):
            out |= {word + "d", word[:-1] + "ing"}
        elif re.search(r"[^aeiou]y$", word):
            out |= {word[:-1] + "ied", word + "ing"}
        else:
            out |= {word + "ed", word + "ing"}
            if re.search(r"[^aeiou][aeiou][bdgklmnprt]$", word):
                out |= {word + word[-1] + "ed", word + word[-1] + "ing"}
    if "adj" in pos:
        if word.endswith("e"):
            out |= {word + "r", word + "st"}
        elif re.search(r"[^aeiou]y$", word):
            out |= {word[:-1] + "ier", word[:-1] + "iest"}
        else:
            out |= {word + "er", word + "est"}
            if re.search(r"[^aeiou][aeiou][bdgmnt]$", word):
                out |= {word + word[-1] + "er", word + word[-1] + "est"}
    return out


def words(wordnet, vocab):
    lemmas = {}
    for pos in ("noun", "verb", "adj", "adv"):
        with open(os.path.join(wordnet, "index." + pos)) as f:
            for line in f:
                if line.startswith(" "):
                    continue
                w = line.split(" ", 1)[0]
                if re.fullmatch(r"[a-z]+", w):
                    lemmas.setdefault(w, set()).add(pos)
    for group in IRREGULAR_VERBS.split(";"):
        forms = group.split()
        lemmas.setdefault(forms[0], set()).add("verb")
        for form in forms[1:]:
            lemmas.setdefault(form, set())
    for w in IRREGULAR_PLURALS.split():
        lemmas.setdefault(w, set())
    every = set()
    for w, pos in lemmas.items():
        every |= inflections(w, pos)
    return sorted(w for w in every if len(w) >= 4 and w not in vocab)


def main():
    ap = argparse.ArgumentParser(usage=__doc__)
    ap.add_argument("--wordnet", default="target/wordnet/dict")
    ap.add_argument("--model", default="models/all-MiniLM-L6-v2")
    ap.add_argument("--out", default="target/verifier/words.txt.gz")
    args = ap.parse_args()
    with open(os.path.join(args.model, "tokenizer.json")) as f:
        vocab = set(json.load(f)["model"]["vocab"])
    found = words(args.wordnet, vocab)
    data = ("\n".join(found) + "\n").encode()
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "wb") as f:
        f.write(gzip.compress(data, compresslevel=9, mtime=0))
    print(f"wrote {len(found)} words ({len(data)} bytes, {os.path.getsize(args.out)} gzipped) to {args.out}")


if __name__ == "__main__":
    main()
