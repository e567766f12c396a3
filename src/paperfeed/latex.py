"""Inline LaTeX in titles, abstracts and author names, made readable as plain text.

arXiv metadata is LaTeX source: ``$\\alpha$-entmax``, ``$O(n^2)$``, ``\\textbf{x}``,
``M\\"uller``. Pages show it as text (``α-entmax``, ``O(n²)``, ``x``, ``Müller``); the
result is still plain text and is HTML-escaped by the templates afterwards, so
nothing here has to be trusted. Only ``$...$`` / ``\\(...\\)`` spans go through
pylatexenc: run over a whole abstract it would treat ``%`` as a comment and ``&``
as a table column and silently drop text. Outside math only a small set of text
macros and escapes is rewritten.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pylatexenc.latex2text import LatexNodes2Text

_SUPERSCRIPTS = dict(zip("0123456789+-=()nik", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱᵏ", strict=True))
_SUBSCRIPTS = dict(
    zip("0123456789+-=()aeiojklmnprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑᵢₒⱼₖₗₘₙₚᵣₛₜᵤᵥₓ", strict=True)
)

# $$...$$, $...$ and \(...\), kept short. Like pandoc, a single-$ span must not start
# or end with a space nor be followed by a digit, so "costs $5 and $10" stays text.
_MATH = re.compile(
    r"\$\$(.{1,400}?)\$\$|(?<!\\)\$(?!\s)(.{1,300}?)(?<![\s\\])\$(?!\d)|\\\((.{1,300}?)\\\)",
    re.S,
)
# ^{...} / _{...} with a flat body, or a single character.
_SCRIPT = re.compile(r"([\^_])(?:\{([^{}]{1,12})\}|([0-9a-zA-Z+\-]))")
_TEXT_MACRO = re.compile(
    r"\\(?:textbf|textit|textsl|textsc|texttt|textrm|textsf|emph|underline|mbox|text)"
    r"\s*\{([^{}]*)\}"
)
_URL_MACRO = re.compile(r"\\(?:url|href)\s*\{([^{}]*)\}(?:\s*\{([^{}]*)\})?")
_FONT_SWITCH = re.compile(r"\{\\(?:it|bf|em|sc|tt|rm|sl)\s+([^{}]*)\}")
_ACCENT = re.compile(r"\\(?:[\"'`^~=.]|[cvuHkr](?=\s*\{))\s*(?:\{[a-zA-Z]?\}|[a-zA-Z])")
_ESCAPED = re.compile(r"\\([%&_#$])")
# Typographic ligatures; "~" is left alone: abstracts use it for "about" (~10x) as often as for a space.
_SIMPLE = {"\\ldots": "…", "\\dots": "…", "---": "—", "--": "–", "``": "“", "''": "”"}

_converter = LatexNodes2Text(math_mode="text", strict_latex_spaces="based-on-source")


def _scripts(match: re.Match[str]) -> str:
    """``x^{2}`` -> ``x²`` when every character has a Unicode super/subscript form."""
    table = _SUPERSCRIPTS if match.group(1) == "^" else _SUBSCRIPTS
    body = match.group(2) if match.group(2) is not None else match.group(3)
    if body and all(ch in table for ch in body):
        return "".join(table[ch] for ch in body)
    return match.group(0)


def math_to_text(source: str) -> str:
    """One math span as readable text; the source itself if pylatexenc cannot parse it."""
    with_scripts = _SCRIPT.sub(_scripts, source)
    try:
        text = _converter.latex_to_text(with_scripts)
    except Exception:  # a tolerant parser still raises on some inputs: show the source
        return source
    # pylatexenc keeps braces of scripts it could not convert: x^{ab} -> x^ab is fine.
    return " ".join(text.split())


def _text_part(text: str) -> str:
    if "\\" not in text and "--" not in text and "`" not in text:
        return text
    for _ in range(3):  # nested \textbf{\emph{x}}: innermost first
        replaced = _FONT_SWITCH.sub(r"\1", _TEXT_MACRO.sub(r"\1", text))
        if replaced == text:
            break
        text = replaced
    text = _URL_MACRO.sub(lambda m: m.group(2) or m.group(1), text)
    text = _ACCENT.sub(lambda m: math_to_text(m.group(0)), text)
    text = _ESCAPED.sub(r"\1", text)
    for source, replacement in _SIMPLE.items():
        if source in text:
            text = text.replace(source, replacement)
    return text


@lru_cache(maxsize=8192)
def readable(text: str | None) -> str:
    """``text`` with inline LaTeX rendered as Unicode text (not HTML: escape it after)."""
    if not text:
        return ""
    if "$" not in text and "\\" not in text and "--" not in text and "`" not in text:
        return text  # the common case: nothing to do
    parts: list[str] = []
    last = 0
    for match in _MATH.finditer(text):
        parts.append(_text_part(text[last : match.start()]))
        body = next(group for group in match.groups() if group is not None)
        parts.append(math_to_text(body))
        last = match.end()
    parts.append(_text_part(text[last:]))
    return "".join(parts)
