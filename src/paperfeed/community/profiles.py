"""The portable profile: one versioned JSON document with everything a user made here
(upvotes, collections, saved searches, follows, their reference library and negative
feedback), and a BibTeX file of its papers, that another paperfeed imports.

**The document** (``format: "paperfeed-profile"``, ``version: 1``; documented in
``docs/profile.md``) names papers by arXiv id, DOI and title together, so another
instance can match them however it knows them (arXiv id first, then DOI, then the
title's match key, the same order as reference-library imports). Times are UTC.

**Import** is idempotent: what is already there (a vote, a collection of the same
name holding the paper, a saved search, a follow) is counted as ``already`` and left
alone, so importing the same file twice changes nothing. Every item is accounted for
in the report: ``added``, ``already``, or ``unmatched`` (a paper this instance does not
have, listed with its reference) or ``refused`` (with the reason: e.g. a search this
instance's syntax rejects). A document from a newer version is refused whole, with a
message saying which version this instance reads. Nothing is half-imported: each
section runs in its own transaction and a malformed document is refused before any.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from paperfeed.errors import InputError, PaperfeedError
from paperfeed.models import Paper, match_key, parse_arxiv_id
from paperfeed.models.digest import Topic
from paperfeed.storage.values import instant_text

if TYPE_CHECKING:
    from paperfeed.storage import Storage

FORMAT = "paperfeed-profile"
VERSION = 1
#: Sections of a version-1 document, in the order they are imported.
SECTIONS = ("upvotes", "collections", "saved_searches", "follows", "library", "negative_feedback")
MAX_ITEMS = 100_000


def paper_ref(paper: Paper) -> dict[str, Any]:
    """How a document names a paper: every identifier another instance may know it by."""
    return {
        "id": paper.id,
        "arxiv_id": paper.arxiv_id,
        "doi": paper.doi,
        "title": paper.display_title,
        "authors": paper.authors[:10],
        "year": (paper.published_at or paper.created_at).year
        if (paper.published_at or paper.created_at)
        else None,
    }


@dataclass(slots=True)
class SectionReport:
    total: int = 0
    added: int = 0
    already: int = 0
    matched_by: dict[str, int] = field(default_factory=dict)
    unmatched: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total, "added": self.added, "already": self.already,
            "matched_by": dict(self.matched_by), "unmatched": len(self.unmatched),
            "refused": len(self.refused), "unmatched_items": self.unmatched,
            "refused_items": self.refused,
        }  # fmt: skip

    @property
    def accounted(self) -> int:
        return self.added + self.already + len(self.unmatched) + len(self.refused)


@dataclass(slots=True)
class ImportReport:
    version: int
    source: str | None
    sections: dict[str, SectionReport] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "version": self.version, "source": self.source,
            "sections": {name: s.as_dict() for name, s in self.sections.items()},
            "all_accounted_for": all(s.accounted == s.total for s in self.sections.values()),
        }  # fmt: skip


def parse_profile(raw: bytes) -> Any:
    """The JSON of a profile file (checked by :func:`check_document` on import)."""
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError("a profile is UTF-8 JSON text; this file is not text") from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"a profile is JSON; this file is not ({exc.msg} at line {exc.lineno})"
        ) from None
    except RecursionError:
        raise InputError("this profile nests too deeply to be a profile") from None


def check_document(document: Any) -> dict[str, Any]:
    """The document if this instance can read it; InputError saying why not otherwise."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise InputError(f"not a paperfeed profile: expected a JSON object with format {FORMAT!r}")
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise InputError("this profile has no valid version number")
    if version > VERSION:
        raise InputError(
            f"this profile is version {version}, made by a newer paperfeed; this one reads"
            f" versions up to {VERSION}: upgrade paperfeed to import it"
        )
    for name in SECTIONS:
        value = document.get(name, [])
        if not isinstance(value, list):
            raise InputError(f"profile section {name!r} must be a list")
        if len(value) > MAX_ITEMS:
            raise InputError(f"profile section {name!r} has more than {MAX_ITEMS} items")
        if any(not isinstance(item, dict) for item in value):
            raise InputError(f"every item of profile section {name!r} must be an object")
    return document


