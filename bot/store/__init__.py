"""The decision store: SQLite via sqlite-utils, the source of truth. Every query is scoped by team.

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

from bot.store.common import DEFAULT_DB, StoreBusy, StoreError, default_path, now, review_due_at
from bot.store.consultations import ConsultationRecords
from bot.store.decisions import DecisionRecords
from bot.store.deliveries import DeliveryRecords
from bot.store.engine import HEALTH_WAIT_S, MIN_FREE_BYTES, STARTUP_WAIT_S, WRITE_WAIT_S, Engine
from bot.store.outbox import OutboxQueue
from bot.store.polls import PollRecords
from bot.store.privacy import PrivacyRecords
from bot.store.reviews import ReviewRecords
from bot.store.schema import MIGRATIONS

__all__ = ["DEFAULT_DB", "HEALTH_WAIT_S", "MIGRATIONS", "MIN_FREE_BYTES", "STARTUP_WAIT_S", "WRITE_WAIT_S", "Store",
           "StoreBusy", "StoreError", "default_path", "now", "review_due_at"]


class Store(Engine, ConsultationRecords, DeliveryRecords, DecisionRecords, ReviewRecords, PollRecords, OutboxQueue,
            PrivacyRecords):
    """Team-scoped access to the database. Safe to share between threads.

    One class over one connection engine, its methods grouped by concern in this package's modules.
    """
