"""Hugging Face sources: saved page text (three layouts) and the daily_papers API.

The expected counts below were established by hand, independently of the
parser: line structure checked with grep/awk (blank-line positions, "•"/"·"
detail lines, date lines, title/abstract line lengths) and by reading the files.
Exact titles and abstracts are compared with the raw lines at hand-picked line
numbers of the fixture files.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from paperfeed.errors import InputError, SourceError
from paperfeed.models import PaperRecord, content_id, normalize_space
from paperfeed.sources.demo import demo_corpus_paths
from paperfeed.sources.huggingface import (
    LAYOUT_ABSTRACTS,
    LAYOUT_BLOCKS,
    LAYOUT_EMPTY,
    LAYOUT_PAIRS,
    HFDailySource,
    PageTextSource,
    parse_daily_papers,
    parse_page_text,
)
from tests.support.replay_server import ReplayServer, Reply

pytest_plugins = ("tests.support.replay_server",)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SEEDS = FIXTURES / "seeds"
DAILY_JSON = FIXTURES / "huggingface" / "daily_papers_2024-10-25.json"

F000 = "000_5d0159cbbb6922a4.txt"
F001 = "001_0bcaa5ee71f50914.txt"
F002 = "002_3668616bf410d92d.txt"
F003 = "003_403788539f6d6e03.txt"
F004 = "004_93f3485641ed3f70.txt"
SEED_FILES = [F000, F001, F002, F003, F004]


def seed_text(name: str) -> str:
    return (SEEDS / name).read_text(encoding="utf-8")


def seed_line(name: str, number: int) -> str:
    """Line ``number`` (1-based) of a seed file, whitespace-collapsed like the parser's output."""
    return normalize_space(seed_text(name).split("\n")[number - 1])


@pytest.fixture(scope="module")
def parsed() -> dict[str, Any]:
    return {name: parse_page_text(seed_text(name), page_name=name) for name in SEED_FILES}


def published_day(record: PaperRecord) -> date | None:
    """The date a page shows next to a paper (its publication day)."""
    return record.published_at.date() if record.published_at else None


# ---------------------------------------------------------------- page text: counts


@pytest.mark.parametrize(
    ("name", "papers", "layout", "heading", "with_authors", "with_dates", "with_upvotes"),
    [
        # 11 lines, one abstract each, no titles, no chrome.
        (F000, 11, LAYOUT_ABSTRACTS, None, 0, 0, 0),
        # 5 chrome lines, then 158 non-blank lines = 79 title/abstract blocks.
        (F001, 79, LAYOUT_BLOCKS, None, 0, 0, 0),
        # 5 chrome lines, "Dec 8", then 42 x (title, abstract, "• N authors", "·", date):
        # 31 dates carry a year; the 11 without one are left out without reference_year.
        (F002, 42, LAYOUT_BLOCKS, "Dec 8", 42, 31, 8),
        # 4 chrome lines, "Mar 11", then 222 non-blank lines = 111 blocks.
        (F003, 111, LAYOUT_BLOCKS, "Mar 11", 0, 0, 0),
        # 2 chrome lines, "Subscribe" glued to line 3, then 540 lines = 270 pairs.
        (F004, 270, LAYOUT_PAIRS, None, 0, 0, 0),
    ],
)
def test_page_counts_and_layout(
    parsed: dict[str, Any],
    name: str,
    papers: int,
    layout: str,
    heading: str | None,
    with_authors: int,
    with_dates: int,
    with_upvotes: int,
) -> None:
    page = parsed[name]
    records = page.records
    assert len(records) == papers
    assert page.layout == layout
    assert page.heading == heading
    assert sum(r.author_count is not None for r in records) == with_authors
    assert sum(r.published_at is not None for r in records) == with_dates
    assert sum(r.published_at is not None for r in records) == with_dates
    assert sum(r.facts.upvotes is not None for r in records) == with_upvotes
    assert all(r.source == "hf-page" and r.facts.source == "hf-page" for r in records)
    assert all(r.abstract for r in records)
    # Only the bare-abstract page has untitled papers.
    assert all(r.title for r in records) == (layout != LAYOUT_ABSTRACTS)
    assert any(r.title for r in records) == (layout != LAYOUT_ABSTRACTS)
    # No chrome became a paper.
    chrome = ("new", "subscribe", "daily papers", "get trending", "by ak", "byak")
    assert not [r.title for r in records if r.title.lower().startswith(chrome)]


