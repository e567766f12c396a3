"""File imports: JSONL / CSV / BibTeX parsing, format detection, checkpoints and errors.

Fixtures live in tests/fixtures/files/: ``arxiv-cs-20.jsonl`` is 20 real lines of
the arxiv-cs JSONL dump (lines 1-18, 35 and 169), the rest are written by hand.
"""

from __future__ import annotations

import gzip
import json
import shutil
import threading
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from paperfeed.errors import InputError
from paperfeed.models import PaperRecord, normalize_abstract
from paperfeed.sources.bibtex import delatex_text
from paperfeed.sources.files import (
    FORMATS,
    FileSource,
    _clean_abstract,
    detect_format,
    record_from_mapping,
)
from paperfeed.sources.formats import (
    CANONICAL_FORMATS,
    HEAD_BYTES,
    canonical_format,
    iter_lines,
    open_binary,
)
from paperfeed.sources.importers import open_source
from paperfeed.sources.links import find_code_url, find_project_url, links_in_prose

FILES = Path(__file__).resolve().parent.parent / "fixtures" / "files"
JSONL = FILES / "arxiv-cs-20.jsonl"
JSONL_GZ = FILES / "arxiv-cs-20.jsonl.gz"


def records(source: FileSource, resume: dict | None = None) -> list[PaperRecord]:
    return [r for batch in source.batches(resume) for r in batch.records]


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    return path


def gzipped(path: Path, data: bytes) -> Path:
    path.write_bytes(gzip.compress(data, mtime=0))
    return path


# ----------------------------------------------------------------------------- JSONL


def test_jsonl_first_record_has_every_field() -> None:
    first = records(FileSource(JSONL))[0]
    assert first.source == "file"
    assert first.arxiv_id == "2503.11731"
    assert first.version is None
    assert first.title == (
        "Industrial-Grade Sensor Simulation via Gaussian Splatting: A Modular Framework "
        "for Scalable Editing and Full-Stack Validation"
    )
    assert first.abstract.startswith(
        "Sensor simulation is pivotal for scalable validation of autonomous driving systems, "
        "yet existing"
    )
    assert "\n" not in first.abstract
    assert first.abstract.endswith(
        "establishing GS as a cornerstone for industrial-grade sensor simulation."
    )
    assert len(first.authors) == 16
    assert first.authors[:2] == ["Xianming Zeng", "Sicong Du"]
    assert first.authors[-1] == "Qiang Li"
    assert first.categories == ["cs.CV", "cs.RO"]
    assert first.listed_on == date(2025, 3, 18)
    assert first.comments is None
    assert first.abs_url == "https://arxiv.org/abs/2503.11731"
    assert first.pdf_url == "https://arxiv.org/pdf/2503.11731"
    assert first.code_url is None and first.project_url is None
    assert first.published_at is None and first.updated_at is None
    assert first.doi is None and first.journal_ref is None
    assert first.facts is None


def test_jsonl_excerpt_links_comments_and_paragraphs() -> None:
    by_id = {r.arxiv_id: r for r in records(FileSource(JSONL))}
    assert len(by_id) == 20
    assert by_id["2503.11742"].authors[0] == "Moreno D'Incà"
    assert by_id["2503.11742"].comments == "Work in progress"
    # Comments keep their text but lose arXiv's hard wrap.
    assert by_id["2503.11807"].comments == (
        "Accepted In IEEE India Geoscience and Remote Sensing Symposium (InGARSS) 2024"
    )
    assert by_id["2503.11781"].code_url == "https://github.com/gosha20777/cmKAN"
    decalign = by_id["2503.11892"]
    assert decalign.code_url == "https://github.com/taco-group/DecAlign"
    assert decalign.project_url == "https://taco-group.github.io/DecAlign"
    # An indented line starts a new paragraph in arXiv abstracts.
    assert "limiting their effectiveness in self-supervised settings.\n\nTo this end, we" in (
        by_id["2503.12026"].abstract
    )
    assert (
        by_id["2503.12827"].title == "GSBAK$^K$: $top$-$K$ Geometric Score-based Black-box Attack"
    )
    assert by_id["2503.11794"].categories == ["cs.CV", "cs.AI", "cs.CL", "cs.LG"]


