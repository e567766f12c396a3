"""BibTeX entries as paper records (bibtexparser 1.x, pinned ``<2``).

Reference managers export titles with LaTeX grouping and accents
(``{BERT}: Pre-training of {\\"u}ber...``) and authors as ``Last, First and
First Last``; Google Scholar puts arXiv ids in ``journal``, others in ``eprint``,
``url`` or an arXiv DOI. All of them end up as one normalized
:class:`~paperfeed.models.PaperRecord`. Imported lazily by
:mod:`paperfeed.sources.files`, because bibtexparser (pyparsing) is slow to import.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from bibtexparser.bibdatabase import UndefinedString
from bibtexparser.bparser import BibTexParser
from bibtexparser.customization import InvalidName, splitname
from pyparsing import ParseBaseException

from paperfeed.errors import InputError
from paperfeed.models import PaperRecord, normalize_abstract, normalize_space, parse_arxiv_id
from paperfeed.sources.arxiv_parse import delatex_name
from paperfeed.sources.formats import SOURCE
from paperfeed.sources.links import (
    arxiv_id_in_text,
    clean_doi,
    find_code_url,
    find_project_url,
    links_in_prose,
)

_MATH_SPLIT_RE = re.compile(r"(?<!\\)\$")
# \emph{x}, \textbf{x}, \url{x}...: keep the argument, drop the command. Single-letter
# commands are accents (\c{c}, \v{s}), which delatex_name converts.
_FORMAT_COMMAND_RE = re.compile(r"\\[A-Za-z]{2,}\*?\s*(?=\{)")
# \LaTeX{} and \ss{}: "{}" only ends the command name.
_EMPTY_ARG_RE = re.compile(r"(\\[A-Za-z]{2,})\{\}")
_TIE_RE = re.compile(r"(?<!\\)~")
_BARE_COMMAND_RE = re.compile(r"\\([A-Za-z]{2,})")
_ESCAPES = {"\\&": "&", "\\%": "%", "\\_": "_", "\\#": "#", "\\$": "\x00", "\\ ": " "}
_NAME_TOKEN_RE = re.compile(r"[{}]|\s+and\s+", re.IGNORECASE)
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
)}  # fmt: skip
_YEAR_RE = re.compile(r"\b(\d{4})\b")


def delatex_text(text: str) -> str:
    """Plain text from a BibTeX field: accents to Unicode, grouping braces and markup dropped.

    Math (``$O(n^2)$``) is kept verbatim, as arXiv titles keep it.
    """
    if "\\" not in text and "{" not in text and "$" not in text and "~" not in text:
        text = text.replace("---", "\u2014").replace("--", "\u2013")
        return " ".join(text.split())
    for escape, plain in _ESCAPES.items():
        text = text.replace(escape, plain)
    parts = _MATH_SPLIT_RE.split(text)
    if len(parts) % 2 == 0:  # unbalanced $: treat it as a dollar sign
        parts = [text.replace("$", "\x00")]
    out = []
    for index, part in enumerate(parts):
        if index % 2:
            out.append(f"${part}$")
            continue
        part = _FORMAT_COMMAND_RE.sub("", _EMPTY_ARG_RE.sub(r"\1 ", part))
        part = part.replace("---", "\u2014").replace("--", "\u2013")
        part = part.replace("``", "\u201c").replace("''", "\u201d")
        part = _TIE_RE.sub(" ", part)  # ~ is a non-breaking space; \~{n} an accent
        lead = " " if part[:1].isspace() else ""
        trail = " " if part[-1:].isspace() else ""
        # delatex_name converts accents, drops braces and ~, and trims: keep edge spaces.
        core = _BARE_COMMAND_RE.sub(r"\1", delatex_name(part)) if part.strip() else ""
        out.append(lead + core + trail)
    return normalize_space("".join(out).replace("\x00", "$"))


def _split_bibtex_names(value: str) -> list[str]:
    """Split ``A and B and {Barnes and Noble}`` on ``and`` outside braces."""
    names, depth, start = [], 0, 0
    for match in _NAME_TOKEN_RE.finditer(value):
        token = match.group()
        if token == "{":
            depth += 1
        elif token == "}":
            depth = max(depth - 1, 0)
        elif depth == 0:
            names.append(value[start : match.start()])
            start = match.end()
    names.append(value[start:])
    return [name.strip() for name in names if name.strip()]


def _bibtex_authors(value: str | None) -> list[str]:
    authors = []
    for raw in _split_bibtex_names(normalize_space(value)):
        if raw.lower() == "others":  # "and others" is BibTeX for et al.
            continue
        try:
            parts = splitname(raw, strict_mode=False)
        except InvalidName:
            ordered = raw
        else:
            ordered = " ".join(parts["first"] + parts["von"] + parts["last"])
            if parts["jr"]:
                ordered += " " + " ".join(parts["jr"])
        name = delatex_text(ordered)
        if name:
            authors.append(name)
    return authors


def _bibtex_published(entry: dict[str, str]) -> datetime | None:
    if entry.get("date"):  # biblatex: 2023, 2023-05 or 2023-05-17
        text = entry["date"].strip()
        for candidate in (text[:10], text[:7] + "-01", text[:4] + "-01-01"):
            try:
                day = date.fromisoformat(candidate)
            except ValueError:
                continue
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
    year = _YEAR_RE.search(entry.get("year", ""))
    if not year:
        return None
    month_text = entry.get("month", "").strip().lower()
    month = _MONTHS.get(month_text[:3], 1)
    if month_text.isdigit() and 1 <= int(month_text) <= 12:
        month = int(month_text)
    return datetime(int(year.group(1)), month, 1, tzinfo=UTC)


def _bibtex_journal_ref(entry: dict[str, str]) -> str | None:
    venue = entry.get("journal") or entry.get("booktitle")
    # Google Scholar writes preprints as journal = {arXiv preprint arXiv:...}: no venue.
    if not venue or "arxiv" in venue.lower():
        return None
    ref = delatex_text(venue)
    if entry.get("volume"):
        ref += f" {delatex_text(entry['volume'])}"
    if entry.get("pages"):
        ref += f", {delatex_text(entry['pages'])}"
    if _YEAR_RE.search(entry.get("year", "")):
        ref += f" ({_YEAR_RE.search(entry['year']).group(1)})"  # type: ignore[union-attr]
    return ref


def record_from_bibtex(entry: dict[str, str]) -> PaperRecord | None:
    """One record from a parsed BibTeX entry (lower-case field names); None without title/abstract."""
    title = delatex_text(entry.get("title", ""))
    abstract = normalize_abstract(entry.get("abstract"))
    if abstract:
        abstract = "\n\n".join(delatex_text(p) for p in abstract.split("\n\n"))
    if not title and not abstract:
        return None

    arxiv: tuple[str, int | None] | None = None
    prefix = (entry.get("archiveprefix") or entry.get("eprinttype") or "arxiv").lower()
    if entry.get("eprint") and prefix == "arxiv":
        arxiv = parse_arxiv_id(entry["eprint"])
    url = entry.get("url", "").strip() or None
    doi = clean_doi(entry.get("doi"))
    note = delatex_text(entry.get("note", "")) or None
    if arxiv is None:
        arxiv = arxiv_id_in_text(url, doi, entry.get("journal"), note, entry.get("howpublished"))
    arxiv_id, version = arxiv if arxiv else (None, None)

    comments = delatex_text(entry.get("comments", "")) or note
    code_url = entry.get("code") or entry.get("github") or None
    if code_url:  # normalised like links in prose, so it compares equal across sources
        code_url = find_code_url(code_url) or code_url
    abs_url = pdf_url = project_url = None
    if url and "arxiv.org" not in url.lower():
        if code := find_code_url(url):
            code_url = code_url or code
        elif project := find_project_url(url):
            project_url = project
        elif url.lower().endswith(".pdf"):
            pdf_url = url
        else:
            abs_url = url
    if arxiv_id:
        abs_url = f"https://arxiv.org/abs/{arxiv_id}"
        pdf_url = f"https://arxiv.org/pdf/{arxiv_id}"
    found_code, found_project = links_in_prose(abstract, comments)
    primary = entry.get("primaryclass", "").strip()
    return PaperRecord(
        source=SOURCE,
        title=title,
        abstract=abstract,
        arxiv_id=arxiv_id,
        version=version,
        authors=_bibtex_authors(entry.get("author")),
        categories=[primary] if primary else [],
        published_at=_bibtex_published(entry),
        comments=comments,
        journal_ref=_bibtex_journal_ref(entry),
        doi=doi,
        abs_url=abs_url,
        pdf_url=pdf_url,
        code_url=code_url or found_code,
        project_url=project_url or found_project,
    )


def parse_bibtex(text: str, name: str) -> list[tuple[int, dict[str, str]]]:
    """``(starting line, entry)`` for every entry in ``text``; malformed entries raise.

    bibtexparser 1.x silently turns an entry it cannot parse into a comment, so
    comments that start with ``@`` are reported as malformed entries. It keeps no
    line numbers either: parse actions on its (private, pinned <2) grammar record them.
    """
    parser = BibTexParser(
        common_strings=True, ignore_nonstandard_types=False, interpolate_strings=True
    )
    lines = _LineCounter()
    starts: list[int] = []
    malformed: list[tuple[int, str]] = []

    def on_entry(source: str, loc: int, tokens: Any) -> None:
        starts.append(lines.line_of(source, loc))

    def on_comment(source: str, loc: int, tokens: Any) -> None:
        body = str(tokens[0]).strip()
        if body.startswith("@") and not body.lower().startswith("@comment"):
            malformed.append((lines.line_of(source, loc), body))

    parser._expr.entry.add_parse_action(on_entry)
    parser._expr.implicit_comment.add_parse_action(on_comment)
    try:
        database = parser.parse(text)
    except UndefinedString as exc:
        key = str(exc).strip("'\"")
        where = re.search(rf"=\s*{re.escape(key)}\s*[,}}#\s]", text)
        line = f":{text.count(chr(10), 0, where.start()) + 1}" if where else ""
        raise InputError(f"{name}{line}: undefined BibTeX string {key!r}") from None
    except ParseBaseException as exc:
        raise InputError(f"{name}:{exc.lineno}: malformed BibTeX: {exc.msg}") from None
    if malformed:
        line, body = malformed[0]
        snippet = normalize_space(body)[:60]
        raise InputError(f"{name}:{line}: malformed BibTeX entry: {snippet!r}")
    if len(starts) != len(database.entries):  # should not happen; never attach wrong lines
        raise InputError(f"{name}: BibTeX parser lost track of entry positions")
    return list(zip(starts, database.entries, strict=True))


class _LineCounter:
    """Line numbers for increasing offsets into one text without rescanning from the start."""

    def __init__(self) -> None:
        self.offset = 0
        self.line = 1

    def line_of(self, source: str, loc: int) -> int:
        while loc < len(source) and source[loc].isspace():  # actions may point at leading blanks
            loc += 1
        if loc < self.offset:
            self.offset, self.line = 0, 1
        self.line += source.count("\n", self.offset, loc)
        self.offset = loc
        return self.line
