"""Import papers from files: JSON Lines, CSV and BibTeX (plain or gzipped).

:class:`FileSource` reads one file and yields batches of ``batch_size`` records
with the checkpoint ``{"line": n}``: the physical line (JSONL/CSV) or the
starting line of the last BibTeX entry in the batch. Resuming re-reads the file
and skips everything up to and including that line.

Error policy: a malformed line, row or entry raises :class:`InputError` naming
the file and line (``papers.jsonl:17: invalid JSON: ...``) and the import stops
there. Batches yielded before the error have already been handed out, so a
caller that wants all-or-nothing either runs the whole file in one transaction
or calls :meth:`FileSource.validate` first (a full parse, no records kept).
A record with neither title nor abstract is not an error: it is skipped, counted
in :attr:`FileSource.skipped` and reported in the batch's ``notes``.

:func:`paperfeed.sources.importers.open_source` is the entry point for "import
this file, whatever its format".
"""

from __future__ import annotations

import csv
import itertools
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from paperfeed.errors import InputError
from paperfeed.models import (
    PaperRecord,
    SourceFacts,
    normalize_abstract,
    normalize_space,
    parse_arxiv_id,
)
from paperfeed.sources.arxiv_parse import delatex_name, split_authors
from paperfeed.sources.base import SourceBatch
from paperfeed.sources.formats import (
    FILE_FORMATS,
    FORMATS,
    GZIP_MAGIC,
    READ_ERRORS,
    SOURCE,
    canonical_format,
    csv_delimiter,
    detect_format,
    iter_lines,
    json_type,
    open_binary,
    read_bytes,
    read_error,
    reading,
)
from paperfeed.sources.links import (
    arxiv_id_in_text,
    clean_doi,
    find_code_url,
    links_in_prose,
)

__all__ = [
    "FORMATS",
    "FieldError",
    "FileSource",
    "detect_format",
    "record_from_mapping",
]

DEFAULT_BATCH_SIZE = 1000

_NEW_STYLE_ID_RE = re.compile(r"(\d{4}\.\d{4,5})(?:v(\d+))?")
_CATEGORY_SPLIT_RE = re.compile(r"[\s,;]+")


class FieldError(ValueError):
    """A field of one record has an unusable value; the reader adds file and line."""


# ----------------------------------------------------------------------------- field helpers


def _text(obj: dict[str, Any], *keys: str) -> str | None:
    """The first non-empty value among ``keys``, as a string."""
    for key in keys:
        value = obj.get(key)
        if value is None or value == "":
            continue
        if type(value) is str:
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise FieldError(f"{key!r} must be a string, not {json_type(value)}")
    return None


