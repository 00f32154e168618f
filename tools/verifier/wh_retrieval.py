"""Retrieval answers that changed the question word (from stop 41).

Reads a retrieval dump (`l2-eval tools/verifier/out/val.jsonl --verifier
--retrieval-only --dump-retrieval F`) beside the split it came from, and
counts the answers where the query and the entry that answered it are both
relations-family texts (families.RELATION_TEMPLATES: "Did A conquer B?",
"Why was B conquered by A?", …) whose question words differ — Did/Was, Why,
When, How, "Is it true that" — by the verdict the labels gave (such an answer
is wrong whatever the labels say: another question word asks another
question). Prints a few examples.

Usage: python3 tools/verifier/wh_retrieval.py F [--split tools/verifier/out/val.jsonl]
"""

import argparse
import collections
import json


def group(text):
    t = text.strip().lower()
    if t.startswith("is it true"):
        return "is it true"
    return {"did": "did", "was": "did", "why": "why", "when": "when", "how": "how"}.get(t.split()[0] if t else "")


def main():
    ap = argparse.ArgumentParser(usage=__doc__)
    ap.add_argument("dump")
    ap.add_argument("--split", default="tools/verifier/out/val.jsonl")
    args = ap.parse_args()
    rows = [json.loads(line) for line in open(args.split)]
    counts, examples = collections.Counter(), []
    for r in map(json.loads, open(args.dump)):
        if r["entry"] is None:
            continue
        if rows[r["query"]].get("family") != "relations" or rows[r["entry"]].get("family") != "relations":
            continue
        q, e = group(r["b"]), group(r["entry_text"])
        if q is None or e is None:
            continue
        changed = q != e
        counts[(r["verdict"], "question word changed" if changed else "same question word")] += 1
        if changed and len(examples) < 8:
            examples.append((round(r["score"], 3), r["b"], r["entry_text"]))
    for (verdict, what), n in sorted(counts.items()):
        print(f"{what:24} {verdict:16} {n}")
    print(f"relation-to-relation answers: {sum(counts.values())}; "
          f"question word changed: {sum(n for (_, w), n in counts.items() if w != 'same question word')}")
    for score, query, entry in examples:
        print(f"  {score}  {query!r} answered with {entry!r}")


if __name__ == "__main__":
    main()
