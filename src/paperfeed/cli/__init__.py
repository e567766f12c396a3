"""``paperfeed`` command line: parse, call the Library, print.

One module per command group (:mod:`~paperfeed.cli.library`, ``papers``, ``search``,
``users``, ``jobs``, ``digest``, ``follows``, ``serve``), sharing :mod:`paperfeed.cli.context`;
:mod:`paperfeed.cli.main` puts them together. Every command takes ``--json`` for
machine-readable output. Errors print one line to stderr and exit non-zero (exit
codes in ``paperfeed.errors``).
"""

from paperfeed.cli.main import main

__all__ = ["main"]