class PaperMatcher:
    """Finds stored papers for document references: arXiv id, then DOI, then title."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def match(self, refs: Sequence[dict[str, Any]]) -> list[tuple[str, str] | None]:
        """``(paper id, matched by)`` or None per reference, in order."""
        arxiv_ids = [self._arxiv(r) for r in refs]
        dois = [str(r.get("doi") or "").strip().lower() or None for r in refs]
        titles = [match_key(str(r.get("title") or "")) or None for r in refs]
        by_id = self._ids("SELECT id AS k, id FROM papers WHERE id IN ({ids})",
                          [a for a in arxiv_ids if a] + [str(r.get("id")) for r in refs if r.get("id")])  # fmt: skip
        by_doi = self._ids("SELECT lower(doi) AS k, id FROM papers WHERE lower(doi) IN ({ids})",
                           [d for d in dois if d])  # fmt: skip
        by_title = self._ids("SELECT title_key AS k, id FROM papers WHERE title_key IN ({ids})",
                             [t for t in titles if t])  # fmt: skip
        found: list[tuple[str, str] | None] = []
        for ref, arxiv_id, doi, title in zip(refs, arxiv_ids, dois, titles, strict=True):
            if arxiv_id and arxiv_id in by_id:
                found.append((by_id[arxiv_id], "arxiv"))
            elif doi and doi in by_doi:
                found.append((by_doi[doi], "doi"))
            elif title and title in by_title:
                found.append((by_title[title], "title"))
            elif ref.get("id") and str(ref["id"]) in by_id:
                found.append((by_id[str(ref["id"])], "id"))
            else:
                found.append(None)
        return found

    @staticmethod
    def _arxiv(ref: dict[str, Any]) -> str | None:
        for value in (ref.get("arxiv_id"), ref.get("id")):
            parsed = parse_arxiv_id(str(value or ""))
            if parsed:
                return parsed[0]
        return None

    def _ids(self, sql: str, values: Iterable[str]) -> dict[str, str]:
        unique = sorted(set(values))
        found: dict[str, str] = {}
        with self.storage.db.transaction(readonly=True) as tx:
            for start in range(0, len(unique), 500):
                chunk = unique[start : start + 500]
                for row in tx.query(sql.format(ids=", ".join("?" * len(chunk))), chunk):
                    found.setdefault(row["k"], row["id"])
        return found


def _ref_of(item: dict[str, Any]) -> dict[str, Any]:
    paper = item.get("paper")
    if not isinstance(paper, dict):
        raise InputError("an item without a 'paper' object")
    return paper


class ProfilesMixin:
    """Profile export and import methods of :class:`paperfeed.community.Community`."""

    storage: Storage
    _now: Callable[[], datetime]

    # -- export --------------------------------------------------------------------------

    def export_profile(
        self, user_id: int, *, source: str | None = None, personal: Any | None = None
    ) -> dict[str, Any]:
        """The user's profile document. ``personal`` supplies the reference library and
        negative feedback (``library_items(user_id)``, ``feedback_items(user_id)``)."""
        user = self.user(user_id)  # type: ignore[attr-defined]
        papers = self.storage.papers
        votes = self.storage.votes.since(user_id=user_id, limit=MAX_ITEMS)
        voted = {p.id: p for p in papers.get_many([v.paper_id for v in votes])}
        collections = []
        for found in self.storage.collections.of_owner(user_id):
            entries = self.storage.collections.entries(found.id)
            in_it = {p.id: p for p in papers.get_many([pid for pid, _ in entries])}
            collections.append({
                "name": found.name, "description": found.description,
                "public": found.is_public, "created_at": instant_text(found.created_at),
                "papers": [{"paper": paper_ref(in_it[pid]), "added_at": added}
                           for pid, added in entries if pid in in_it],
            })  # fmt: skip
        subscription = self.storage.subscriptions.of_user(user_id)
        return {
            "format": FORMAT,
            "version": VERSION,
            "exported_at": instant_text(self._now()),
            "source": source,
            "account": {
                "username": user.username,
                "email": user.email,
                "created_at": instant_text(user.created_at),
            },
            "upvotes": [
                {"paper": paper_ref(voted[v.paper_id]), "at": instant_text(v.created_at)}
                for v in votes
                if v.paper_id in voted
            ],
            "collections": collections,
            "saved_searches": [
                {"kind": t.kind, "query": t.query}
                for t in self.storage.subscriptions.topics_of(user_id=user_id)
            ],
            "follows": self._export_follows(user_id),
            "library": personal.library_items(user_id) if personal else [],
            "negative_feedback": personal.feedback_items(user_id) if personal else [],
            "digest": (
                {"cadence": subscription[0].cadence, "max_papers": subscription[0].max_papers}
                if subscription
                else None
            ),
        }

    def _export_follows(self, user_id: int) -> list[dict[str, Any]]:
        follows = self.storage.follows.of_user(user_id)
        followed = {p.id: p for p in self.storage.papers.get_many(
            [f.paper_id for f in follows if f.paper_id])}  # fmt: skip
        out = []
        for follow in follows:
            item = {k: v for k, v in follow.as_dict().items() if k not in ("id", "label")}
            if follow.paper_id in followed:
                item["paper"] = paper_ref(followed[follow.paper_id])
            out.append(item)
        return out

    # -- import --------------------------------------------------------------------------

    def import_profile(
        self, user_id: int, document: Any, *, personal: Any | None = None
    ) -> ImportReport:
        """Bring a profile document into ``user_id``'s account (see the module doc)."""
        document = check_document(document)
        self.user(user_id)  # type: ignore[attr-defined]
        report = ImportReport(document["version"], document.get("source"))
        matcher = PaperMatcher(self.storage)
        report.sections["upvotes"] = self._import_upvotes(user_id, document, matcher)
        report.sections["collections"] = self._import_collections(user_id, document, matcher)
        report.sections["saved_searches"] = self._import_searches(user_id, document)
        report.sections["follows"] = self._import_follows(user_id, document, matcher)
        if personal is not None:
            report.sections["library"] = personal.import_library_items(
                user_id, document.get("library", []), matcher
            )
            report.sections["negative_feedback"] = personal.import_feedback_items(
                user_id, document.get("negative_feedback", []), matcher
            )
        else:
            for name in ("library", "negative_feedback"):
                items = document.get(name, [])
                section = report.sections[name] = SectionReport(total=len(items))
                section.refused = [{"item": i, "reason": "this instance keeps no " + name}
                                   for i in items]  # fmt: skip
        return report

    def _matched(
        self, items: list[dict[str, Any]], matcher: PaperMatcher, section: SectionReport
    ) -> list[tuple[dict[str, Any], str]]:
        refs, usable = [], []
        for item in items:
            try:
                refs.append(_ref_of(item))
                usable.append(item)
            except InputError as exc:
                section.refused.append({"item": item, "reason": str(exc)})
        found = []
        for item, ref, match in zip(usable, refs, matcher.match(refs), strict=True):
            if match is None:
                section.unmatched.append(ref)
                continue
            paper_id, how = match
            section.matched_by[how] = section.matched_by.get(how, 0) + 1
            found.append((item, paper_id))
        return found

    def _import_upvotes(
        self, user_id: int, document: dict[str, Any], matcher: PaperMatcher
    ) -> SectionReport:
        items = document.get("upvotes", [])
        section = SectionReport(total=len(items))
        matched = self._matched(items, matcher, section)
        already = self.storage.votes.voted(user_id, [pid for _, pid in matched])
        for _, paper_id in matched:
            if paper_id in already:
                section.already += 1
            else:
                self.upvote(user_id, paper_id)  # type: ignore[attr-defined]
                already.add(paper_id)
                section.added += 1
        return section

    def _import_collections(
        self, user_id: int, document: dict[str, Any], matcher: PaperMatcher
    ) -> SectionReport:
        """Each collection by name (created if missing); its papers are the items."""
        collections = document.get("collections", [])
        items = [paper for c in collections for paper in (c.get("papers") or [])]
        section = SectionReport(total=len(items))
        mine = {c.name.casefold(): c for c in self.storage.collections.of_owner(user_id)}
        for collection in collections:
            papers = collection.get("papers") or []
            if not isinstance(papers, list):
                section.refused.append(
                    {"item": collection.get("name"), "reason": "papers is not a list"}
                )
                continue
            try:
                name = str(collection.get("name") or "")
                target = mine.get(" ".join(name.split()).casefold())
                if target is None:
                    target = self.create_collection(  # type: ignore[attr-defined]
                        user_id, name, description=str(collection.get("description") or ""),
                        public=bool(collection.get("public")),
                    )  # fmt: skip
                    mine[target.name.casefold()] = target
            except PaperfeedError as exc:
                section.refused += [{"item": p, "reason": str(exc)} for p in papers]
                continue
            # Oldest first, so the collection keeps the exported order (newest on top); the
            # document lists newest first, which settles additions of the same second.
            ordered = sorted(
                reversed(papers),
                key=lambda p: str(p.get("added_at") or "") if isinstance(p, dict) else "",
            )
            for _, paper_id in self._matched(ordered, matcher, section):
                if self.add_to_collection(user_id, target.id, paper_id):  # type: ignore[attr-defined]
                    section.added += 1
                else:
                    section.already += 1
        return section

    def _import_searches(self, user_id: int, document: dict[str, Any]) -> SectionReport:
        items = document.get("saved_searches", [])
        section = SectionReport(total=len(items))
        existing = set(self.storage.subscriptions.topics_of(user_id=user_id))
        for item in items:
            try:
                topic = Topic.make(str(item.get("kind") or ""), str(item.get("query") or ""))
            except InputError as exc:
                section.refused.append({"item": item, "reason": str(exc)})
                continue
            if topic in existing:
                section.already += 1
                continue
            with self.storage.db.transaction() as tx:
                self.storage.subscriptions.add_topics(tx, [topic], self._now(), user_id=user_id)
            existing.add(topic)
            section.added += 1
        return section

    def _import_follows(
        self, user_id: int, document: dict[str, Any], matcher: PaperMatcher
    ) -> SectionReport:
        items = document.get("follows", [])
        section = SectionReport(total=len(items))
        for item in items:
            kind = str(item.get("kind") or "")
            value = item.get("value")
            if kind == "paper":
                ref = item.get("paper") or {"id": value, "arxiv_id": value}
                (match,) = matcher.match([ref])
                if match is None:
                    section.unmatched.append(ref)
                    continue
                value = match[0]
            try:
                existing = self.find_follow(user_id, kind, str(value or ""))  # type: ignore[attr-defined]
                if existing is not None:
                    section.already += 1
                    continue
                made = self.follow(  # type: ignore[attr-defined]
                    user_id, kind, str(value or ""),
                    upvote_threshold=item.get("upvote_threshold"),
                    top=item.get("top") if kind in ("category", "search") else None,
                )  # fmt: skip
                if item.get("muted"):
                    self.update_follow(user_id, made.id, muted=True)  # type: ignore[attr-defined]
            except PaperfeedError as exc:
                section.refused.append({"item": item, "reason": str(exc)})
                continue
            section.added += 1
        return section


