"""The query syntax: what parses to what, and what is refused with which message."""

from __future__ import annotations

import pytest

from paperfeed.errors import InputError
from paperfeed.search.query import Group, Leaf, MatchAll, parse_query


def shape(node: object) -> object:
    """A compact picture of a parsed tree for assertions."""
    if isinstance(node, Leaf):
        prefix = f"{node.field}:" if node.field else ""
        return (
            prefix
            + {"word": node.text, "phrase": f'"{node.text}"', "prefix": node.text + "*"}[node.kind]
        )
    if isinstance(node, Group):
        return (node.op, [(c.kind, shape(c.node)) for c in node.clauses])
    assert isinstance(node, MatchAll)
    return "*"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("diffusion", "diffusion"),
        ("diffusion models", ("and", [("plain", "diffusion"), ("plain", "models")])),
        ('"graph neural" x', ("and", [("plain", '"graph neural"'), ("plain", "x")])),
        ("a OR b c", ("or", [("plain", "a"), ("plain", ("and", [("plain", "b"), ("plain", "c")]))])),
        ("a AND b", ("and", [("required", "a"), ("required", "b")])),
        ("a -b +c NOT d", ("and", [("plain", "a"), ("excluded", "b"), ("required", "c"),
                                   ("excluded", "d")])),
        ("(a OR b) c", ("and", [("plain", ("or", [("plain", "a"), ("plain", "b")])),
                                ("plain", "c")])),
        ("ti:(a OR b)", ("or", [("plain", "title:a"), ("plain", "title:b")])),
        ('au:"yann lecun" cat:cs.LG id:2410.17243',
         ("and", [("plain", 'authors:"yann lecun"'), ("plain", "categories:cs.LG"),
                  ("plain", "id:2410.17243")])),
        ("diffus* cat:cs.*", ("and", [("plain", "diffus*"), ("plain", "categories:cs.*")])),
        ("abs:graph title:x", ("and", [("plain", "abstract:graph"), ("plain", "title:x")])),
        # Not a field we know: the colon is punctuation ("LLaMA: Open ...").
        ("LLaMA: open models", ("and", [("plain", "LLaMA:"), ("plain", "open"),
                                        ("plain", "models")])),
        ("state-of-the-art", "state-of-the-art"),
        ("NOT NOT a", "a"),
    ],
)  # fmt: skip
def test_parse_shapes(text: str, expected: object) -> None:
    assert shape(parse_query(text).root) == expected


def test_implicit_joins_are_recorded_for_relaxing() -> None:
    assert parse_query("a b").has_implicit_joins
    assert not parse_query("a AND b").has_implicit_joins
    assert not parse_query("a OR b").has_implicit_joins
    assert not parse_query("a").has_implicit_joins


def test_semantic_text_and_constraints() -> None:
    parsed = parse_query('diffusion ti:"video generation" au:lecun -gan cat:cs.CV')
    assert parsed.semantic_text() == "diffusion video generation"
    constraints = shape(parsed.constraints())
    assert constraints == (
        "and",
        [("plain", "authors:lecun"), ("excluded", "gan"), ("plain", "categories:cs.CV")],
    )
    # Only topical words: nothing constrains the semantic hits.
    assert isinstance(parse_query("diffusion OR au:lecun").constraints(), MatchAll)
    assert isinstance(parse_query("a b").constraints(), MatchAll)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty query"),
        ("   ", "empty query"),
        ('"diffusion models', "unbalanced quote"),
        ("(a OR b", "a ( is never closed"),
        ("a OR b)", "without a matching ("),
        ("a AND", "AND needs a term on both sides"),
        ("AND a", "AND needs a term on both sides"),
        ("a AND AND b", "AND needs a term on both sides"),
        ("a OR", "OR needs a term on both sides"),
        ("OR a", "OR needs a term on both sides"),
        ("NOT", "NOT needs a term after it"),
        ("a NOT", "NOT needs a term after it"),
        ("ti:", "ti: needs a word"),
        ("ti: diffusion", "ti: needs a word"),
        ('""', "empty phrase"),
        ("()", "empty query or group"),
        ('"graph neural"*', "prefix works on single words"),
        ("x" * 1001, "longer than 1000 characters"),
        (" ".join(f"w{i}" for i in range(65)), "more than 64 terms"),
        ("(" * 20 + "a" + ")" * 20, "nests parentheses"),
    ],
)
def test_bad_syntax_is_an_input_error(text: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_query(text)
    assert message in str(caught.value)
