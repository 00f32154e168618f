"""A small out-of-distribution probe: everyday prompts written by hand on stop
34 (after the shipped adapter and before any candidate of that stop was read),
as pairs no generator makes (none of the 70 is a pair of the training,
development or validation split; 8 single texts — "Why is the sky blue?",
"How long do goldfish live?" — occur there in other pairs). 30 pairs where
one answer serves both (casual rewordings, questions against requests, word
order) and 40 near misses (role swaps, opposite qualifiers, another species,
entity, number, unit, language, programming language, before/after, negation).

It scores each adapter directory given, verifier alone (no cosine prefilter,
no rule vetoes) at its min_precision 0.95 cut-off, and prints the paraphrases
missed and the near misses passed. Seventy pairs are a smoke check of how the
verifier meets prompts nobody generated, not a measurement: one pair is 1.4 to
3.3 points. Judge candidates on the validation split; read this beside it.

Usage: python3 tools/verifier/everyday_probe.py assets/verifier [OTHER_ADAPTER_DIR …]
       python3 tools/verifier/everyday_probe.py --jsonl F   (writes the pairs as l2-eval
       input, {"a","b","label"} lines, for the gateway's whole decision:
       cargo run --release -p l2-eval -- F --verifier --pairwise-only)
"""

import json
import os
import sys

import torch
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train  # noqa: E402

MODEL = "models/all-MiniLM-L6-v2"

SAME = [
    ("What's a quick way to peel garlic?", "How can I peel garlic fast?"),
    ("how do i unclog a bathroom sink", "What's the best way to unclog my bathroom sink?"),
    ("Suggest a name for my new golden retriever puppy.", "Can you suggest names for a golden retriever puppy?"),
    ("Why is the sky blue?", "why does the sky look blue"),
    ("Write a haiku about autumn leaves.", "Could you write me a haiku about autumn leaves?"),
    ("How many ounces are in a cup?", "how many ounces in one cup"),
    ("What does a project manager do?", "What are the responsibilities of a project manager?"),
    ("Explain how vaccines work.", "How do vaccines work?"),
    ("Tips for falling asleep faster?", "How can I fall asleep faster?"),
    ("What's the difference between weather and climate?", "How is weather different from climate?"),
    ("Give me some ideas for a rainy day with kids.", "What can I do with my kids on a rainy day?"),
    ("How do I get rid of fruit flies in my kitchen?", "how to get rid of fruit flies in the kitchen"),
    ("Who painted the Mona Lisa?", "Who was the painter of the Mona Lisa?"),
    ("What is the boiling point of water in Fahrenheit?", "At what temperature in Fahrenheit does water boil?"),
    ("Summarize the plot of Romeo and Juliet.", "Can you give me a summary of Romeo and Juliet?"),
    ("How do I remove a stripped screw?", "What's the best way to get a stripped screw out?"),
    ("Is it safe to eat raw cookie dough?", "Can I safely eat raw cookie dough?"),
    ("What should I pack for a weekend camping trip?", "What do I need to bring on a weekend camping trip?"),
    ("How do I make my sourdough more sour?", "How can I make sourdough bread taste more sour?"),
    ("Recommend a good beginner houseplant.", "What's a good houseplant for beginners?"),
    ("How long does it take to walk a mile?", "how long does walking one mile take"),
    ("What causes hiccups?", "Why do we get hiccups?"),
    ("Translate 'thank you' into Japanese.", "How do you say thank you in Japanese?"),
    ("How do I center a div in CSS?", "What's the way to center a div with CSS?"),
    ("What year did the Berlin Wall fall?", "When did the Berlin Wall come down?"),
    ("Can dogs eat grapes?", "Are grapes OK for dogs to eat?"),
    ("How do I change a flat tire?", "Steps to change a flat tyre?"),
    ("What's a good stretch for lower back pain?", "Which stretches help with lower back pain?"),
    ("How do I start running as a beginner?", "I'm a beginner, how should I start running?"),
    ("Write a short thank-you note to my neighbor.", "Can you write a short thank you note for my neighbour?"),
]

