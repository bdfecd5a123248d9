"""What every part of the store shares: the database path, timestamps, errors, the review time."""

from __future__ import annotations

import os
from datetime import UTC, datetime

DEFAULT_DB = "~/.local/share/framework-advisor/framework-advisor.db"


def default_path() -> str:
    """The database path: $FRAMEWORK_ADVISOR_DB, else a file in the user's data directory."""
    return os.environ.get("FRAMEWORK_ADVISOR_DB") or os.path.expanduser(DEFAULT_DB)


def _unique(items: list[str]) -> list[str]:
    """The items in their first order, each once (empty strings dropped)."""
    return list(dict.fromkeys(i for i in items if i))


def now() -> str:
    """The current UTC time, ISO 8601 with microseconds (sorts as text)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def review_due_at(review_on: str) -> float:
    """When a review date's reminder is due: 09:00 UTC that day (epoch seconds)."""
    return datetime.fromisoformat(review_on).replace(hour=9, tzinfo=UTC).timestamp()


class StoreError(Exception):
    """A store operation was refused (not found, not allowed)."""


class StoreBusy(StoreError):
    """Another writer held the database for longer than the write wait: busy, try again."""


