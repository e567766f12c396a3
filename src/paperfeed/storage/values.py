"""Conversions between Python values and the text forms both engines store."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any


def instant_text(value: datetime | None) -> str | None:
    """UTC ISO-8601 with a ``Z``, second precision: sorts as text in time order."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def day_text(value: date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.astimezone(UTC).date() if value.tzinfo else value.date()
    return value.isoformat()


def parse_day(text: str | None) -> date | None:
    return date.fromisoformat(text[:10]) if text else None


# Compact and key-sorted so equal values always give equal text (content hashes).
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def json_text(value: Any) -> str:
    return _ENCODER.encode(value)


def parse_json(text: str | None, default: Any = None) -> Any:
    return json.loads(text) if text else default
