"""The decision store, the source of truth: SQLite via sqlite-utils, or PostgreSQL. Every query is scoped by team.

`Store(path)` opens a SQLite file (or ":memory:"); `Store("postgresql://...")` a PostgreSQL
database, with the same methods and behaviour, for several replicas on one database (see
bot/store/postgres.py; psycopg is imported only then). How each engine keeps writes safe, bounded
and idempotent is in bot/store/engine.py (SQLite) and bot/store/postgres.py.
"""

from __future__ import annotations

import os
import threading

from bot.store.common import (
    DEFAULT_DB,
    ConstraintError,
    StoreBusy,
    StoreError,
    StoreUnavailable,
    default_path,
    is_postgres_url,
    now,
    review_due_at,
)
from bot.store.consultations import ConsultationRecords
from bot.store.decisions import DecisionRecords
from bot.store.deliveries import DeliveryRecords
from bot.store.engine import HEALTH_WAIT_S, MIN_FREE_BYTES, POST_INTERVAL_S, STARTUP_WAIT_S, WRITE_WAIT_S, Engine
from bot.store.outbox import OutboxQueue
from bot.store.polls import PollRecords
from bot.store.privacy import PrivacyRecords
from bot.store.reviews import ReviewRecords
from bot.store.schema import MIGRATIONS

__all__ = ["DEFAULT_DB", "HEALTH_WAIT_S", "MIGRATIONS", "MIN_FREE_BYTES", "POST_INTERVAL_S", "STARTUP_WAIT_S",
           "WRITE_WAIT_S", "ConstraintError", "Store", "StoreBusy", "StoreError", "StoreUnavailable", "default_path",
           "is_postgres_url", "now", "postgres_store", "review_due_at"]


class Store(Engine, ConsultationRecords, DeliveryRecords, DecisionRecords, ReviewRecords, PollRecords, OutboxQueue,
            PrivacyRecords):
    """Team-scoped access to the database. Safe to share between threads.

    One class over one connection engine, its methods grouped by concern in this package's modules.
    A postgresql:// URL makes it a `PostgresStore` (a subclass: the same methods, PostgreSQL's engine).
    """

    def __new__(cls, path: str | os.PathLike | None = None, *args, **kwargs):
        if cls is Store and is_postgres_url(path or default_path()):
            return super().__new__(postgres_store())
        return super().__new__(cls)


_POSTGRES_STORE: list[type[Store]] = []
_POSTGRES_LOCK = threading.Lock()  # two threads opening the first PostgreSQL store make one class


def postgres_store() -> type[Store]:
    """The class of a Store on PostgreSQL: `Store`'s methods over bot/store/postgres.py's engine.

    Made at first use, so that psycopg is imported only by those who use it (and composed here,
    beside `Store`, so that the engine's module need not import this package).
    """
    with _POSTGRES_LOCK:
        if not _POSTGRES_STORE:
            from bot.store.postgres import PostgresEngine

            class PostgresStore(PostgresEngine, Store):
                """`Store` on PostgreSQL: the same methods (bot/store/*), PostgreSQL's engine."""

            PostgresStore.__module__ = __name__
            PostgresStore.__qualname__ = "PostgresStore"
            _POSTGRES_STORE.append(PostgresStore)
        return _POSTGRES_STORE[0]
