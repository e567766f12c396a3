"""Find code and project links, arXiv ids and DOIs in free text (abstracts, arXiv
comments, HF page text, file fields).

Every source that carries prose should call these, so a paper gets the same
``code_url`` whichever source saw it first. Authors write links in many ways:
``https://github.com/o/r``, ``github.com/o/r.`` at the end of a sentence,
``\\url{https://github.com/o/r}`` in LaTeX, and Hugging Face page text often
keeps only ``//github.com/o/r`` after stripping the scheme. We normalise all of
them to ``https://github.com/o/r`` so links compare equal across sources.
"""

from __future__ import annotations

import re

from paperfeed.models import ARXIV_ID_RE

# Owner names on github.com that are site pages, not accounts.
_GITHUB_RESERVED = frozenset(
    {
        "about", "apps", "blog", "collections", "contact", "customer-stories", "enterprise",
        "events", "explore", "features", "login", "marketplace", "new", "notifications",
        "orgs", "pricing", "pulls", "search", "security", "settings", "site", "sponsors",
        "topics", "trending", "users",
    }
)  # fmt: skip

# The host must not be preceded by a letter, dot or dash, so ``gist.github.com``
# and ``notgithub.com`` do not match; a scheme and/or ``//`` are optional.
_HOST_PREFIX = r"(?<![\w.\-@])(?:https?:)?(?://)?(?:www\.)?"
_URL_CHARS = r"[^\s<>\"'{}|\\^`\[\]]"
_GITHUB_RE = re.compile(
    _HOST_PREFIX
    + r"github\.com/(?P<owner>[A-Za-z0-9][A-Za-z0-9\-]*)/(?P<repo>[A-Za-z0-9_.\-]+)"
    + rf"(?P<rest>/(?:tree|blob)/{_URL_CHARS}+)?",
    re.IGNORECASE,
)
_GITLAB_RE = re.compile(
    _HOST_PREFIX + r"gitlab\.com/(?P<path>[A-Za-z0-9_.\-]+(?:/[A-Za-z0-9_.\-]+)+)",
    re.IGNORECASE,
)
_PAGES_RE = re.compile(
    _HOST_PREFIX
    + r"(?P<host>[A-Za-z0-9][A-Za-z0-9\-]*\.(?:github|gitlab)\.io)"
    + rf"(?P<path>/{_URL_CHARS}*)?",
    re.IGNORECASE,
)

_TRAILING = ".,;:!?'\"*"


def _clean_text(text: str) -> str:
    # LaTeX escapes underscores and tildes inside URLs (``my\_repo``, ``\~{}user``).
    return text.replace("\\_", "_").replace("\\~{}", "~").replace("\\%", "%")


def _trim(url: str) -> str:
    """Drop sentence punctuation and unbalanced closing brackets from the end of a URL."""
    while url:
        last = url[-1]
        if last in _TRAILING or (last == ")" and url.count("(") < url.count(")")):
            url = url[:-1]
        else:
            break
    return url


def find_code_urls(*texts: str | None) -> list[str]:
    """All distinct GitHub/GitLab repository URLs in ``texts``, in order of appearance."""
    found: list[tuple[int, int, str]] = []
    for index, text in enumerate(texts):
        # Most abstracts name no repository: a plain substring test skips the regexes.
        if not text or ("github" not in text.lower() and "gitlab" not in text.lower()):
            continue
        cleaned = _clean_text(text)
        for match in _GITHUB_RE.finditer(cleaned):
            owner = match.group("owner")
            if owner.lower() in _GITHUB_RESERVED:
                continue
            repo = _trim(match.group("repo"))
            if repo.lower().endswith(".git"):
                repo = repo[:-4]
            if not repo or repo in {".", ".."}:
                continue
            url = f"https://github.com/{owner}/{repo}"
            rest = match.group("rest")
            # Keep a tree/blob path only when the repo name was not cut by punctuation.
            if rest and repo == match.group("repo"):
                url += _trim(rest).rstrip("/")
            found.append((index, match.start(), url))
        for match in _GITLAB_RE.finditer(cleaned):
            path = _trim(match.group("path").split("/-/")[0])
            if path.lower().endswith(".git"):
                path = path[:-4]
            if "/" not in path:
                continue
            found.append((index, match.start(), f"https://gitlab.com/{path}"))
    found.sort()
    urls: list[str] = []
    seen: set[str] = set()
    for _, _, url in found:
        if url.lower() not in seen:
            seen.add(url.lower())
            urls.append(url)
    return urls


def find_code_url(*texts: str | None) -> str | None:
    """The first GitHub/GitLab repository URL mentioned in ``texts`` (checked in order)."""
    urls = find_code_urls(*texts)
    return urls[0] if urls else None


def find_project_url(*texts: str | None) -> str | None:
    """The first GitHub/GitLab Pages site (``owner.github.io/...``), the usual project page."""
    for text in texts:
        if not text or (".github.io" not in text.lower() and ".gitlab.io" not in text.lower()):
            continue
        match = _PAGES_RE.search(_clean_text(text))
        if match:
            path = _trim(match.group("path") or "").rstrip("/")
            return f"https://{match.group('host').lower()}{path}"
    return None


def links_in_prose(abstract: str, comments: str | None) -> tuple[str | None, str | None]:
    """(code_url, project_url) in the prose, exactly as :mod:`paperfeed.sources.links` finds them.

    Its regexes try an optional scheme at every position: ~300 us per abstract,
    more than the rest of an import. Every link they match contains "github" or
    "gitlab" (any case) and no whitespace, so passing only the whitespace-bounded
    stretches around those words gives the same matches in the same order.
    """
    texts = (_link_segments(abstract), _link_segments(comments))
    if not any(texts):
        return None, None
    return find_code_url(*texts), find_project_url(*texts)


_GIT_RE = re.compile("git(?:hub|lab)")
_WHITESPACE_RE = re.compile(r"\s")


def _link_segments(text: str | None) -> str | None:
    if not text:
        return None
    low = text.lower()
    if "github" not in low and "gitlab" not in low:
        return None
    if len(low) != len(text):  # a rare case mapping changed lengths: offsets would not match
        return text
    parts: list[str] = []
    end = 0
    rfind = text.rfind
    for match in _GIT_RE.finditer(low):
        at = match.start()
        if at < end:
            continue
        # Back to the previous space or newline (other whitespace only makes it longer).
        start = max(end, rfind(" ", end, at) + 1, rfind("\n", end, at) + 1)
        space = _WHITESPACE_RE.search(text, at)
        end = space.start() if space else len(text)
        parts.append(text[start:end])
    return " ".join(parts)


# An arXiv id inside a URL, DOI (10.48550/arXiv.X) or citation text ("arXiv:X").
_ARXIV_IN_TEXT_RE = re.compile(
    r"(?:arxiv\.org/(?:abs|pdf|html)/|10\.48550/arxiv\.|\barxiv:\s*)(" + ARXIV_ID_RE.pattern + ")",
    re.IGNORECASE,
)
_DOI_PREFIX_RE = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.IGNORECASE)


def arxiv_id_in_text(*texts: str | None) -> tuple[str, int | None] | None:
    for text in texts:
        if text and "arxiv" in text.lower():
            match = _ARXIV_IN_TEXT_RE.search(text)
            if match:
                version = match.group("version")
                return match.group("id"), int(version) if version else None
    return None


def clean_doi(value: str | None) -> str | None:
    if not value:
        return None
    parts = _DOI_PREFIX_RE.sub("", value.strip()).split()
    return parts[0] if parts else None
