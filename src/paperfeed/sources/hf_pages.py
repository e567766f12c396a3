"""Paper records from the text of community "Daily Papers" pages (Hugging Face style).

People save these pages by selecting and copying them, so the text has no
markup, keeps some page chrome and comes in three layouts:

``title-abstract-blocks``
    Title and abstract lines separated by blank lines. Pages that show per-paper
    details follow each abstract with ``  • 4 authors``, a lone ``·`` and a date
    line ``Jul 19 1`` / ``Mar 9, 2018 1`` (date, then the upvote count if any).
``title-abstract-pairs``
    A title line, then an abstract line, no blank lines; chrome may be glued to
    the first title (``SubscribeRethinking Knowledge Graph ...``).
``bare-abstracts``
    One abstract per line and no titles at all.

One parser handles all three: after dropping chrome and reading the detail
lines, each remaining line is either a title or an abstract (see
:func:`_looks_like_abstract`), and a title is paired with the abstract after it.
The layout is then *reported* from what was seen, so a page that mixes layouts
still parses.
"""

from __future__ import annotations

import calendar
import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from paperfeed.errors import InputError
from paperfeed.models import PaperRecord, SourceFacts, normalize_abstract, normalize_space
from paperfeed.sources.base import SourceBatch
from paperfeed.sources.links import find_code_url, find_project_url

SOURCE = "hf-page"

LAYOUT_BLOCKS = "title-abstract-blocks"
LAYOUT_PAIRS = "title-abstract-pairs"
LAYOUT_ABSTRACTS = "bare-abstracts"
LAYOUT_EMPTY = "empty"

# Lines of page chrome, matched against the whole stripped line. Copying a page
# sometimes drops the space in "by AK", hence ``by\s*ak``.
_CHROME_RE = re.compile(
    r"^(?:new|subscribe|daily papers|trending papers"
    r"|get trending papers in your email inbox(?: once a day)?!?"
    r"|by\s*ak and the research community)$",
    re.IGNORECASE,
)
# Chrome that a copy can glue to the first title ("SubscribeRethinking ..."). Only
# stripped when a capital letter or digit follows directly, so a real title such
# as "Subscriber Churn ..." or "Subscribe to What?" is left alone.
_GLUED_CHROME_RE = re.compile(
    r"^(?:Subscribe|Daily Papers|by\s*AK and the research community"
    r"|Get trending papers in your email inbox(?: once a day)?!)(?=[A-Z0-9])"
)

_MONTHS: dict[str, int] = {}
for _number in range(1, 13):
    _MONTHS[calendar.month_abbr[_number].lower()] = _number
    _MONTHS[calendar.month_name[_number].lower()] = _number
_MONTHS["sept"] = 9

# "Jul 19", "Jul 19 1", "Mar 9, 2018", "Mar 9, 2018 1": date, optional year after
# a comma, optional upvote count after a space. The comma is what tells a year
# from an upvote count, so "Jul 19 2024" reads as 2024 upvotes; the page never
# writes a year without the comma.
_DATE_RE = re.compile(
    r"^(?P<month>[A-Za-z]{3,9})\.? (?P<day>\d{1,2})(?:, (?P<year>\d{4}))?(?: (?P<upvotes>\d+))?$"
)
_AUTHORS_RE = re.compile(r"^•\s*(?P<count>\d+)\s+authors?$", re.IGNORECASE)

# An abstract line is at least this long unless it is recognisably prose. The
# longest title in the seed pages is 183 characters (a title the page cut with
# "...."), the shortest abstract 439; arXiv titles practically never reach 300.
_ABSTRACT_MIN_CHARS = 300
# A sentence boundary: a lower-case word or digit, a period, space, capital.
# Titles use "?" and ":" between clauses ("What Matters in Transformers? Not
# All Attention is Needed"), but practically never ". X".
_SENTENCE_BREAK_RE = re.compile(r"[a-z0-9)\]]\.\s+[A-Z]")


@dataclass(slots=True)
class PageParse:
    """What :func:`parse_page_text` found on one page."""

    records: list[PaperRecord]
    layout: str
    warnings: list[str] = field(default_factory=list)
    #: The lone date heading the page ("Dec 8"), as written, if any.
    heading: str | None = None