def test_gzip_and_plain_give_identical_records() -> None:
    plain = records(FileSource(JSONL))
    assert records(FileSource(JSONL_GZ)) == plain
    assert len(plain) == 20


def test_gzip_is_detected_by_content_not_extension(tmp_path: Path) -> None:
    gz_named_txt = shutil.copy(JSONL_GZ, tmp_path / "papers.txt")
    plain_named_gz = shutil.copy(JSONL, tmp_path / "papers.jsonl.gz")
    assert detect_format(Path(gz_named_txt)) == "jsonl"
    assert detect_format(Path(plain_named_gz)) == "jsonl"
    expected = records(FileSource(JSONL))
    assert records(FileSource(gz_named_txt)) == expected
    assert records(FileSource(plain_named_gz)) == expected


def test_kaggle_snapshot_fields() -> None:
    first, old_style = records(FileSource(FILES / "kaggle-snapshot.jsonl"))
    assert first.arxiv_id == "0704.0001"
    assert first.version == 2
    assert first.title == (
        "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    )
    assert first.abstract.startswith("A fully differential calculation in perturbative")
    assert first.abstract.endswith("next-to-next-to-leading logarithmic accuracy.")
    # The authors string is split as the arXiv source splits it, LaTeX accents resolved.
    assert first.authors == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C.-P. Yuan"]
    assert first.categories == ["hep-ph"]
    assert first.published_at == datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC)
    assert first.updated_at == datetime(2007, 7, 24, 20, 10, 27, tzinfo=UTC)
    assert first.comments == "37 pages, 15 figures; published version"
    assert first.journal_ref == "Phys.Rev.D76:013009,2007"
    assert first.doi == "10.1103/PhysRevD.76.013009"
    assert first.facts is not None
    assert (first.facts.source, first.facts.submitter) == ("file", "Pavel Nadolsky")

    assert old_style.arxiv_id == "hep-th/9901001"
    assert old_style.version == 1
    assert old_style.authors == ["A. Author", "B. Bauthor"]
    assert old_style.categories == ["hep-th", "math-ph", "math.MP"]
    assert old_style.abs_url == "https://arxiv.org/abs/hep-th/9901001"
    assert old_style.facts is None  # "submitter": null


def test_kaggle_authors_parsed_is_used_without_an_authors_string() -> None:
    record = record_from_mapping(
        {"title": "T", "authors_parsed": [["Bal\\'azs", "C.", ""], ["Smith", "John", "Jr"]]}
    )
    assert record is not None
    assert record.authors == ["C. Balázs", "John Smith Jr"]


def test_aliases_and_skipped_records() -> None:
    source = FileSource(FILES / "aliases.jsonl")
    batches = list(source.batches())
    assert len(batches) == 1
    mistral, doi_only, attention, title_only = batches[0].records

    assert mistral.arxiv_id == "2310.06825" and mistral.version == 2
    assert mistral.abstract == (
        "We introduce Mistral 7B, a 7-billion-parameter language model engineered for "
        "superior performance and efficiency."
    )
    assert mistral.authors == ["Albert Q. Jiang", "Alexandre Sablayrolles", "Arthur Mensch"]
    assert mistral.categories == ["cs.CL", "cs.AI"]
    assert mistral.published_at == datetime(2023, 10, 10, 17, 54, 58, tzinfo=UTC)
    assert mistral.updated_at == datetime(2023, 10, 12, 6, 0, tzinfo=UTC)  # +02:00 -> UTC
    assert mistral.listed_on == date(2023, 10, 11)
    assert mistral.comments == "Models and code are available"
    assert mistral.code_url == "https://github.com/mistralai/mistral-src"

    assert doi_only.arxiv_id is None
    assert doi_only.doi == "10.1145/3292500.3330701"
    assert doi_only.abs_url == "https://dl.acm.org/doi/10.1145/3292500.3330701"
    assert doi_only.pdf_url is None
    assert doi_only.authors == ["Jane Roe", "John Doe"]
    assert doi_only.journal_ref == "KDD 2019"
    assert doi_only.published_at == datetime(2019, 7, 25, tzinfo=UTC)
    assert doi_only.updated_at == datetime(2019, 8, 1, tzinfo=UTC)

    assert (attention.arxiv_id, attention.version) == ("1706.03762", 7)  # from the abs URL
    assert attention.abs_url == "https://arxiv.org/abs/1706.03762"
    assert attention.code_url == "https://github.com/tensorflow/tensor2tensor"

    assert title_only.arxiv_id == "2401.00001"  # from the arXiv DOI
    assert title_only.doi == "10.48550/arXiv.2401.00001"
    assert title_only.abstract == ""
    assert title_only.categories == ["cs.LG", "stat.ML"]

    assert source.skipped == 1
    assert batches[0].notes == [
        f"{FILES / 'aliases.jsonl'}: skipped 1 record(s) without title or abstract (line 5)"
    ]
    assert batches[0].checkpoint == {"line": 6}


