"""arXiv OAI-PMH and query-API sources: parsing recorded responses, and fetching them
from a real local HTTP server (tests/support/replay_server.py)."""

from __future__ import annotations

import json
import socket
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from paperfeed.errors import InputError, SourceError
from paperfeed.models import PaperRecord
from paperfeed.sources.arxiv import (
    ArxivAPIError,
    ArxivQuerySource,
    OAIError,
    OAIHarvestSource,
    fetch_arxiv_ids,
    parse_atom_feed,
    parse_oai_response,
    parse_retry_after,
    split_authors,
)
from paperfeed.sources.base import SourceBatch
from paperfeed.sources.links import find_code_url, find_code_urls, find_project_url
from tests.support.replay_server import ReplayServer, Reply

pytest_plugins = ("tests.support.replay_server",)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "arxiv"
OAI = FIXTURES / "oai-pmh"
ATOM = FIXTURES / "atom"


def oai(name: str) -> bytes:
    return (OAI / name).read_bytes()


def atom(name: str) -> bytes:
    return (ATOM / name).read_bytes()


def by_id(records: list[PaperRecord]) -> dict[str, PaperRecord]:
    return {r.arxiv_id or "": r for r in records}


class FakeClock:
    """Injected ``clock``/``sleep`` pair: sleeping advances time instantly and is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


# ============================================================================ OAI-PMH parsing


def test_parse_list_records_arxiv_raw_page() -> None:
    page = parse_oai_response(oai("ListRecordsResponse.xml"))

    assert page.resumption_token == "726959|1001"
    assert page.complete_list_size == 58011
    assert page.cursor == 0
    assert page.max_datestamp == date(2014, 12, 22)
    assert [r.arxiv_id for r in page.records] == [
        "0704.0471", "0704.0716", "0704.0874", "0704.1109", "0704.1114", "0704.1586",
    ]  # fmt: skip

    rec = by_id(page.records)["0704.0716"]
    assert rec.source == "arxiv"
    assert rec.version == 4
    assert rec.title == "Limit distributions and scaling functions"
    assert rec.authors == ["Christoph Richard"]
    assert rec.categories == ["math-ph", "math.MP"]
    assert rec.published_at == datetime(2007, 4, 5, 12, 45, 3, tzinfo=UTC)  # v1
    assert rec.updated_at == datetime(2008, 11, 14, 9, 7, 25, tzinfo=UTC)  # v4
    assert rec.journal_ref == (
        "Polygons, polyominoes and polycubes, 247-299, Lecture Notes in Phys., 775, "
        "Springer, Dordrecht, 2009"
    )
    assert rec.comments == (
        "54 pages, 2 figures; v2 updated and slightly expanded; v3 changes in some proofs; "
        "v4 slightly expanded"
    )
    assert rec.doi is None
    assert rec.abstract.startswith("We discuss the asymptotic behaviour of models of lattice")
    assert rec.abstract.endswith("this article is a pedagogic review of known results.")
    assert "\n" not in rec.abstract  # hard wraps joined
    assert rec.abs_url == "https://arxiv.org/abs/0704.0716"
    assert rec.pdf_url == "https://arxiv.org/pdf/0704.0716"
    assert rec.listed_on is None  # the datestamp is a last-modified date, not a listing date
    assert rec.code_url is None
    assert rec.facts is not None
    assert (rec.facts.source, rec.facts.external_id, rec.facts.submitter) == (
        "arxiv", "0704.0716", "Christoph Richard",
    )  # fmt: skip


def test_parse_arxiv_raw_authors_doi_and_entities() -> None:
    records = by_id(parse_oai_response(oai("ListRecordsResponse.xml")).records)

    shetty = records["0704.0471"]
    assert shetty.authors == ["D.V. Shetty", "S.J. Yennello", "G.A. Souliotis"]  # "A, B, and C"
    assert shetty.doi == "10.1103/PhysRevC.76.024606"  # first of two space-separated DOIs
    assert shetty.categories == ["nucl-ex", "nucl-th"]
    assert shetty.version == 1
    assert shetty.published_at == shetty.updated_at == datetime(2007, 4, 3, 22, 4, 11, tzinfo=UTC)
    assert 'rules out an extremely " stiff " and " soft " form' in shetty.abstract
    assert shetty.title == (
        "Density dependence of the symmetry energy and the nuclear equation of state: "
        "A Dynamical and Statistical model perspective"
    )

    assert records["0704.1109"].authors == ["Valeria M. Rosa", "Patricio S. letelier"]  # "A and B"
    assert records["0704.0874"].version == 3
    assert records["0704.1586"].title == (
        "Core excitation in the elastic scattering and breakup of $^{11}$Be on protons"
    )


def test_parse_get_record() -> None:
    page = parse_oai_response(oai("GetRecordResponse.xml"))

    assert page.resumption_token is None
    (rec,) = page.records
    assert rec.arxiv_id == "1302.2146"
    assert rec.version == 2
    assert rec.authors == ["Joshua Berger", "Maxim Perelstein", "Michael Saelim", "Philip Tanedo"]
    assert rec.categories[0] == "hep-ph"  # first listed is primary
    assert rec.categories == ["hep-ph", "hep-ex"]
    assert rec.comments == "18 pages, 6 figures; v2: References added"
    assert rec.published_at == datetime(2013, 2, 8, 21, 0, 1, tzinfo=UTC)
    assert rec.updated_at == datetime(2013, 4, 2, 1, 50, 8, tzinfo=UTC)
    assert rec.facts is not None and rec.facts.submitter == "Michael Saelim"


def test_parse_arxiv_format() -> None:
    page = parse_oai_response(oai("ListRecordsArXivFormat.xml"))

    assert page.resumption_token is None  # empty token element: list complete
    assert page.complete_list_size == 2
    shetty, richard = page.records
    assert shetty.arxiv_id == "0704.0471"
    assert shetty.authors == ["D. V. Shetty", "S. J. Yennello", "G. A. Souliotis"]
    assert shetty.published_at == shetty.updated_at == datetime(2007, 4, 3, tzinfo=UTC)
    assert shetty.doi == "10.1103/PhysRevC.76.024606"
    assert shetty.journal_ref == "Phys.Rev.C76:024606,2007; Erratum-ibid.C76:039902,2007"
    assert shetty.categories == ["nucl-ex", "nucl-th"]
    assert shetty.version is None  # the arXiv format has no version numbers
    assert shetty.facts is not None and shetty.facts.submitter is None
    assert richard.published_at == datetime(2007, 4, 5, tzinfo=UTC)
    assert richard.updated_at == datetime(2008, 11, 14, tzinfo=UTC)
    assert richard.title == "Limit distributions and scaling functions"
    assert richard.abs_url == "https://arxiv.org/abs/0704.0716"


def test_parse_arxiv_format_author_suffix_and_accents() -> None:
    body = oai("ListRecordsArXivFormat.xml").replace(
        b"<author><keyname>Richard</keyname><forenames>Christoph</forenames></author>",
        b'<author><keyname>G\\"odel</keyname><forenames>Kurt</forenames>'
        b"<suffix>Jr</suffix></author>",
    )
    richard = parse_oai_response(body).records[1]
    assert richard.authors == ["Kurt Gödel Jr"]


def test_deleted_records_are_skipped() -> None:
    page = parse_oai_response(oai("ListRecordsPage2.xml"))

    assert [r.arxiv_id for r in page.records] == ["1302.2146"]
    assert page.deleted_ids == ["0704.9999"]
    assert page.resumption_token is None  # <resumptionToken .../> ends the list
    assert page.cursor == 1001
    assert page.max_datestamp == date(2014, 12, 30)


def test_arxiv_raw_code_url_latex_names_and_affiliations() -> None:
    body = (
        oai("GetRecordResponse.xml")
        .replace(
            b"<authors>Joshua Berger, Maxim Perelstein, Michael Saelim and Philip Tanedo</authors>",
            b'<authors>J. Berger (1), M. Perelstein (1 and 2), K. G\\"odel, Jr., and '
            b"P. Erd\\H{o}s ((1) Cornell, (2) CERN)</authors>",
        )
        .replace(
            b"<comments>18 pages, 6 figures; v2: References added</comments>",
            b"<comments>18 pages; code at github.com/ptanedo/rpv-mfv. Project page: "
            b"https://ptanedo.github.io/rpv/.</comments>",
        )
    )
    (rec,) = parse_oai_response(body).records
    assert rec.authors == ["J. Berger", "M. Perelstein", "K. Gödel Jr.", "P. Erdős"]
    assert rec.code_url == "https://github.com/ptanedo/rpv-mfv"
    assert rec.project_url == "https://ptanedo.github.io/rpv"


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("ErrorResponseBadArgument.xml", "badArgument"),
        ("ErrorResponseBadResumptionToken.xml", "badResumptionToken"),
        ("ErrorResponseBadVerb.xml", "badVerb"),
        ("ErrorResponseIdDoesNotExist.xml", "idDoesNotExist"),
    ],
)
def test_oai_errors_raise_with_code(name: str, code: str) -> None:
    with pytest.raises(OAIError) as caught:
        parse_oai_response(oai(name))
    assert caught.value.code == code
    assert isinstance(caught.value, SourceError)
    message = str(caught.value)
    assert f"OAI-PMH error {code}" in message
    assert "\n" not in message


def test_oai_error_messages_carry_server_text() -> None:
    with pytest.raises(OAIError, match="Verb 'wah' not implemented"):
        parse_oai_response(oai("ErrorResponseBadVerb.xml"))
    with pytest.raises(OAIError, match="may have expired"):
        parse_oai_response(oai("ErrorResponseBadResumptionToken.xml"))


def test_no_records_match_is_an_empty_page() -> None:
    page = parse_oai_response(oai("ErrorResponseNoRecordsMatch.xml"))
    assert page.records == []
    assert page.resumption_token is None


def test_malformed_oai_body() -> None:
    with pytest.raises(SourceError, match=r"Malformed XML in OAI-PMH response from http://x/oai"):
        parse_oai_response(oai("Malformed.xml"), url="http://x/oai")
    with pytest.raises(SourceError, match="Empty OAI-PMH response"):
        parse_oai_response(b"  \n")
    with pytest.raises(SourceError, match="Not an OAI-PMH response"):
        parse_oai_response(atom("2026-02-11-113450.xml"))


def test_xml_with_entities_is_refused() -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><error code="badVerb">&x;'
        b"</error></OAI-PMH>"
    )
    with pytest.raises(SourceError, match="DTD") as caught:
        parse_oai_response(body)
    assert not isinstance(caught.value, OAIError)


# ============================================================================ Atom parsing


def test_parse_atom_single_entry() -> None:
    page = parse_atom_feed(atom("2026-02-11-113450.xml"))

    assert (page.total_results, page.start_index, page.items_per_page) == (702, 0, 1)
    assert page.entry_count == 1
    (rec,) = page.records
    assert rec.arxiv_id == "2410.19022"
    assert rec.version == 1
    assert rec.title == "Heterogeneous Random Forest"
    assert rec.authors == ["Ye-eun Kim", "Seoung Yun Kim", "Hyunjoong Kim"]
    assert rec.categories == ["cs.LG", "stat.ML"]
    assert rec.published_at == datetime(2024, 10, 24, 9, 18, 55, tzinfo=UTC)
    assert rec.updated_at == datetime(2024, 10, 24, 9, 18, 55, tzinfo=UTC)
    assert rec.comments == "18 pages, 6 figures"
    assert rec.journal_ref is None and rec.doi is None
    assert rec.pdf_url == "https://arxiv.org/pdf/2410.19022v1"
    assert rec.abs_url == "https://arxiv.org/abs/2410.19022"
    assert rec.abstract.startswith("Random forest (RF) stands out as a highly favored")
    assert rec.abstract.endswith("across the majority of datasets.")
    assert rec.facts is not None and rec.facts.external_id == "2410.19022"


def test_parse_atom_doi_versions_and_paragraphs() -> None:
    records = by_id(parse_atom_feed(atom("2026-02-12-040931.xml")).records)
    assert list(records) == ["1903.02058", "2412.12023", "1706.09868"]
    katz = records["1706.09868"]
    assert katz.doi == "10.1103/PhysRevLett.122.024102"
    assert katz.comments is None
    assert katz.categories == ["nlin.CD"]
    evans = records["1903.02058"]
    assert evans.version == 2
    assert evans.published_at == datetime(2019, 3, 5, 21, 16, 31, tzinfo=UTC)
    assert evans.updated_at == datetime(2019, 5, 16, 21, 2, 32, tzinfo=UTC)

    page = parse_atom_feed(atom("2026-02-12-041036.xml"))
    assert page.total_results == 37976
    records = by_id(page.records)
    dario = records["2101.02199"]
    assert dario.version == 5
    assert dario.categories == ["math-ph", "math.PR"]
    # Indented lines in the summary start paragraphs.
    assert dario.abstract.count("\n\n") == 3
    assert "\n\nIt is shown that for real-valued disordered random surfaces" in dario.abstract
    assert records["1607.04331"].categories == ["stat.ML", "cs.LG", "q-bio.NC"]
    assert records["2409.12515"].authors == [
        "Julien Allasia", "Rangel Baldasso", "Oriane Blondel", "Augusto Teixeira",
    ]  # fmt: skip


def test_atom_primary_category_moves_first() -> None:
    body = atom("2026-02-11-113450.xml").replace(
        b'<arxiv:primary_category term="cs.LG"/>', b'<arxiv:primary_category term="stat.ML"/>'
    )
    (rec,) = parse_atom_feed(body).records
    assert rec.categories == ["stat.ML", "cs.LG"]


def test_atom_error_entry_raises() -> None:
    with pytest.raises(ArxivAPIError, match=r"incorrect id format for 1234\.12345"):
        parse_atom_feed(atom("api-error.xml"))


def test_atom_empty_page_and_malformed() -> None:
    page = parse_atom_feed(atom("empty-page.xml"))
    assert (page.records, page.entry_count, page.start_index) == ([], 0, 5)
    with pytest.raises(SourceError, match="Malformed XML in arXiv API response"):
        parse_atom_feed(atom("2026-02-12-041036.xml")[:5000])
    with pytest.raises(SourceError, match="Not an Atom feed"):
        parse_atom_feed(oai("GetRecordResponse.xml"))


# ============================================================================ helpers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("D.V. Shetty, S.J. Yennello, and G.A. Souliotis", ["D.V. Shetty", "S.J. Yennello", "G.A. Souliotis"]),
        ("A. One and B. Two", ["A. One", "B. Two"]),
        ("A. One;  B. Two &\n C. Three", ["A. One", "B. Two", "C. Three"]),
        ("A. Smith (1), B. Jones (2) ((1) MIT, (2) Stanford)", ["A. Smith", "B. Jones"]),
        ("John Smith, Jr., and Ann Lee", ["John Smith Jr.", "Ann Lee"]),
        ("A. Anderson, B. Sandberg et al.", ["A. Anderson", "B. Sandberg"]),
        ("J. Ba\\~{n}os and {\\'E}. Fran\\c{c}ois and S. Bj\\o rk", ["J. Baños", "É. François", "S. Bjørk"]),
        ("", []),
    ],
)  # fmt: skip
def test_split_authors(text: str, expected: list[str]) -> None:
    assert split_authors(text) == expected


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (("Code: https://github.com/owner/repo.",), "https://github.com/owner/repo"),
        (("(see github.com/Owner/my-repo)",), "https://github.com/Owner/my-repo"),
        (("at //github.com/hf/thing, and more",), "https://github.com/hf/thing"),
        (("\\url{https://github.com/a/b\\_c}",), "https://github.com/a/b_c"),
        (("https://www.github.com/a/b.git",), "https://github.com/a/b"),
        (("https://github.com/g/r/tree/main/sub/dir).",), "https://github.com/g/r/tree/main/sub/dir"),
        (("https://gitlab.com/group/sub/proj/-/tree/main;",), "https://gitlab.com/group/sub/proj"),
        (("no link", None, "then https://github.com/x/y"), "https://github.com/x/y"),
        (("gist.github.com/a/b and notgithub.com/a/b",), None),
        (("https://github.com/features/actions",), None),
        (("https://github.com/justowner",), None),
    ],
)  # fmt: skip
def test_find_code_url(texts: tuple[str | None, ...], expected: str | None) -> None:
    assert find_code_url(*texts) == expected


def test_find_code_urls_order_and_dedupe() -> None:
    text = "ours: https://github.com/a/b; baseline gitlab.com/c/d and GitHub.com/A/B again"
    assert find_code_urls(text) == ["https://github.com/a/b", "https://gitlab.com/c/d"]


def test_find_project_url() -> None:
    assert find_project_url("Project page: https://Team.github.io/proj/.") == (
        "https://team.github.io/proj"
    )
    assert find_project_url("see //lab.gitlab.io") == "https://lab.gitlab.io"
    assert find_project_url("https://github.com/a/b") is None


def test_parse_retry_after() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 01 Jan 2025 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


# ============================================================================ OAI harvesting


FIRST_PAGE_QUERY = {
    "verb": "ListRecords",
    "metadataPrefix": "arXivRaw",
    "set": "cs",
    "from": "2014-10-01",
    "until": "2014-12-31",
    "resumptionToken": None,
}
NEXT_PAGE_QUERY = {"verb": "ListRecords", "resumptionToken": "726959|1001"}


def harvest(server: ReplayServer, clock: FakeClock, **kwargs: object) -> OAIHarvestSource:
    options: dict = {
        "base_url": server.url + "/oai",
        "from_date": date(2014, 10, 1),
        "until_date": date(2014, 12, 31),
        "sleep": clock.sleep,
        "clock": clock,
    }
    options.update(kwargs)
    return OAIHarvestSource(**options)


def test_harvest_follows_resumption_token(replay_server: ReplayServer) -> None:
    replay_server.add("/oai", Reply.file(OAI / "ListRecordsResponse.xml"), query=FIRST_PAGE_QUERY)
    replay_server.add("/oai", Reply.file(OAI / "ListRecordsPage2.xml"), query=NEXT_PAGE_QUERY)
    clock = FakeClock()
    source = harvest(replay_server, clock, mailto="ops@example.org")

    batches = list(source.batches())

    assert source.checkpoint_key == "arxiv-oai:arXivRaw:cs:2014-10-01:2014-12-31"
    assert [len(b.records) for b in batches] == [6, 1]
    assert [b.total for b in batches] == [58011, 58011]
    assert batches[0].checkpoint == {
        "resumption_token": "726959|1001",
        "pages": 1,
        "harvested": 6,
        "max_datestamp": "2014-12-22",
    }
    assert batches[1].checkpoint == {
        "resumption_token": None,
        "pages": 2,
        "harvested": 7,
        "max_datestamp": "2014-12-30",
        "done": True,
    }
    assert batches[1].notes == ["skipped 1 deleted record(s)"]
    json.dumps([b.checkpoint for b in batches])  # checkpoints must be storable as JSON

    first, second = replay_server.requests
    assert first.params == {
        "verb": "ListRecords",
        "metadataPrefix": "arXivRaw",
        "set": "cs",
        "from": "2014-10-01",
        "until": "2014-12-31",
    }
    # Per OAI-PMH, a resumed request carries only the verb and the token.
    assert second.query == {"verb": ["ListRecords"], "resumptionToken": ["726959|1001"]}
    assert first.headers["User-Agent"] == "paperfeed/0.1 (+mailto:ops@example.org)"
    # The polite 3 s gap before the second request, none before the first.
    assert clock.sleeps == [3.0]
    assert replay_server.unmatched == []


def test_polite_delay_counts_time_spent_between_pages(replay_server: ReplayServer) -> None:
    replay_server.add("/oai", Reply.file(OAI / "ListRecordsResponse.xml"), query=FIRST_PAGE_QUERY)
    replay_server.add("/oai", Reply.file(OAI / "ListRecordsPage2.xml"), query=NEXT_PAGE_QUERY)
    clock = FakeClock()
    batches = harvest(replay_server, clock, delay_seconds=5.0).batches()

    next(batches)
    clock.now += 2.0  # the pipeline spends 2 s committing the first batch
    next(batches)

    assert clock.sleeps == [3.0]
    assert len(replay_server.requests) == 2


def test_harvest_resumes_from_checkpoint(replay_server: ReplayServer) -> None:
    replay_server.add("/oai", Reply.file(OAI / "ListRecordsPage2.xml"), query=NEXT_PAGE_QUERY)
    clock = FakeClock()
    resume = {"resumption_token": "726959|1001", "pages": 1, "harvested": 6}

    batches = list(harvest(replay_server, clock).batches(resume))

    (request,) = replay_server.requests
    assert request.query == {"verb": ["ListRecords"], "resumptionToken": ["726959|1001"]}
    assert [r.arxiv_id for r in batches[0].records] == ["1302.2146"]
    assert batches[0].checkpoint == {
        "resumption_token": None,
        "pages": 2,
        "harvested": 7,
        "max_datestamp": "2014-12-30",
        "done": True,
    }
    assert clock.sleeps == []


def test_finished_harvest_does_not_refetch(replay_server: ReplayServer) -> None:
    clock = FakeClock()
    assert list(harvest(replay_server, clock).batches({"done": True, "pages": 2})) == []
    assert replay_server.requests == []


def test_503_retry_after_is_honored(replay_server: ReplayServer) -> None:
    replay_server.add(
        "/oai",
        [
            Reply.text("busy", status=503, headers={"Retry-After": "7"}),
            Reply.file(OAI / "ListRecordsPage2.xml"),
        ],
        query=NEXT_PAGE_QUERY,
    )
    clock = FakeClock()

    batches = list(harvest(replay_server, clock).batches({"resumption_token": "726959|1001"}))

    assert [r.arxiv_id for b in batches for r in b.records] == ["1302.2146"]
    assert clock.sleeps == [7.0]  # Retry-After, longer than the 3 s polite delay
    assert [r.param("resumptionToken") for r in replay_server.requests] == ["726959|1001"] * 2


def test_503_retries_are_bounded(replay_server: ReplayServer) -> None:
    busy = Reply.text("busy", status=503, headers={"Retry-After": "1"})
    replay_server.add("/oai", busy)
    clock = FakeClock()
    source = harvest(replay_server, clock, max_retries=2, delay_seconds=0.5)

    with pytest.raises(
        SourceError, match=r"HTTP 503 from http://127\.0\.0\.1:\d+/oai\?.* after 2 retries"
    ):
        list(source.batches())

    assert len(replay_server.requests) == 3
    assert clock.sleeps == [1.0, 1.0]


def test_503_without_retry_after_backs_off(replay_server: ReplayServer) -> None:
    replay_server.add(
        "/oai",
        [Reply(503), Reply(503), Reply.file(OAI / "ListRecordsPage2.xml")],
        query=NEXT_PAGE_QUERY,
    )
    clock = FakeClock()
    list(
        harvest(replay_server, clock, delay_seconds=2.0).batches(
            {"resumption_token": "726959|1001"}
        )
    )
    assert clock.sleeps == [2.0, 4.0]


def test_http_500_is_a_source_error(replay_server: ReplayServer) -> None:
    replay_server.add("/oai", Reply.text("<html>oops</html>", status=500))
    with pytest.raises(
        SourceError, match=r"^HTTP 500 from http://127\.0\.0\.1:\d+/oai\?verb=ListRecords"
    ):
        list(harvest(replay_server, FakeClock()).batches())
    assert len(replay_server.requests) == 1  # not retried


def test_connection_error_is_a_source_error() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    source = OAIHarvestSource(base_url=f"http://127.0.0.1:{port}/oai", sleep=FakeClock().sleep)
    with pytest.raises(SourceError, match=rf"Request to http://127\.0\.0\.1:{port}/oai\?.* failed"):
        list(source.batches())


def test_expired_token_raises_oai_error(replay_server: ReplayServer) -> None:
    replay_server.add("/oai", Reply.file(OAI / "ErrorResponseBadResumptionToken.xml"))
    with pytest.raises(OAIError) as caught:
        list(harvest(replay_server, FakeClock()).batches({"resumption_token": "3"}))
    assert caught.value.code == "badResumptionToken"
    assert replay_server.requests[0].param("resumptionToken") == "3"


def test_oai_error_in_4xx_body_wins_over_status(replay_server: ReplayServer) -> None:
    replay_server.add("/oai", Reply.file(OAI / "ErrorResponseBadArgument.xml", status=400))
    with pytest.raises(OAIError) as caught:
        list(harvest(replay_server, FakeClock()).batches())
    assert caught.value.code == "badArgument"


def test_no_records_match_harvest_is_one_empty_done_batch(replay_server: ReplayServer) -> None:
    replay_server.add("/oai", Reply.file(OAI / "ErrorResponseNoRecordsMatch.xml"))
    batches = list(harvest(replay_server, FakeClock()).batches())
    assert len(batches) == 1
    assert batches[0].records == []
    assert batches[0].checkpoint == {
        "resumption_token": None,
        "pages": 1,
        "harvested": 0,
        "done": True,
    }


def test_malformed_response_is_a_source_error(replay_server: ReplayServer) -> None:
    replay_server.add("/oai", Reply.file(OAI / "Malformed.xml"))
    with pytest.raises(SourceError, match=r"Malformed XML in OAI-PMH response from http://127"):
        list(harvest(replay_server, FakeClock()).batches())


def test_repeated_resumption_token_stops_the_loop(replay_server: ReplayServer) -> None:
    replay_server.add("/oai", Reply.file(OAI / "ListRecordsResponse.xml"))
    with pytest.raises(SourceError, match="same resumptionToken"):
        list(harvest(replay_server, FakeClock()).batches({"resumption_token": "726959|1001"}))
    assert len(replay_server.requests) == 1


def test_arxiv_format_harvest_and_bad_options(replay_server: ReplayServer) -> None:
    replay_server.add(
        "/oai",
        Reply.file(OAI / "ListRecordsArXivFormat.xml"),
        query={"metadataPrefix": "arXiv", "set": None},
    )
    source = harvest(replay_server, FakeClock(), metadata_prefix="arXiv", set_spec=None,
                     from_date=None, until_date=None)  # fmt: skip
    assert source.checkpoint_key == "arxiv-oai:arXiv:*:*:*"
    (batch,) = list(source.batches())
    assert [r.arxiv_id for r in batch.records] == ["0704.0471", "0704.0716"]
    assert batch.checkpoint is not None and batch.checkpoint["done"] is True

    with pytest.raises(InputError, match="metadataPrefix"):
        OAIHarvestSource(metadata_prefix="oai_dc")
    with pytest.raises(InputError, match="after until"):
        OAIHarvestSource(from_date=date(2024, 2, 1), until_date=date(2024, 1, 1))


# ============================================================================ query API


def query_source(server: ReplayServer, clock: FakeClock, **kwargs: object) -> ArxivQuerySource:
    options: dict = {"base_url": server.url + "/api/query", "sleep": clock.sleep, "clock": clock}
    options.update(kwargs)
    return ArxivQuerySource(**options)


def records_of(batches: list[SourceBatch]) -> list[str | None]:
    return [r.arxiv_id for b in batches for r in b.records]


def test_query_pages_until_an_empty_page(replay_server: ReplayServer) -> None:
    replay_server.add(
        "/api/query", Reply.file(ATOM / "2026-02-12-041036.xml"), query={"start": "0"}
    )
    replay_server.add("/api/query", Reply.file(ATOM / "empty-page.xml"), query={"start": "5"})
    clock = FakeClock()

    batches = list(
        query_source(replay_server, clock, search_query='ti:"random"', page_size=5).batches()
    )

    assert [b.checkpoint for b in batches] == [{"start": 5}, {"start": 5, "done": True}]
    assert records_of(batches) == [
        "2101.02199",
        "2502.06628",
        "2409.12515",
        "1607.04331",
        "1910.08253",
    ]
    assert batches[0].total == 37976
    assert [r.params for r in replay_server.requests] == [
        {"search_query": 'ti:"random"', "start": "0", "max_results": "5"},
        {"search_query": 'ti:"random"', "start": "5", "max_results": "5"},
    ]
    assert clock.sleeps == [3.0]


def test_query_stops_at_total_results(replay_server: ReplayServer) -> None:
    replay_server.add("/api/query", Reply.file(ATOM / "2026-02-12-040931.xml"))
    batches = list(
        query_source(
            replay_server, FakeClock(), search_query='ti:"rotation random"', page_size=3
        ).batches()
    )
    assert len(replay_server.requests) == 1  # totalResults=3 reached: no second request
    assert [b.checkpoint for b in batches] == [{"start": 3, "done": True}]
    assert records_of(batches) == ["1903.02058", "2412.12023", "1706.09868"]


def test_query_respects_max_results(replay_server: ReplayServer) -> None:
    replay_server.add(
        "/api/query",
        Reply.file(ATOM / "2026-02-12-041036.xml"),
        query={"start": "0", "max_results": "5"},
    )
    replay_server.add(
        "/api/query",
        Reply.file(ATOM / "2026-02-11-113450.xml"),
        query={"start": "5", "max_results": "1"},
    )
    source = query_source(
        replay_server, FakeClock(), search_query="ti:random", page_size=5, max_results=6
    )

    batches = list(source.batches())

    assert [b.checkpoint for b in batches] == [{"start": 5}, {"start": 6, "done": True}]
    assert len(records_of(batches)) == 6
    assert [b.total for b in batches] == [6, 6]
    assert replay_server.unmatched == []


def test_query_resumes_at_checkpoint_start(replay_server: ReplayServer) -> None:
    replay_server.add("/api/query", Reply.file(ATOM / "empty-page.xml"))
    source = query_source(replay_server, FakeClock(), search_query="ti:random", page_size=5)

    batches = list(source.batches({"start": 5}))

    assert replay_server.requests[0].param("start") == "5"
    assert [b.checkpoint for b in batches] == [{"start": 5, "done": True}]
    assert list(source.batches({"start": 5, "done": True})) == []
    assert len(replay_server.requests) == 1


def test_query_checkpoint_key_depends_on_query() -> None:
    a = ArxivQuerySource(search_query="cat:cs.LG")
    assert a.checkpoint_key == ArxivQuerySource(search_query="cat:cs.LG").checkpoint_key
    assert a.checkpoint_key.startswith("arxiv-api:")
    assert a.checkpoint_key != ArxivQuerySource(search_query="cat:cs.CL").checkpoint_key
    assert a.checkpoint_key != ArxivQuerySource(id_list=["cat:cs.LG"]).checkpoint_key
    with pytest.raises(InputError):
        ArxivQuerySource()
    with pytest.raises(InputError, match="page_size"):
        ArxivQuerySource(search_query="x", page_size=5000)


def test_query_api_error_over_http_400(replay_server: ReplayServer) -> None:
    replay_server.add("/api/query", Reply.file(ATOM / "api-error.xml", status=400))
    with pytest.raises(ArxivAPIError, match=r"incorrect id format for 1234\.12345"):
        list(query_source(replay_server, FakeClock(), id_list=["1234.12345"]).batches())


def test_fetch_arxiv_ids_uses_id_list_and_keeps_request_order(replay_server: ReplayServer) -> None:
    replay_server.add(
        "/api/query",
        Reply.file(ATOM / "2026-02-12-040931.xml"),
        query={"id_list": "1706.09868,1903.02058v2,2412.12023", "search_query": None},
    )
    clock = FakeClock()

    records = fetch_arxiv_ids(
        ["arXiv:1706.09868", "https://arxiv.org/abs/1903.02058v2", "2412.12023", "1706.09868"],
        base_url=replay_server.url + "/api/query",
        sleep=clock.sleep,
        clock=clock,
    )

    assert [r.arxiv_id for r in records] == ["1706.09868", "1903.02058", "2412.12023"]
    assert records[1].version == 2
    (request,) = replay_server.requests
    assert request.params == {
        "id_list": "1706.09868,1903.02058v2,2412.12023",
        "start": "0",
        "max_results": "3",
    }


def test_fetch_arxiv_ids_chunks_politely(replay_server: ReplayServer) -> None:
    replay_server.add(
        "/api/query",
        Reply.file(ATOM / "2026-02-11-113450.xml"),
        query={"id_list": "2410.19022,1234.5678"},
    )
    replay_server.add(
        "/api/query", Reply.file(ATOM / "empty-page.xml"), query={"id_list": "hep-th/9901001"}
    )
    clock = FakeClock()

    records = fetch_arxiv_ids(
        ["2410.19022", "1234.5678", "hep-th/9901001"],
        base_url=replay_server.url + "/api/query",
        chunk_size=2,
        sleep=clock.sleep,
        clock=clock,
    )

    assert [r.arxiv_id for r in records] == ["2410.19022"]  # unknown ids are simply absent
    assert [r.param("max_results") for r in replay_server.requests] == ["2", "1"]
    assert clock.sleeps == [3.0]
    assert replay_server.unmatched == []


def test_fetch_arxiv_ids_rejects_bad_ids_before_any_request(replay_server: ReplayServer) -> None:
    with pytest.raises(InputError, match="'not-an-id'"):
        fetch_arxiv_ids(["2410.19022", "not-an-id"], base_url=replay_server.url + "/api/query")
    assert replay_server.requests == []


# ============================================================================ replay server


def test_replay_server_records_and_exhausts_sequences(replay_server: ReplayServer) -> None:
    import httpx

    replay_server.add("/x", [Reply.text("one"), Reply.text("two", status=201)], query={"a": "1"})
    with httpx.Client(base_url=replay_server.url) as client:
        responses = [client.get("/x", params={"a": "1", "b": "z z"}) for _ in range(3)]
        other = client.get("/x", params={"a": "2"})

    assert [(r.status_code, r.text) for r in responses[:2]] == [(200, "one"), (201, "two")]
    assert responses[2].status_code == 404  # sequence used up: the route stops matching
    assert other.status_code == 404
    assert replay_server.requests[0].params == {"a": "1", "b": "z z"}
    assert len(replay_server.unmatched) == 2
