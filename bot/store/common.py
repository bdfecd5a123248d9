"""What every part of the store shares: the database path, timestamps, errors, the review time."""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

DEFAULT_DB = "~/.local/share/framework-advisor/framework-advisor.db"


def default_path() -> str:
    """The database path: $FRAMEWORK_ADVISOR_DB, else a file in the user's data directory."""
    return os.environ.get("FRAMEWORK_ADVISOR_DB") or os.path.expanduser(DEFAULT_DB)


def is_postgres_url(target: str | os.PathLike | None) -> bool:
    """Whether a store target names a PostgreSQL database (a postgresql:// or postgres:// URL), not a file."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def redact(url: str) -> str:
    """A database URL fit for messages and logs: its password replaced with ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


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




class ConstraintError(sqlite3.IntegrityError):
    """PostgreSQL refused a write for a constraint (a duplicate, a missing reference).

    A `sqlite3.IntegrityError`, so callers written for the SQLite store catch it unchanged.
    """


class StoreUnavailable(sqlite3.OperationalError):
    """PostgreSQL could not run a statement (connection lost, server down, read-only, disk full).

    A `sqlite3.OperationalError`, which is what the SQLite store raises for a storage fault: the
    handlers that answer "try again" for one answer it for the other.
    """