@dataclass(slots=True)
class _Date:
    month: int
    day: int
    year: int | None
    upvotes: int | None


def _parse_date(text: str) -> _Date | None:
    match = _DATE_RE.match(text)
    if not match:
        return None
    month = _MONTHS.get(match.group("month").lower())
    if month is None:
        return None
    year = match.group("year")
    upvotes = match.group("upvotes")
    return _Date(
        month=month,
        day=int(match.group("day")),
        year=int(year) if year else None,
        upvotes=int(upvotes) if upvotes else None,
    )


def _looks_like_abstract(line: str, *, expecting_abstract: bool) -> bool:
    """Tell an abstract line from a title line.

    Length decides almost always (see ``_ABSTRACT_MIN_CHARS``). For a short line:
    a title does not end with a period (an ellipsis like "or ...." excepted),
    while an abstract does. A short line ending with a period right after a
    title is its abstract; with no title waiting it must also read as more than
    one sentence, so a title that happens to end in a period still pairs with
    the abstract below it.
    """
    if len(line) >= _ABSTRACT_MIN_CHARS:
        return True
    if not line.endswith(".") or line.endswith(".."):
        return False
    return expecting_abstract or bool(_SENTENCE_BREAK_RE.search(line))


@dataclass(slots=True)
class _Pending:
    """A paper being assembled: its details follow its abstract."""

    title: str
    abstract: str
    line: int
    author_count: int | None = None
    shown: _Date | None = None


def parse_page_text(
    text: str, *, reference_year: int | None = None, page_name: str | None = None
) -> PageParse:
    """Parse the copied text of a daily-papers page into ``hf-page`` records.

    Dates written without a year ("Jul 19") are in the year the page was viewed.
    That year comes from ``reference_year`` if given, else from the page's own
    date heading when it shows a year; otherwise such dates are left out (and a
    warning says how many). Today's year is never assumed: captures are read
    long after they were made, and re-reading the same file next year must not
    move its papers by a year.

    The date shown next to a paper is the paper's publication date on the page
    ("Layer Normalization ... Jul 21, 2016" is the arXiv date), so it is stored
    as ``published_at`` only: it says nothing about the day the page featured it.
    """
    where = f"{page_name}: " if page_name else ""
    warnings: list[str] = []
    papers: list[_Pending] = []
    heading: str | None = None
    heading_date: _Date | None = None
    title: tuple[int, str] | None = None  # a title line waiting for its abstract
    in_details = False  # after a "•" or "·" line: a date line belongs to the paper
    seen_content = False
    blank_before = False
    separated = adjacent = 0  # how title -> abstract steps were laid out

    lines = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            blank_before = True
            continue
        if _CHROME_RE.match(line):
            in_details = False
            blank_before = False
            continue
        if line[0] in "•·":
            # Detail line(s): "• 4 authors", "·", or all on one line "• 4 authors · Jul 19 1".
            # Only lines *starting* with a bullet: titles and abstracts may contain "·".
            for part in filter(None, (part.strip() for part in line.split("·"))):
                authors = _AUTHORS_RE.match(part)
                shown = _parse_date(part)
                if authors and papers:
                    papers[-1].author_count = int(authors.group("count"))
                elif shown and papers:
                    papers[-1].shown = shown
                else:
                    warnings.append(f"{where}line {number}: unrecognised detail {part!r} ignored")
            in_details = True
            blank_before = False
            continue
        shown = _parse_date(line)
        if shown is not None:
            if in_details and papers:
                papers[-1].shown = shown
            elif heading is None:
                # A lone date outside a paper's details heads the page; it only
                # serves to date yearless entries. A later one (a captured page
                # spanning several days) is skipped: it is not a paper either.
                heading, heading_date = line, shown
            in_details = False
            blank_before = False
            continue
        in_details = False

        if not seen_content:
            glued = _GLUED_CHROME_RE.match(line)
            if glued:
                warnings.append(f"{where}line {number}: page chrome {glued.group(0)!r} removed")
                line = line[glued.end() :].strip()
            seen_content = True

        if title is None:
            if _looks_like_abstract(line, expecting_abstract=False):
                papers.append(_Pending(title="", abstract=line, line=number))
            else:
                title = (number, line)
        elif _looks_like_abstract(line, expecting_abstract=True):
            papers.append(_Pending(title=title[1], abstract=line, line=title[0]))
            if blank_before:
                separated += 1
            else:
                adjacent += 1
            title = None
        else:
            warnings.append(f"{where}line {title[0]}: title without abstract skipped: {title[1]!r}")
            title = (number, line)
        blank_before = False

    if title is not None:
        warnings.append(f"{where}line {title[0]}: title without abstract skipped: {title[1]!r}")

    titled = sum(1 for paper in papers if paper.title)
    if not papers:
        layout = LAYOUT_EMPTY
    elif titled == 0:
        layout = LAYOUT_ABSTRACTS
    else:
        layout = LAYOUT_BLOCKS if separated >= adjacent else LAYOUT_PAIRS
        if titled < len(papers):
            untitled = len(papers) - titled
            warnings.append(f"{where}{untitled} abstracts have no title line above them")

    year = reference_year
    if year is None and heading_date is not None:
        year = heading_date.year
    records: list[PaperRecord] = []
    undated = 0
    for paper in papers:
        shown_on: date | None = None
        if paper.shown is not None:
            shown_year = paper.shown.year or year
            if shown_year is None:
                undated += 1
            else:
                try:
                    shown_on = date(shown_year, paper.shown.month, paper.shown.day)
                except ValueError:
                    warnings.append(f"{where}line {paper.line}: impossible date ignored")
        records.append(_record(paper, shown_on))
    if undated:
        warnings.append(
            f"{where}{undated} dates shown without a year were left out "
            "(pass reference_year to keep them)"
        )
    return PageParse(records=records, layout=layout, warnings=warnings, heading=heading)