# ----------------------------------------------------------------------------- batches, resume


@pytest.mark.parametrize("path", [JSONL, JSONL_GZ], ids=["plain", "gzip"])
def test_batches_checkpoints_and_resume(path: Path) -> None:
    source = FileSource(path, batch_size=7)
    batches = list(source.batches())
    assert [len(b.records) for b in batches] == [7, 7, 6]
    assert [b.checkpoint for b in batches] == [{"line": 7}, {"line": 14}, {"line": 20}]
    assert batches[-1].total == 20
    for batch in batches:
        assert json.loads(json.dumps(batch.checkpoint)) == batch.checkpoint

    everything = [r for b in batches for r in b.records]
    resumed = list(FileSource(path, batch_size=7).batches(batches[1].checkpoint))
    assert [r for b in resumed for r in b.records] == everything[14:]
    assert resumed[-1].checkpoint == {"line": 20}
    assert list(FileSource(path).batches({"line": 20})) == []


def test_total_is_estimated_from_bytes_then_exact() -> None:
    for path in (JSONL, JSONL_GZ):
        totals = [b.total for b in FileSource(path, batch_size=5).batches()]
        assert totals[0] is not None and 12 <= totals[0] <= 30
        assert totals[-1] == 20


def test_checkpoint_key_names_path_size_and_mtime(tmp_path: Path) -> None:
    path = Path(shutil.copy(JSONL, tmp_path / "papers.jsonl"))
    stat = path.stat()
    key = FileSource(path).checkpoint_key
    assert key == f"file:{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    with path.open("a") as fh:
        fh.write("\n")
    assert FileSource(path).checkpoint_key != key


@pytest.mark.parametrize("bad", [{"line": -1}, {"line": "7"}, {"line": True}, {"row": 3}])
def test_bad_checkpoint_is_refused(bad: dict) -> None:
    with pytest.raises(InputError, match="bad checkpoint"):
        list(FileSource(JSONL).batches(bad))


def test_batch_size_must_be_positive() -> None:
    with pytest.raises(ValueError):
        FileSource(JSONL, batch_size=0)


# ----------------------------------------------------------------------------- CSV


