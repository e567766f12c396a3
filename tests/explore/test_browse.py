"""Author and category pages' data on both engines."""

from __future__ import annotations

from datetime import date

import pytest

from paperfeed.errors import InputError, NotFoundError
from paperfeed.explore.authors import initials_key
from paperfeed.library import Library


def test_author_merges_spellings_as_search_matches_them(corpus_library: Library) -> None:
    profile = corpus_library.author("jose garcia")
    assert {f.name: f.papers for f in profile.forms} == {
        "José García": 1, "Jose Garcia": 1, "JOSÉ GARCÍA": 1,
    }  # fmt: skip
    assert [p.id for p in profile.papers] == ["2504.00001", "2503.00003", "2503.00001"]
    assert profile.total == 3
    # Initials are listed, not merged; a longer name containing the phrase is someone else.
    assert [(f.name, f.papers) for f in profile.initials] == [("J. García", 1)]
    assert [f.name for f in profile.other_names] == ["Xiao José García"]
    assert profile.per_year == [(2025, 3)]
    assert profile.first_day == date(2025, 3, 3) and profile.last_day == date(2025, 4, 7)
    assert {c.name: c.papers for c in profile.coauthors} == {"Ada Lovelace": 1, "Grace Hopper": 1}
    assert dict(profile.categories) == {"cs.CV": 2, "cs.LG": 2, "cs.RO": 1}


def test_author_with_initials_included(corpus_library: Library) -> None:
    profile = corpus_library.author("José García", initials=True)
    assert profile.total == 4
    assert profile.papers[1].id == "2503.00005"
    assert {c.name for c in profile.coauthors} == {"Ada Lovelace", "Grace Hopper", "Alan Turing"}


def test_author_pages_and_errors(corpus_library: Library) -> None:
    turing = corpus_library.author("Alan Turing", limit=2)
    assert turing.total == 3 and [p.id for p in turing.papers] == ["2504.00004", "2503.00005"]
    second = corpus_library.author("Alan Turing", limit=2, offset=2)
    assert [p.id for p in second.papers] == ["2503.00002"]
    with pytest.raises(NotFoundError):
        corpus_library.author("Nobody Here")
    with pytest.raises(InputError):
        corpus_library.author("   ")
    with pytest.raises(InputError):
        corpus_library.author("---")
    with pytest.raises(NotFoundError, match=r"J\. García"):
        corpus_library.author("Jx Garcia")


def test_initials_key() -> None:
    assert initials_key(["yann", "lecun"]) == ["y", "lecun"]
    assert initials_key(["y", "lecun"]) is None
    assert initials_key(["lecun"]) is None


def test_category_overview(corpus_library: Library) -> None:
    overview = corpus_library.category("cs.lg")
    assert overview.code == "cs.LG" and overview.name == "Machine Learning"
    assert overview.total == 8
    assert overview.start == date(2025, 5, 5) and [p.id for p in overview.papers] == ["2505.00001"]
    assert overview.previous_start == date(2025, 4, 16) and overview.next_start is None
    assert dict(overview.neighbours) == {"cs.CV": 1, "stat.ML": 1, "cs.RO": 1, "cs.SD": 1}
    week = corpus_library.category("cs.LG", period="week", day=date(2025, 4, 9))
    assert week.start == date(2025, 4, 7) and week.end == date(2025, 4, 13)
    assert {p.id for p in week.papers} == {"2504.00001", "2504.00002"}
    assert week.previous_start == date(2025, 3, 10) and week.next_start == date(2025, 4, 14)
    assert [t.paper.id for t in overview.trending][:1] == ["2505.00001"]


def test_category_errors(corpus_library: Library) -> None:
    with pytest.raises(NotFoundError):
        corpus_library.category("cs.XX")
    with pytest.raises(InputError):
        corpus_library.category("cs LG; drop")
    with pytest.raises(InputError):
        corpus_library.category("cs.LG", period="month")  # type: ignore[arg-type]
