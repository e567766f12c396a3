"""The façade: the one API the CLI, web app, scheduler and digests call.

Adapters stay thin: they parse input, call a method here and present the result.
A manual "refresh" and the scheduler's job therefore run the same code.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

import httpx

from paperfeed.community import Community, Submission
from paperfeed.community.alerts import AlertDetector
from paperfeed.community.profiles import ImportReport
from paperfeed.digest.service import Delivery
from paperfeed.errors import ConfigError, InputError, NotFoundError, SourceError
from paperfeed.explore.authors import AuthorProfile, Authors
from paperfeed.explore.categories import Categories, CategoryOverview, CategoryPeriod
from paperfeed.explore.fieldmap import FieldMap
from paperfeed.explore.mapview import MAX_HIGHLIGHTS, MapPoint, MapView, view, where
from paperfeed.explore.trends import Granularity, Trend, Trends
from paperfeed.ingest.pipeline import IngestPipeline
from paperfeed.jobs.builtin import builtin_jobs, builtin_kinds
from paperfeed.jobs.follower import IndexFollower
from paperfeed.jobs.schedule import JobFunction
from paperfeed.jobs.scheduler import Scheduler
from paperfeed.models import IngestReport, Paper, parse_arxiv_id, utc_now
from paperfeed.models.digest import Cadence, DigestRunReport
from paperfeed.models.follows import AlertRunReport
from paperfeed.progress import Progress
from paperfeed.rank.trending import TrendingScore, rank_trending, trending_window
from paperfeed.search.models import SearchFilters, SearchHit, SearchMode, SearchResults, SearchSort
from paperfeed.search.query import parse_query
from paperfeed.search.service import EmbedChoice, RelatedMethod, SearchService
from paperfeed.settings import Settings
from paperfeed.sources.base import Source
from paperfeed.storage import Storage, open_storage
from paperfeed.storage.papers import PaperSort

FeedPeriod = Literal["day", "week", "month"]
#: What a signed-in user can show on the map.
MapShow = Literal["upvotes", "collections"]
MAP_SHOWS: tuple[MapShow, ...] = ("upvotes", "collections")


def period_bounds(period: FeedPeriod, day: date) -> tuple[date, date]:
    """First and last day of the day, ISO week (Monday-Sunday) or month containing ``day``."""
    if period == "day":
        return day, day
    if period == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    start = day.replace(day=1)
    following = (start + timedelta(days=32)).replace(day=1)
    return start, following - timedelta(days=1)


@dataclass(slots=True)
class Feed:
    """One page of a day's, week's or month's papers, most upvoted first.

    ``previous_start``/``next_start`` open the nearest earlier/later period that has
    papers, so navigation skips empty days (weekends, gaps in an archive).
    """

    period: FeedPeriod
    start: date | None
    end: date | None
    papers: list[Paper]
    total: int
    previous_start: date | None
    next_start: date | None


class Library:
    """Everything paperfeed can do, over one storage."""

    def __init__(self, settings: Settings, storage: Storage) -> None:
        self.settings = settings
        self.storage = storage
        self.community = Community(
            storage, secret=settings.secret, invite_days=settings.group_invite_days,
            reset_minutes=settings.password_reset_minutes,
            email_change_hours=settings.confirm_link_hours,
        )  # fmt: skip
        # Keyword/semantic/hybrid search and related papers; indexes under data_dir/index
        # (derived caches of the database). Opens nothing until first used.
        self.search_service = SearchService(storage, settings, settings.data_dir / "index")
        # Trends, author and category pages: counts from the keyword index.
        keyword, ensure = self.search_service.keyword, self.search_service.ensure_keyword_index
        self.trends = Trends(keyword, ensure)
        self.authors = Authors(storage, keyword, ensure)
        self.categories = Categories(storage, keyword, ensure)
        # The map of the field: positions from the vectors, a cache under index/map.
        self.field_map = FieldMap(storage, settings.data_dir / "index" / "map", self._map_model)
        # E-mail digests: subscribers, composing, sending (no work until first used).
        self.delivery = Delivery(storage, settings, search=self.search)
        # Jobs (harvests, index sync, digests) run through here, by a worker or by hand.
        self.scheduler = self.new_scheduler()

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True) -> Library:
        storage = open_storage(
            settings.resolved_database_url, schema=settings.database_schema, migrate=migrate
        )
        return cls(settings, storage)

    def close(self) -> None:
        self.storage.close()

    def new_scheduler(
        self,
        *,
        worker_id: str | None = None,
        extra_kinds: Mapping[str, JobFunction] | None = None,
        clock: Callable[[], datetime] = utc_now,
        jitter: Callable[[], float] = random.random,
    ) -> Scheduler:
        """A scheduler over this library's jobs: the built-in ones (``paperfeed.jobs.builtin``,
        calling back into this façade) plus ``extra_kinds``. ``self.scheduler`` is one."""
        return Scheduler(
            self.storage.jobs,
            self.settings,
            {**builtin_kinds(self), **(extra_kinds or {})},
            specs=lambda: builtin_jobs(self.settings),
            worker_id=worker_id,
            clock=clock,
            jitter=jitter,
        )

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- setup ---------------------------------------------------------------------------

    def init(self) -> dict[str, Any]:
        """Create the data directory and bring the schema up to date."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        applied = self.storage.migrate()
        return {
            "database": self.settings.engine,
            "data_dir": str(self.settings.data_dir),
            "schema_version": self.storage.db.schema_version(),
            "migrations_applied": applied,
        }

    # -- ingest --------------------------------------------------------------------------

    def ingest(
        self,
        source: Source,
        *,
        progress: Progress | None = None,
        atomic: bool = False,
        default_listed_on: date | None = None,
    ) -> IngestReport:
        """Run any source through the pipeline (harvests commit per batch, resumably)."""
        pipeline = IngestPipeline(self.storage, default_listed_on=default_listed_on)
        return pipeline.run(source, progress=progress, atomic=atomic)

    def import_files(
        self,
        paths: Sequence[Path | str],
        *,
        format: str | None = None,
        progress: Progress | None = None,
        default_listed_on: date | None = None,
        embed: EmbedChoice = True,
    ) -> IngestReport:
        """Import files in one transaction: any bad file leaves the database untouched.

        Then the search indexes catch up; ``embed`` False leaves embedding to a later
        ``sync_search``/``paperfeed embed``, ``"bulk"`` embeds with the fast static model.
        """
        from paperfeed.sources.importers import open_source

        sources = [open_source(Path(path), format) for path in paths]  # detect all first
        report = IngestReport()
        with self.storage.db.transaction():
            for source in sources:
                report.add(
                    self.ingest(
                        source,
                        progress=progress,
                        atomic=True,
                        default_listed_on=default_listed_on,
                    )
                )
        self.sync_search(progress, embed=embed)
        return report

    def import_demo(
        self, *, progress: Progress | None = None, embed: EmbedChoice = True
    ) -> IngestReport:
        """Load the bundled demo corpus; undated papers are listed on today's feed."""
        from paperfeed.sources.demo import demo_corpus_paths

        return self.import_files(
            demo_corpus_paths(),
            format="hf-page",
            progress=progress,
            default_listed_on=utc_now().date(),
            embed=embed,
        )

    def _http_client(self) -> httpx.Client:
        agent = "paperfeed/0.1"
        if self.settings.contact_email:
            agent += f" (mailto:{self.settings.contact_email})"
        return httpx.Client(
            timeout=self.settings.http_timeout_seconds,
            headers={"User-Agent": agent},
            follow_redirects=True,
        )

    def harvest_arxiv(
        self,
        *,
        set_spec: str = "cs",
        from_date: date | None = None,
        until_date: date | None = None,
        metadata_prefix: str = "arXiv",
        progress: Progress | None = None,
        sleep: Callable[[float], None] | None = None,
        embed: EmbedChoice = True,
    ) -> IngestReport:
        """Bulk harvest over OAI-PMH; resumes from the stored resumption token."""
        from paperfeed.sources.arxiv import OAIHarvestSource

        if from_date and until_date and from_date > until_date:
            raise InputError(f"--from {from_date} is after --until {until_date}")
        with self._http_client() as client:
            source = OAIHarvestSource(
                base_url=self.settings.arxiv_oai_url,
                metadata_prefix=metadata_prefix,
                set_spec=set_spec,
                from_date=from_date,
                until_date=until_date,
                client=client,
                delay_seconds=self.settings.http_delay_seconds,
                **({"sleep": sleep} if sleep else {}),
            )
            report = self.ingest(source, progress=progress)
        self.sync_search(progress, embed=embed)
        return report

    def harvest_arxiv_query(
        self,
        *,
        search_query: str | None = None,
        id_list: Sequence[str] = (),
        max_results: int | None = 100,
        progress: Progress | None = None,
        embed: EmbedChoice = True,
    ) -> IngestReport:
        """Fetch papers through the arXiv query API (search or explicit ids)."""
        from paperfeed.sources.arxiv import ArxivQuerySource

        with self._http_client() as client:
            source = ArxivQuerySource(
                base_url=self.settings.arxiv_api_url,
                search_query=search_query,
                id_list=list(id_list) or None,
                max_results=max_results,
                client=client,
                delay_seconds=self.settings.http_delay_seconds,
            )
            report = self.ingest(source, progress=progress)
        self.sync_search(progress, embed=embed)
        return report

    def harvest_hf(
        self, day: date, *, progress: Progress | None = None, embed: EmbedChoice = True
    ) -> IngestReport:
        """Fetch the Hugging Face daily papers of ``day``."""
        from paperfeed.sources.huggingface import HFDailySource

        with self._http_client() as client:
            source = HFDailySource(
                day,
                base_url=self.settings.huggingface_url,
                client=client,
                delay_seconds=min(self.settings.http_delay_seconds, 1.0),
            )
            report = self.ingest(source, progress=progress)
        self.sync_search(progress, embed=embed)
        return report

    def send_digests(
        self, cadence: Cadence, *, now: datetime, worker: str, skip_days: bool = True
    ) -> DigestRunReport:
        """Send the due digests of ``cadence`` (the digest jobs; ``paperfeed digest --send``).
        Alerts are looked for first, so the newest lead the digests."""
        self.detect_alerts()
        return self.delivery.send_digests(cadence, now=now, worker=worker, skip_days=skip_days)

    # -- group digests (paperfeed.digest.groups) -----------------------------------------

    def set_group_digest(self, group_id: int, user_id: int, cadence: str) -> str:
        """A member's group digest choice. The digest goes to the member's confirmed
        address: if the account has no active subscription, this asks for one (the
        confirmation mail; a subscription with no digest of its own). Returns
        ``off``, ``active`` or ``confirmation-sent``."""
        member = self.community.set_group_digest(group_id, user_id, cadence)
        if member.digest == "off":
            return "off"
        found = self.delivery.subscription_of_user(user_id)
        if found is not None and found.status == "active":
            return "active"
        user = self.community.user(user_id)
        self.delivery.subscribe(
            user.email, cadence=found.cadence if found else "off", user_id=user_id
        )
        return "confirmation-sent"

    def send_group_digests(
        self, cadence: Cadence, *, now: datetime, worker: str
    ) -> DigestRunReport:
        """Send the due group digests of ``cadence`` (the ``group-digest`` jobs)."""
        return self.delivery.send_group_digests(cadence, now=now, worker=worker)

    # -- account changes that send mail (paperfeed.community.account_changes) -----------

    def request_password_reset(self, email: str, *, client: str = "") -> EmailMessage | None:
        """The reset mail to send if an account uses ``email``, else None; RateLimited
        past the limits. Callers answer the same either way and send the mail after
        answering (``send_account_mail``), so timing does not tell either."""
        found = self.community.password_reset_token(email, client=client)
        if found is None:
            return None
        user, token = found
        return self.delivery.mail.password_reset(
            user.email, token, minutes=self.settings.password_reset_minutes, now=utc_now()
        )

    def request_email_change(
        self, user_id: int, new_email: str, password: str
    ) -> list[EmailMessage]:
        """The confirmation mail to the new address and a notice to the old one."""
        user, address, token = self.community.email_change_token(user_id, new_email, password)
        mail, now = self.delivery.mail, utc_now()
        return [
            mail.email_change(address, user.username, token,
                              hours=self.settings.confirm_link_hours, now=now),
            mail.email_change_notice(user.email, user.username, address, now=now),
        ]  # fmt: skip

    def send_account_mail(self, messages: Sequence[EmailMessage]) -> None:
        """Send account mails (resets, address changes) now, through a sender of their own
        (the digest jobs may be using theirs in another thread)."""
        from paperfeed.digest.senders import make_sender

        sender = make_sender(self.settings)
        try:
            for message in messages:
                sender.send(message)
        finally:
            sender.close()

    # -- the portable profile (paperfeed.community.profiles) -----------------------------

    def _personal_profile(self) -> Any | None:
        """What the profile needs of the personal recommender's data (reference library,
        negative feedback), or None where this installation has none."""
        return None

    def export_profile(self, user_id: int) -> dict[str, Any]:
        """The user's portable profile document (``docs/profile.md``)."""
        return self.community.export_profile(
            user_id, source=self.settings.base_url, personal=self._personal_profile()
        )

    def export_profile_bibtex(self, user_id: int) -> str:
        from paperfeed.community.profiles import profile_bibtex

        return profile_bibtex(self.export_profile(user_id))

    def import_profile(self, user_id: int, document: Any) -> ImportReport:
        """Bring a profile document into an account (idempotent; every item reported)."""
        return self.community.import_profile(user_id, document, personal=self._personal_profile())

    # -- follows and alerts (paperfeed.community.follows, .alerts) ----------------------

    def detect_alerts(self, progress: Progress | None = None) -> AlertRunReport:
        """Make the alerts the change log brings to follows (the ``alerts`` job,
        ``paperfeed alerts detect``); safe to run anywhere, any time."""
        return AlertDetector(self.storage).run(progress=progress)

    # -- submissions ---------------------------------------------------------------------

    def submit_paper(self, user_id: int, text: str) -> Submission:
        """A user's submission of an arXiv id or URL, fetched from arXiv right away if online."""
        return self.community.submit(user_id, text, fetch=self._fetch_submitted)

    def process_submissions(self, *, limit: int = 50) -> int:
        """Fetch queued submissions (the scheduler's job); returns how many got fetched."""
        return self.community.process_submissions(self._fetch_submitted, limit=limit)

    def _fetch_submitted(self, arxiv_id: str) -> bool:
        """The ``fetch`` of :meth:`Community.submit`: True once stored, False if arXiv is
        unreachable (retried later), NotFoundError if arXiv answered without the paper."""
        try:
            self.harvest_arxiv_query(id_list=[arxiv_id], max_results=1)
        except (SourceError, httpx.HTTPError, OSError):
            return False
        if self.storage.papers.get(arxiv_id) is None:
            raise NotFoundError(f"arXiv has no paper {arxiv_id}")
        return True

    # -- reading -------------------------------------------------------------------------

    def paper(self, paper_id: str) -> Paper:
        """A paper by id; arXiv ids may carry a version or be given as a URL."""
        parsed = parse_arxiv_id(paper_id)
        key = parsed[0] if parsed else paper_id.strip()
        found = self.storage.papers.get(key)
        if found is None:
            raise NotFoundError(f"no paper with id {paper_id!r}")
        return found

    def papers(
        self,
        *,
        day_from: date | None = None,
        day_to: date | None = None,
        category: str | None = None,
        sort: PaperSort = "feed",
        limit: int = 50,
        offset: int = 0,
        submitter: str | None = None,
    ) -> list[Paper]:
        """Papers by feed day; ``submitter`` keeps those a given user put on a daily feed
        (on Hugging Face or here), as the Hugging Face API's ``submitter=`` does."""
        return self.storage.papers.list(
            day_from=day_from, day_to=day_to, category=category,
            sort=sort, limit=limit, offset=offset, submitter=submitter,
        )  # fmt: skip

    def feed(
        self,
        period: FeedPeriod = "day",
        day: date | None = None,
        *,
        limit: int = 50,
        offset: int = 0,
    ) -> Feed:
        """The period containing ``day`` (default: the latest day with papers up to today).

        A few index seeks whatever the corpus size (the web's daily page calls this on
        every request): the page of papers, their count and the neighbouring days.
        """
        papers_store = self.storage.papers
        if day is None:
            day = papers_store.latest_day(utc_now().date()) or papers_store.latest_day()
            if day is None:
                return Feed(period, None, None, [], 0, None, None)
        start, end = period_bounds(period, day)
        papers = papers_store.list(
            day_from=start, day_to=end, sort="upvotes", limit=limit, offset=offset
        )
        total = papers_store.count(day_from=start, day_to=end)
        before, after = papers_store.adjacent_days(start, end)
        return Feed(
            period, start, end, papers, total,
            period_bounds(period, before)[0] if before else None,
            period_bounds(period, after)[0] if after else None,
        )  # fmt: skip

    def trending(
        self, *, limit: int = 50, window_days: int = 7, now: datetime | None = None
    ) -> list[TrendingScore]:
        """Papers ranked by the published trending formula (``paperfeed.rank.trending``)."""
        now = now or utc_now()
        newest = self.storage.papers.latest_day()
        day_from, day_to = trending_window(newest, now, window_days)
        # Candidates: the most upvoted of the window; the formula then re-orders them.
        candidates = self.storage.papers.list(
            day_from=day_from, day_to=day_to, sort="upvotes", limit=max(limit * 20, 500)
        )
        return rank_trending(candidates, now)[:limit]

    # -- search (paperfeed.search.service; query syntax in docs/search.md) -------------

    def search(
        self,
        query: str,
        *,
        mode: SearchMode = "hybrid",
        filters: SearchFilters | None = None,
        sort: SearchSort = "relevance",
        limit: int = 20,
        offset: int = 0,
    ) -> SearchResults:
        """Keyword, semantic or hybrid search; bad query syntax raises InputError."""
        return self.search_service.search(
            query, mode=mode, filters=filters, sort=sort, limit=limit, offset=offset
        )

    def related(
        self, paper_id: str, *, limit: int = 10, method: RelatedMethod | None = None
    ) -> list[SearchHit]:
        """Papers most like ``paper_id`` (itself and its copies left out)."""
        return self.search_service.related(self.paper(paper_id).id, limit=limit, method=method)

    # -- pictures and browsing (paperfeed.explore) ---------------------------------------

    def trend(
        self,
        queries: Sequence[str],
        *,
        granularity: Granularity | Literal["auto"] = "auto",
        filters: SearchFilters | None = None,
    ) -> Trend:
        """Papers matching each query (up to four) per week or month, with each
        period's share of all papers; the query language is search's."""
        return self.trends.trend(queries, granularity=granularity, filters=filters)

    def author(
        self, name: str, *, offset: int = 0, limit: int = 20, initials: bool = False
    ) -> AuthorProfile:
        """An author's papers (newest first), co-authors, categories and papers per year;
        spellings that ``au:`` search treats alike are merged (the profile lists them)."""
        return self.authors.profile(name, offset=offset, limit=limit, initials=initials)

    def category(
        self,
        code: str,
        *,
        period: CategoryPeriod = "day",
        day: date | None = None,
        limit: int = 30,
        offset: int = 0,
    ) -> CategoryOverview:
        """A category's feed for a day or week, its trending papers and its neighbours."""
        return self.categories.overview(code, period=period, day=day, limit=limit, offset=offset)

    def map_view(
        self,
        *,
        x: float | None = None,
        y: float | None = None,
        zoom: float = 1.0,
        query: str | None = None,
        user_id: int | None = None,
        show: MapShow | None = None,
        focus: str | None = None,
    ) -> MapView | None:
        """One view of the map of the field (None until the map is built): a sample of
        the papers in the window, highlighting the keyword matches of ``query`` or
        the user's upvoted papers or collections (``show``)."""
        snapshot = self.field_map.snapshot()
        if snapshot is None:
            return None
        ids: list[str] = []
        total = None
        if query:
            parsed = parse_query(query)
            self.search_service.ensure_keyword_index()
            found = self.search_service.keyword.search(parsed, limit=MAX_HIGHLIGHTS)
            ids, total = found.ids, found.total
        elif show is not None:
            if show not in MAP_SHOWS:
                raise InputError(f"show must be one of {', '.join(MAP_SHOWS)}")
            if user_id is not None:
                ids = self.user_papers(user_id, show)
        return view(
            snapshot, x=x, y=y, zoom=zoom, highlight_ids=ids, highlight_total=total,
            focus_id=focus,
        )  # fmt: skip

    def map_position(self, paper_id: str) -> tuple[MapPoint, MapView] | None:
        """Where a paper sits on the map, with the whole-map view around it."""
        snapshot = self.field_map.snapshot()
        if snapshot is None:
            return None
        point = where(snapshot, paper_id)
        return None if point is None else (point, view(snapshot, max_points=1500))

    def paper_titles(self, paper_ids: Sequence[str]) -> dict[str, str]:
        """Titles (readable, as stored) of those of ``paper_ids`` that exist."""
        titles: dict[str, str] = {}
        unique = list(dict.fromkeys(paper_ids))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            rows = self.storage.db.query(
                f"SELECT id, title FROM papers WHERE id IN ({', '.join('?' * len(chunk))})", chunk
            )
            titles.update((row["id"], row["title"]) for row in rows)
        return titles

    def user_papers(self, user_id: int, show: MapShow, *, limit: int = MAX_HIGHLIGHTS) -> list[str]:
        """Ids of a user's upvoted papers, or of the papers in their collections."""
        community = self.community
        if show == "upvotes":
            return [p.id for p in community.upvoted_papers(user_id, limit=limit)]
        ids: list[str] = []
        for collection in community.collections_of(user_id):
            papers = community.collection_papers(collection.id, viewer_id=user_id, limit=limit)
            ids.extend(p.id for p in papers)
        return list(dict.fromkeys(ids))[:limit]

    def sync_search(
        self, progress: Progress | None = None, *, embed: EmbedChoice = True
    ) -> dict[str, Any]:
        """Bring the search indexes and the map up to date with the database's change log
        (the map after the vectors: it places the papers they just embedded)."""
        report = self.search_service.sync(progress, embed=embed)
        report["map"] = self.field_map.sync(progress)
        return report

    def follow_search(self) -> IndexFollower:
        """Keep this node's search indexes in step with the change log from a background
        thread (started; ``stop()`` it): what ``paperfeed serve`` and ``paperfeed worker``
        run beside the scheduler. It embeds nothing: the index-sync job does that once
        for every node."""
        return IndexFollower(
            lambda: self.sync_search(embed=False), self.settings.index_follow_seconds
        ).start()

    def rebuild_search(self, progress: Progress | None = None) -> dict[str, Any]:
        """Rebuild the search indexes and refit the map from the database (they are
        caches of it)."""
        report = self.search_service.rebuild(progress)
        report["map"] = self.field_map.rebuild(progress)
        return report

    def search_status(self) -> dict[str, Any]:
        return {**self.search_service.status(), "map": self.field_map.status()}

    def _map_model(self) -> str | None:
        """The model whose vectors the map draws: the vector index's."""
        vectors = self.search_service.vectors
        return None if vectors is None else vectors.model_id

    def embed(
        self, *, bulk: bool = False, rebuild: bool = False, progress: Progress | None = None
    ) -> dict[str, Any]:
        """Embed papers for semantic search (``paperfeed embed``): every paper without a
        current vector from the default model, or the bulk static model (distilled and
        cached on first use); ``rebuild`` re-embeds every paper. Switching models
        re-embeds everything. Raises ConfigError when the model cannot be loaded."""
        from paperfeed.search.embed import open_embedder
        from paperfeed.search.vectors import VectorIndex

        embedder = open_embedder(self.settings, bulk=bulk, progress=progress)
        vectors = self.search_service.vectors or VectorIndex(
            self.storage, self.settings.data_dir / "index" / "vectors"
        )
        embedded = vectors.sync(embedder, progress=progress, force=rebuild)
        return {
            "embedded": embedded, "model_id": embedder.model_id, "index": vectors.status(),
            "map": self.field_map.sync(progress),
        }  # fmt: skip

    def backup(self, destination: Path) -> dict[str, Any]:
        """A consistent copy of the SQLite database while the site runs (``paperfeed
        backup``). PostgreSQL is backed up with its own tools (``pg_dump``). The search
        indexes are not copied: they are rebuilt from the database after a restore."""
        backup = getattr(self.storage.db, "backup", None)
        if backup is None:
            raise ConfigError(
                "the database is PostgreSQL: back it up with pg_dump"
                " (docs/deployment.md, Backups and restore)"
            )
        size = backup(Path(destination))
        return {"database": self.settings.engine, "path": str(destination), "bytes": size}

    def stats(self) -> dict[str, Any]:
        stats = self.storage.papers.stats()
        stats["database"] = self.settings.engine
        stats["database_bytes"] = self.storage.db.size_bytes()
        stats["schema_version"] = self.storage.db.schema_version()
        stats["checkpoints"] = {
            c["key"]: {"done": c["done"], **c["state"]} for c in self.storage.checkpoints.all()
        }
        return stats


def open_library(settings: Settings, *, migrate: bool = True) -> Library:
    """Open the library described by ``settings`` (creating the SQLite file if needed)."""
    return Library.open(settings, migrate=migrate)
