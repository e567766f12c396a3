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

    # Remote sources, overridable so tests and mirrors can point elsewhere.
    arxiv_oai_url: str = "https://oaipmh.arxiv.org/oai"
    arxiv_api_url: str = "https://export.arxiv.org/api/query"
    huggingface_url: str = "https://huggingface.co"
    # arXiv asks harvesters to wait 3 s between requests.
    http_delay_seconds: float = 3.0
    http_timeout_seconds: float = 60.0
    contact_email: str | None = None

    ingest_batch_size: int = 1000

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
