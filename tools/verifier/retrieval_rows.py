"""The README's retrieval rows from a retrieval dump (`l2-eval … --verifier
--retrieval-only --dump-retrieval F`): per group of kinds, pairs, answered,
own pair right / wrong, another entry same cluster / known different,
precision over all labelled answers, unlabelled answers, own-pair recall.

Usage: python3 tools/verifier/retrieval_rows.py F
"""

import collections
import json
import sys

NEAR_MISSES = ["gen-direction", "gen-intent", "gen-qualifier", "gen-role-swap", "gen-value", "perturb-antonym",
               "perturb-direction", "perturb-entity", "perturb-negation", "perturb-number"]
GROUPS = {"all": None, "QQP": ["qqp"], "MRPC": ["mrpc"], "surface variants": ["surface"],
          "generated paraphrases": ["gen-paraphrase"], "near-miss classes": NEAR_MISSES}


def main():
    rows = [json.loads(line) for line in open(sys.argv[1])]
    print("| pairs | answered | own pair: right / wrong | another entry: same cluster / known different "
          "| precision (all labelled answers) | no label | recall (own pair) |")
    print("|---|---|---|---|---|---|---|")
    for name, kinds in GROUPS.items():
        rs = [r for r in rows if kinds is None or r["kind"] in kinds]
        c = collections.Counter(r["verdict"] for r in rs if r["entry"] is not None)
        right, wrong = c["own-right"] + c["same-cluster"], c["own-wrong"] + c["known-different"]
        print(f"| {name} ({len(rs):,}) | {sum(c.values()):,} | {c['own-right']:,} / {c['own-wrong']:,} "
              f"| {c['same-cluster']:,} / {c['known-different']:,} | {right / max(right + wrong, 1):.3f} "
              f"| {c['unlabelled']:,} | {c['own-right'] / max(sum(r['label'] for r in rs), 1):.3f} |")


if __name__ == "__main__":
    main()