def test_page_warnings(parsed: dict[str, Any]) -> None:
    assert parsed[F000].warnings == []
    assert parsed[F001].warnings == []
    assert parsed[F003].warnings == []
    assert parsed[F002].warnings == [
        f"{F002}: 11 dates shown without a year were left out (pass reference_year to keep them)"
    ]
    assert parsed[F004].warnings == [f"{F004}: line 3: page chrome 'Subscribe' removed"]


def test_distinct_papers_across_pages(parsed: dict[str, Any]) -> None:
    """513 listings, 486 papers: 27 papers are listed on two pages, none on three."""
    pages_by_id: dict[str, list[str]] = {}
    for name in SEED_FILES:
        for record in parsed[name].records:
            pages_by_id.setdefault(content_id(record.title, record.abstract), []).append(name[:3])
    assert sum(len(pages) for pages in pages_by_id.values()) == 513
    assert len(pages_by_id) == 486
    shared = Counter(tuple(pages) for pages in pages_by_id.values() if len(pages) > 1)
    assert shared == {
        ("001", "004"): 16,
        ("002", "003"): 3,
        ("001", "003"): 2,
        ("002", "004"): 2,
        ("003", "004"): 2,
        ("000", "002"): 1,
        ("001", "002"): 1,
    }
    # No page lists the same paper twice.
    assert all(len(set(pages)) == len(pages) for pages in pages_by_id.values())


def test_untitled_abstract_collides_with_its_titled_listing(parsed: dict[str, Any]) -> None:
    bare = parsed[F000].records[4]
    titled = parsed[F002].records[11]
    assert bare.title == ""
    assert titled.title == (
        "Experts Weights Averaging: A New General Training Scheme for Vision Transformers"
    )
    assert bare.abstract == titled.abstract
    assert content_id(bare.title, bare.abstract) == content_id(titled.title, titled.abstract)


def test_same_paper_with_differently_rendered_title_is_one_paper(parsed: dict[str, Any]) -> None:
    # Page 001 dropped the LaTeX of the title, page 004 kept it; the abstract is identical.
    plain = next(r for r in parsed[F001].records if r.title.startswith("HyperZ"))
    latex = next(r for r in parsed[F004].records if r.title.startswith("HyperZ"))
    assert (
        plain.title
        == "HyperZcdotZcdotW Operator Connects Slow-Fast Networks for Full Context Interaction"
    )
    assert latex.title == (
        "HyperZ$\\cdot$Z$\\cdot$W Operator Connects Slow-Fast Networks for Full Context Interaction"
    )
    assert plain.abstract == latex.abstract
    assert content_id(plain.title, plain.abstract) == content_id(latex.title, latex.abstract)


# ---------------------------------------------------------------- page text: exact fields