def test_csv_fields_author_styles_and_paragraphs() -> None:
    source = FileSource(FILES / "papers.csv")
    assert source.format == "csv"
    batches = list(source.batches())
    first, second, third = batches[0].records
    assert first.arxiv_id == "2503.11731" and first.version is None
    assert first.title == "Industrial-Grade Sensor Simulation via Gaussian Splatting"
    assert first.authors == ["Xianming Zeng", "Sicong Du", "Qifeng Chen"]  # ";" separated
    assert first.categories == ["cs.CV", "cs.RO"]  # space separated
    assert first.comments is None
    assert first.abstract == (
        "Sensor simulation is pivotal for scalable validation of autonomous driving systems."
        "\n\nA second paragraph, indented."
    )
    assert first.listed_on == date(2025, 3, 18)

    assert (second.arxiv_id, second.version) == ("2503.11742", 2)
    assert second.authors == ["Moreno D'Incà", "Elia Peruzzo"]  # a JSON list in a cell
    assert second.categories == ["cs.CV", "cs.AI"]  # comma separated
    assert second.comments == "Work in progress"

    assert third.arxiv_id is None and third.abs_url is None
    assert third.title == "A title-only paper"
    assert third.authors == ["Ann Author", "Bob Builder", "Cy Coder"]  # "A, B and C"
    assert third.code_url == "https://github.com/o/r"

    assert source.skipped == 1
    assert batches[0].notes[0].endswith("skipped 1 record(s) without title or abstract (line 8)")
    assert batches[0].checkpoint == {"line": 9}


def test_csv_resume_after_a_multiline_row() -> None:
    source = FileSource(FILES / "papers.csv", batch_size=1)
    batches = list(source.batches())
    # The first row spans lines 2-5: its checkpoint is the line that ends it.
    assert [b.checkpoint for b in batches] == [{"line": 5}, {"line": 6}, {"line": 9}]
    resumed = records(FileSource(FILES / "papers.csv"), {"line": 5})
    assert [r.title for r in resumed] == [
        "Safe Vision-Language Models via Unsafe Weights Manipulation",
        "A title-only paper",
    ]


def test_tsv_with_bom_and_gzip(tmp_path: Path) -> None:
    text = "\ufeffTitle\tAbstract\tAuthors\nA tab paper\tTabs separate fields.\tAnn Author; Bob B\n"
    path = gzipped(tmp_path / "papers.tsv", text.encode("utf-8"))
    assert detect_format(path) == "csv"
    (record,) = records(FileSource(path))
    assert record.title == "A tab paper"
    assert record.abstract == "Tabs separate fields."
    assert record.authors == ["Ann Author", "Bob B"]


# ----------------------------------------------------------------------------- BibTeX


def test_bibtex_entries() -> None:
    source = FileSource(FILES / "refs.bib")
    assert source.format == "bibtex"
    (batch,) = list(source.batches())
    vaswani, devlin, goedel, mistral = batch.records

    assert vaswani.title == "Attention Is All You Need"
    assert (vaswani.arxiv_id, vaswani.version) == ("1706.03762", 7)
    assert vaswani.authors == ["Ashish Vaswani", "Noam Shazeer", "Niki Parmar"]  # "and others"
    assert vaswani.categories == ["cs.CL"]
    assert vaswani.abstract == (
        "The dominant sequence transduction models are based on complex recurrent or "
        "convolutional neural networks."
    )
    assert vaswani.published_at == datetime(2017, 1, 1, tzinfo=UTC)
    assert vaswani.journal_ref == "Advances in Neural Information Processing Systems 30 (2017)"
    assert vaswani.abs_url == "https://arxiv.org/abs/1706.03762"
    assert vaswani.pdf_url == "https://arxiv.org/pdf/1706.03762"

    assert devlin.title == (
        "BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding"
    )
    assert devlin.authors == ["Jacob Devlin", "Ming-Wei Chang", "Kenton Lee", "Kristina Toutanova"]
    assert devlin.arxiv_id is None
    assert devlin.doi == "10.18653/v1/N19-1423"
    assert devlin.published_at == datetime(2019, 6, 1, tzinfo=UTC)  # month = jun
    assert devlin.journal_ref == "Proceedings of NAACL-HLT, 4171\u20134186 (2019)"
    assert devlin.code_url == "https://github.com/google-research/bert"
    assert devlin.abs_url is None

    assert goedel.title == (
        "Über formal unentscheidbare Sätze der Principia Mathematica und verwandter Systeme I"
    )
    assert goedel.authors == ["Kurt Gödel"]
    assert goedel.journal_ref == "Monatshefte für Mathematik und Physik 38, 173\u2013198 (1931)"
    assert goedel.comments == "Reprinted in many places"
    assert goedel.published_at == datetime(1931, 1, 1, tzinfo=UTC)

    # Google Scholar style: the arXiv id hides in "journal", which is then no venue.
    assert mistral.arxiv_id == "2310.06825"
    assert mistral.journal_ref is None
    assert mistral.title == "Mistral 7B: small, fast & $O(n)$ memory"
    assert mistral.authors == ["Albert Q. Jiang", "Alexandre Sablayrolles", "Arthur de la Mensch"]

    assert source.skipped == 1
    assert batch.notes[0].endswith("skipped 1 record(s) without title or abstract (line 38)")
    assert batch.total == 5


