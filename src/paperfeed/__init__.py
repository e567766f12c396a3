"""paperfeed: a self-hosted daily papers service.

from paperfeed import load_settings, open_library
with open_library(load_settings()) as library:
    print(library.stats())
"""

from paperfeed.library import Library, open_library
from paperfeed.settings import Settings, load_settings

__all__ = ["Library", "Settings", "load_settings", "open_library"]
__version__ = "0.1.0"
