"""paperfeed: a self-hosted daily papers service.

from paperfeed import load_settings, open_library
with open_library(load_settings()) as library:
    print(library.stats())

The names are resolved on first use, so that importing a low layer
(``paperfeed.models``, ``paperfeed.storage``) does not import the whole library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from paperfeed.library import Library, open_library
    from paperfeed.settings import Settings, load_settings

__all__ = ["Library", "Settings", "load_settings", "open_library"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in ("Library", "open_library"):
        from paperfeed import library

        return getattr(library, name)
    if name in ("Settings", "load_settings"):
        from paperfeed import settings

        return getattr(settings, name)
    raise AttributeError(f"module 'paperfeed' has no attribute {name!r}")