@pytest.mark.parametrize(
    ("name", "index", "title_line", "abstract_line", "title", "starts", "ends"),
    [
        (F000, 0, None, 1, "", "Sparse Mixture-of-Experts (MoE) is a neural architecture",
         "language models in the framework of task-agnostic learning."),
        (F000, 5, None, 6, "", "Despite their simpler information fusion designs",
         "ImageNet-1k with 13.7 GFLOPs and 94 M parameters."),
        (F000, 10, None, 11, "", "An effective and efficient architecture performance",
         "show the priority of the proposed method."),
        (F001, 0, 11, 13, "MAXIM: Multi-Axis MLP for Image Processing",
         "Recent progress on Transformers and multi-layer perceptron (MLP) models",
         "will be available at https://github.com/google-research/maxim."),
        (F001, 39, 167, 169,
         "RaftMLP: How Much Can Be Done Without Attention and with Less Spatial Locality?",
         "For the past ten years, CNN has reigned supreme",
         "is available at https://github.com/okojoalg/raft-mlp."),
        (F001, 78, 323, 325,
         "Neuroformer: Multimodal and Multitask Generative Pretraining for Brain Data",
         "State-of-the-art systems neuroscience experiments",
         "models and hypotheses associated with the brain."),
        (F002, 0, 13, 15, "Flow Equivariant Recurrent Neural Networks",
         "Data arrives at our senses as a continuous stream",
         "symmetries which govern the world around us."),
        (F002, 20, 173, 175,
         "SAISA: Towards Multimodal Large Language Models with Both Training and Inference "
         "Efficiency",
         "Multimodal Large Language Models (MLLMs) mainly fall into two architectures",
         "be publicly available at https://github.com/icip-cas/SAISA."),
        (F002, 41, 341, 343,
         "iTransformer: Inverted Transformers Are Effective for Time Series Forecasting",
         "The recent boom of linear forecasting models",
         "this repository: https://github.com/thuml/iTransformer."),
        (F003, 0, 11, 13, "Replica symmetry breaking in dense neural networks",
         "Understanding the glassy nature of neural networks",
         "the underlying glassiness of associative neural networks."),
        (F003, 55, 231, 233,
         "SignDiff: Learning Diffusion Models for American Sign Language Production",
         "The field of Sign Language Production (SLP) lacked",
         "ablation studies and qualitative evaluations for discussion."),
        (F003, 110, 451, 453,
         "Revisiting Graph Neural Networks on Graph-level Tasks: Comprehensive Experiments, "
         "Analysis, and Improvements",
         "Graphs are essential data structures",
         "a robust and generalizable model for graph-level tasks."),
        (F004, 0, None, 4, "Rethinking Knowledge Graph Propagation for Zero-Shot Learning",
         "Graph convolutional neural networks have recently shown great potential",
         "outperforms state-of-the-art zero-shot learning approaches."),
        (F004, 135, 273, 274,
         "Towards Responsible AI in the Era of ChatGPT: A Reference Architecture for Designing "
         "Foundation Model-based AI Systems",
         "The release of ChatGPT, Bard, and other large language model (LLM)-based",
         "foundation models while minimising associated risks."),
        (F004, 269, 541, 542,
         "Experimenting with Emerging RISC-V Systems for Decentralised Machine Learning",
         "Decentralised Machine Learning (DML) enables collaborative",
         "the first publicly available to our knowledge."),
    ],
)  # fmt: skip
def test_page_exact_papers(
    parsed: dict[str, Any],
    name: str,
    index: int,
    title_line: int | None,
    abstract_line: int,
    title: str,
    starts: str,
    ends: str,
) -> None:
    record = parsed[name].records[index]
    assert record.title == title
    if title_line is not None:
        assert record.title == seed_line(name, title_line)
    assert record.abstract == seed_line(name, abstract_line)
    assert record.abstract.startswith(starts)
    assert record.abstract.endswith(ends)


def test_page_details_of_dated_papers(parsed: dict[str, Any]) -> None:
    records = parsed[F002].records
    # "• 1 authors" / "Jul 19 1": no year on the page, so no date without reference_year.
    assert records[0].author_count == 1
    assert records[0].facts.upvotes == 1
    assert records[0].published_at is None
    assert records[0].published_at is None
    # "• 2 authors" / "Mar 9, 2018 1"
    lottery = records[2]
    assert (
        lottery.title == "The Lottery Ticket Hypothesis: Finding Sparse, Trainable Neural Networks"
    )
    assert (lottery.author_count, lottery.facts.upvotes) == (2, 1)
    assert published_day(lottery) == date(2018, 3, 9)
    assert lottery.published_at == datetime(2018, 3, 9, tzinfo=UTC)
    # "• 9 authors" / "Aug 15, 2024": a date without upvotes.
    assert (records[3].author_count, records[3].facts.upvotes) == (9, None)
    assert published_day(records[3]) == date(2024, 8, 15)
    # "• 11 authors" / "Aug 15, 2024 3"
    bam = records[38]
    assert bam.title.startswith("BAM! Just Like That")
    assert (bam.author_count, bam.facts.upvotes, published_day(bam)) == (
        11,
        3,
        date(2024, 8, 15),
    )
    # "• 7 authors" / "Oct 10, 2023"
    assert (records[41].author_count, records[41].facts.upvotes) == (7, None)
    assert published_day(records[41]) == date(2023, 10, 10)
    assert sum(r.author_count for r in records) == 262  # grep '• N authors' | awk sum
    assert sum(r.facts.upvotes or 0 for r in records) == 15