def _record(paper: _Pending, shown_on: date | None) -> PaperRecord:
    abstract = normalize_abstract(paper.abstract)
    return PaperRecord(
        source=SOURCE,
        title=normalize_space(paper.title),
        abstract=abstract,
        author_count=paper.author_count,
        published_at=datetime(shown_on.year, shown_on.month, shown_on.day, tzinfo=UTC)
        if shown_on
        else None,
        code_url=find_code_url(abstract),
        project_url=find_project_url(abstract),
        facts=SourceFacts(
            source=SOURCE,
            upvotes=paper.shown.upvotes if paper.shown else None,
        ),
    )


def read_page_file(path: Path) -> str:
    """The text of a saved page, or :class:`InputError` with a one-line reason."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None


class PageTextSource:
    """A :class:`~paperfeed.sources.base.Source` over saved page-text files, one batch per file."""

    def __init__(self, paths: Iterable[str | Path], *, reference_year: int | None = None) -> None:
        self.paths = [Path(path) for path in paths]
        self.reference_year = reference_year
        signature = []
        for path in self.paths:
            try:
                size = path.stat().st_size
            except OSError as exc:
                raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
            signature.append(f"{path.name}:{size}")
        # Same files (by name and size, in the same order) -> same key, so an
        # interrupted import of a folder resumes; a changed file starts over.
        digest = hashlib.sha1("\n".join(signature).encode()).hexdigest()[:16]
        self.checkpoint_key = f"hf-pages:{digest}"

    def batches(self, resume: dict[str, Any] | None = None) -> Iterator[SourceBatch]:
        done = (resume or {}).get("files_done", 0)
        if not isinstance(done, int) or isinstance(done, bool) or not 0 <= done <= len(self.paths):
            raise InputError(f"{self.checkpoint_key}: bad checkpoint {resume!r}")
        for index in range(done, len(self.paths)):
            path = self.paths[index]
            parsed = parse_page_text(
                read_page_file(path), reference_year=self.reference_year, page_name=path.name
            )
            summary = f"{path.name}: {len(parsed.records)} papers ({parsed.layout})"
            yield SourceBatch(
                records=parsed.records,
                checkpoint={"files_done": index + 1},
                notes=[summary, *parsed.warnings],
            )
