"""Keyboard slips read as the word they slipped from, before the verifier
reads a pair: the replica of src/verifier/spelling.rs (see its module docs),
used by train.scores so calibration and development reports read pairs as
the gateway does (from stop 39). Training reads pairs as written.

A word of one side that the other lacks, one slip (`slip`) from exactly one
word of the other side, is read as that word when it is not a whole word of
the vocabulary and the other is, or neither is and both have five letters or
more."""
import re
RUN = re.compile(r"\w+")
ROWS = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
POS = {c: (r, i) for r, row in enumerate(ROWS) for i, c in enumerate(row)}

def near(p, q):
    if p not in POS or q not in POS: return False
    (r1, c1), (r2, c2) = POS[p], POS[q]
    if r1 == r2: return abs(c1 - c2) == 1
    if r2 == r1 + 1: return c2 in (c1 - 1, c1)   # the row below sits half a key to the right
    if r2 == r1 - 1: return c2 in (c1, c1 + 1)
    return False

def slip(x, y):
    """y is x with one keyboard slip (or x is y with one): two neighbours
    transposed, a letter replaced by a neighbouring key, or a letter left
    out / typed in (the typed one a double of its neighbour or a key next to
    it) — never the first letter, and never a letter left out or added at
    the end but a doubled one."""
    if x[0] != y[0] or x == y: return False
    if len(x) == len(y):
        diff = [i for i in range(len(x)) if x[i] != y[i]]
        if len(diff) == 1:
            return near(x[diff[0]], y[diff[0]])
        if len(diff) == 2:
            i, j = diff
            return j == i + 1 and x[i] == y[j] and x[j] == y[i]
        return False
    if abs(len(x) - len(y)) != 1: return False
    long, short = (x, y) if len(x) > len(y) else (y, x)
    i = next((k for k in range(len(short)) if long[k] != short[k]), len(short))
    if long[:i] + long[i + 1:] != short:
        return False
    c = long[i]
    if i == len(long) - 1:
        return long[i - 1] == c          # a doubled last letter only
    return True                          # a letter left out or typed in the middle

def words(t):
    return {w.lower() for w in RUN.findall(t) if w.isascii() and w.isalpha()}

def align(a, b, vocab):
    wa, wb = words(a), words(b)
    repl_a, repl_b = {}, {}
    for y in sorted(wb - wa):
        cands = [x for x in wa if len(x) >= 4 and len(y) >= 4 and slip(x, y)]
        if len(cands) != 1: continue
        x = cands[0]
        xv, yv = x in vocab, y in vocab
        if not yv and (xv or min(len(x), len(y)) >= 5):
            repl_b[y] = x
        elif yv and not xv and x not in wb:
            repl_a[x] = y
    def sub(t, r):
        return RUN.sub(lambda m: r.get(m.group(0).lower(), m.group(0)), t) if r else t
    return sub(a, repl_a), sub(b, repl_b)
