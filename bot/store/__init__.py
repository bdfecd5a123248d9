"""The decision store, the source of truth: SQLite via sqlite-utils, or PostgreSQL. Every query is scoped by team.

`Store(path)` opens a SQLite file (or ":memory:"); `Store("postgresql://...")` a PostgreSQL
database, with the same methods and behaviour, for several replicas on one database (see
bot/store/postgres.py; psycopg is imported only then). What follows is SQLite's engine.

- WAL mode, a busy timeout, and `BEGIN IMMEDIATE` for every write transaction, so several
  threads and several processes can share one file without lost updates. Writers first queue on
  a lock (a thread lock, then `flock` on a lock file beside the database), which wakes the next
  writer as soon as one commits; SQLite's own busy handler polls with sleeps of up to 100 ms.
  The wait is bounded (`WRITE_WAIT_S`, Slack wants an answer within 3 s): past it a write raises
  `StoreBusy` instead of queueing behind a stuck writer.
- A statement that fails on the connection itself (read-only, I/O error, unable to open) drops
  this thread's connection, so the next use reopens it: SQLite opens a file it cannot write
  read-only (even with `mode=rw`), and that connection would stay read-only after the fault
  cleared. Connections are opened `mode=rw`, so a database file removed under a running process
  is an error, not a new empty database.
- At start a database from a newer release (user_version > len(MIGRATIONS)) or a corrupt one
  (PRAGMA quick_check) is refused with one line (`StoreError`).
  A write inside a write joins it (a savepoint), so a caller can make several writes atomic.
- Answers are an append-only log with a per-consultation sequence (UNIQUE(consultation, seq)),
  numbered inside the write transaction; Slack event ids are UNIQUE, so a re-delivered event is
  recognised durably and stored once.
- The schema is versioned; `MIGRATIONS[n]` brings a database from version n to n + 1.
- The database file is created 0600 (in OAuth mode it holds bot tokens).
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
