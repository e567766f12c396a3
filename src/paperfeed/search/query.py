"""Our query syntax: parsed into a small tree, then compiled to tantivy query objects.

Syntax (documented for users in ``docs/search.md``):

* words: ``diffusion transformer`` -- every word must match (``AND`` by default,
  configurable; common English words such as "the" or "for" only rank);
* ``"exact phrase"``; ``diffus*`` (prefix, at least 3 letters);
* ``AND``, ``OR``, ``NOT`` (upper case), ``+word`` (required), ``-word`` (excluded),
  parentheses;
* fields: ``ti:`` title, ``au:`` authors (``au:"yann lecun"``, no stemming),
  ``abs:`` abstract, ``cat:cs.LG`` (exact category, ``cat:cs.*`` a prefix),
  ``id:2410.17243``; a field applies to a word, a phrase or a ``(group)``.

User text never reaches tantivy's own query parser: every leaf is analysed with the
index's analyzers here and turned into term, phrase or regex query objects, so no
input can inject syntax. Malformed input raises :class:`InputError` with a message
that says what to fix.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import tantivy
from tantivy import Occur, Query

from paperfeed.errors import InputError
from paperfeed.models import parse_arxiv_id

DefaultOperator = Literal["and", "or"]
LeafKind = Literal["word", "phrase", "prefix"]
ClauseKind = Literal["plain", "required", "excluded"]

#: Field names users type -> the field they mean (``None``: title, abstract and authors).
FIELD_ALIASES: dict[str, str] = {
    "ti": "title", "title": "title",
    "au": "authors", "author": "authors", "authors": "authors",
    "abs": "abstract", "abstract": "abstract",
    "cat": "categories", "category": "categories",
    "id": "id", "arxiv": "id",
}  # fmt: skip
#: How much a match in each field counts for a bare word: titles say what a paper is about.
FIELD_BOOSTS: dict[str, float] = {"title": 2.0, "abstract": 1.0, "authors": 1.0}
#: An exact arXiv id typed as a bare word outranks any text match.
ID_MATCH_SCORE = 100.0
#: Under AND-by-default these words only rank, so "papers on diffusion for video" still
#: finds papers that lack the word "on".
STOPWORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in",
    "into", "is", "it", "its", "of", "on", "or", "that", "the", "their", "this", "to",
    "via", "was", "we", "were", "which", "with",
))  # fmt: skip
MIN_PREFIX_CHARS = 3
MAX_QUERY_CHARS = 1000
MAX_LEAVES = 64
MAX_DEPTH = 16


# -- the tree ------------------------------------------------------------------------------


@dataclass(slots=True)
class Leaf:
    """A word, phrase or prefix, in one field (``None``: the default fields)."""

    field: str | None
    text: str
    kind: LeafKind


@dataclass(slots=True)
class Clause:
    kind: ClauseKind
    node: Node


@dataclass(slots=True)
class Group:
    """``op="and"``: clauses combine by their kinds; ``op="or"``: any clause matches."""

    op: Literal["and", "or"]
    clauses: list[Clause] = field(default_factory=list)


@dataclass(slots=True)
class MatchAll:
    pass


Node = Leaf | Group | MatchAll


@dataclass(slots=True)
class ParsedQuery:
    text: str
    root: Node
    #: True when two or more words were joined without an operator (the default
    #: operator decided): only then may an empty AND result be relaxed to OR.
    has_implicit_joins: bool

    def leaves(self) -> Iterator[tuple[Leaf, bool]]:
        """Every leaf with whether it counts positively (not under an exclusion)."""
        yield from _leaves(self.root, True)

    def semantic_text(self) -> str:
        """What the embedding model should read: the positive topical words and phrases
        (no field names, operators or excluded words)."""
        parts = [
            leaf.text.rstrip("*")
            for leaf, positive in self.leaves()
            if positive and leaf.field in (None, "title", "abstract")
        ]
        return " ".join(parts)

    def constraints(self) -> Node:
        """The query with its positive topical leaves replaced by "anything": what a
        semantic hit must still satisfy (``cat:``, ``au:``, ``id:``, exclusions)."""
        return _simplify(_strip_topical(self.root, True))


def _leaves(node: Node, positive: bool) -> Iterator[tuple[Leaf, bool]]:
    if isinstance(node, Leaf):
        yield node, positive
    elif isinstance(node, Group):
        for clause in node.clauses:
            yield from _leaves(clause.node, positive and clause.kind != "excluded")


def _strip_topical(node: Node, positive: bool) -> Node:
    if isinstance(node, Leaf):
        if positive and node.field in (None, "title", "abstract"):
            return MatchAll()
        return node
    if isinstance(node, Group):
        return Group(
            node.op,
            [
                Clause(c.kind, _strip_topical(c.node, positive and c.kind != "excluded"))
                for c in node.clauses
            ],
        )
    return node


def _simplify(node: Node) -> Node:
    if not isinstance(node, Group):
        return node
    clauses = [Clause(c.kind, _simplify(c.node)) for c in node.clauses]
    if node.op == "or":
        if any(isinstance(c.node, MatchAll) for c in clauses):
            return MatchAll()
        return Group("or", clauses)
    # An excluded "anything" cannot come from _strip_topical (exclusions keep their leaves).
    kept = [c for c in clauses if not isinstance(c.node, MatchAll)]
    if not kept:
        return MatchAll()
    return Group("and", kept)


# -- lexing --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Token:
    kind: Literal[
        "word", "phrase", "field", "lparen", "rparen", "and", "or", "not", "plus", "minus"
    ]
    text: str = ""


_OPERATORS = {"AND": "and", "OR": "or", "NOT": "not", "&&": "and", "||": "or"}
_WORD_END = re.compile(r'[\s()"]')


def _lex(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
        elif char == "(":
            tokens.append(_Token("lparen"))
            i += 1
        elif char == ")":
            tokens.append(_Token("rparen"))
            i += 1
        elif char == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise InputError('unbalanced quote: close the phrase with another "')
            tokens.append(_Token("phrase", text[i + 1 : end]))
            i = end + 1
            if i < n and text[i] == "*":
                raise InputError("a * prefix works on single words, not on phrases")
        elif char in "+-" and i + 1 < n and not text[i + 1].isspace() and text[i + 1] not in "+-)":
            tokens.append(_Token("plus" if char == "+" else "minus"))
            i += 1
        else:
            match = _WORD_END.search(text, i)
            end = match.start() if match else n
            word = text[i:end]
            i = end
            name, colon, rest = word.partition(":")
            if colon and name in FIELD_ALIASES:
                if not rest and (i >= n or text[i].isspace() or text[i] == ")"):
                    raise InputError(f'{name}: needs a word, a "phrase" or a (group) after it')
                tokens.append(_Token("field", FIELD_ALIASES[name]))
                if rest:
                    tokens.append(_Token("word", rest))
            elif word in _OPERATORS:
                tokens.append(_Token(_OPERATORS[word]))  # type: ignore[arg-type]
            elif word.strip("+-"):
                tokens.append(_Token("word", word))
    return tokens


# -- parsing -------------------------------------------------------------------------------


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.position = 0
        self.leaf_count = 0
        self.implicit_joins = False

    def peek(self) -> _Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def parse(self) -> Node:
        node = self.parse_or(None, 0)
        if self.peek() is not None:  # only a stray ")" can stop parse_or early
            raise InputError("unbalanced parenthesis: there is a ) without a matching (")
        return node

    def parse_or(self, field_name: str | None, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise InputError(f"the query nests parentheses more than {MAX_DEPTH} deep")
        alternatives = [self.parse_and(field_name, depth)]
        while (token := self.peek()) is not None and token.kind == "or":
            self.take()
            following = self.peek()
            if following is None or following.kind in ("rparen", "or", "and"):
                raise InputError("OR needs a term on both sides")
            alternatives.append(self.parse_and(field_name, depth))
        if len(alternatives) == 1:
            return alternatives[0]
        return Group("or", [Clause("plain", node) for node in alternatives])

    def parse_and(self, field_name: str | None, depth: int) -> Node:
        clauses: list[Clause] = []
        pending_and = False
        while (token := self.peek()) is not None and token.kind not in ("rparen", "or"):
            if token.kind == "and":
                if not clauses or pending_and:
                    raise InputError("AND needs a term on both sides")
                self.take()
                if clauses[-1].kind == "plain":
                    clauses[-1].kind = "required"
                pending_and = True
                continue
            kind, node = self.parse_unary(field_name, depth)
            if pending_and and kind == "plain":
                kind = "required"
            elif clauses and not pending_and:
                self.implicit_joins = True
            pending_and = False
            clauses.append(Clause(kind, node))
        if pending_and:
            raise InputError("AND needs a term on both sides")
        if not clauses:
            token = self.peek()
            if token is not None and token.kind == "or":
                raise InputError("OR needs a term on both sides")
            if token is not None and token.kind == "rparen" and depth == 0:
                raise InputError("unbalanced parenthesis: there is a ) without a matching (")
            raise InputError("empty query or group: type a word to search for")
        if len(clauses) == 1 and clauses[0].kind == "plain":
            return clauses[0].node
        return Group("and", clauses)

    def parse_unary(self, field_name: str | None, depth: int) -> tuple[ClauseKind, Node]:
        token = self.peek()
        assert token is not None
        if token.kind in ("not", "minus", "plus"):
            self.take()
            following = self.peek()
            if following is None or following.kind in ("rparen", "or", "and"):
                label = {"not": "NOT", "minus": "-", "plus": "+"}[token.kind]
                raise InputError(f"{label} needs a term after it")
            inner_kind, node = self.parse_unary(field_name, depth)
            if token.kind == "plus":
                return ("excluded" if inner_kind == "excluded" else "required"), node
            # NOT NOT x is x; NOT +x excludes x.
            return ("plain" if inner_kind == "excluded" else "excluded"), node
        return "plain", self.parse_primary(field_name, depth)

    def parse_primary(self, field_name: str | None, depth: int) -> Node:
        token = self.take()
        if token.kind == "field":
            following = self.peek()
            if following is None or following.kind not in ("word", "phrase", "lparen"):
                raise InputError(
                    f'{_field_label(token.text)}: needs a word, a "phrase" or a (group) after it'
                )
            return self.parse_primary(token.text, depth)
        if token.kind == "lparen":
            node = self.parse_or(field_name, depth + 1)
            closing = self.peek()
            if closing is None or closing.kind != "rparen":
                raise InputError("unbalanced parenthesis: a ( is never closed")
            self.take()
            return node
        if token.kind == "rparen":
            raise InputError("unbalanced parenthesis: there is a ) without a matching (")
        if token.kind in ("and", "or"):
            raise InputError(f"{token.kind.upper()} needs a term on both sides")
        self.leaf_count += 1
        if self.leaf_count > MAX_LEAVES:
            raise InputError(f"the query has more than {MAX_LEAVES} terms")
        if token.kind == "phrase":
            if not token.text.strip():
                raise InputError('empty phrase "": put words between the quotes')
            return Leaf(field_name, token.text, "phrase")
        text = token.text
        if text.endswith("*"):
            return Leaf(field_name, text.rstrip("*"), "prefix")
        return Leaf(field_name, text, "word")


def _field_label(name: str) -> str:
    return {"title": "ti", "authors": "au", "abstract": "abs", "categories": "cat"}.get(name, name)


def parse_query(text: str) -> ParsedQuery:
    """Parse user query text; raises :class:`InputError` with a clear message."""
    text = text.strip()
    if not text:
        raise InputError("empty query: type a word to search for")
    if len(text) > MAX_QUERY_CHARS:
        raise InputError(f"the query is longer than {MAX_QUERY_CHARS} characters")
    parser = _Parser(_lex(text))
    if not parser.tokens:
        raise InputError("the query has no words to search for")
    root = parser.parse()
    return ParsedQuery(text, root, parser.implicit_joins)


# -- compiling to tantivy ------------------------------------------------------------------

Analyze = Callable[[str], list[str]]


@dataclass(slots=True)
class QueryFields:
    """What the compiler needs from the index: its schema and analyzers.

    ``stem`` analyses title/abstract text (stemmed), ``name`` author names (folded, not
    stemmed), ``keyword`` categories (lower-cased whole values).
    """

    schema: tantivy.Schema
    stem: Analyze
    name: Analyze
    keyword: Analyze


class Compiled:
    """A compiled query and whether any of its positive leaves produce a relevance score
    (``cat:``/``id:`` terms, prefixes and filters only restrict)."""

    __slots__ = ("query", "scored")

    def __init__(self, query: Query, scored: bool) -> None:
        self.query = query
        self.scored = scored


def compile_query(
    node: Node, fields: QueryFields, default_operator: DefaultOperator = "and"
) -> Compiled:
    compiler = _Compiler(fields, default_operator)
    query = compiler.node(node, True)
    if query is None:
        raise InputError("the query has no words to search for")
    return Compiled(query, compiler.scored)


class _Compiler:
    def __init__(self, fields: QueryFields, default_operator: DefaultOperator) -> None:
        self.fields = fields
        self.default_operator = default_operator
        self.scored = False

    def node(self, node: Node, positive: bool) -> Query | None:
        if isinstance(node, MatchAll):
            return Query.all_query()
        if isinstance(node, Leaf):
            return self.leaf(node, positive)
        return self.group(node, positive)

    def group(self, group: Group, positive: bool) -> Query | None:
        subqueries: list[tuple[Occur, Query]] = []
        # Plain words when the default operator is OR: at least one of them must match
        # (so "cat:cs.GR molecules" never means just "cat:cs.GR"), unless a +required
        # term is there to match on, as in Lucene's "+a b c".
        any_of: list[Query] = []
        for clause in group.clauses:
            query = self.node(clause.node, positive and clause.kind != "excluded")
            if query is None:  # e.g. a word of punctuation only: nothing to match on
                continue
            if group.op == "or":
                subqueries.append((Occur.Should, query))
            elif clause.kind == "excluded":
                subqueries.append((Occur.MustNot, query))
            elif clause.kind == "required" or _is_restriction(clause.node):
                subqueries.append((Occur.Must, query))
            elif _is_stopword(clause.node):
                subqueries.append((Occur.Should, query))  # ranks, never required
            elif self.default_operator == "and":
                subqueries.append((Occur.Must, query))
            else:
                any_of.append(query)
        if any_of:
            if any(c.kind == "required" for c in group.clauses):
                subqueries.extend((Occur.Should, query) for query in any_of)
            elif len(any_of) == 1:
                subqueries.append((Occur.Must, any_of[0]))
            else:
                alternatives = [(Occur.Should, query) for query in any_of]
                subqueries.append((Occur.Must, Query.boolean_query(alternatives)))
        if not subqueries:
            return None
        if all(occur == Occur.MustNot for occur, _ in subqueries):
            # tantivy matches nothing with exclusions alone: exclude from everything.
            subqueries.insert(0, (Occur.Must, Query.all_query()))
        if len(subqueries) == 1 and subqueries[0][0] != Occur.MustNot:
            return subqueries[0][1]
        return Query.boolean_query(subqueries)

    def leaf(self, leaf: Leaf, positive: bool) -> Query | None:
        if leaf.field is None:
            parts: list[Query] = []
            for name, boost in FIELD_BOOSTS.items():
                query = self.text_query(name, leaf)
                if query is not None:
                    parts.append(query if boost == 1.0 else Query.boost_query(query, boost))
            if leaf.kind == "word" and (parsed := parse_arxiv_id(leaf.text)):
                exact = Query.term_query(self.fields.schema, "id", parsed[0])
                parts.append(Query.const_score_query(exact, ID_MATCH_SCORE))
            if not parts:
                return None
            # A prefix scores every match alike (tantivy's regex queries are constant
            # scoring): alone it gives nothing to rank by, so such queries list newest first.
            if positive and leaf.kind != "prefix":
                self.scored = True
            if len(parts) == 1:
                return parts[0]
            return Query.boolean_query([(Occur.Should, part) for part in parts])
        if leaf.field in ("title", "abstract", "authors"):
            query = self.text_query(leaf.field, leaf)
            if query is not None and positive and leaf.kind != "prefix":
                self.scored = True
            return query
        if leaf.field == "categories":
            return self.category_query(leaf)
        return self.id_query(leaf)

    def text_query(self, field_name: str, leaf: Leaf) -> Query | None:
        schema = self.fields.schema
        analyze = self.fields.name if field_name == "authors" else self.fields.stem
        if leaf.kind == "prefix":
            return Query.regex_query(
                schema, field_name, re.escape(self.prefix(leaf, analyze)) + ".*"
            )
        tokens = analyze(leaf.text)
        if not tokens:
            return None
        if len(tokens) == 1:
            return Query.term_query(schema, field_name, tokens[0])
        return Query.phrase_query(schema, field_name, tokens)

    def prefix(self, leaf: Leaf, analyze: Analyze) -> str:
        folded = self.fields.name(leaf.text)
        if len(folded) != 1:
            raise InputError(f"a * prefix works on one word, not {leaf.text!r}*")
        prefix = folded[0]
        if len(prefix) < MIN_PREFIX_CHARS:
            raise InputError(
                f"prefix {leaf.text}* is too short: give at least {MIN_PREFIX_CHARS} letters"
                " before the *"
            )
        # Terms are stored stemmed: "models*" must look for "model...", not "models...".
        stemmed = analyze(prefix)
        if len(stemmed) == 1 and prefix.startswith(stemmed[0]) and len(stemmed[0]) >= 2:
            return stemmed[0]
        return prefix

    def category_query(self, leaf: Leaf) -> Query:
        schema = self.fields.schema
        value = leaf.text.strip().lower()
        if leaf.kind == "prefix":
            if not value:
                raise InputError("cat: needs at least one letter before the *")
            return Query.const_score_query(
                Query.regex_query(schema, "categories", re.escape(value) + ".*"), 0.0
            )
        if not value:
            raise InputError("cat: needs a category, e.g. cat:cs.LG")
        return Query.const_score_query(Query.term_query(schema, "categories", value), 0.0)

    def id_query(self, leaf: Leaf) -> Query:
        schema = self.fields.schema
        text = leaf.text.strip()
        if leaf.kind == "prefix":
            if not text:
                raise InputError("id: needs at least one character before the *")
            return Query.const_score_query(
                Query.regex_query(schema, "id", re.escape(text) + ".*"), 0.0
            )
        parsed = parse_arxiv_id(text)
        value = parsed[0] if parsed else text
        return Query.const_score_query(Query.term_query(schema, "id", value), 0.0)


def _is_stopword(node: Node) -> bool:
    return (
        isinstance(node, Leaf)
        and node.kind == "word"
        and node.field is None
        and node.text.lower() in STOPWORDS
    )


def _is_restriction(node: Node) -> bool:
    """``cat:``/``id:`` terms restrict whatever the default operator: "cat:cs.LG
    attention" never means "in cs.LG or about attention"."""
    return isinstance(node, Leaf) and node.field in ("categories", "id")