def test_bibtex_checkpoints_are_entry_lines_and_resume() -> None:
    batches = list(FileSource(FILES / "refs.bib", batch_size=2).batches())
    assert [b.checkpoint for b in batches] == [{"line": 17}, {"line": 40}]
    resumed = records(FileSource(FILES / "refs.bib"), {"line": 17})
    assert [r.title[:12] for r in resumed] == ["Über formal ", "Mistral 7B: "]


@pytest.mark.parametrize(
    ("latex", "plain"),
    [
        ("Attention Is {{All}} You Need: \\emph{Really}", "Attention Is All You Need: Really"),
        ("{\\'E}l{\\`e}ve and \\textbf{bold} -- dash", "Élève and bold \u2013 dash"),
        ('Na\\"{\\i}ve B{\\"o}hm {\\ss} \\c{c} {\\o}', "Naïve Böhm ß ç ø"),
        ("Self-{Attention} with $O(n^2)$~cost", "Self-Attention with $O(n^2)$ cost"),
        ("Costs 5\\$ and 10\\% \\& more", "Costs 5$ and 10% & more"),
        ("The \\LaTeX{} book", "The LaTeX book"),
        ("plain  text\n wrapped", "plain text wrapped"),
    ],
)
def test_delatex_text(latex: str, plain: str) -> None:
    assert delatex_text(latex) == plain


# ----------------------------------------------------------------------------- errors


def test_malformed_json_line_names_file_and_line() -> None:
    path = FILES / "bad-json.jsonl"
    with pytest.raises(InputError) as caught:
        list(FileSource(path).batches())
    message = str(caught.value)
    assert message.startswith(f"{path}:3: invalid JSON: Expecting property name")
    assert message.endswith("at column 72")
    assert "\n" not in message


def test_validate_fails_before_any_record_is_handed_out() -> None:
    bad = FileSource(FILES / "bad-json.jsonl", batch_size=1)
    with pytest.raises(InputError, match=":3: invalid JSON"):
        bad.validate()
    # Batch by batch, the good first line arrives before the error (the caller's transaction
    # decides whether it is kept).
    batches = bad.batches()
    assert [r.title for r in next(batches).records] == ["Fine"]
    with pytest.raises(InputError, match=":3: invalid JSON"):
        next(batches)
    assert FileSource(JSONL).validate() == 20


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("[1, 2]", ":2: expected a JSON object, got array"),
        ('{"title": ["a"]}', ":2: 'title' must be a string, not array"),
        ('{"title": "T", "listing_date": "2025-13-45"}', ":2: invalid listing_date '2025-13-45'"),
        ('{"title": "T", "published": "last week"}', ":2: invalid published 'last week'"),
        ('{"title": "T", "authors": 7}', ":2: 'authors' must be an array or a string, not number"),
        ('{"title": "T", "categories": [1]}', ":2: 'categories' entries must be strings"),
        ('{"title": "T", "versions": [{"version": "vX"}]}', ":2: bad entry in 'versions'"),
    ],
)
def test_bad_values_name_the_line(tmp_path: Path, line: str, message: str) -> None:
    path = write(tmp_path / "papers.jsonl", '{"title": "Fine"}\n' + line + "\n")
    with pytest.raises(InputError) as caught:
        list(FileSource(path).batches())
    assert str(caught.value).startswith(f"{path}{message}")