# ASCII whitespace other than space and newline (what str.split() would also split on).
_OTHER_ASCII_SPACE = ("\t", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f")


def _clean_abstract(text: str) -> str:
    """``normalize_abstract`` with a fast path for the usual single-paragraph abstract.

    Joining 75k hard-wrapped arXiv abstracts word by word costs more than parsing
    their JSON. When the text's only whitespace is single spaces and newlines
    (no double space after the newline swap, none at the edges, no other
    whitespace character), replacing newlines gives exactly what
    ``normalize_abstract`` would; each check is a C-speed substring scan.
    """
    flat = text.replace("\n", " ")
    if not flat or flat[0] == " " or flat[-1] == " " or "  " in flat:
        return normalize_abstract(text)
    if flat.isascii():
        for char in _OTHER_ASCII_SPACE:
            if char in flat:
                return normalize_abstract(text)
        return flat
    # Every non-ASCII whitespace character is unprintable (Unicode Z* or Cc).
    return flat if flat.isprintable() else normalize_abstract(text)


def _clean_names(names: list[Any]) -> list[str] | None:
    """``names`` unchanged if every one is a clean string (the usual case), else None.

    One join and a few substring scans instead of normalising name by name.
    """
    try:
        joined = "|".join(names)
    except TypeError:  # not all strings
        return None
    if (
        "" in names
        or "\\" in joined
        or "{" in joined
        or "  " in joined
        or "| " in joined
        or " |" in joined
        or joined[:1] == " "
        or joined[-1:] == " "
        or not joined.isprintable()  # tabs, newlines and other whitespace
    ):
        return None
    return list(names)


def parse_datetime(value: object, key: str) -> datetime | None:
    """An aware UTC datetime from ISO 8601 (date or date-time) or RFC 2822 text."""
    if value is None or value == "":
        return None
    if type(value) is not str:
        raise FieldError(f"{key!r} must be a date string, not {json_type(value)}")
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            raise FieldError(f"invalid {key} {value!r} (expected an ISO 8601 date)") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_day(value: object, key: str) -> date | None:
    if value is None or value == "":
        return None
    if type(value) is str:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    parsed = parse_datetime(value, key)
    return parsed.date() if parsed else None


def _kaggle_authors(parsed: object) -> list[str]:
    """Names from the Kaggle snapshot's ``authors_parsed`` ``[["Last", "First", "Suffix"], ...]``.

    Used only without an ``authors`` string: that string is arXiv's own, and
    splitting it as the arXiv source does keeps names identical across sources.
    """
    if not isinstance(parsed, list):
        raise FieldError(f"'authors_parsed' must be an array, not {json_type(parsed)}")
    names = []
    for parts in parsed:
        if not isinstance(parts, list) or not all(type(p) is str for p in parts):
            raise FieldError("'authors_parsed' entries must be arrays of strings")
        last = parts[0] if parts else ""
        first = parts[1] if len(parts) > 1 else ""
        name = delatex_name(normalize_space(" ".join([first, last, *parts[2:]])))
        if name:
            names.append(name)
    return names


def _authors(obj: dict[str, Any]) -> list[str]:
    value = obj.get("authors")
    if value is None:
        value = obj.get("author")
    if not value and obj.get("authors_parsed"):
        return _kaggle_authors(obj["authors_parsed"])
    if not value:
        return []
    if type(value) is str:
        if value.lstrip().startswith("["):  # a JSON list inside a CSV cell
            try:
                value = json.loads(value)
            except ValueError:
                raise FieldError(
                    f"'authors' looks like a JSON list but is not: {value[:60]!r}"
                ) from None
        else:
            return split_authors(value)
    if not isinstance(value, list):
        raise FieldError(f"'authors' must be an array or a string, not {json_type(value)}")
    clean = _clean_names(value)
    if clean is not None:
        return clean
    names = []
    for item in value:
        if type(item) is dict:  # {"name": "..."} as in Hugging Face exports
            item = item.get("name")
        if type(item) is not str:
            raise FieldError("'authors' entries must be strings or objects with a \"name\"")
        name = " ".join(item.split())
        if "\\" in name or "{" in name:
            name = delatex_name(name)
        if name:
            names.append(name)
    return names


def _categories(value: object) -> list[str]:
    if not value:
        return []
    if type(value) is str:
        if value.lstrip().startswith("["):
            try:
                value = json.loads(value)
            except ValueError:
                raise FieldError(f"'categories' is not a valid JSON list: {value[:60]!r}") from None
        else:
            value = _CATEGORY_SPLIT_RE.split(value)
    if not isinstance(value, list):
        raise FieldError(f"'categories' must be an array or a string, not {json_type(value)}")
    out: list[str] = []
    for item in value:
        if type(item) is not str:
            raise FieldError("'categories' entries must be strings")
        item = item.strip()
        if item and item not in out:
            out.append(item)
    return out


def _kaggle_versions(value: object) -> tuple[int | None, datetime | None, datetime | None]:
    """(latest version, first created, latest created) from ``[{"version": "v1", "created": ...}]``."""
    if not isinstance(value, list) or not value:
        raise FieldError("'versions' must be a non-empty array of {version, created} objects")
    found: list[tuple[int, datetime | None]] = []
    for item in value:
        number = item.get("version") if type(item) is dict else None
        if type(number) is str:
            number = number.lstrip("vV")
        try:
            found.append((int(number), parse_datetime(item.get("created"), "versions.created")))
        except (TypeError, ValueError):
            raise FieldError(f"bad entry in 'versions': {item!r}"[:120]) from None
    found.sort(key=lambda pair: pair[0])
    return found[-1][0], found[0][1], found[-1][1]


# ----------------------------------------------------------------------------- JSON / CSV records


# Keys of the arxiv-cs JSONL schema; records with nothing else skip the alias lookups.
_BASIC_KEYS = frozenset(
    {"id", "title", "authors", "categories", "comment", "abstract", "listing_date"}
)


def record_from_mapping(obj: dict[str, Any]) -> PaperRecord | None:
    """One record from a JSON object or CSV row; None when it has neither title nor abstract.

    Reads the ``arxiv-cs`` JSONL schema (id, title, authors, categories, comment,
    abstract, listing_date), the Kaggle arXiv snapshot (authors_parsed, versions,
    update_date, journal-ref) and common aliases. Raises :class:`FieldError` for a
    field whose value has the wrong type or an unparseable date.
    """
    title = _text(obj, "title")
    abstract = _text(obj, "abstract", "summary")
    title = " ".join(title.split()) if title else ""
    abstract = _clean_abstract(abstract) if abstract else ""
    if not title and not abstract:
        return None

    arxiv_id: str | None = None
    version: int | None = None
    raw_id = _text(obj, "id", "arxiv_id")
    if raw_id:
        # The common case without the several regexes of parse_arxiv_id.
        match = _NEW_STYLE_ID_RE.fullmatch(raw_id)
        if match:
            arxiv_id, number = match.groups()
            version = int(number) if number else None
        elif parsed := parse_arxiv_id(raw_id):
            arxiv_id, version = parsed
    comments = _text(obj, "comment", "comments")
    if comments:
        comments = " ".join(comments.split()) or None

    record = PaperRecord(
        source=SOURCE,
        title=title,
        abstract=abstract,
        arxiv_id=arxiv_id,
        version=version,
        authors=_authors(obj),
        categories=_categories(obj.get("categories")),
        listed_on=parse_day(obj.get("listing_date") or obj.get("listed_on"), "listing_date"),
        comments=comments,
    )
    if not obj.keys() <= _BASIC_KEYS:
        _apply_optional_fields(obj, record)
    if record.arxiv_id:
        record.abs_url = f"https://arxiv.org/abs/{record.arxiv_id}"
        record.pdf_url = f"https://arxiv.org/pdf/{record.arxiv_id}"
    if record.code_url is None or record.project_url is None:
        found_code, found_project = links_in_prose(abstract, comments)
        record.code_url = record.code_url or found_code
        record.project_url = record.project_url or found_project
    return record


def _apply_optional_fields(obj: dict[str, Any], record: PaperRecord) -> None:
    """Fields beyond the basic schema: links, DOI, dates and versions, Kaggle extras."""
    record.doi = doi = clean_doi(_text(obj, "doi"))
    url = _text(obj, "url")
    if code_url := _text(obj, "code_url", "github"):
        # Normalised like links in prose, so the same repository compares equal across sources.
        record.code_url = find_code_url(code_url) or code_url
    record.project_url = _text(obj, "project_url")
    if record.arxiv_id is None and (found := arxiv_id_in_text(url, doi)):
        record.arxiv_id, record.version = found
    if url and "arxiv.org" not in url.lower():
        if record.code_url is None and (code := find_code_url(url)):
            record.code_url = code
        elif url.lower().endswith(".pdf"):
            record.pdf_url = url
        else:
            record.abs_url = url

    published = parse_datetime(obj.get("published") or obj.get("published_at"), "published")
    updated = parse_datetime(obj.get("updated") or obj.get("updated_at"), "updated")
    version = record.version
    if obj.get("versions"):
        latest, first_created, last_created = _kaggle_versions(obj["versions"])
        version = version or latest
        published = published or first_created
        updated = updated or last_created
    if updated is None and obj.get("update_date"):
        updated = parse_datetime(obj["update_date"], "update_date")
    if version is None and obj.get("version") is not None:
        try:
            version = int(str(obj["version"]).lstrip("vV"))
        except ValueError:
            raise FieldError(f"invalid version {obj['version']!r}") from None
    record.version, record.published_at, record.updated_at = version, published, updated
    journal_ref = _text(obj, "journal_ref", "journal-ref", "journal")
    record.journal_ref = normalize_space(journal_ref) or None
    # The Kaggle snapshot names who submitted the paper; nothing else is file-specific.
    if submitter := normalize_space(_text(obj, "submitter")):
        record.facts = SourceFacts(source=SOURCE, submitter=submitter)


# ----------------------------------------------------------------------------- the Source

# One yielded item per record read: (line number that completes it, bytes read so far
# or None when unknown, record or None when skipped for lacking title and abstract).
_Item = tuple[int, int | None, PaperRecord | None]


class FileSource:
    """A :class:`~paperfeed.sources.base.Source` over one JSONL, CSV or BibTeX file."""

    def __init__(
        self, path: str | Path, format: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.path = Path(path)
        self.format = canonical_format(format) or detect_format(self.path)
        if self.format not in FILE_FORMATS:
            raise InputError(
                f"{self.path}: {self.format} files are not read by FileSource "
                f"(it reads {', '.join(FILE_FORMATS)}); use open_source()"
            )
        self.batch_size = batch_size
        with reading(self.path):
            stat = self.path.stat()
        # Size and mtime in the key: an edited file is a new import, not a resume.
        self.checkpoint_key = f"file:{self.path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
        self._size = stat.st_size
        self._exact_total: int | None = None
        #: Records skipped (no title and no abstract) by the latest :meth:`batches` run.
        self.skipped = 0

    def batches(self, resume: dict[str, Any] | None = None) -> Iterator[SourceBatch]:
        start = self._resume_line(resume)
        self.skipped = 0
        readers = {"jsonl": self._jsonl_items, "csv": self._csv_items, "bibtex": self._bibtex_items}
        records: list[PaperRecord] = []
        skipped_lines: list[int] = []
        line = start
        # Records and skipped records so far; lines before a resume point count as such.
        seen = start
        uncompressed = self._uncompressed_size()
        for line, nbytes, record in readers[self.format](start):
            seen += 1
            if record is None:
                skipped_lines.append(line)
                continue
            records.append(record)
            if len(records) >= self.batch_size:
                total = self._estimate(seen, nbytes, uncompressed)
                yield self._batch(records, line, skipped_lines, total)
                records, skipped_lines = [], []
        if records or skipped_lines:
            yield self._batch(records, line, skipped_lines, self._exact_total or seen)

    def validate(self) -> int:
        """Parse the whole file, keeping nothing; the number of records, or the first InputError."""
        return sum(len(batch.records) for batch in self.batches())

    # -- helpers

    def _resume_line(self, resume: dict[str, Any] | None) -> int:
        if not resume:
            return 0
        line = resume.get("line")
        if type(line) is not int or line < 0:
            raise InputError(f"{self.checkpoint_key}: bad checkpoint {resume!r}")
        return line

    def _batch(
        self, records: list[PaperRecord], line: int, skipped: list[int], total: int | None
    ) -> SourceBatch:
        notes = []
        if skipped:
            self.skipped += len(skipped)
            shown = ", ".join(map(str, skipped[:5])) + (", ..." if len(skipped) > 5 else "")
            notes.append(
                f"{self.path}: skipped {len(skipped)} record(s) without title or abstract "
                f"(line {shown})"
            )
        return SourceBatch(records=records, checkpoint={"line": line}, total=total, notes=notes)

    def _uncompressed_size(self) -> int | None:
        """Size of the content: the file size, or a gzip file's ISIZE trailer (size mod 2**32)."""
        try:
            with self.path.open("rb") as fh:
                if fh.read(2) != GZIP_MAGIC:
                    return self._size
                fh.seek(-4, 2)
                size = int.from_bytes(fh.read(4), "little")
        except OSError:
            return None
        # A wrapped (>4 GiB) or multi-member size is useless; text never compresses below 1:1.
        return size if size >= self._size else None

    def _estimate(self, seen: int, nbytes: int | None, uncompressed: int | None) -> int | None:
        """Expected number of records in the whole file (for progress bars), from bytes read."""
        if self._exact_total is not None:
            return self._exact_total
        if not nbytes or not uncompressed:
            return None
        return max(seen, round(seen * uncompressed / nbytes))

    def _jsonl_items(self, start: int) -> Iterator[_Item]:
        name = self.path
        loads = json.loads
        make = record_from_mapping
        lineno = nbytes = 0
        with open_binary(self.path) as stream:
            try:
                for raw in iter_lines(stream):
                    lineno += 1
                    nbytes += len(raw) + 1
                    if lineno <= start or not raw or raw.isspace():
                        continue
                    try:
                        obj = loads(raw)
                    except UnicodeDecodeError as exc:
                        raise InputError(
                            f"{name}:{lineno}: not UTF-8 text (byte {exc.start + 1} of the line)"
                        ) from None
                    except ValueError as exc:
                        raise InputError(
                            f"{name}:{lineno}: invalid JSON: {_json_reason(exc)}"
                        ) from None
                    if type(obj) is not dict:
                        raise InputError(
                            f"{name}:{lineno}: expected a JSON object, got {json_type(obj)}"
                        )
                    try:
                        record = make(obj)
                    except FieldError as exc:
                        raise InputError(f"{name}:{lineno}: {exc}") from None
                    yield lineno, nbytes, record
            except READ_ERRORS as exc:
                raise read_error(self.path, exc, f" after line {lineno}") from None

    def _csv_items(self, start: int) -> Iterator[_Item]:
        name = self.path
        with open_binary(self.path) as stream:
            lines = _TextLines(stream, name)
            try:
                header_line = next(lines, None)
                if header_line is None:
                    return
                delimiter = csv_delimiter(header_line.rstrip("\r\n"))
                if delimiter is None:
                    raise InputError(
                        f"{name}:1: CSV header must name a title or abstract column "
                        f"(found {normalize_space(header_line)[:80]!r})"
                    )
                reader = csv.reader(
                    itertools.chain([header_line], lines), delimiter=delimiter, strict=True
                )
                header = [column.strip().lower() for column in next(reader)]
                row_start = reader.line_num + 1
                for row in reader:
                    line, first = reader.line_num, row_start
                    row_start = line + 1
                    if line <= start or not any(field.strip() for field in row):
                        continue
                    if len(row) != len(header):
                        raise InputError(
                            f"{name}:{first}: expected {len(header)} fields, found {len(row)}"
                        )
                    obj = {key: value for key, value in zip(header, row, strict=True) if value}
                    try:
                        yield line, lines.nbytes, record_from_mapping(obj)
                    except FieldError as exc:
                        raise InputError(f"{name}:{first}: {exc}") from None
            except csv.Error as exc:
                raise InputError(f"{name}:{lines.line}: malformed CSV: {exc}") from None
            except READ_ERRORS as exc:
                raise read_error(self.path, exc, f" after line {lines.line}") from None

    def _bibtex_items(self, start: int) -> Iterator[_Item]:
        data = read_bytes(self.path)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise InputError(f"{self.path}:{line}: not UTF-8 text") from None
        from paperfeed.sources.bibtex import parse_bibtex, record_from_bibtex

        entries = parse_bibtex(text, str(self.path))
        self._exact_total = len(entries)
        for line, entry in entries:
            if line > start:
                yield line, None, record_from_bibtex(entry)


class _TextLines:
    """Decode a binary stream line by line, counting lines and bytes (for errors and progress)."""

    def __init__(self, stream: Any, name: Path) -> None:
        self._lines = iter(stream)
        self.name = name
        self.line = 0
        self.nbytes = 0

    def __iter__(self) -> _TextLines:
        return self

    def __next__(self) -> str:
        raw = next(self._lines)
        self.line += 1
        self.nbytes += len(raw)
        try:
            return raw.decode("utf-8-sig" if self.line == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{self.name}:{self.line}: not UTF-8 text (byte {exc.start + 1} of the line)"
            ) from None


def _json_reason(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at column {exc.colno}"
    return str(exc)
