"""Inline LaTeX made readable (the templates escape the result afterwards)."""

from __future__ import annotations

import pytest

from paperfeed.latex import readable


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        (r"$\alpha$-entmax", "α-entmax"),
        (r"$O(n^2 \log n)$ time", "O(n² log n) time"),
        (r"$x^{2}$ and $10^{-3}$", "x² and 10⁻³"),
        (r"$x_{ij}$", "xᵢⱼ"),
        (r"\textbf{x} and \emph{y}", "x and y"),
        (r"{\it unbalanced} and {\bf bold}", "unbalanced and bold"),
        (r"$a<b$ & \textbf{x}", "a<b & x"),  # & and < survive: escaping is the template's job
        ("M\\\"uller and Jos\\'{e}", "Müller and José"),
        (r"100\% of \emph{all} -- and \ldots", "100% of all – and …"),
        (r"$$E=mc^2$$", "E=mc²"),
        (r"\(\beta\)", "β"),
        (r"\url{https://github.com/a/b}", "https://github.com/a/b"),
        (r"$\mathbb{R}^d$", "ℝ^d"),
    ],
)
def test_inline_latex_is_made_readable(source: str, shown: str) -> None:
    assert readable(source) == shown


@pytest.mark.parametrize(
    "text",
    [
        "costs $5 and $10 dollars",  # dollars, not math
        "~10% faster, 3x cheaper",  # ~ means "about" in abstracts
        "<script>alert(1)</script>",  # not touched here; escaped by the template
        "plain title without markup",
        "",
    ],
)
def test_text_without_latex_is_unchanged(text: str) -> None:
    assert readable(text) == text


def test_broken_latex_never_raises() -> None:
    for source in (r"$\frac{1}{$", r"$\begin{x}$", "$}{$", r"\textbf{", "$$$$", r"$\$"):
        assert isinstance(readable(source), str)