def test_invalid_utf8_line(tmp_path: Path) -> None:
    path = write(tmp_path / "papers.jsonl", b'{"title": "ok"}\n{"title": "caf\xe9"}\n')
    # Detection reads the head and spots it; past the head, the reader does.
    with pytest.raises(InputError, match=r"papers\.jsonl:2: not UTF-8 text"):
        FileSource(path)
    with pytest.raises(
        InputError, match=r"papers\.jsonl:2: not UTF-8 text \(byte 15 of the line\)"
    ):
        list(FileSource(path, format="jsonl").batches())


def test_truncated_gzip_names_how_far_it_got(tmp_path: Path) -> None:
    # ~7 MB, cut halfway: past the first 1 MiB chunk the reader thread decompresses.
    data = JSONL.read_bytes() * 200
    packed = gzip.compress(data, mtime=0)
    path = write(tmp_path / "cut.jsonl.gz", packed[: len(packed) // 2])
    with pytest.raises(InputError) as caught:
        list(FileSource(path, format="jsonl").batches())
    message = str(caught.value)
    assert message.startswith(f"{path}: corrupt gzip data after line ")
    assert int(message.split("after line ")[1].split(":")[0]) > 1


def test_csv_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"bad-fields\.csv:3: expected 3 fields, found 4"):
        list(FileSource(FILES / "bad-fields.csv").batches())
    unclosed = write(
        tmp_path / "unclosed.csv", 'title,abstract\nFine,ok\n"Open quote,never closed\n'
    )
    with pytest.raises(InputError, match=r"unclosed\.csv:\d+: malformed CSV"):
        list(FileSource(unclosed).batches())
    no_header = write(tmp_path / "numbers.csv", "1,2,3\n4,5,6\n")
    with pytest.raises(InputError, match=r"numbers\.csv:1: CSV header must name a title"):
        list(FileSource(no_header, format="csv").batches())


def test_bibtex_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        list(FileSource(FILES / "bad-entry.bib").batches())
    assert str(caught.value) == (
        f"{FILES / 'bad-entry.bib'}:5: malformed BibTeX entry: "
        "'@article{broken title = {Broken}, year = {2021}}'"
    )
    undefined = write(
        tmp_path / "u.bib", "@article{a, title = {A}}\n\n@misc{b,\n  month = foo,\n}\n"
    )
    with pytest.raises(InputError, match=r"u\.bib:4: undefined BibTeX string 'foo'"):
        list(FileSource(undefined).batches())


def test_filesource_refuses_formats_it_does_not_read() -> None:
    with pytest.raises(InputError, match="use open_source"):
        FileSource(FILES / "daily-papers.json")


# ----------------------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("arxiv-cs-20.jsonl", "jsonl"),
        ("arxiv-cs-20.jsonl.gz", "jsonl"),
        ("aliases.jsonl", "jsonl"),
        ("bad-json.jsonl", "jsonl"),  # a broken line is the reader's to report, with its number
        ("papers.csv", "csv"),
        ("refs.bib", "bibtex"),  # starts with a % comment
        ("bad-entry.bib", "bibtex"),
        ("daily-papers.json", "hf-daily-json"),
        ("oai-listrecords.xml", "oai-pmh"),
        ("atom-query.xml", "atom"),
        ("page-text.txt", "hf-page"),
    ],
)
def test_detect_fixture_formats(name: str, expected: str) -> None:
    assert detect_format(FILES / name) == expected


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('[\n  {"paper": {"id": "2410.17243"}, "title": "x"}\n]', "hf-daily-json"),
        ("[]", "hf-daily-json"),
        ("<!DOCTYPE html>\n<html><body>Daily Papers</body></html>", "hf-page"),
        ("[build-system]\nrequires = []\n", "hf-page"),  # brackets, but not JSON
        ("\n\n  @Article{key,\n title={T}}\n", "bibtex"),
        ("<?xml version='1.0'?>\n<!-- harvested -->\n<OAI-PMH xmlns='x'></OAI-PMH>", "oai-pmh"),
        ("<atom:feed xmlns:atom='http://www.w3.org/2005/Atom'></atom:feed>", "atom"),
        ("Title;Abstract\nA;B\n", "csv"),
        ("Just some copied text, with a comma.\nAnd more.\n", "hf-page"),
    ],
)
def test_detect_small_contents(tmp_path: Path, content: str, expected: str) -> None:
    path = write(tmp_path / "input.dat", content)
    assert detect_format(path) == expected
    assert detect_format(gzipped(tmp_path / "input.gz", content.encode())) == expected


