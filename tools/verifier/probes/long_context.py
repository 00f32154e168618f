"""Long prompts that share a context: the LLM-app shape where a user pastes the
same code, policy, email or transcript and asks a different question about it
(or the same question about a slightly different text). Written by hand on
stop 38, in no split; none of these texts is in the training, development or
validation split.

Why: the verifier reads a pair in one window of 256 tokens. Up to stop 37 a
pair longer than that was cut from the end of the longer side, so two prompts
that shared their first ~120 tokens each were read as the same text — the
question after a pasted context, or a change late in the context, was never
seen, and the other prompt's answer was served.

Each context has questions in groups (two wordings of one question) and a
variant (the same text with one change a question turns on, late in it).
Pairs, as l2-eval input ({"a", "b", "label", "kind"}):

- long-after-reword (1): context, then a question / the same context, the
  question reworded;
- long-after-other (0): context, then a question / the same context, another
  question;
- long-before-reword (1), long-before-other (0): the question first, then the
  context;
- long-variant (0): a question whose answer the change alters, over the
  context and over its variant (the change is not a number, so the numbers
  veto does not decide it);
- long-casing (1): the same prompt with the question lower-cased and its final
  punctuation dropped.

Usage: python3 tools/verifier/probes/long_context.py > tools/verifier/probes/long_context.jsonl
       target/release/l2-eval tools/verifier/probes/long_context.jsonl --verifier --pairwise-only
"""

import json
import sys

CODE = '''```python
def apply_discounts(orders, customers):
    """Returns the total after discounts, per customer id."""
    totals = {}
    for order in orders:
        customer = customers.get(order["customer_id"])
        if customer is None:
            continue
        subtotal = sum(item["price"] * item["quantity"] for item in order["items"])
        if customer["tier"] == "gold":
            subtotal *= 0.9
        elif customer["tier"] == "silver":
            subtotal *= 0.95
        if order.get("coupon"):
            subtotal -= order["coupon"]["amount"]
        totals[order["customer_id"]] = totals.get(order["customer_id"], 0) + subtotal
    return totals
```'''
CODE_VARIANT = CODE.replace('totals.get(order["customer_id"], 0) + subtotal', 'max(subtotal, 0)')

POLICY = '''Returns and refunds policy (effective March 2024)

Items bought in our stores or on our website can be returned within thirty days of delivery.
Items must be unused, in their original packaging, and accompanied by the receipt or the order
confirmation email. Clearance items, gift cards, opened software and personalised products cannot
be returned. To start a return online, sign in to your account, open Orders, choose the item and
select "Return item"; you will receive a prepaid shipping label by email. Returns to a store are
accepted at any location except outlet stores. Once we receive the item we inspect it within five
business days. Approved returns are refunded to the original payment method; shipping charges
are not refunded unless the item arrived damaged or was not what you ordered. Exchanges for a
different size or colour are free of charge and ship as soon as the returned item is scanned.'''
POLICY_VARIANT = POLICY.replace("refunded to the original payment method", "refunded as store credit")

EMAIL = '''Hi team,

Quick update on the office move. The movers arrive on Friday morning, so please pack your desks on
Thursday afternoon and label every box with your name and new desk number (the floor plan is in the
shared drive). IT will disconnect the monitors and docking stations on Thursday at 4 pm; laptops go
home with you over the weekend. The new building opens on Monday at 8 am. Your badges will work from
Monday, but parking passes are only ready on Wednesday, so take the train or use the visitor lot until
then. Lunch on Monday is on us in the new kitchen on the third floor.

Thanks, and let me know if anything is unclear.
Priya'''
EMAIL_VARIANT = EMAIL.replace("Lunch on Monday is on us", "Lunch on Monday is not provided")

ARTICLE = '''The city council voted on Tuesday to turn three downtown streets into pedestrian zones from next
spring. The plan closes Market Street, Elm Avenue and part of Harbour Road to cars between 10 am and
8 pm, with exceptions for deliveries before 10 am, emergency vehicles and residents with permits.
Supporters argued that foot traffic would help local shops, pointing to a pilot last summer during
which weekend sales on Market Street rose noticeably. Several business owners on Harbour Road opposed
the plan, saying their customers mostly arrive by car and that the nearest garage is too far away.
The council agreed to build a new bike lane along the river and to extend two bus lines into the
evening. The measure passed seven votes to four, and a review of its effect on local businesses is
scheduled after the first year.'''
ARTICLE_VARIANT = ARTICLE.replace("Several business owners on Harbour Road opposed",
                                  "Several business owners on Harbour Road supported")

SQL = '''I have these tables in PostgreSQL:

CREATE TABLE authors (id serial PRIMARY KEY, name text NOT NULL, country text);
CREATE TABLE books (id serial PRIMARY KEY, author_id int REFERENCES authors(id), title text,
                    published date, price numeric(8,2));
CREATE TABLE sales (id serial PRIMARY KEY, book_id int REFERENCES books(id), sold_at timestamptz,
                    quantity int);

And this query:

SELECT a.name, SUM(s.quantity * b.price) AS revenue
FROM authors a
JOIN books b ON b.author_id = a.id
JOIN sales s ON s.book_id = b.id
WHERE s.sold_at >= now() - interval '1 year'
GROUP BY a.name
ORDER BY revenue DESC;'''
SQL_VARIANT = SQL.replace("JOIN sales s ON s.book_id = b.id", "LEFT JOIN sales s ON s.book_id = b.id")

