"""Errors that reach users: each carries a one-line message and a CLI exit code."""

from __future__ import annotations


class PaperfeedError(Exception):
    """Base class; ``str(error)`` is a complete one-line message for the user."""

    exit_code = 1


class ConfigError(PaperfeedError):
    exit_code = 2


class InputError(PaperfeedError):
    """Unreadable, malformed or unrecognised input (files, dates, ids)."""

    exit_code = 3


class StorageError(PaperfeedError):
    """The database cannot be reached or is not in a usable state."""

    exit_code = 4


class SourceError(PaperfeedError):
    """A remote source failed (HTTP error, protocol error, malformed response)."""

    exit_code = 5


class NotFoundError(PaperfeedError):
    exit_code = 6


class PermissionDenied(PaperfeedError):
    exit_code = 7