def test_detect_looks_past_a_head_cut_inside_the_first_record(tmp_path: Path) -> None:
    long_summary = "word " * (HEAD_BYTES // 4)
    entry = {"paper": {"id": "2410.17243", "summary": long_summary}}
    assert detect_format(write(tmp_path / "d.json", json.dumps([entry]))) == "hf-daily-json"
    line = json.dumps({"title": "T", "abstract": long_summary})
    assert detect_format(write(tmp_path / "l.json", line + "\n" + line + "\n")) == "jsonl"
    # A multi-byte character cut by the head is not "binary".
    text = '{"title": "' + "é" * HEAD_BYTES + '"}\n'
    assert detect_format(write(tmp_path / "u.jsonl", text)) == "jsonl"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "file is empty"),
        (b"  \n\n", "file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary data"),
        (b"cafe\ncaf\xe9 au lait\n", ":2: not UTF-8 text"),
        (b"<rss version='2.0'><channel/></rss>", "XML with root element <rss>"),
        (b'[{"id": "2410.17243"}]', 'without a "paper" object'),
        (b"[1, 2, 3]", "JSON array of number values"),
        (b'{\n  "paper": {}\n}\n', "a single JSON document, not JSON Lines"),
    ],
)
def test_detect_refuses_with_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = write(tmp_path / "input.json", content)
    with pytest.raises(InputError) as caught:
        detect_format(path)
    assert message in str(caught.value)
    assert str(caught.value).startswith(str(path))
    assert "\n" not in str(caught.value)


def test_detect_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read: No such file"):
        detect_format(tmp_path / "nope.jsonl")
    with pytest.raises(InputError, match="is a directory"):
        detect_format(tmp_path)
    with pytest.raises(InputError, match="cannot read"):
        open_source(tmp_path / "nope.jsonl")


def test_format_names() -> None:
    assert set(CANONICAL_FORMATS) <= set(FORMATS)
    assert "auto" in FORMATS
    assert len(FORMATS) == len(set(FORMATS))
    for name in FORMATS:
        canonical = canonical_format(name)
        assert canonical is None if name == "auto" else canonical in CANONICAL_FORMATS
    assert canonical_format("NDJSON") == "jsonl"
    assert canonical_format("bib") == "bibtex"
    assert canonical_format(None) is None
    with pytest.raises(InputError, match="Unknown format 'yaml'; choose one of: auto, jsonl"):
        canonical_format("yaml")
    with pytest.raises(InputError, match="Unknown format"):
        open_source(JSONL, format="yaml")


# ----------------------------------------------------------------------------- open_source


def test_open_source_for_line_formats_and_forced_format(tmp_path: Path) -> None:
    for name in ("arxiv-cs-20.jsonl.gz", "papers.csv", "refs.bib"):
        source = open_source(FILES / name)
        assert isinstance(source, FileSource)
    # An explicit format wins over detection: this CSV would be detected as page text.
    headerless = write(tmp_path / "x.txt", "title,abstract\nT,An abstract.\n")
    assert open_source(headerless, "csv").format == "csv"  # type: ignore[attr-defined]
    with pytest.raises(InputError, match=":1: invalid JSON"):
        list(open_source(headerless, "jsonl").batches())


