"""The numbers behind trend charts: counts per period and shares of all papers."""

from __future__ import annotations

from datetime import date

import pytest

from paperfeed.errors import InputError
from paperfeed.explore.trends import period_of, periods_between
from paperfeed.library import Library
from paperfeed.search.models import SearchFilters


def test_monthly_counts_and_shares(corpus_library: Library) -> None:
    trend = corpus_library.trend(["diffusion", '"flow matching"'], granularity="month")
    assert [p.label for p in trend.periods] == ["2025-03", "2025-04", "2025-05"]
    assert trend.totals == [5, 4, 1]
    diffusion, flow = trend.series
    assert diffusion.counts == [2, 2, 0] and diffusion.total == 4
    assert flow.counts == [1, 2, 0] and flow.total == 3
    assert diffusion.shares == [2 / 5, 2 / 4, 0.0]
    assert flow.shares == [1 / 5, 2 / 4, 0.0]


def test_weekly_counts_include_empty_weeks(corpus_library: Library) -> None:
    trend = corpus_library.trend(["diffusion"], granularity="week")
    labels = [p.label for p in trend.periods]
    assert labels[0] == "2025-W10" and labels[-1] == "2025-W19"
    assert len(labels) == 10  # every week from 3 March to 5 May, empty ones too
    counts = dict(zip(labels, trend.series[0].counts, strict=True))
    assert counts == {
        "2025-W10": 1, "2025-W11": 1, "2025-W12": 0, "2025-W13": 0, "2025-W14": 0,
        "2025-W15": 1, "2025-W16": 1, "2025-W17": 0, "2025-W18": 0, "2025-W19": 0,
    }  # fmt: skip
    totals = dict(zip(labels, trend.totals, strict=True))
    assert totals["2025-W10"] == 2 and totals["2025-W13"] == 1 and totals["2025-W12"] == 0
    assert trend.periods[0].start == date(2025, 3, 3) and trend.periods[0].end == date(2025, 3, 9)


def test_auto_granularity_is_weekly_for_a_short_span(corpus_library: Library) -> None:
    assert corpus_library.trend(["diffusion"]).granularity == "week"


def test_filters_apply_to_matches_and_denominators(corpus_library: Library) -> None:
    trend = corpus_library.trend(
        ["diffusion"], granularity="month", filters=SearchFilters(category="cs.LG")
    )
    # cs.LG papers per month: March 3, April 4, May 1; diffusion among them: 1, 2, 0.
    assert trend.totals == [3, 4, 1]
    assert trend.series[0].counts == [1, 2, 0]
    dated = corpus_library.trend(
        ["diffusion"], granularity="month",
        filters=SearchFilters(date_from=date(2025, 4, 1), date_to=date(2025, 4, 30)),
    )  # fmt: skip
    assert [p.label for p in dated.periods] == ["2025-04"]
    assert dated.series[0].counts == [2]


def test_query_language_and_relaxed_and(corpus_library: Library) -> None:
    trend = corpus_library.trend(
        ["au:turing", "cat:cs.RO", "diffusion -video"], granularity="month"
    )
    assert [s.counts for s in trend.series] == [[2, 1, 0], [1, 1, 0], [1, 2, 0]]
    relaxed = corpus_library.trend(["diffusion sparse"], granularity="month").series[0]
    assert relaxed.relaxed and relaxed.counts == [2, 3, 0]


def test_bad_input_is_an_input_error(corpus_library: Library) -> None:
    with pytest.raises(InputError):
        corpus_library.trend(["a", "b", "c", "d", "e"])
    with pytest.raises(InputError):
        corpus_library.trend(['"unclosed'])
    with pytest.raises(InputError):
        corpus_library.trend(["x"], granularity="year")  # type: ignore[arg-type]


def test_counts_follow_new_papers(corpus_library: Library) -> None:
    from tests.explore.conftest import corpus_records

    before = corpus_library.trend(["consistency"], granularity="month").series[0].counts
    record = corpus_records()[-1]
    record.arxiv_id, record.title = "2505.00002", "Consistency distillation"
    record.facts.external_id = "2505.00002"
    from paperfeed.ingest.pipeline import IngestPipeline

    IngestPipeline(corpus_library.storage).ingest_records([record])
    corpus_library.sync_search(embed=False)
    after = corpus_library.trend(["consistency"], granularity="month")
    assert before == [0, 0, 1] and after.series[0].counts == [0, 0, 2]
    assert after.totals == [5, 4, 2]  # the cached denominators were refreshed


def test_periods() -> None:
    assert period_of(date(2025, 1, 1), "week").label == "2025-W01"
    assert period_of(date(2024, 12, 30), "week").label == "2025-W01"
    assert period_of(date(2024, 2, 10), "month").end == date(2024, 2, 29)
    months = periods_between(date(2024, 11, 15), date(2025, 2, 1), "month")
    assert [p.label for p in months] == ["2024-11", "2024-12", "2025-01", "2025-02"]


def test_empty_library(library: Library) -> None:
    trend = library.trend(["anything"])
    assert trend.periods == [] and trend.series == []