def test_reference_year_dates_yearless_entries() -> None:
    page = parse_page_text(seed_text(F002), reference_year=2025)
    assert sum(r.published_at is not None for r in page.records) == 42
    assert page.warnings == []
    assert published_day(page.records[0]) == date(2025, 7, 19)  # "Jul 19 1"
    assert published_day(page.records[5]) == date(2025, 10, 10)  # "Oct 10"
    # Dates that carry their own year keep it.
    assert published_day(page.records[2]) == date(2018, 3, 9)


def test_heading_year_dates_yearless_entries_unless_reference_year_given() -> None:
    text = (
        "Daily Papers\n\nDec 8, 2025\n\nA Title\n\n" + "An abstract sentence. " * 20 + "\n\n"
        "  • 3 authors\n·\nJul 19 4\n"
    )
    record = parse_page_text(text).records[0]
    assert (record.author_count, record.facts.upvotes) == (3, 4)
    assert published_day(record) == date(2025, 7, 19)
    assert published_day(parse_page_text(text, reference_year=2024).records[0]) == date(2024, 7, 19)
    # A second day's heading further down is neither a paper nor the page's year.
    page = parse_page_text(f"{text}\nDec 7, 2024\n\nB Title\n\n{LONG}\n\n• 1 author\n·\nMar 3\n")
    assert [r.title for r in page.records] == ["A Title", "B Title"]
    assert page.heading == "Dec 8, 2025"
    assert published_day(page.records[1]) == date(2025, 3, 3)


def test_detail_fields_on_one_line_and_impossible_dates() -> None:
    abstract = "We study things. " * 30
    text = f"T1\n\n{abstract}\n\n• 1 author · Jan 2, 2024 5\n\nT2\n\n{abstract}x\n\n• 2 authors\n·\nFeb 30, 2024\n"
    page = parse_page_text(text)
    first, second = page.records
    assert (first.author_count, first.facts.upvotes, published_day(first)) == (
        1, 5, date(2024, 1, 2),
    )  # fmt: skip
    assert (second.author_count, published_day(second)) == (2, None)
    assert page.warnings == ["line 7: impossible date ignored"]


def test_links_found_in_page_abstracts(parsed: dict[str, Any]) -> None:
    by_title = {r.title: r for name in SEED_FILES for r in parsed[name].records if r.title}
    assert by_title["Hopfield Networks is All You Need"].code_url == (
        "https://github.com/ml-jku/hopfield-layers"
    )
    assert by_title["Parametric Retrieval Augmented Generation"].code_url == (
        "https://github.com/oneal2000/PRAG"
    )
    deblur = by_title["Deblurring 3D Gaussian Splatting"]
    assert deblur.project_url == "https://benhenryl.github.io/Deblurring-3D-Gaussian-Splatting"
    assert deblur.code_url is None
    # A journal link without scheme is neither a code nor a project link.
    journal = parsed[F000].records[7]  # line 8
    assert journal.abstract.endswith("//journal.hep.com.cn/fcs/EN/10.1007/s11704-023-2689-5")
    assert (journal.code_url, journal.project_url) == (None, None)


def test_title_ending_in_ellipsis_is_still_a_title(parsed: dict[str, Any]) -> None:
    title = (
        "Attention is All You Need? Good Embeddings with Statistics are enough:Large Scale Audio "
        "Understanding without Transformers/ Convolutions/ BERTs/ Mixers/ Attention/ RNNs or ...."
    )
    for name in (F001, F002):
        record = next(r for r in parsed[name].records if r.title.startswith("Attention is All"))
        assert record.title == title
        assert record.abstract.startswith("This paper presents a way of doing large scale audio")


def test_crlf_and_bom_do_not_change_the_parse(parsed: dict[str, Any]) -> None:
    text = "\ufeff" + seed_text(F002).replace("\n", "\r\n")
    page = parse_page_text(text, page_name=F002)
    assert page.records == parsed[F002].records
    assert page.layout == LAYOUT_BLOCKS


