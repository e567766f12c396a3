"""Open any supported paper file as a Source: the entry point for "import this file".

:func:`open_source` picks the format (given, or detected by
:func:`~paperfeed.sources.formats.detect_format`) and returns
:class:`~paperfeed.sources.files.FileSource` for the line-oriented formats and the
Hugging Face / arXiv parsers (imported lazily: some are slow to import) for the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from paperfeed.errors import InputError, PaperfeedError
from paperfeed.models import PaperRecord
from paperfeed.sources.base import Source, SourceBatch
from paperfeed.sources.formats import (
    FILE_FORMATS,
    GZIP_MAGIC,
    canonical_format,
    detect_format,
    read_bytes,
    reading,
)


class _ParsedFileSource:
    """A Source over a file that another module parses in one go (HF JSON, OAI-PMH, Atom)."""

    def __init__(
        self,
        path: Path,
        parse: Callable[[bytes], tuple[list[PaperRecord], list[str]]],
        batch_size: int,
    ) -> None:
        self.path = path
        self._parse = parse
        self.batch_size = batch_size
        with reading(path):
            stat = path.stat()
        self.checkpoint_key = f"file:{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"

    def batches(self, resume: dict[str, Any] | None = None) -> Iterator[SourceBatch]:
        done = (resume or {}).get("record", 0)
        if type(done) is not int or done < 0:
            raise InputError(f"{self.checkpoint_key}: bad checkpoint {resume!r}")
        try:
            records, notes = self._parse(read_bytes(self.path))
        except PaperfeedError as exc:  # e.g. SourceError: the parsers speak of "responses"
            raise InputError(f"{self.path}: {exc}") from None
        for begin in range(done, len(records), self.batch_size):
            chunk = records[begin : begin + self.batch_size]
            yield SourceBatch(
                records=chunk,
                checkpoint={"record": begin + len(chunk)},
                total=len(records),
                notes=notes if begin == done else [],
            )


def _parse_hf_daily(body: bytes) -> tuple[list[PaperRecord], list[str]]:
    from paperfeed.sources.huggingface import parse_daily_papers

    return parse_daily_papers(body), []


def _parse_oai(body: bytes) -> tuple[list[PaperRecord], list[str]]:
    from paperfeed.sources.arxiv import parse_oai_response

    page = parse_oai_response(body)
    return page.records, list(page.notes)


def _parse_atom(body: bytes) -> tuple[list[PaperRecord], list[str]]:
    from paperfeed.sources.arxiv import parse_atom_feed

    page = parse_atom_feed(body)
    return page.records, list(page.notes)


def _parse_page_text(path: Path) -> Callable[[bytes], tuple[list[PaperRecord], list[str]]]:
    def parse(body: bytes) -> tuple[list[PaperRecord], list[str]]:
        from paperfeed.sources.hf_pages import parse_page_text

        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError(f"not UTF-8 text (byte {exc.start})") from None
        parsed = parse_page_text(text, page_name=path.name)
        return parsed.records, [*parsed.warnings]

    return parse


def open_source(path: str | Path, format: str | None = None, *, batch_size: int = 1000) -> Source:
    """A Source for any supported paper file; ``format`` (a name in :data:`FORMATS`) or detect.

    Raises :class:`InputError` for an unknown format name or an unreadable or
    unrecognised file.
    """
    path = Path(path)
    fmt = canonical_format(format) or detect_format(path)
    if fmt in FILE_FORMATS:
        from paperfeed.sources.files import FileSource

        return FileSource(path, fmt, batch_size=batch_size)
    if fmt == "hf-page":
        with reading(path), path.open("rb") as fh:
            gzipped = fh.read(2) == GZIP_MAGIC
        if not gzipped:
            from paperfeed.sources.hf_pages import PageTextSource

            return PageTextSource([path])
        return _ParsedFileSource(path, _parse_page_text(path), batch_size)
    parsers = {"hf-daily-json": _parse_hf_daily, "oai-pmh": _parse_oai, "atom": _parse_atom}
    return _ParsedFileSource(path, parsers[fmt], batch_size)
