"""Pure parsers for arXiv responses: OAI-PMH (``arXivRaw`` / ``arXiv``) and the Atom query API.

Nothing here does I/O, so every quirk of the formats is testable from recorded
bodies. Parsers turn protocol-level failures into :class:`SourceError` (and
OAI-PMH ``<error>`` elements into :class:`OAIError`) with a one-line message,
because these errors end up in front of a user running ``paperfeed harvest``.
"""

from __future__ import annotations

import re
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime

from paperfeed.errors import SourceError
from paperfeed.models import (
    PaperRecord,
    SourceFacts,
    normalize_abstract,
    normalize_space,
    parse_arxiv_id,
)
from paperfeed.sources.links import find_code_url, find_project_url

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
ARXIV_RAW_NS = "http://arxiv.org/OAI/arXivRaw/"
ARXIV_NS = "http://arxiv.org/OAI/arXiv/"
ATOM_NS = "http://www.w3.org/2005/Atom"
ARXIV_ATOM_NS = "http://arxiv.org/schemas/atom"
OPENSEARCH_NS = "http://a9.com/-/spec/opensearch/1.1/"

_OAI = f"{{{OAI_NS}}}"
_RAW = f"{{{ARXIV_RAW_NS}}}"
_ARX = f"{{{ARXIV_NS}}}"
_ATOM = f"{{{ATOM_NS}}}"
_AX = f"{{{ARXIV_ATOM_NS}}}"
_OS = f"{{{OPENSEARCH_NS}}}"

SOURCE = "arxiv"


class OAIError(SourceError):
    """An OAI-PMH ``<error code=...>`` response; ``code`` is the protocol error code."""

    def __init__(self, code: str, message: str, url: str | None = None) -> None:
        self.code = code
        self.detail = message
        self.url = url
        hint = ""
        if code == "badResumptionToken":
            # arXiv tokens expire after a while; the stored checkpoint is then useless.
            hint = " (the token may have expired; restart the harvest without resuming)"
        where = f" from {url}" if url else ""
        super().__init__(f"OAI-PMH error {code}{where}: {normalize_space(message)}{hint}")


class ArxivAPIError(SourceError):
    """The query API answered with an error entry (e.g. a malformed id or query)."""


@dataclass(slots=True)
class OAIPage:
    """One OAI-PMH ListRecords/GetRecord response."""

    records: list[PaperRecord] = field(default_factory=list)
    # Token for the next page; None (or an empty element) means the list is complete.
    resumption_token: str | None = None
    complete_list_size: int | None = None
    cursor: int | None = None
    # ids of records the repository reports as deleted (skipped from ``records``).
    deleted_ids: list[str] = field(default_factory=list)
    # Latest header datestamp on the page: the ``from`` for the next incremental harvest.
    # It is the record's last-modified date, not its announcement date, hence not listed_on.
    max_datestamp: date | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class AtomPage:
    """One page of the arXiv query API (an Atom feed with OpenSearch counters)."""

    records: list[PaperRecord] = field(default_factory=list)
    total_results: int | None = None
    start_index: int | None = None
    items_per_page: int | None = None
    # Number of <entry> elements, including any skipped: paging advances by this.
    entry_count: int = 0
    notes: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- XML helpers


_DTD_RE = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)


def _parse_xml(body: bytes, what: str, url: str | None) -> ET.Element:
    """Parse ``body``; refuse DTDs so no entity (external or recursive) is ever expanded."""
    where = f" from {url}" if url else ""
    if not body or not body.strip():
        raise SourceError(f"Empty {what} response{where}")
    if _DTD_RE.search(body):
        raise SourceError(f"Refusing {what} response{where}: it declares a DTD/entities")
    try:
        return ET.fromstring(body)
    except ET.ParseError as exc:
        snippet = normalize_space(body[:80].decode("utf-8", "replace"))
        raise SourceError(
            f"Malformed XML in {what} response{where}: {exc} (starts {snippet!r})"
        ) from exc


def _text(parent: ET.Element | None, tag: str) -> str | None:
    """Whitespace-normalised text of ``parent/tag``, or None if missing or blank."""
    if parent is None:
        return None
    node = parent.find(tag)
    if node is None or node.text is None:
        return None
    return normalize_space(node.text) or None


def _raw_text(parent: ET.Element, tag: str) -> str | None:
    node = parent.find(tag)
    return node.text if node is not None else None


def _int(value: str | None) -> int | None:
    try:
        return int(value.strip()) if value is not None and value.strip() else None
    except ValueError:
        return None


def _iso_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value.strip()[:10]) if value else None
    except ValueError:
        return None