# ---------------------------------------------------------------- page text: robustness

LONG = "We propose a method for a task. It works well on benchmarks. " * 6


def test_chrome_only_page_is_empty() -> None:
    text = "new\n\nGet trending papers in your email inbox!\n\nSubscribe\n\nDaily Papers\n\nby AK and the research community\n\nDec 8\n"
    page = parse_page_text(text)
    assert (page.records, page.layout, page.heading) == ([], LAYOUT_EMPTY, "Dec 8")


def test_glued_chrome_is_removed_only_before_a_capital() -> None:
    assert parse_page_text(f"SubscribeDeep Nets\n{LONG}").records[0].title == "Deep Nets"
    kept = parse_page_text(f"Subscriber Churn Prediction with Transformers\n{LONG}")
    assert kept.records[0].title == "Subscriber Churn Prediction with Transformers"
    assert kept.warnings == []
    assert kept.layout == LAYOUT_PAIRS


def test_title_without_abstract_is_skipped_with_a_warning() -> None:
    page = parse_page_text(f"Orphan Title\nReal Title\n{LONG}\nTrailing Title", page_name="p")
    assert [r.title for r in page.records] == ["Real Title"]
    assert page.warnings == [
        "p: line 1: title without abstract skipped: 'Orphan Title'",
        "p: line 4: title without abstract skipped: 'Trailing Title'",
    ]


def test_short_abstracts_and_titles_ending_in_a_period() -> None:
    # A one-sentence abstract right after a title is that title's abstract.
    page = parse_page_text("A Short Paper\nThis paper has been withdrawn.\n")
    assert [(r.title, r.abstract) for r in page.records] == [
        ("A Short Paper", "This paper has been withdrawn.")
    ]
    # A title ending with a period (one sentence) still pairs with the abstract below it.
    page = parse_page_text(f"Attention Is All You Need.\n{LONG}\n")
    assert [r.title for r in page.records] == ["Attention Is All You Need."]
    # Two short sentences with no title above read as an untitled abstract.
    page = parse_page_text("We prove a bound. It is tight.\n")
    assert [(r.title, r.abstract) for r in page.records] == [("", "We prove a bound. It is tight.")]
    assert page.layout == LAYOUT_ABSTRACTS


def test_title_with_middle_dot_is_not_a_detail_line() -> None:
    page = parse_page_text(f"HyperZ·Z·W Operator\n\n{LONG}\n")
    assert [r.title for r in page.records] == ["HyperZ·Z·W Operator"]
    assert page.warnings == []


# ---------------------------------------------------------------- page text: Source


def test_page_text_source_batches_and_resume() -> None:
    paths = [SEEDS / name for name in SEED_FILES]
    source = PageTextSource(paths)
    batches = list(source.batches())
    assert [len(b.records) for b in batches] == [11, 79, 42, 111, 270]
    assert [b.checkpoint for b in batches] == [{"files_done": n} for n in range(1, 6)]
    assert batches[4].notes[0] == f"{F004}: 270 papers ({LAYOUT_PAIRS})"
    resumed = list(source.batches({"files_done": 3}))
    assert [len(b.records) for b in resumed] == [111, 270]
    assert list(source.batches({"files_done": 5})) == []
    assert PageTextSource(paths).checkpoint_key == source.checkpoint_key
    assert source.checkpoint_key.startswith("hf-pages:")
    dated = PageTextSource(paths, reference_year=2025).batches({"files_done": 2})
    assert sum(r.published_at is not None for r in next(dated).records) == 42


def test_page_text_source_key_follows_names_and_sizes(tmp_path: Path) -> None:
    copy = tmp_path / F000
    shutil.copy(SEEDS / F000, copy)
    key = PageTextSource([copy]).checkpoint_key
    assert PageTextSource([SEEDS / F000]).checkpoint_key == key  # same name and size
    renamed = tmp_path / "renamed.txt"
    shutil.copy(SEEDS / F000, renamed)
    assert PageTextSource([renamed]).checkpoint_key != key
    pair = [SEEDS / F000, SEEDS / F001]
    assert PageTextSource(pair).checkpoint_key != PageTextSource(pair[::-1]).checkpoint_key
    copy.write_text(seed_text(F000) + "\n", encoding="utf-8")
    assert PageTextSource([copy]).checkpoint_key != key


