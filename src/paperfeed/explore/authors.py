"""Author pages: an author's papers, co-authors, categories and papers per year.

A name is matched the way ``au:"..."`` search matches it: case, accents and
punctuation do not count ("José-María García" = "Jose Maria Garcia"). The keyword
index finds the candidates (a phrase query on the authors field, newest first);
each candidate's byline is then checked name by name, so a phrase that only sits
inside a longer name ("Wei Li" in "Xiao Wei Li") does not count, and the forms
that did match are reported so the page can say which spellings it merged.

Initials ("Y. LeCun") are ambiguous (Yann? Yves?), so they are never merged
silently: the page lists them with their counts and can include them on request
(``initials=True``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from paperfeed.errors import InputError, NotFoundError
from paperfeed.models import Paper
from paperfeed.search.keyword import KeywordIndex, name_tokens, name_tuple
from paperfeed.search.query import parse_query
from paperfeed.storage import Storage
from paperfeed.storage.values import parse_json

#: Newest papers read per name form: the lists, co-authors and categories are built
#: from these (a page of a very prolific name says it is based on the newest ones).
MAX_PAPERS = 500
#: Papers read for the initials form: enough to list it, cheap for common surnames.
MAX_INITIALS_PAPERS = 200
MAX_NAME_CHARS = 200
COAUTHORS_SHOWN = 30
PAGE_SIZE = 20


@dataclass(slots=True)
class NameForm:
    name: str
    papers: int

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "papers": self.papers}


@dataclass(slots=True)
class AuthorProfile:
    """What an author page shows (``papers`` is one page of them, newest first)."""

    name: str
    display_name: str
    key: list[str]
    total: int
    #: The spellings counted as this author, most papers first.
    forms: list[NameForm]
    #: Initials forms ("Y. LeCun") seen but not merged (unless ``initials_merged``).
    initials: list[NameForm]
    initials_merged: bool
    papers: list[Paper]
    offset: int
    coauthors: list[NameForm]
    categories: list[tuple[str, int]]
    per_year: list[tuple[int, int]]
    first_day: date | None
    last_day: date | None
    #: True when more than :data:`MAX_PAPERS` matched and only the newest were read.
    truncated: bool = False
    other_names: list[NameForm] = field(default_factory=list)


def initials_key(key: Sequence[str]) -> list[str] | None:
    """``[y, lecun]`` for ``[yann, lecun]``; None when there is nothing to abbreviate."""
    if len(key) < 2 or all(len(part) == 1 for part in key[:-1]):
        return None
    return [part[0] for part in key[:-1]] + [key[-1]]


def _phrase(tokens: Sequence[str]) -> str:
    return 'au:"' + " ".join(tokens) + '"'


class Authors:
    """Author pages over the keyword index (finding) and the database (bylines)."""

    def __init__(
        self, storage: Storage, keyword: KeywordIndex, ensure_index: Callable[[], None]
    ) -> None:
        self.storage = storage
        self.keyword = keyword
        self.ensure_index = ensure_index

    def profile(
        self, name: str, *, offset: int = 0, limit: int = PAGE_SIZE, initials: bool = False
    ) -> AuthorProfile:
        """The author page of ``name``; NotFoundError when no stored paper has it."""
        name = " ".join(name.split())
        if not name or len(name) > MAX_NAME_CHARS:
            raise InputError(f"an author name has 1 to {MAX_NAME_CHARS} characters")
        key = name_tokens(name)
        if not key:
            raise InputError(f"{name!r} has no letters to look up")
        self.ensure_index()
        short = initials_key(key)
        keys = [key] + ([short] if short else [])
        candidates: dict[str, int] = {}
        truncated = False
        for tokens, cap in zip(keys, (MAX_PAPERS, MAX_INITIALS_PAPERS), strict=False):
            ids, days, total = self.keyword.newest_ids(parse_query(_phrase(tokens)), cap)
            truncated = truncated or total > len(ids)
            for paper_id, day in zip(ids, days, strict=True):
                candidates.setdefault(paper_id, day)
        rows = self._bylines(list(candidates))
        key_t, short_t, surname = tuple(key), tuple(short) if short else None, key[-1]
        forms: Counter[str] = Counter()
        initial_forms: Counter[str] = Counter()
        others: Counter[str] = Counter()
        mine: list[tuple[str, dict[str, Any]]] = []
        for paper_id, row in rows.items():
            matched = False
            for author in row["authors"]:
                tokens = name_tuple(author)
                if tokens == key_t:
                    forms[author] += 1
                    matched = True
                elif short_t and tokens == short_t:
                    initial_forms[author] += 1
                    matched = matched or initials
                elif surname in tokens and (
                    _contains(tokens, key) or (short is not None and _contains(tokens, short))
                ):
                    others[author] += 1
            if matched:
                mine.append((paper_id, row))
        if not mine:
            if initial_forms:
                raise NotFoundError(
                    f"no paper is signed {name!r}; some are signed"
                    f" {', '.join(sorted(initial_forms))}"
                )
            raise NotFoundError(f"no paper has an author named {name!r}")
        mine.sort(key=lambda item: (item[1]["feed_date"] or "", item[0]), reverse=True)
        merged = set(forms) | (set(initial_forms) if initials else set())
        coauthors: Counter[str] = Counter()
        categories: Counter[str] = Counter()
        years: Counter[int] = Counter()
        for _, row in mine:
            coauthors.update({a for a in row["authors"] if a not in merged})
            categories.update(row["categories"])
            if row["feed_date"]:
                years[int(row["feed_date"][:4])] += 1
        page_ids = [paper_id for paper_id, _ in mine[offset : offset + limit]]
        by_id = {p.id: p for p in self.storage.papers.get_many(page_ids)}
        days = [row["feed_date"] for _, row in mine if row["feed_date"]]
        display = forms.most_common(1)[0][0] if forms else initial_forms.most_common(1)[0][0]
        return AuthorProfile(
            name=name,
            display_name=display,
            key=key,
            total=len(mine),
            forms=_forms(forms),
            initials=_forms(initial_forms),
            initials_merged=initials,
            papers=[by_id[i] for i in page_ids if i in by_id],
            offset=offset,
            coauthors=_forms(_merge_spellings(coauthors))[:COAUTHORS_SHOWN],
            categories=categories.most_common(),
            per_year=sorted(years.items()),
            first_day=date.fromisoformat(min(days)[:10]) if days else None,
            last_day=date.fromisoformat(max(days)[:10]) if days else None,
            truncated=truncated,
            other_names=_forms(others)[:10],
        )

    def _bylines(self, paper_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Authors, categories and feed day of each paper (one light query per 500)."""
        found: dict[str, dict[str, Any]] = {}
        with self.storage.db.transaction(readonly=True) as tx:
            for start in range(0, len(paper_ids), 500):
                chunk = paper_ids[start : start + 500]
                for row in tx.query(
                    "SELECT id, authors, categories, feed_date FROM papers"
                    f" WHERE id IN ({', '.join('?' * len(chunk))})",
                    chunk,
                ):
                    found[row["id"]] = {
                        "authors": parse_json(row["authors"], []),
                        "categories": parse_json(row["categories"], []),
                        "feed_date": str(row["feed_date"])[:10] if row["feed_date"] else None,
                    }
        return found


def _contains(tokens: Sequence[str], key: Sequence[str]) -> bool:
    width, wanted = len(key), tuple(key)
    return any(tuple(tokens[i : i + width]) == wanted for i in range(len(tokens) - width + 1))


def _merge_spellings(names: Counter[str]) -> Counter[str]:
    """Co-author spellings that are the same name once folded, under their most
    common spelling (so one co-author is not listed twice)."""
    totals: dict[tuple[str, ...], int] = {}
    best: dict[tuple[str, ...], tuple[int, str]] = {}
    for spelled, count in names.items():
        key = name_tuple(spelled)
        totals[key] = totals.get(key, 0) + count
        if (count, spelled) > best.get(key, (0, "")):
            best[key] = (count, spelled)
    return Counter({best[key][1]: total for key, total in totals.items()})


def _forms(counter: Counter[str]) -> list[NameForm]:
    return [NameForm(name, count) for name, count in sorted(counter.items(), key=_by_count)]


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return (-item[1], item[0])