NEAR = [
    ("Did Napoleon invade Russia?", "Did Russia invade Napoleon's France?"),
    ("Is my landlord allowed to enter without notice?", "Am I allowed to enter my landlord's home without notice?"),
    ("Should the buyer or the seller pay closing costs?", "Should the seller pay the buyer's moving costs?"),
    ("How do I make my coffee stronger?", "How do I make my coffee weaker?"),
    ("What foods raise blood pressure?", "What foods lower blood pressure?"),
    ("How do I make my cookies chewy?", "How do I make my cookies crunchy?"),
    ("Best exercises to gain weight?", "Best exercises to lose weight?"),
    ("How do I speed up my laptop's fan?", "How do I slow down my laptop's fan?"),
    ("Is it better to water plants in the morning?", "Is it better to water plants in the evening?"),
    ("What should I eat before a workout?", "What should I eat after a workout?"),
    ("Can cats eat tuna?", "Can dogs eat tuna?"),
    ("How long do parrots live?", "How long do goldfish live?"),
    ("How often should I feed a kitten?", "How often should I feed an adult cat?"),
    ("What is the capital of Austria?", "What is the capital of Australia?"),
    ("Who won the 2014 World Cup?", "Who won the 2018 World Cup?"),
    ("How many calories are in a banana?", "How many calories are in an avocado?"),
    ("Convert 10 miles to kilometers.", "Convert 10 kilometers to miles."),
    ("How many grams are in 3 cups of flour?", "How many grams are in 2 cups of flour?"),
    ("What's 15% of 80?", "What's 15% of 60?"),
    ("How do I say good morning in Italian?", "How do I say good morning in Spanish?"),
    ("How do I read a CSV file in Python?", "How do I read a CSV file in Java?"),
    ("How do I reverse a string in JavaScript?", "How do I reverse an array in JavaScript?"),
    ("How do I install Docker on Ubuntu?", "How do I uninstall Docker on Ubuntu?"),
    ("Is it safe to drink tap water in Mexico?", "Is it safe to drink tap water in Canada?"),
    ("Why can't I sleep at night?", "Why can't I stay awake during the day?"),
    ("Why is my dog not eating?", "Why is my dog eating so much?"),
    ("What are the symptoms of a cold?", "What are the symptoms of the flu?"),
    ("How do I get a refund for a cancelled flight?", "How do I get a refund for a delayed flight?"),
    ("What time does the sun rise in winter?", "What time does the sun set in winter?"),
    ("How do I turn on dark mode in Chrome?", "How do I turn off dark mode in Chrome?"),
    ("What is the minimum wage in Texas?", "What is the minimum wage in California?"),
    ("Write a formal email declining a job offer.", "Write a formal email accepting a job offer."),
    ("Is it rude to tip in Japan?", "Is it rude not to tip in the US?"),
    ("What happens if I don't pay my credit card bill?", "What happens if I pay my credit card bill early?"),
    ("How long should I cook salmon at 400 degrees?", "How long should I cook chicken at 400 degrees?"),
    ("What is the boiling point of water at sea level?", "What is the freezing point of water at sea level?"),
    ("How do I get from Paris to London by train?", "How do I get from London to Paris by plane?"),
    ("Should I take ibuprofen before or after eating?", "Should I take ibuprofen with alcohol?"),
    ("What's the fastest land animal?", "What's the slowest land animal?"),
    ("Who is taller, Messi or Ronaldo?", "Who is older, Messi or Ronaldo?"),
]


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    if sys.argv[1] == "--jsonl":
        with open(sys.argv[2], "w") as f:
            for pairs, label in ((SAME, 1), (NEAR, 0)):
                for a, b in pairs:
                    f.write(json.dumps({"a": a, "b": b, "label": label}) + "\n")
        return
    torch.set_num_threads(1)
    sd = load_file(os.path.join(MODEL, "model.safetensors"))
    with open(os.path.join(MODEL, "config.json")) as f:
        cfg = json.load(f)
    enc = train.Encoder(os.path.join(MODEL, "tokenizer.json"))
    for directory in sys.argv[1:]:
        with open(os.path.join(directory, "verifier.json")) as f:
            meta = json.load(f)
        model = train.Verifier(sd, cfg, meta["rank"], 2 * meta["rank"])  # alpha = 2 x rank, as trained
        model.load_adapter(load_file(os.path.join(directory, "adapter.safetensors")))
        cut = next(r["cutoff"] for r in meta["calibration"] if r["min_precision"] == 0.95)
        same = train.scores(model, enc, SAME)
        near = train.scores(model, enc, NEAR)
        hits = sum(s >= cut for s in same)
        false = sum(s >= cut for s in near)
        print(f"{directory}: cut-off {cut:.4f}; paraphrases {hits}/{len(SAME)} hit; "
              f"near misses {false}/{len(NEAR)} pass")
        for (a, b), s in zip(SAME, same):
            if s < cut:
                print(f"  missed {s:.3f}  {a} | {b}")
        for (a, b), s in zip(NEAR, near):
            if s >= cut:
                print(f"  passed {s:.3f}  {a} | {b}")


if __name__ == "__main__":
    main()
