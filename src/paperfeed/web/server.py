"""Running the web app with uvicorn (``paperfeed serve``).

One worker serves the app object built here from the already-open library. Several
workers are separate processes, so each builds its own app through the factory
:func:`paperfeed.web.app.create_app_from_environment`; the settings reach them as
``PAPERFEED_*`` environment variables (the same ones a deployment would set).
"""

from __future__ import annotations

import os
from pathlib import Path

import uvicorn

from paperfeed.library import Library
from paperfeed.settings import Settings

FACTORY = "paperfeed.web.app:create_app_from_environment"


def settings_environment(settings: Settings, config_file: str | Path | None) -> dict[str, str]:
    """Environment variables that make ``load_settings()`` in a worker equal ``settings``."""
    env = {
        "PAPERFEED_DATA_DIR": str(settings.data_dir),
        "PAPERFEED_DATABASE_URL": settings.resolved_database_url,
        "PAPERFEED_ENVIRONMENT": settings.environment,
        "PAPERFEED_BASE_URL": settings.base_url,
    }
    if settings.database_schema:
        env["PAPERFEED_DATABASE_SCHEMA"] = settings.database_schema
    if config_file:
        env["PAPERFEED_CONFIG"] = str(Path(config_file).expanduser().resolve())
    return env


def serve(
    library: Library,
    settings: Settings,
    *,
    host: str,
    port: int,
    workers: int = 1,
    access_log: bool = True,
    config_file: str | Path | None = None,
) -> None:
    """Serve until interrupted (Ctrl-C stops uvicorn cleanly)."""
    settings.secret()  # create the development secret once, before workers race for it
    common = {
        "host": host,
        "port": port,
        "access_log": access_log,
        "log_level": "info",
        # Honour X-Forwarded-For/-Proto only from the proxies in forwarded_allow_ips (by
        # default one on this machine), so the rate limits see real client addresses
        # behind nginx/caddy and nobody else can claim another address.
        "proxy_headers": True,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        "server_header": False,
    }
    if workers == 1:
        from paperfeed.web.app import create_app

        uvicorn.run(create_app(library, settings), **common)
        return
    os.environ.update(settings_environment(settings, config_file))
    library.close()  # each worker process opens its own
    uvicorn.run(FACTORY, factory=True, workers=workers, **common)
