"""The bundled demo corpus: saved daily-papers page text (see ``data/demo/README.md``)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from paperfeed.errors import InputError


def demo_corpus_paths() -> list[Path]:
    """The demo page-text files shipped with the package, sorted by name.

    Parsers take file paths, so the files must be on disk. That holds for normal
    and editable installs; a zipped install (zipimport) has no real paths and is
    reported instead of being extracted to a temporary directory behind the
    caller's back.
    """
    folder = resources.files("paperfeed") / "data" / "demo"
    paths = [Path(str(entry)) for entry in folder.iterdir() if entry.name.endswith(".txt")]
    if not paths or not all(path.is_file() for path in paths):
        raise InputError(f"demo corpus not found as files under {folder}")
    return sorted(paths)
