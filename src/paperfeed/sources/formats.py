"""Recognise what kind of paper file a user handed us, by its content, and read it.

Extensions lie (``papers.json`` holding JSON Lines, ``export.txt`` holding
BibTeX, ``.gz`` on anything), so :func:`detect_format` reads the first
:data:`HEAD_BYTES` bytes (gunzipped when the file starts with the gzip magic
bytes) and decides from those. Everything that reads a file's bytes goes
through :func:`open_binary` / :func:`read_bytes`, so gzip works for every format.

:func:`paperfeed.sources.importers.open_source` is the entry point for "import
this file": it opens a Source for any format named here.
"""

from __future__ import annotations

import csv
import gzip
import json
import queue
import re
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from paperfeed.errors import InputError

#: ``PaperRecord.source`` of the records read from files.
SOURCE = "file"

GZIP_MAGIC = b"\x1f\x8b"
# Enough to hold the first record of any format we know (HF daily entries are ~5 KB).
HEAD_BYTES = 64 * 1024

# Canonical format names, in the order the CLI lists them.
CANONICAL_FORMATS = ("jsonl", "csv", "bibtex", "hf-daily-json", "oai-pmh", "atom", "hf-page")
FORMAT_ALIASES: dict[str, str] = {
    "ndjson": "jsonl",
    "json-lines": "jsonl",
    "tsv": "csv",  # the CSV reader picks the delimiter from the header row
    "bib": "bibtex",
    "hf-json": "hf-daily-json",
    "oai": "oai-pmh",
    "arxiv-atom": "atom",
    "text": "hf-page",
    "txt": "hf-page",
}
#: Every name ``--format`` accepts; ``auto`` (like ``None``) means "detect from content".
FORMATS: tuple[str, ...] = ("auto", *CANONICAL_FORMATS, *FORMAT_ALIASES)

#: Formats read line by line by :class:`~paperfeed.sources.files.FileSource`.
FILE_FORMATS = ("jsonl", "csv", "bibtex")

# A CSV header must name one of these (after lower-casing) to count as a paper table.
CSV_TEXT_COLUMNS = frozenset({"title", "abstract", "summary"})
CSV_DELIMITERS = (",", "\t", ";")

_XML_PROLOGUE_RE = re.compile(r"<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>\[]*(?:\[.*?\])?\s*>", re.S | re.I)
_XML_ROOT_RE = re.compile(r"<(?:[A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*)")
_BIBTEX_START_RE = re.compile(r"@[A-Za-z]+\s*[{(]")
_HF_PAPER_KEY_RE = re.compile(r'^\[\s*\{.{0,200}?"paper"\s*:\s*\{', re.S)


def canonical_format(name: str | None) -> str | None:
    """The canonical name for ``name`` (an alias or canonical name); None for auto-detect."""
    if name is None:
        return None
    key = name.strip().lower()
    if key == "auto":
        return None
    if key in CANONICAL_FORMATS:
        return key
    if key in FORMAT_ALIASES:
        return FORMAT_ALIASES[key]
    raise InputError(f"Unknown format {name!r}; choose one of: {', '.join(FORMATS)}")


def open_binary(path: Path) -> BinaryIO:
    """``path`` opened for reading bytes, transparently gunzipped if it is gzip data."""
    with reading(path):
        fh = path.open("rb")
        try:
            magic = fh.read(2)
            fh.seek(0)
        except OSError:
            fh.close()
            raise
    if magic == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=fh, mode="rb")  # type: ignore[return-value]
    return fh


def read_bytes(path: Path, limit: int | None = None) -> bytes:
    """The (gunzipped) content of ``path``, or its first ``limit`` bytes."""
    with open_binary(path) as stream, reading(path):
        return stream.read() if limit is None else stream.read(limit)