def _date_as_datetime(value: str | None) -> datetime | None:
    day = _iso_date(value)
    return datetime(day.year, day.month, day.day, tzinfo=UTC) if day else None


def _rfc2822(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError):
        return None
    if parsed.tzinfo is None:  # "-0000" means UTC with unknown origin
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _iso_instant(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


# ----------------------------------------------------------------------------- names


# \'e, \'{e}, {\'e}, \"{\i}: the accent macros arXiv metadata uses in author names.
_ACCENTS = {
    "'": "\u0301", "`": "\u0300", "^": "\u0302", '"': "\u0308", "~": "\u0303",
    "=": "\u0304", ".": "\u0307", "u": "\u0306", "v": "\u030c", "H": "\u030b",
    "c": "\u0327", "k": "\u0328", "r": "\u030a",
}  # fmt: skip
_SYMBOL_ACCENT_RE = re.compile(r"""\\(['`^"~=.])\s*(?:\{\s*(\\i|\w)\s*\}|(\\i|\w))""")
_LETTER_ACCENT_RE = re.compile(r"\\([uvHckr])(?:\s*\{\s*(\\i|\w)\s*\}|\s+(\w))")
_SPECIALS = {
    "o": "ø", "O": "Ø", "ss": "ß", "l": "ł", "L": "Ł", "aa": "å", "AA": "Å",
    "ae": "æ", "AE": "Æ", "oe": "œ", "OE": "Œ", "i": "ı",
}  # fmt: skip
_SPECIAL_RE = re.compile(r"\\(ss|aa|AA|ae|AE|oe|OE|o|O|l|L|i)(?![A-Za-z])(?:\{\}|\s)?")


def delatex_name(name: str) -> str:
    """Turn LaTeX accent macros in a name into Unicode (``G\\"{o}del`` -> ``Gödel``)."""
    if "\\" not in name and "{" not in name:
        return name

    def accent(match: re.Match[str]) -> str:
        base = match.group(2) or match.group(3)
        return ("i" if base == "\\i" else base) + _ACCENTS[match.group(1)]

    name = _SYMBOL_ACCENT_RE.sub(accent, name)
    name = _LETTER_ACCENT_RE.sub(accent, name)
    name = _SPECIAL_RE.sub(lambda m: _SPECIALS[m.group(1)], name)
    name = name.replace("{", "").replace("}", "").replace("~", " ")
    return normalize_space(unicodedata.normalize("NFC", name))


_PARENS_RE = re.compile(r"\([^()]*\)")
_AUTHOR_SEP_RE = re.compile(r"\s*(?:,|;|&|\band\b)\s*", re.IGNORECASE)
_SUFFIX_RE = re.compile(r"^(?:jr|sr|ii|iii|iv)\.?$", re.IGNORECASE)
_ET_AL_RE = re.compile(r"\s*\bet\.?\s+al\.?$", re.IGNORECASE)


def split_authors(text: str | None) -> list[str]:
    """Split an arXiv author string into ordered names.

    Handles ``"A, B, and C"``, ``"A and B"``, parenthesised affiliations
    (``"A (MIT), B ((1) X, (2) Y)"``), suffixes (``"J. Smith, Jr."``), ``et al.``
    and LaTeX accents.
    """
    if not text:
        return []
    text = normalize_space(text)
    previous = None
    while previous != text:  # strip innermost parentheses until none remain (nested affiliations)
        previous, text = text, _PARENS_RE.sub(" ", text)
    names: list[str] = []
    for part in _AUTHOR_SEP_RE.split(text):
        part = normalize_space(_ET_AL_RE.sub("", part or ""))
        if not part or part.lower() in {"et al", "et al.", "others"}:
            continue
        if _SUFFIX_RE.match(part) and names:
            names[-1] = f"{names[-1]} {part}"  # "J. Smith, Jr." is one author
            continue
        names.append(delatex_name(part))
    return names


# ----------------------------------------------------------------------------- OAI-PMH


def _common_links(record: PaperRecord) -> None:
    assert record.arxiv_id
    record.abs_url = f"https://arxiv.org/abs/{record.arxiv_id}"
    record.pdf_url = f"https://arxiv.org/pdf/{record.arxiv_id}"
    record.code_url = find_code_url(record.abstract, record.comments)
    record.project_url = find_project_url(record.abstract, record.comments)


def _first_doi(value: str | None) -> str | None:
    return value.split()[0] if value else None


def _split_categories(value: str | None) -> list[str]:
    seen: list[str] = []
    for cat in (value or "").split():
        if cat not in seen:
            seen.append(cat)
    return seen


def _parse_arxiv_raw(meta: ET.Element) -> PaperRecord:
    arxiv_id = _text(meta, f"{_RAW}id") or ""
    versions: list[tuple[int, datetime | None]] = []
    for node in meta.findall(f"{_RAW}version"):
        number = _int((node.get("version") or "").lstrip("vV"))
        if number is not None:
            versions.append((number, _rfc2822(_raw_text(node, f"{_RAW}date"))))
    versions.sort(key=lambda v: v[0])
    submitter = _text(meta, f"{_RAW}submitter")
    record = PaperRecord(
        source=SOURCE,
        arxiv_id=arxiv_id,
        version=versions[-1][0] if versions else None,
        title=_text(meta, f"{_RAW}title") or "",
        abstract=normalize_abstract(_raw_text(meta, f"{_RAW}abstract")),
        authors=split_authors(_raw_text(meta, f"{_RAW}authors")),
        categories=_split_categories(_raw_text(meta, f"{_RAW}categories")),
        published_at=versions[0][1] if versions else None,
        updated_at=versions[-1][1] if versions else None,
        comments=_text(meta, f"{_RAW}comments"),
        journal_ref=_text(meta, f"{_RAW}journal-ref"),
        doi=_first_doi(_text(meta, f"{_RAW}doi")),
        facts=SourceFacts(source=SOURCE, external_id=arxiv_id, submitter=submitter),
    )
    return record


def _arxiv_author(node: ET.Element) -> str:
    parts = [
        _text(node, f"{_ARX}forenames"),
        _text(node, f"{_ARX}keyname"),
        _text(node, f"{_ARX}suffix"),
    ]
    return delatex_name(" ".join(p for p in parts if p))


def _parse_arxiv_format(meta: ET.Element) -> PaperRecord:
    arxiv_id = _text(meta, f"{_ARX}id") or ""
    created = _date_as_datetime(_text(meta, f"{_ARX}created"))
    updated = _date_as_datetime(_text(meta, f"{_ARX}updated")) or created
    authors = [
        name
        for name in (_arxiv_author(a) for a in meta.iterfind(f"{_ARX}authors/{_ARX}author"))
        if name
    ]
    return PaperRecord(
        source=SOURCE,
        arxiv_id=arxiv_id,
        version=None,  # the arXiv format carries dates only, not version numbers
        title=_text(meta, f"{_ARX}title") or "",
        abstract=normalize_abstract(_raw_text(meta, f"{_ARX}abstract")),
        authors=authors,
        categories=_split_categories(_raw_text(meta, f"{_ARX}categories")),
        published_at=created,
        updated_at=updated,
        comments=_text(meta, f"{_ARX}comments"),
        journal_ref=_text(meta, f"{_ARX}journal-ref"),
        doi=_first_doi(_text(meta, f"{_ARX}doi")),
        facts=SourceFacts(source=SOURCE, external_id=arxiv_id),
    )


def _parse_oai_record(node: ET.Element, page: OAIPage) -> None:
    header = node.find(f"{_OAI}header")
    identifier = _text(header, f"{_OAI}identifier") or "?"
    stamp = _iso_date(_text(header, f"{_OAI}datestamp"))
    if stamp and (page.max_datestamp is None or stamp > page.max_datestamp):
        page.max_datestamp = stamp
    if header is not None and header.get("status") == "deleted":
        page.deleted_ids.append(identifier.removeprefix("oai:arXiv.org:"))
        return
    metadata = node.find(f"{_OAI}metadata")
    meta = metadata[0] if metadata is not None and len(metadata) else None
    if meta is None:
        page.notes.append(f"skipped {identifier}: no metadata")
        return
    if meta.tag == f"{_RAW}arXivRaw":
        record = _parse_arxiv_raw(meta)
    elif meta.tag == f"{_ARX}arXiv":
        record = _parse_arxiv_format(meta)
    else:
        raise SourceError(
            f"Unsupported OAI-PMH metadata format {meta.tag!r} (use arXivRaw or arXiv)"
        )
    parsed = parse_arxiv_id(record.arxiv_id or "")
    if parsed is None:
        page.notes.append(f"skipped {identifier}: unrecognised arXiv id {record.arxiv_id!r}")
        return
    record.arxiv_id = parsed[0]
    if record.facts:
        record.facts.external_id = parsed[0]
    _common_links(record)
    page.records.append(record)


def parse_oai_response(body: bytes, *, url: str | None = None) -> OAIPage:
    """Parse an OAI-PMH ListRecords or GetRecord response in ``arXivRaw`` or ``arXiv`` format.

    ``noRecordsMatch`` is OAI-PMH's way to say "empty result", so it yields an
    empty, complete page; every other ``<error>`` raises :class:`OAIError`.
    ``url`` is only used in error messages.
    """
    root = _parse_xml(body, "OAI-PMH", url)
    if root.tag != f"{_OAI}OAI-PMH":
        raise SourceError(f"Not an OAI-PMH response{' from ' + url if url else ''}: <{root.tag}>")
    errors = root.findall(f"{_OAI}error")
    if errors:
        real = [e for e in errors if e.get("code") != "noRecordsMatch"]
        if not real:
            return OAIPage()
        raise OAIError(real[0].get("code") or "unknown", real[0].text or "", url)
    container = root.find(f"{_OAI}ListRecords")
    if container is None:
        container = root.find(f"{_OAI}GetRecord")
    if container is None:
        verbs = ", ".join(child.tag.removeprefix(_OAI) for child in root)
        raise SourceError(f"OAI-PMH response has no records (elements: {verbs})")
    page = OAIPage()
    for node in container.findall(f"{_OAI}record"):
        _parse_oai_record(node, page)
    token = container.find(f"{_OAI}resumptionToken")
    if token is not None:
        page.resumption_token = (token.text or "").strip() or None
        page.complete_list_size = _int(token.get("completeListSize"))
        page.cursor = _int(token.get("cursor"))
    return page


# ----------------------------------------------------------------------------- Atom API


def _parse_atom_entry(entry: ET.Element) -> PaperRecord | None:
    parsed = parse_arxiv_id(_text(entry, f"{_ATOM}id") or "")
    title = _text(entry, f"{_ATOM}title") or ""
    if parsed is None or not title:
        return None
    arxiv_id, version = parsed
    categories = [c.get("term", "") for c in entry.findall(f"{_ATOM}category") if c.get("term")]
    primary = entry.find(f"{_AX}primary_category")
    if primary is not None and primary.get("term"):
        term = primary.get("term", "")
        categories = [term] + [c for c in categories if c != term]
    categories = list(dict.fromkeys(categories))
    pdf_url = None
    for link in entry.findall(f"{_ATOM}link"):
        if link.get("title") == "pdf" or link.get("type") == "application/pdf":
            pdf_url = (link.get("href") or "").replace("http://", "https://", 1) or None
            break
    authors = [
        delatex_name(name)
        for name in (_text(a, f"{_ATOM}name") for a in entry.findall(f"{_ATOM}author"))
        if name
    ]
    record = PaperRecord(
        source=SOURCE,
        arxiv_id=arxiv_id,
        version=version,
        title=title,
        abstract=normalize_abstract(_raw_text(entry, f"{_ATOM}summary")),
        authors=authors,
        categories=categories,
        published_at=_iso_instant(_text(entry, f"{_ATOM}published")),
        updated_at=_iso_instant(_text(entry, f"{_ATOM}updated")),
        comments=_text(entry, f"{_AX}comment"),
        journal_ref=_text(entry, f"{_AX}journal_ref"),
        doi=_first_doi(_text(entry, f"{_AX}doi")),
        facts=SourceFacts(source=SOURCE, external_id=arxiv_id),
    )
    _common_links(record)
    if pdf_url:
        record.pdf_url = pdf_url
    return record


def parse_atom_feed(body: bytes, *, url: str | None = None) -> AtomPage:
    """Parse one page of the arXiv query API.

    The API reports bad queries as a feed whose single entry has an id under
    ``/api/errors``; that becomes a :class:`SourceError` carrying arXiv's message.
    """
    root = _parse_xml(body, "arXiv API", url)
    if root.tag != f"{_ATOM}feed":
        raise SourceError(f"Not an Atom feed{' from ' + url if url else ''}: <{root.tag}>")
    entries = root.findall(f"{_ATOM}entry")
    for entry in entries:
        entry_id = _text(entry, f"{_ATOM}id") or ""
        if "api/errors" in entry_id:
            message = _text(entry, f"{_ATOM}summary") or entry_id
            raise ArxivAPIError(f"arXiv API error{' for ' + url if url else ''}: {message}")
    page = AtomPage(
        total_results=_int(_raw_text(root, f"{_OS}totalResults")),
        start_index=_int(_raw_text(root, f"{_OS}startIndex")),
        items_per_page=_int(_raw_text(root, f"{_OS}itemsPerPage")),
        entry_count=len(entries),
    )
    for entry in entries:
        record = _parse_atom_entry(entry)
        if record is None:
            page.notes.append(f"skipped entry {_text(entry, f'{_ATOM}id')!r}: no arXiv id or title")
        else:
            page.records.append(record)
    return page
