"""The default model's tokenizer is its own ``tokenizer.json``, shipped as package data."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from paperfeed.search.minilm import (
    MAX_TOKENS,
    TOKENIZER_SHA256,
    build_tokenizer,
    tokenizer_json,
    vocabulary,
)

SEEDS = Path(__file__).parent.parent / "fixtures" / "seeds"
#: sha256 over the token ids of every non-blank line of the seed pages (1,159 lines,
#: 156,819 tokens), as the tokenizer this one replaced produced them: WordPiece
#: rebuilt from the model's vocab.txt plus the settings of its tokenizer.json. The
#: same ids came out of both for 813 more texts (400 titles and abstracts of
#: arXiv cs papers and odd strings: accents, CJK, emoji, control characters).
SEED_IDS_SHA256 = "3828280ec649236b5a737ffa1c6999e5812adaf7a18faec4b3ebe6161b81b4f5"


def test_the_shipped_file_is_the_models_own() -> None:
    assert hashlib.sha256(tokenizer_json()).hexdigest() == TOKENIZER_SHA256


def test_token_ids_are_those_of_the_tokenizer_it_replaced() -> None:
    lines = [
        line.strip()
        for path in sorted(SEEDS.glob("*.txt"))
        for line in path.read_text("utf-8").splitlines()
        if line.strip()
    ]
    assert len(lines) == 1159
    digest = hashlib.sha256()
    for encoding in build_tokenizer(512).encode_batch(lines):
        ids = [i for i, real in zip(encoding.ids, encoding.attention_mask, strict=True) if real]
        digest.update(json.dumps(ids).encode())
    assert digest.hexdigest() == SEED_IDS_SHA256


def test_runs_as_sentence_transformers_runs_it() -> None:
    tokenizer = build_tokenizer()
    long, short = tokenizer.encode_batch(["word " * 400, "A short title"])
    # Truncated to 256 (the file itself says 128), [CLS] ... [SEP], padded to the longest.
    assert len(long.ids) == len(short.ids) == MAX_TOKENS
    assert long.ids[0] == 101 and long.ids[-1] == 102
    assert short.ids[:5] == [101, 1037, 2460, 2516, 102] and set(short.ids[5:]) == {0}
    assert sum(short.attention_mask) == 5


def test_vocabulary_is_the_models_vocab_txt() -> None:
    tokens = vocabulary()
    assert len(tokens) == 30522
    assert tokens[:1] == ["[PAD]"] and tokens[100:104] == ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    # sha256 of the model's vocab.txt, which this package no longer needs to ship.
    text = "\n".join(tokens) + "\n"
    expected = "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
    assert hashlib.sha256(text.encode("utf-8")).hexdigest() == expected