def iter_lines(stream: BinaryIO, *, chunk_size: int = 1 << 20) -> Iterator[bytes]:
    """The lines of ``stream`` split on ``\\n``, without the newline.

    Reading in big chunks and splitting in C beats ``readline`` per line. A gzip
    stream is read and decompressed by a background thread: zlib releases the
    GIL, so on a 2-core box decompression runs beside the parsing instead of
    before it. Errors from the thread are raised here, in the caller's thread.
    """
    chunks = _prefetched(stream, chunk_size) if isinstance(stream, gzip.GzipFile) else None
    pending = b""
    while True:
        data = next(chunks, b"") if chunks is not None else stream.read(chunk_size)
        if not data:
            break
        lines = (pending + data).split(b"\n") if pending else data.split(b"\n")
        pending = lines.pop()
        yield from lines
    if pending:
        yield pending


def _prefetched(stream: BinaryIO, chunk_size: int, depth: int = 4) -> Iterator[bytes]:
    """Chunks of ``stream`` read ahead by a daemon thread (at most ``depth`` waiting)."""
    chunks: queue.Queue[bytes | BaseException] = queue.Queue(depth)
    stop = threading.Event()

    def put(item: bytes | BaseException) -> None:
        while not stop.is_set():
            try:
                chunks.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def run() -> None:
        try:
            while not stop.is_set():
                data = stream.read(chunk_size)
                put(data)
                if not data:
                    return
        except BaseException as exc:  # handed to the consumer, which raises it
            put(exc)

    thread = threading.Thread(target=run, name="paperfeed-file-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = chunks.get()
            if isinstance(item, BaseException):
                raise item
            yield item
            if not item:
                return
    finally:
        # The caller closes the stream after us: the thread must be off it by then.
        stop.set()
        thread.join()


def read_error(path: Path, exc: BaseException, where: str = "") -> InputError:
    """A one-line :class:`InputError` for an OS error or corrupt gzip data met reading ``path``.

    ``where`` (e.g. ``" after line 17"``) says how far reading got.
    """
    if isinstance(exc, IsADirectoryError):
        return InputError(f"{path}: is a directory, not a file")
    # BadGzipFile is an OSError, so it is checked before OSError.
    if isinstance(exc, gzip.BadGzipFile | zlib.error | EOFError):
        detail = str(exc) or "unexpected end of data"
        return InputError(f"{path}: corrupt gzip data{where}: {detail}")
    if isinstance(exc, OSError):
        return InputError(f"{path}: cannot read{where}: {exc.strerror or exc}")
    return InputError(f"{path}: cannot read{where}: {exc}")


#: What :func:`read_error` translates.
READ_ERRORS = (OSError, EOFError, zlib.error)


@contextmanager
def reading(path: Path, where: str = "") -> Iterator[None]:
    """Raise :func:`read_error` for OS errors and corrupt gzip data inside the block."""
    try:
        yield
    except READ_ERRORS as exc:
        raise read_error(path, exc, where) from None


def _head_text(path: Path) -> tuple[str, bool]:
    """The decoded first :data:`HEAD_BYTES` of ``path``, stripped, and whether there is more."""
    head = read_bytes(path, HEAD_BYTES)
    if not head.strip():
        raise InputError(f"{path}: file is empty")
    if b"\x00" in head:
        # UTF-16/32 text also lands here; we only read UTF-8.
        raise InputError(f"{path}: binary data, not a text file (paper files must be UTF-8 text)")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The head may end in the middle of a multi-byte character; that is not an error.
        if len(head) == HEAD_BYTES and exc.start >= len(head) - 3:
            text = head[: exc.start].decode("utf-8")
        else:
            line = head.count(b"\n", 0, exc.start) + 1
            raise InputError(f"{path}:{line}: not UTF-8 text") from None
    return text.lstrip("\ufeff").lstrip(), len(head) == HEAD_BYTES


def detect_format(path: Path) -> str:
    """One of :data:`CANONICAL_FORMATS`, judged from the file's content.

    Raises :class:`InputError` for files that are missing, unreadable, empty,
    binary, or recognisably structured but of no format we read (an RSS feed,
    a JSON array of something else).
    """
    path = Path(path)
    text, truncated = _head_text(path)
    first = text[0]
    if first == "<":
        return _detect_xml(path, text)
    # "[" also starts TOML/INI sections and bracketed notes: only JSON goes the JSON way.
    if first == "[" and (
        text[1:].lstrip()[:1] in ("{", "]") or (not truncated and _parses_as_json(text))
    ):
        return _detect_json_array(path, text, truncated)
    if first == "{":
        return _detect_json_object(path, text, truncated)
    if _is_bibtex(text):
        return "bibtex"
    if _is_csv_header(text.split("\n", 1)[0]):
        return "csv"
    return "hf-page"


def _detect_xml(path: Path, text: str) -> str:
    body = _XML_PROLOGUE_RE.sub("", text).lstrip()
    match = _XML_ROOT_RE.match(body)
    root = match.group(1) if match else ""
    if root == "OAI-PMH":
        return "oai-pmh"
    if root == "feed":
        return "atom"
    if root.lower() == "html":
        # A saved web page: the page-text parser is the only reader that may make sense of it.
        return "hf-page"
    shown = f"<{root}>" if root else "unknown"
    raise InputError(
        f"{path}: XML with root element {shown} is not a supported format "
        "(expected an OAI-PMH response or an Atom feed)"
    )


def _detect_json_array(path: Path, text: str, truncated: bool) -> str:
    decoder = json.JSONDecoder()
    index = 1
    while index < len(text) and text[index].isspace():
        index += 1
    if index < len(text) and text[index] == "]":
        return "hf-daily-json"  # an empty daily-papers response (a day without papers)
    try:
        first, _ = decoder.raw_decode(text, index)
    except ValueError as exc:
        if truncated and _HF_PAPER_KEY_RE.match(text):
            return "hf-daily-json"  # first entry is longer than the head we read
        if truncated:
            raise InputError(f"{path}: JSON array whose first entry is not recognised") from None
        raise InputError(f"{path}: invalid JSON: {_json_reason(exc)}") from None
    if isinstance(first, dict) and isinstance(first.get("paper"), dict):
        return "hf-daily-json"
    raise InputError(
        f'{path}: JSON array of {json_type(first)} values without a "paper" object is not a '
        "supported format (expected a Hugging Face daily_papers response, or JSON Lines)"
    )


def _detect_json_object(path: Path, text: str, truncated: bool) -> str:
    line, newline, _ = text.partition("\n")
    if not newline and truncated:
        return "jsonl"  # one very long first line: only JSON Lines does that
    try:
        json.loads(line)
    except ValueError:
        if line.strip() == "{" or (not truncated and _parses_as_json(text)):
            raise InputError(
                f"{path}: a single JSON document, not JSON Lines (one JSON object per line)"
            ) from None
        return "jsonl"  # a broken first line: the JSONL reader reports it with its line number
    return "jsonl"  # a line starting with "{" that parses is a JSON object


def _parses_as_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _is_bibtex(text: str) -> bool:
    """True if the first line that is not blank or a ``%`` comment starts a BibTeX entry."""
    for line in text.split("\n", 200):
        stripped = line.strip()
        if not stripped or stripped.startswith("%"):
            continue
        return _BIBTEX_START_RE.match(stripped) is not None
    return False


def csv_delimiter(header_line: str) -> str | None:
    """The delimiter that splits ``header_line`` into a paper-table header, if any."""
    for delimiter in CSV_DELIMITERS:
        if delimiter not in header_line:
            continue
        try:
            names = next(csv.reader([header_line], delimiter=delimiter))
        except (csv.Error, StopIteration):
            continue
        columns = {name.strip().lstrip("\ufeff").lower() for name in names}
        if len(names) >= 2 and columns & CSV_TEXT_COLUMNS:
            return delimiter
    return None


def _is_csv_header(line: str) -> bool:
    return csv_delimiter(line.rstrip("\r")) is not None


def _json_reason(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    return str(exc)


def json_type(value: object) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(
        type(value), "number" if isinstance(value, int | float) else "null"
    )


# ----------------------------------------------------------------------------- opening any file
