"""Progress reporting without a UI dependency: the CLI plugs a rich bar in."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def start(self, description: str, total: int | None = None) -> None: ...

    def advance(self, amount: int = 1, *, total: int | None = None) -> None: ...

    def finish(self) -> None: ...


class NullProgress:
    """Progress that goes nowhere (library calls, tests, the web app)."""

    def start(self, description: str, total: int | None = None) -> None:
        return None

    def advance(self, amount: int = 1, *, total: int | None = None) -> None:
        return None

    def finish(self) -> None:
        return None
