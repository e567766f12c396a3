"""Papers in the shapes of the Hugging Face papers API, for ``/api`` (see ``api.py``).

Two shapes, as ``huggingface_hub``'s ``HfApi`` reads them (``PaperInfo``):

* a **paper** (``/api/papers/{id}``, and the ``paper`` of a list item)::

    {"id": "2410.17243", "authors": [{"name": "Zesen Cheng", "hidden": false}],
     "publishedAt": "2024-10-22T17:59:30.000Z", "title": ..., "summary": ...,
     "upvotes": 64, "githubRepo"?: ..., "projectPage"?: ..., "githubStars"?: ...}

* a **list item** (``/api/daily_papers``, search, related, collection papers): the
  paper wrapped with facts about its place on the daily feed::

    {"paper": {...}, "publishedAt": "2024-10-25T00:00:00.000Z", "title": ...,
     "summary": ..., "numComments": 0, "submittedBy": {"name": ..., ...},
     "isAuthorParticipating": false}

Instants are ISO-8601 UTC with milliseconds and ``Z``, the one format the client
parses. Where paperfeed knows less than the Hub (no comment threads, no author
accounts, a paper nobody submitted) the field keeps its type with an empty value
(``numComments: 0``, ``submittedBy.name: ""``), so clients written against the Hub
do not break. A few extra fields (``categories``, ``feedDate``, ``url``) say what
the Hub does not; clients ignore what they do not know.

The pydantic models document the shapes in the OpenAPI schema (``/docs``); the
routes return plain dicts that FastAPI checks against them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from paperfeed.models import Paper
from paperfeed.web.render import paper_path, safe_url

#: Sources whose submitter names a person who put the paper on a daily feed,
#: most relevant first: a user of this installation, then a Hugging Face user.
_SUBMITTER_SOURCES = ("submission", "huggingface")


def hf_time(value: datetime | date | None) -> str | None:
    """``2024-10-22T17:59:30.000Z``: a day means its first instant (00:00 UTC)."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0, 0), tzinfo=UTC)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def submitter_of(paper: Paper) -> str | None:
    """The username that put the paper on a daily feed, if anyone did."""
    for source in _SUBMITTER_SOURCES:
        for facts in paper.sources:
            if facts.source == source and facts.submitter:
                return facts.submitter
    return None


def _num_comments(paper: Paper) -> int:
    return max((f.num_comments or 0 for f in paper.sources), default=0)


def _github_stars(paper: Paper) -> int | None:
    stars = [f.github_stars for f in paper.sources if f.github_stars is not None]
    return max(stars) if stars else None


def hf_user(username: str | None) -> dict[str, Any]:
    """A ``submittedBy`` object; ``user`` repeats the name because ``HfApi`` reads it there."""
    name = username or ""
    return {"name": name, "user": name, "fullname": name, "type": "user", "avatarUrl": ""}


def hf_paper(paper: Paper) -> dict[str, Any]:
    """The paper object (``/api/papers/{id}`` and the ``paper`` of list items)."""
    data: dict[str, Any] = {
        "id": paper.id,
        "authors": [{"name": name, "hidden": False} for name in paper.authors],
        "publishedAt": hf_time(paper.published_at or paper.feed_date),
        "title": paper.display_title,
        "summary": paper.abstract,
        "upvotes": paper.upvotes,
    }
    code = safe_url(paper.code_url)
    if code:
        data["githubRepo"] = code
        stars = _github_stars(paper)
        if stars is not None:
            data["githubStars"] = stars
    project = safe_url(paper.project_url)
    if project:
        data["projectPage"] = project
    data["categories"] = list(paper.categories)
    data["feedDate"] = paper.feed_date.isoformat() if paper.feed_date else None
    data["url"] = paper_path(paper.id)
    return data


def hf_paper_info(paper: Paper) -> dict[str, Any]:
    """``/api/papers/{id}``: the paper object plus its daily-feed facts, flat."""
    data = hf_paper(paper)
    data["numComments"] = _num_comments(paper)
    if paper.feed_date:
        data["submittedOnDailyAt"] = hf_time(paper.feed_date)
    submitter = submitter_of(paper)
    if submitter:
        data["submittedOnDailyBy"] = hf_user(submitter)
    return data


def hf_item(paper: Paper) -> dict[str, Any]:
    """A list item: the paper and its place on the daily feed (featured on its feed day)."""
    return {
        "paper": hf_paper(paper),
        "publishedAt": hf_time(paper.feed_date or paper.published_at),
        "title": paper.display_title,
        "summary": paper.abstract,
        "numComments": _num_comments(paper),
        "submittedBy": hf_user(submitter_of(paper)),
        "isAuthorParticipating": False,
    }


# -- the schema, for /openapi.json and /docs ---------------------------------------------


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HFAuthor(_Shape):
    name: str
    hidden: bool = False


class HFUser(_Shape):
    name: str = Field(description="Username; empty when nobody submitted the paper.")
    user: str = Field(description="The same username (where huggingface_hub reads it).")
    fullname: str
    type: str = "user"
    avatarUrl: str = ""


class HFPaper(_Shape):
    id: str = Field(description="arXiv id without version, or pf-<hash> for papers without one.")
    authors: list[HFAuthor]
    publishedAt: str | None = Field(description="First arXiv version, ISO-8601 UTC.")
    title: str
    summary: str = Field(description="The abstract as stored (LaTeX left as written).")
    upvotes: int = Field(description="Upvotes reported by the sources plus votes cast here.")
    githubRepo: str | None = None
    githubStars: int | None = None
    projectPage: str | None = None
    categories: list[str] = Field(description="paperfeed: arXiv categories, primary first.")
    feedDate: str | None = Field(description="paperfeed: the daily feed day, YYYY-MM-DD.")
    url: str = Field(description="paperfeed: the paper's page on this site.")


class HFPaperInfo(HFPaper):
    numComments: int = 0
    submittedOnDailyAt: str | None = None
    submittedOnDailyBy: HFUser | None = None


class HFDailyPaper(_Shape):
    paper: HFPaper
    publishedAt: str | None = Field(description="When the paper was put on the daily feed.")
    title: str
    summary: str
    numComments: int = 0
    submittedBy: HFUser
    isAuthorParticipating: bool = False