def test_page_text_source_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing\.txt: cannot read"):
        PageTextSource([tmp_path / "missing.txt"])
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"Title\n\xff\xfe abstract")
    with pytest.raises(InputError, match=r"binary\.txt: not UTF-8 text"):
        list(PageTextSource([binary]).batches())
    with pytest.raises(InputError, match="bad checkpoint"):
        list(PageTextSource([SEEDS / F000]).batches({"files_done": 7}))


def test_demo_corpus_is_the_seed_pages() -> None:
    paths = demo_corpus_paths()
    assert [p.name for p in paths] == [
        "abstracts-only-model-architectures.txt",
        "daily-papers-dec-8-experts-with-votes.txt",
        "daily-papers-mar-11-dense-and-sparse-networks.txt",
        "daily-papers-mlp-and-transformer-architectures.txt",
        "paper-list-neural-architecture-design.txt",
    ]

    def digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    assert sorted(map(digest, paths)) == sorted(digest(SEEDS / n) for n in SEED_FILES)
    records = [r for batch in PageTextSource(paths).batches() for r in batch.records]
    assert len(records) == 513
    assert len({content_id(r.title, r.abstract) for r in records}) == 486


# ---------------------------------------------------------------- daily papers API: parsing


def test_parse_daily_papers_fixture() -> None:
    records = parse_daily_papers(DAILY_JSON.read_bytes())
    assert [r.arxiv_id for r in records] == ["2410.17243", "2410.16251", "2410.18533"]
    assert [r.title for r in records] == [
        "Breaking the Memory Barrier: Near Infinite Batch Size Scaling for Contrastive Loss",
        "Can Knowledge Editing Really Correct Hallucinations?",
        "LOGO -- Long cOntext aliGnment via efficient preference Optimization",
    ]
    assert [r.facts.upvotes for r in records] == [64, 41, 37]
    assert [r.facts.submitter for r in records] == ["ClownRat", "canyuchen", "ZetangForward"]
    assert [r.facts.num_comments for r in records] == [3, 2, 2]
    assert [r.facts.external_id for r in records] == [r.arxiv_id for r in records]
    assert {r.facts.featured_on for r in records} == {date(2024, 10, 25)}
    assert [r.published_at for r in records] == [
        datetime(2024, 10, 22, 17, 59, 30, tzinfo=UTC),
        datetime(2024, 10, 21, 17, 55, 54, tzinfo=UTC),
        datetime(2024, 10, 24, 8, 27, 26, tzinfo=UTC),
    ]
    first = records[0]
    assert first.authors == [
        "Zesen Cheng", "Hang Zhang", "Kehan Li", "Sicong Leng", "Zhiqiang Hu",
        "Fei Wu", "Deli Zhao", "Xin Li", "Lidong Bing",
    ]  # fmt: skip
    assert [len(r.authors) for r in records] == [9, 5, 5]
    assert records[2].authors[-1] == "Min Zhang"
    assert first.abstract.startswith(
        "Contrastive loss is a powerful approach for representation learning, where larger batch"
    )
    assert first.abstract.endswith("The code will be made publicly available.")
    assert all("\n" not in r.abstract and "  " not in r.abstract for r in records)
    assert all(r.source == "huggingface" and r.facts.source == "huggingface" for r in records)
    assert all(r.facts.github_stars is None and r.code_url is None for r in records)
    assert all(r.version is None and r.project_url is None for r in records)
    # A decoded list parses the same as the raw bytes.
    assert parse_daily_papers(json.loads(DAILY_JSON.read_bytes())) == records


def test_parse_daily_papers_requested_date_and_featuring_time() -> None:
    data = json.loads(DAILY_JSON.read_bytes())
    assert {
        r.facts.featured_on for r in parse_daily_papers(data, featured_on=date(2024, 10, 24))
    } == {date(2024, 10, 24)}
    data[0]["publishedAt"] = "2024-10-26T01:00:00+05:00"  # 2024-10-25 20:00 UTC
    assert parse_daily_papers(data)[0].facts.featured_on == date(2024, 10, 25)