TRANSCRIPT = '''Meeting notes, product sync

Dana: The beta has about four hundred active users. Most feedback is about the onboarding flow; people
get stuck on the permissions screen.
Luis: We can skip that screen for personal accounts and ask for permissions later, when a feature
needs them.
Dana: Agreed. What about the pricing page?
Mei: Legal still has to approve the new wording for the annual plan, so it stays as it is for now.
Luis: The Android build is blocked on the payment library update; iOS is ready for review.
Dana: Then we ship iOS first and Android when the library lands. Mei owns the release notes, Luis owns
the onboarding change, and I will talk to support about the permissions tickets.'''
TRANSCRIPT_VARIANT = TRANSCRIPT.replace("Then we ship iOS first and Android when the library lands.",
                                        "Then we hold iOS and ship both together when the library lands.")

CONTEXTS = [
    (CODE, CODE_VARIANT, (0, 3, 4), [
        ["What does this function return for a customer with two orders?",
         "For a customer who placed two orders, what will this function return?"],
        ["Why does this crash when an order has no items key?",
         "This crashes if an order is missing the items key. Why?"],
        ["How can I make this function faster?", "How do I speed up this function?"],
        ["Write unit tests for this function.", "Can you write unit tests for this function?"],
        ["Convert this function to TypeScript.", "Rewrite this function in TypeScript."],
    ]),
    (POLICY, POLICY_VARIANT, (3, 4), [
        ["Can I get a refund for a personalised mug?", "Is a personalised mug refundable?"],
        ["How do I start a return online?", "What are the steps to return an item online?"],
        ["Will I get my shipping costs back?", "Are shipping charges refunded?"],
        ["Summarise this policy in two sentences.", "Give me a two-sentence summary of this policy."],
        ["How will I be refunded?", "In what form do I get my refund?"],
    ]),
    (EMAIL, EMAIL_VARIANT, (3,), [
        ["When should I pack my desk?", "What day do I need to have my desk packed?"],
        ["Where can I park on Monday?", "Where should I park on the first day in the new building?"],
        ["Write a short reply thanking Priya.", "Draft a brief thank-you reply to Priya."],
        ["Is lunch provided on Monday?", "Do we get lunch on Monday?"],
        ["What happens to our laptops?", "What should we do with our laptops?"],
    ]),
    (ARTICLE, ARTICLE_VARIANT, (1,), [
        ["Which streets will be closed to cars?", "What streets become pedestrian zones?"],
        ["What did the business owners on Harbour Road think?",
         "How did Harbour Road business owners feel about the plan?"],
        ["Write a headline for this article.", "Suggest a headline for this article."],
        ["Translate this article into Spanish.", "Please translate this article to Spanish."],
        ["How did the council vote?", "What was the result of the council vote?"],
    ]),
    (SQL, SQL_VARIANT, (0, 3), [
        ["Will authors with no sales in the last year show up in the result?",
         "Does this query include authors who sold nothing last year?"],
        ["What index would speed up this query?", "Which index should I add to make this query faster?"],
        ["Rewrite this query to show revenue per book instead of per author.",
         "Change the query so it gives revenue by book, not by author."],
        ["Explain what this query does.", "What does this query do?"],
    ]),
    (TRANSCRIPT, TRANSCRIPT_VARIANT, (1,), [
        ["Who owns the onboarding change?", "Which person is responsible for the onboarding change?"],
        ["When does the Android app ship?", "What is the plan for releasing Android?"],
        ["List the action items from this meeting.", "What are the action items from these notes?"],
        ["Why is the pricing page not changing yet?", "What is holding up the pricing page?"],
    ]),
]


def relaxed(question):
    """The question as someone typing fast writes it."""
    return question.lower().rstrip("?.!")


def pairs():
    out = []

    def add(a, b, label, kind):
        out.append({"a": a, "b": b, "label": label, "kind": kind})

    for context, variant, turns_on, groups in CONTEXTS:
        for i, group in enumerate(groups):
            other = groups[(i + 1) % len(groups)]
            first, reworded = group
            add(f"{context}\n\n{first}", f"{context}\n\n{reworded}", 1, "long-after-reword")
            add(f"{context}\n\n{first}", f"{context}\n\n{other[0]}", 0, "long-after-other")
            add(f"{first}\n\n{context}", f"{reworded}\n\n{context}", 1, "long-before-reword")
            add(f"{first}\n\n{context}", f"{other[1]}\n\n{context}", 0, "long-before-other")
            add(f"{context}\n\n{first}", f"{context}\n\n{relaxed(first)}", 1, "long-casing")
        # The questions whose answer the variant's change alters, each over the
        # two texts (a question the change does not touch is left out: one
        # answer may well serve both).
        for i in turns_on:
            add(f"{context}\n\n{groups[i][0]}", f"{variant}\n\n{groups[i][0]}", 0, "long-variant")
    return out


if __name__ == "__main__":
    for row in pairs():
        sys.stdout.write(json.dumps(row) + "\n")