# -- BibTeX --------------------------------------------------------------------------------


def _bibtex_key(ref: dict[str, Any], taken: set[str]) -> str:
    """``lovelace2024scaling``-style keys, made unique with a, b, c ..."""
    authors = ref.get("authors") or []
    last = str(authors[0]).split()[-1] if authors else "anon"
    words = [w for w in match_key(str(ref.get("title") or "")).split() if len(w) > 3]
    stem = "".join(ch for ch in (last + str(ref.get("year") or "") + (words[0] if words else ""))
                   .lower() if ch.isascii() and ch.isalnum()) or "paper"  # fmt: skip
    key, suffix = stem, 0
    while key in taken:
        suffix += 1
        key = stem + chr(ord("a") + (suffix - 1) % 26) * (1 + (suffix - 1) // 26)
    taken.add(key)
    return key


def profile_bibtex(document: dict[str, Any]) -> str:
    """A BibTeX file of the profile's library and collections: one entry per paper,
    its collections in ``keywords`` (and ``groups``, which JabRef and Zotero read)."""
    import bibtexparser
    from bibtexparser.bibdatabase import BibDatabase
    from bibtexparser.bwriter import BibTexWriter

    papers: dict[str, dict[str, Any]] = {}
    tags: dict[str, list[str]] = {}

    def add(ref: dict[str, Any], tag: str) -> None:
        key = str(ref.get("arxiv_id") or ref.get("doi") or ref.get("title") or "").lower()
        if not key:
            return
        papers.setdefault(key, ref)
        if tag not in tags.setdefault(key, []):
            tags[key].append(tag)

    for item in document.get("library", []):
        if isinstance(item.get("paper"), dict):
            add(item["paper"], "library")
    for collection in document.get("collections", []):
        for item in collection.get("papers") or []:
            if isinstance(item, dict) and isinstance(item.get("paper"), dict):
                add(item["paper"], str(collection.get("name") or "collection"))

    def text(value: Any) -> str:
        # Braces delimit BibTeX values: an unbalanced one in a title would break the file.
        return " ".join(str(value).replace("{", "").replace("}", "").split())

    database = BibDatabase()
    taken: set[str] = set()
    for key, ref in papers.items():
        entry = {"ENTRYTYPE": "article" if ref.get("doi") else "misc",
                 "ID": _bibtex_key(ref, taken), "title": text(ref.get("title") or "")}  # fmt: skip
        if ref.get("authors"):
            entry["author"] = " and ".join(text(a) for a in ref["authors"])
        if ref.get("year"):
            entry["year"] = str(ref["year"])
        if ref.get("arxiv_id"):
            entry.update(eprint=text(ref["arxiv_id"]), archiveprefix="arXiv",
                         url=f"https://arxiv.org/abs/{text(ref['arxiv_id'])}")  # fmt: skip
        if ref.get("doi"):
            entry["doi"] = text(ref["doi"])
        entry["keywords"] = entry["groups"] = ", ".join(text(t) for t in tags[key])
        database.entries.append(entry)
    writer = BibTexWriter()
    writer.order_entries_by = None  # the document's order: library first, then collections
    writer.indent = "  "
    return str(bibtexparser.dumps(database, writer))