def test_parse_daily_papers_links_and_stars() -> None:
    data = json.loads(DAILY_JSON.read_bytes())
    data[0]["paper"].update(
        githubRepo="https://github.com/DAMO-NLP-SG/Inf-CLIP/",
        projectPage="https://example.org/inf-clip",
        githubStars=250,
    )
    data[1]["paper"]["summary"] += " Code: github.com/someone/halluedit."
    records = parse_daily_papers(data)
    assert records[0].code_url == "https://github.com/DAMO-NLP-SG/Inf-CLIP"
    assert records[0].project_url == "https://example.org/inf-clip"
    assert records[0].facts.github_stars == 250
    assert records[1].code_url == "https://github.com/someone/halluedit"
    assert records[2].code_url is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{not json", "daily papers: malformed JSON"),
        (b"\xff\xfe", "daily papers: malformed JSON"),
        (b'{"paper": {}}', "daily papers: expected a JSON list, got dict"),
        (b"[1]", "daily papers: entry 0 is int, not an object"),
        (b'[{"title": "x"}]', "daily papers: entry 0 has no 'paper' object"),
        (b'[{"paper": {"title": "x"}}]', "daily papers: entry 0 has no paper id"),
    ],
)
def test_parse_daily_papers_rejects_malformed_input(data: bytes, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_daily_papers(data)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


# ---------------------------------------------------------------- daily papers API: HTTP


def entries(*indexes: int) -> bytes:
    data = json.loads(DAILY_JSON.read_bytes())
    return json.dumps([data[i] for i in indexes]).encode()


def json_reply(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, body, {"Content-Type": "application/json", **(headers or {})})


class Sleeps(list[float]):
    """Records requested waits instead of sleeping, so retry tests run instantly."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def test_daily_source_pages_until_a_short_page(replay_server: ReplayServer) -> None:
    day = {"date": "2024-10-25"}
    replay_server.add("/api/daily_papers", json_reply(entries(0, 1)), query={**day, "p": "0"})
    replay_server.add("/api/daily_papers", json_reply(entries(2)), query={**day, "p": "1"})
    sleeps = Sleeps()
    source = HFDailySource(
        date(2024, 10, 25), base_url=replay_server.url, delay_seconds=0.5, sleep=sleeps, page_size=2
    )
    assert source.checkpoint_key == "hf-daily:2024-10-25"
    batches = list(source.batches())
    assert [[r.arxiv_id for r in b.records] for b in batches] == [
        ["2410.17243", "2410.16251"],
        ["2410.18533"],
    ]
    # After the short last page the checkpoint stays on it: papers featured later land there.
    assert [b.checkpoint for b in batches] == [{"page": 1}, {"page": 1}]
    assert sleeps == [0.5]  # politeness delay between pages, none before the first
    requests = replay_server.requests
    assert [r.params for r in requests] == [
        {"date": "2024-10-25", "p": "0", "limit": "2"},
        {"date": "2024-10-25", "p": "1", "limit": "2"},
    ]
    assert requests[0].headers["User-Agent"].startswith("paperfeed/")
    assert {r.facts.featured_on for b in batches for r in b.records} == {date(2024, 10, 25)}


def test_daily_source_full_last_page_ends_with_an_empty_page(replay_server: ReplayServer) -> None:
    replay_server.add("/api/daily_papers", json_reply(entries(0, 1, 2)), query={"p": "0"})
    replay_server.add("/api/daily_papers", json_reply(b"[]"), query={"p": "1"})
    source = HFDailySource(
        date(2024, 10, 25), base_url=replay_server.url, sleep=Sleeps(), page_size=3
    )
    batches = list(source.batches())
    assert [len(b.records) for b in batches] == [3, 0]
    assert [b.checkpoint for b in batches] == [{"page": 1}, {"page": 1}]


def test_daily_source_resumes_at_the_checkpoint_page(replay_server: ReplayServer) -> None:
    replay_server.add("/api/daily_papers", json_reply(entries(2)), query={"p": "1"})
    source = HFDailySource(
        date(2024, 10, 25), base_url=replay_server.url, sleep=Sleeps(), page_size=2
    )
    batches = list(source.batches({"page": 1}))
    assert [r.arxiv_id for b in batches for r in b.records] == ["2410.18533"]
    assert [r.param("p") for r in replay_server.requests] == ["1"]
    with pytest.raises(InputError, match="bad checkpoint"):
        list(source.batches({"page": -1}))


def test_daily_source_stops_when_the_server_ignores_paging(replay_server: ReplayServer) -> None:
    replay_server.add("/api/daily_papers", json_reply(entries(0, 1)))
    source = HFDailySource(
        date(2024, 10, 25), base_url=replay_server.url, sleep=Sleeps(), page_size=2
    )
    batches = list(source.batches())
    assert [len(b.records) for b in batches] == [2]
    assert len(replay_server.requests) == 2


def test_daily_source_honours_retry_after(replay_server: ReplayServer) -> None:
    replay_server.add(
        "/api/daily_papers",
        [
            json_reply(b'{"error": "slow down"}', 429, {"Retry-After": "7"}),
            json_reply(b"", 503),
            json_reply(entries(0, 1, 2)),
        ],
    )
    sleeps = Sleeps()
    source = HFDailySource(
        date(2024, 10, 25), base_url=replay_server.url, delay_seconds=2.0, sleep=sleeps
    )
    batches = list(source.batches())
    assert [len(b.records) for b in batches] == [3]
    # 7 s as asked by Retry-After, then the 503 without one backs off 2 s * 2**1.
    assert sleeps == [7.0, 4.0]
    assert len(replay_server.requests) == 3


def test_daily_source_gives_up_after_bounded_retries(replay_server: ReplayServer) -> None:
    replay_server.add("/api/daily_papers", json_reply(b"", 429, {"Retry-After": "1"}))
    sleeps = Sleeps()
    source = HFDailySource(
        date(2024, 10, 25), base_url=replay_server.url, sleep=sleeps, max_retries=2
    )
    with pytest.raises(SourceError, match=r"/api/daily_papers\?.*: HTTP 429 after 3 attempts$"):
        list(source.batches())
    assert len(replay_server.requests) == 3
    assert sleeps == [1.0, 1.0]


def test_daily_source_refuses_to_wait_too_long(replay_server: ReplayServer) -> None:
    replay_server.add("/api/daily_papers", json_reply(b"", 503, {"Retry-After": "3600"}))
    sleeps = Sleeps()
    source = HFDailySource(date(2024, 10, 25), base_url=replay_server.url, sleep=sleeps)
    with pytest.raises(SourceError, match="HTTP 503, server asks to retry after 3600 s"):
        list(source.batches())
    assert (len(replay_server.requests), sleeps) == (1, [])


@pytest.mark.parametrize("status", [404, 500])
def test_daily_source_http_errors(replay_server: ReplayServer, status: int) -> None:
    replay_server.add("/api/daily_papers", json_reply(b'{"error": "x"}', status))
    source = HFDailySource(date(2024, 10, 25), base_url=replay_server.url, sleep=Sleeps())
    with pytest.raises(SourceError, match=f"date=2024-10-25.*: HTTP {status}$"):
        list(source.batches())
    assert len(replay_server.requests) == 1


def test_daily_source_malformed_response_is_a_source_error(replay_server: ReplayServer) -> None:
    replay_server.add("/api/daily_papers", json_reply(b"<html>maintenance</html>"))
    source = HFDailySource(date(2024, 10, 25), base_url=replay_server.url, sleep=Sleeps())
    with pytest.raises(SourceError, match=r"api/daily_papers\?.*: daily papers: malformed JSON"):
        list(source.batches())


def test_daily_source_connection_errors_are_source_errors() -> None:
    with ReplayServer() as server:
        url = server.url
    # The server is stopped: nothing listens on that port any more.
    sleeps = Sleeps()
    source = HFDailySource(date(2024, 10, 25), base_url=url, sleep=sleeps, max_retries=1)
    with pytest.raises(SourceError, match=r"/api/daily_papers: ConnectError"):
        list(source.batches())
    assert sleeps == [1.0]