@pytest.mark.parametrize(
    ("name", "source_name", "arxiv_id"),
    [
        ("daily-papers.json", "huggingface", "2410.17243"),
        ("oai-listrecords.xml", "arxiv", "0704.0471"),
        ("atom-query.xml", "arxiv", "2410.19022"),
    ],
)
def test_open_source_delegates_other_formats(
    tmp_path: Path, name: str, source_name: str, arxiv_id: str
) -> None:
    for path in (FILES / name, gzipped(tmp_path / f"{name}.gz", (FILES / name).read_bytes())):
        source = open_source(path)
        assert source.checkpoint_key.startswith(f"file:{path.resolve()}:")
        (batch,) = list(source.batches())
        assert [(r.source, r.arxiv_id) for r in batch.records] == [(source_name, arxiv_id)]
        assert batch.checkpoint == {"record": 1}
        assert batch.total == 1
        assert list(source.batches(batch.checkpoint)) == []


def test_open_source_page_text_plain_and_gzip(tmp_path: Path) -> None:
    plain = open_source(FILES / "page-text.txt")
    plain_records = [r for b in plain.batches() for r in b.records]
    assert plain_records and all(r.source == "hf-page" for r in plain_records)
    packed = gzipped(tmp_path / "page.txt.gz", (FILES / "page-text.txt").read_bytes())
    gz_records = [r for b in open_source(packed).batches() for r in b.records]
    assert [r.abstract for r in gz_records] == [r.abstract for r in plain_records]


def test_open_source_turns_parser_errors_into_input_errors(tmp_path: Path) -> None:
    error_page = write(
        tmp_path / "error.xml",
        '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        '<error code="badVerb">Illegal verb</error></OAI-PMH>',
    )
    with pytest.raises(InputError, match=r"error\.xml: .*badVerb"):
        list(open_source(error_page).batches())


# ----------------------------------------------------------------------------- fast paths


def test_iter_lines_matches_a_plain_split_across_chunk_edges(tmp_path: Path) -> None:
    data = JSONL.read_bytes() + b"last line without newline"
    expected = data.split(b"\n")
    packed = gzipped(tmp_path / "d.gz", data)
    for path in (write(tmp_path / "d.txt", data), packed):
        with open_binary(path) as stream:
            assert list(iter_lines(stream, chunk_size=7)) == expected


def test_iter_lines_reader_thread_stops_when_the_consumer_does(tmp_path: Path) -> None:
    packed = gzipped(tmp_path / "d.gz", JSONL.read_bytes() * 50)
    with open_binary(packed) as stream:
        lines = iter_lines(stream, chunk_size=64)
        next(lines)
        lines.close()  # joins the reader thread before the stream is closed
    assert not [t for t in threading.enumerate() if t.name == "paperfeed-file-reader"]


@pytest.mark.parametrize(
    "text",
    [
        "one line",
        "hard\nwrapped\nlines",
        "  leading and trailing  ",
        "para one\n\npara two",
        "para one\n  indented para",
        "tab\tinside",
        "crlf\r\nline",
        "double  space",
        "non-breaking\u00a0space and caf\u00e9",
        "line\u2028separator",
        "\n",
    ],
)
def test_abstract_fast_path_equals_normalize_abstract(text: str) -> None:
    assert _clean_abstract(text) == normalize_abstract(text)


@pytest.mark.parametrize(
    ("abstract", "comments"),
    [
        ("Code: https://github.com/a/b.", None),
        ("See x\\_github.com/a/b and foo.github.com/c/d", "(github.com/A/B)"),
        ("Both https://gitlab.com/g/sub/repo and https://GitHub.com/o/r/tree/main/x,", None),
        ("Page https://taco-group.github.io/DecAlign/ code github.com/t/d", "also github.com/z/q"),
        ("No links here at all.", "github mentioned without a URL"),
        ("\\url{https://github.com/o/my\\_repo}", None),
        ("a\u00a0github.com/o/r", None),
    ],
)
def test_links_in_prose_equals_the_links_module(abstract: str, comments: str | None) -> None:
    assert links_in_prose(abstract, comments) == (
        find_code_url(abstract, comments),
        find_project_url(abstract, comments),
    )
