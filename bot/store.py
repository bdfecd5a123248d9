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

import fcntl
import json
import os
import shutil
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

from bot.models import Consultation, Decision, LogEntry, Review

DEFAULT_DB = "~/.local/share/framework-advisor/framework-advisor.db"


def default_path() -> str:
    """The database path: $FRAMEWORK_ADVISOR_DB, else a file in the user's data directory."""
    return os.environ.get("FRAMEWORK_ADVISOR_DB") or os.path.expanduser(DEFAULT_DB)


_CONSULTATION_FIELDS = tuple(Consultation.model_fields)
_CONSULTATION_COLUMNS = ", ".join(_CONSULTATION_FIELDS)


def _unique(items: list[str]) -> list[str]:
    """The items in their first order, each once (empty strings dropped)."""
    return list(dict.fromkeys(i for i in items if i))


def now() -> str:
    """The current UTC time, ISO 8601 with microseconds (sorts as text)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _v1(db: sqlite_utils.Database) -> None:
    db.execute("""CREATE TABLE consultations (
        id INTEGER PRIMARY KEY, team_id TEXT NOT NULL, number INTEGER NOT NULL,
        channel TEXT NOT NULL, thread_ts TEXT NOT NULL, started_by TEXT NOT NULL,
        topic TEXT NOT NULL DEFAULT '', status TEXT NOT NULL DEFAULT 'open',
        knowledge_version TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
        UNIQUE (team_id, number), UNIQUE (team_id, channel, thread_ts))""")
    db.execute("CREATE INDEX consultations_open ON consultations (team_id, status, updated_at)")
    db.execute("""CREATE TABLE answers (
        id INTEGER PRIMARY KEY, consultation_id INTEGER NOT NULL REFERENCES consultations(id),
        seq INTEGER NOT NULL, kind TEXT NOT NULL, question TEXT, value TEXT, raw_text TEXT,
        user_id TEXT NOT NULL, event_id TEXT UNIQUE, created_at TEXT NOT NULL,
        UNIQUE (consultation_id, seq))""")
    db.execute("""CREATE TABLE recommendations (
        id INTEGER PRIMARY KEY, consultation_id INTEGER NOT NULL REFERENCES consultations(id),
        seq INTEGER NOT NULL, recommendation TEXT, result TEXT NOT NULL,
        knowledge_version TEXT NOT NULL, created_at TEXT NOT NULL)""")
    db.execute("CREATE INDEX recommendations_by_consultation ON recommendations (consultation_id, seq)")
    db.execute("""CREATE TABLE decisions (
        id INTEGER PRIMARY KEY, team_id TEXT NOT NULL, number INTEGER NOT NULL,
        consultation_id INTEGER REFERENCES consultations(id), channel TEXT NOT NULL,
        thread_ts TEXT, topic TEXT NOT NULL DEFAULT '', framework TEXT NOT NULL,
        status TEXT NOT NULL, decided_by TEXT NOT NULL, rationale TEXT NOT NULL DEFAULT '',
        recommendation TEXT, supersedes INTEGER REFERENCES decisions(id),
        knowledge_version TEXT NOT NULL, answers TEXT NOT NULL DEFAULT '{}',
        result TEXT NOT NULL DEFAULT '{}', created_at TEXT NOT NULL, event_id TEXT UNIQUE,
        UNIQUE (team_id, number))""")
    db.execute("CREATE INDEX decisions_history ON decisions (team_id, number DESC)")
    db.execute("CREATE INDEX decisions_topic ON decisions (team_id, channel, topic, status)")
    db.execute("""CREATE TABLE processed_events (
        event_id TEXT PRIMARY KEY, team_id TEXT, created_at TEXT NOT NULL)""")
    db.execute("""CREATE TABLE outbox (
        id INTEGER PRIMARY KEY, team_id TEXT NOT NULL, channel TEXT NOT NULL, thread_ts TEXT,
        method TEXT NOT NULL, payload TEXT NOT NULL, dedupe_key TEXT UNIQUE, tag TEXT,
        status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
        not_before REAL NOT NULL DEFAULT 0, lease_until REAL NOT NULL DEFAULT 0,
        last_error TEXT, result_ts TEXT, created_at TEXT NOT NULL, sent_at TEXT)""")
    db.execute("CREATE INDEX outbox_pending ON outbox (status, not_before)")
    db.execute("CREATE INDEX outbox_tag ON outbox (team_id, tag)")


def _v2(db: sqlite_utils.Database) -> None:
    # The claim reads the head of each channel's queue: (status, channel, id) lets it find every
    # channel's oldest pending row without reading the rows queued behind it.
    db.execute("CREATE INDEX outbox_channel_head ON outbox (status, channel, id)")


def _v3(db: sqlite_utils.Database) -> None:
    # Which Enterprise Grid organisation a workspace belongs to, and whether the app was installed
    # org-wide: the outbox sender has only the team id of a row, and the token look-up needs both.
    db.execute("""CREATE TABLE workspaces (
        team_id TEXT PRIMARY KEY, enterprise_id TEXT, is_enterprise_install INTEGER NOT NULL DEFAULT 0,
        updated_at TEXT NOT NULL)""")


def _v4(db: sqlite_utils.Database) -> None:
    # The decision lifecycle (MADR 4): who decided, was consulted and is informed (JSON lists of user
    # ids), a review date, whether the outcome is announced in the channel, a proposal's later
    # acceptance or rejection, and the supersede link in both directions.
    for column in ("decision_makers TEXT NOT NULL DEFAULT '[]'", "consulted TEXT NOT NULL DEFAULT '[]'",
                   "informed TEXT NOT NULL DEFAULT '[]'", "review_on TEXT", "announce INTEGER NOT NULL DEFAULT 0",
                   "accepted_by TEXT", "accepted_at TEXT", "rejected_by TEXT", "rejected_at TEXT",
                   "superseded_by INTEGER REFERENCES decisions(id)"):
        db.execute(f"ALTER TABLE decisions ADD COLUMN {column}")
    # Decisions recorded before: the one who recorded it decided it; the older side of a supersede
    # learns which decision replaced it.
    db.execute("UPDATE decisions SET decision_makers = json_array(decided_by)")
    db.execute("UPDATE decisions SET superseded_by = (SELECT n.id FROM decisions n WHERE n.supersedes = decisions.id"
               " ORDER BY n.number LIMIT 1) WHERE status = 'superseded'")
    # `/framework history superseded`: one status of one team, newest first, from the index.
    db.execute("CREATE INDEX decisions_by_status ON decisions (team_id, status, number)")


def _v5(db: sqlite_utils.Database) -> None:
    # Review reminders: one row per reminder of a decision (a confirmation schedules the next one).
    # The store is their source of truth; Slack's scheduled message is only the fast path.
    db.execute("""CREATE TABLE reviews (
        id INTEGER PRIMARY KEY, team_id TEXT NOT NULL, decision_number INTEGER NOT NULL,
        channel TEXT NOT NULL, thread_ts TEXT, due_at REAL NOT NULL, status TEXT NOT NULL DEFAULT 'pending',
        scheduled_id TEXT, message_ts TEXT, settled_by TEXT, settled_at TEXT,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL)""")
    db.execute("CREATE INDEX reviews_due ON reviews (status, due_at)")
    db.execute("CREATE INDEX reviews_by_decision ON reviews (team_id, decision_number)")
    # Decisions recorded before with a review date get their reminder.
    db.execute("INSERT INTO reviews (team_id, decision_number, channel, thread_ts, due_at, created_at, updated_at)"
               " SELECT team_id, number, channel, thread_ts, CAST(strftime('%s', review_on || ' 09:00:00') AS REAL),"
               " created_at, created_at FROM decisions WHERE review_on IS NOT NULL"
               " AND status IN ('accepted', 'proposed')")


def _v6(db: sqlite_utils.Database) -> None:
    # Team polls: each member answers a consultation's questions on their own; one row per member.
    db.execute("""CREATE TABLE polls (
        id INTEGER PRIMARY KEY, team_id TEXT NOT NULL, consultation_id INTEGER NOT NULL REFERENCES consultations(id),
        created_by TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'open', created_at TEXT NOT NULL)""")
    db.execute("CREATE INDEX polls_by_consultation ON polls (team_id, consultation_id)")
    db.execute("""CREATE TABLE poll_answers (
        poll_id INTEGER NOT NULL REFERENCES polls(id), user_id TEXT NOT NULL, answers TEXT NOT NULL,
        created_at TEXT NOT NULL, PRIMARY KEY (poll_id, user_id))""")


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_v1, _v2, _v3, _v4, _v5, _v6]


def review_due_at(review_on: str) -> float:
    """When a review date's reminder is due: 09:00 UTC that day (epoch seconds)."""
    return datetime.fromisoformat(review_on).replace(hour=9, tzinfo=UTC).timestamp()


class StoreError(Exception):
    """A store operation was refused (not found, not allowed)."""


class StoreBusy(StoreError):
    """Another writer held the database for longer than the write wait: busy, try again."""


WRITE_WAIT_S = 2.0
"""How long a write waits for the writers' lock (threads, `flock`, SQLite's busy handler) in all."""
STARTUP_WAIT_S = 30.0
"""The wait of the migration at start (nobody is waiting for an answer yet)."""
HEALTH_WAIT_S = 0.5
"""How long /healthz waits to prove it could write."""
MIN_FREE_BYTES = 1 << 20
"""Below this much free space on the database's disk /healthz says unhealthy (a write may need new pages)."""
_POLL_MAX_S = 0.005  # the longest sleep between two tries of the lock file


def _is_busy(e: sqlite3.Error) -> bool:
    """SQLITE_BUSY or SQLITE_LOCKED (another connection holds the lock), extended codes included."""
    code = getattr(e, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(e)


class _Database(sqlite_utils.Database):
    """A sqlite_utils.Database that tells its store when a statement failed on the connection itself."""

    on_fault: Callable[[], Callable[[], None] | None] | None = None  # a weak reference to Store._fault

    def execute(self, sql, parameters=None) -> sqlite3.Cursor:
        try:
            return super().execute(sql, parameters)
        except sqlite3.OperationalError as e:
            fault = self.on_fault() if self.on_fault is not None else None
            if fault is not None and not _is_busy(e):
                fault()
            raise


class Store:
    """Team-scoped access to the database. Safe to share between threads."""

    def __init__(self, path: str | os.PathLike | None = None, *, write_wait_s: float = WRITE_WAIT_S):
        self.path = str(path or default_path())
        self.write_wait_s = write_wait_s
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._lock_fd: int | None = None
        self._uri: str | None = None
        if self.path != ":memory:":
            p = Path(self.path).expanduser()
            p.parent.mkdir(parents=True, exist_ok=True)
            # Create the file 0600 before SQLite does (umask could make it world-readable).
            fd = os.open(p, os.O_CREAT | os.O_RDWR, 0o600)
            os.close(fd)
            os.chmod(p, 0o600)
            self.path = str(p)
            # mode=rw: never create the file again behind our back (it is created above, 0600).
            self._uri = f"{p.absolute().as_uri()}?mode=rw"
            self._lock_fd = os.open(f"{p}-writer.lock", os.O_CREAT | os.O_RDWR, 0o600)
            weakref.finalize(self, os.close, self._lock_fd)
            self._check()
        self.migrate()

    def _check(self) -> None:
        """Refuse a corrupt database at start, with one line.

        PRAGMA quick_check reads every page once (O(pages), without integrity_check's index
        cross-checks): measured about 1.7 ms per MB (36 ms for a 21 MB database, warm page cache;
        integrity_check took 11 ms per MB). A cold cache adds the time to read the file once.
        """
        try:
            rows = [r[0] for r in self.db.execute("PRAGMA quick_check(3)").fetchall()]
        except sqlite3.OperationalError:
            raise
        except sqlite3.DatabaseError as e:  # "file is not a database", "database disk image is malformed"
            self.close()
            raise StoreError(f"the database {self.path} is corrupt ({e}); restore it from a backup") from None
        if rows != ["ok"]:
            self.close()
            problems = [line.strip() for row in rows for line in str(row).splitlines() if line.strip()]
            raise StoreError(f"the database {self.path} is corrupt (quick_check: {problems[0]}"
                             f"{'; ...' if len(problems) > 1 else ''});"
                             " restore it from a backup")

    # -- connections and transactions -------------------------------------------------------
    @property
    def db(self) -> sqlite_utils.Database:
        """This thread's connection (autocommit mode; transactions are explicit)."""
        db = getattr(self._local, "db", None)
        if db is None:
            timeout = self.write_wait_s
            if self._uri is None:
                conn = sqlite3.connect(self.path, isolation_level=None, timeout=timeout, check_same_thread=False)
            else:
                conn = sqlite3.connect(self._uri, uri=True, isolation_level=None, timeout=timeout,
                                       check_same_thread=False)
            try:
                conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
                conn.execute("PRAGMA foreign_keys = ON")
                if self._uri is not None:
                    conn.execute("PRAGMA journal_mode = WAL")
                    conn.execute("PRAGMA synchronous = NORMAL")
                db = _Database(conn)
            except BaseException:
                conn.close()
                raise
            db.on_fault = weakref.WeakMethod(self._fault)
            self._local.db = db
            self._local.stale = False
        return db

    def _fault(self) -> None:
        """A statement failed on this thread's connection: reopen it at its next use.

        Inside a write the connection is dropped when the outermost write ends (after its rollback).
        """
        if getattr(self._local, "depth", 0):
            self._local.stale = True
        else:
            self.close()

    @contextmanager
    def write(self, *, wait_s: float | None = None) -> Iterator[sqlite_utils.Database]:
        """A write transaction taken with BEGIN IMMEDIATE (serialises writers across processes).

        Inside another write of the same thread it is a savepoint of that transaction: all is
        committed together, and an exception undoes only the inner part. Raises `StoreBusy` when
        the lock is not had within `wait_s` (default: the store's `write_wait_s`).
        """
        db = self.db
        depth = getattr(self._local, "depth", 0)
        if depth:
            name = f"w{depth}"
            db.execute(f"SAVEPOINT {name}")
            self._local.depth = depth + 1
            try:
                yield db
            except BaseException:
                db.execute(f"ROLLBACK TO {name}")
                db.execute(f"RELEASE {name}")
                raise
            else:
                db.execute(f"RELEASE {name}")
            finally:
                self._local.depth = depth
            return
        with self._exclusive(wait_s) as db:
            self._busy_guard(db, "BEGIN IMMEDIATE")
            self._local.depth = 1
            try:
                yield db
            except BaseException:
                self._rollback(db)
                raise
            else:
                try:
                    db.execute("COMMIT")
                except BaseException:
                    self._rollback(db)
                    raise
            finally:
                self._local.depth = 0
                if getattr(self._local, "stale", False):
                    self.close()

    def _rollback(self, db: sqlite_utils.Database) -> None:
        """Undo the open transaction; a connection that cannot even do that is dropped (closing rolls back)."""
        try:
            if db.conn.in_transaction:
                db.execute("ROLLBACK")
        except sqlite3.Error:
            self._local.stale = True

    def _busy_guard(self, db: sqlite_utils.Database, sql: str, params: list | None = None) -> sqlite3.Cursor:
        """Run a statement that takes the write lock; SQLite's busy timeout running out is `StoreBusy`."""
        try:
            return db.execute(sql, params)
        except sqlite3.OperationalError as e:
            if _is_busy(e):
                raise StoreBusy(f"the database {self.path} is busy (another writer holds it): try again") from e
            raise

    def _write1(self, sql: str, params: list) -> sqlite3.Cursor:
        """One write statement: its own (autocommit) transaction, or part of the caller's write."""
        if getattr(self._local, "depth", 0):
            return self.db.execute(sql, params)
        with self._exclusive() as db:
            return self._busy_guard(db, sql, params)

    @contextmanager
    def _exclusive(self, wait_s: float | None = None) -> Iterator[sqlite_utils.Database]:
        """The writers' queue: this process's threads on a lock, processes on `flock` of the lock file.

        Both waits, and then SQLite's busy timeout, share one deadline `wait_s` from now; past it
        `StoreBusy`. Yields this thread's connection, its busy timeout set to what is left.
        """
        wait_s = self.write_wait_s if wait_s is None else wait_s
        deadline = time.monotonic() + wait_s
        busy = StoreBusy(f"the database {self.path} is busy (another writer held it for {wait_s:g} s): try again")
        if not self._write_lock.acquire(timeout=wait_s):
            raise busy
        try:
            if self._lock_fd is not None:
                self._flock(deadline, busy)
            try:
                db = self.db
                left_ms = max(1, int((deadline - time.monotonic()) * 1000))
                db.conn.execute(f"PRAGMA busy_timeout = {left_ms}")
                yield db
            finally:
                if self._lock_fd is not None:
                    fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        finally:
            self._write_lock.release()

    def _flock(self, deadline: float, busy: StoreBusy) -> None:
        """Take the lock file before `deadline`, polling (flock has no timeout)."""
        pause = 0.0005
        while True:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise busy from None
                time.sleep(min(pause, left))
                pause = min(pause * 2, _POLL_MAX_S)

    def migrate(self) -> int:
        """Bring the schema to the latest version; returns that version.

        A database from a newer release (a version this one does not know) is refused.
        """
        with self.write(wait_s=max(self.write_wait_s, STARTUP_WAIT_S)) as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise StoreError(f"the database {self.path} has schema version {version}, which is newer than"
                                 f" this release knows ({len(MIGRATIONS)}); upgrade framework-advisor")
            for n in range(version, len(MIGRATIONS)):
                MIGRATIONS[n](db)
                db.execute(f"PRAGMA user_version = {n + 1}")
        return len(MIGRATIONS)

    def ping(self) -> bool:
        """True when the database answers a read."""
        try:
            return self.db.execute("SELECT 1").fetchone()[0] == 1
        except sqlite3.Error:
            return False

    def healthy(self, wait_s: float = HEALTH_WAIT_S) -> bool:
        """True when this process could write now (for /healthz): free space, BEGIN IMMEDIATE, a write, ROLLBACK.

        False when the file cannot be written (a read-only connection takes BEGIN IMMEDIATE, so the
        probe also rewrites user_version unchanged, which is rolled back), on any SQLite error, and
        when the writers' lock is not had within `wait_s`. Nothing reaches the file.
        """
        if getattr(self._local, "depth", 0):
            return True  # this thread is inside a write: it holds the lock
        try:
            # A full disk lets this probe through (it needs no new page) but fails real writes.
            if shutil.disk_usage(Path(self.path).resolve().parent).free < MIN_FREE_BYTES:
                return False
        except OSError:
            return False
        try:
            with self._exclusive(wait_s) as db:
                db.execute("BEGIN IMMEDIATE")
                try:
                    version = int(db.execute("PRAGMA user_version").fetchone()[0])
                    db.execute(f"PRAGMA user_version = {version}")
                finally:
                    try:
                        if db.conn.in_transaction:
                            db.conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        self.close()
            return True
        except (sqlite3.Error, StoreError):
            return False

    def close(self) -> None:
        """Close this thread's connection."""
        db = getattr(self._local, "db", None)
        self._local.stale = False
        if db is not None:
            self._local.db = None
            try:
                db.conn.close()
            except sqlite3.Error:
                pass  # a broken connection: dropping it is all that is left to do

    # -- consultations -------------------------------------------------------------------------
    def create_consultation(self, team_id: str, channel: str, thread_ts: str, started_by: str,
                            topic: str, knowledge_version: str) -> Consultation:
        """A new open consultation, numbered per team."""
        t = now()
        with self.write() as db:
            number = db.execute("SELECT COALESCE(MAX(number), 0) + 1 FROM consultations WHERE team_id = ?",
                                [team_id]).fetchone()[0]
            cur = db.execute(
                "INSERT INTO consultations (team_id, number, channel, thread_ts, started_by, topic, status,"
                " knowledge_version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?, ?)",
                [team_id, number, channel, thread_ts, started_by, topic, knowledge_version, t, t])
            cid = cur.lastrowid
        return self.get_consultation(team_id, cid)

    def _consultation(self, where: str, params: list) -> Consultation | None:
        row = self.db.execute(f"SELECT {_CONSULTATION_COLUMNS} FROM consultations WHERE {where}", params).fetchone()
        if row is None:
            return None
        # A row this module wrote through a validated model: constructed without validating it again
        # (read several times per thread answer).
        return Consultation.model_construct(**dict(zip(_CONSULTATION_FIELDS, row, strict=True)))

    def get_consultation(self, team_id: str, consultation_id: int) -> Consultation | None:
        """A consultation of this team by its id."""
        return self._consultation("team_id = ? AND id = ?", [team_id, consultation_id])

    def consultation_number(self, team_id: str, consultation_id: int) -> int | None:
        """The per-team number of a consultation."""
        row = self.db.execute("SELECT number FROM consultations WHERE team_id = ? AND id = ?",
                              [team_id, consultation_id]).fetchone()
        return row[0] if row else None

    def consultation_by_number(self, team_id: str, number: int) -> Consultation | None:
        """A consultation of this team by its per-team number."""
        return self._consultation("team_id = ? AND number = ?", [team_id, number])

    def consultation_by_thread(self, team_id: str, channel: str, thread_ts: str) -> Consultation | None:
        """The consultation held in a thread, if any."""
        return self._consultation("team_id = ? AND channel = ? AND thread_ts = ?", [team_id, channel, thread_ts])

    def open_consultations(self, team_id: str, limit: int = 20) -> list[tuple[int, Consultation]]:
        """This team's open consultations, most recently active first, with their numbers."""
        rows = self.db.execute(
            "SELECT id, number FROM consultations WHERE team_id = ? AND status = 'open'"
            " ORDER BY updated_at DESC LIMIT ?", [team_id, limit]).fetchall()
        return [(n, self.get_consultation(team_id, cid)) for cid, n in rows]  # type: ignore[misc]

    def open_consultations_in(self, team_id: str, channel: str, limit: int = -1) -> list[Consultation]:
        """This team's open consultations in one channel ("terminal"), most recently active first (-1: all)."""
        rows = self.db.execute(
            f"SELECT {_CONSULTATION_COLUMNS} FROM consultations WHERE team_id = ? AND status = 'open'"
            " AND channel = ? ORDER BY updated_at DESC, id DESC LIMIT ?", [team_id, channel, limit]).fetchall()
        return [Consultation.model_construct(**dict(zip(_CONSULTATION_FIELDS, r, strict=True))) for r in rows]

    def set_status(self, team_id: str, consultation_id: int, status: str) -> None:
        """Change a consultation's status."""
        with self.write() as db:
            db.execute("UPDATE consultations SET status = ?, updated_at = ? WHERE team_id = ? AND id = ?",
                       [status, now(), team_id, consultation_id])

    def close_idle(self, team_id: str | None, older_than: str) -> list[Consultation]:
        """Close open consultations not touched since `older_than`; returns the closed ones."""
        with self.write() as db:
            where = "status = 'open' AND updated_at < ?" + (" AND team_id = ?" if team_id else "")
            params = [older_than] + ([team_id] if team_id else [])
            ids = [r[0] for r in db.execute(f"SELECT id FROM consultations WHERE {where}", params).fetchall()]
            db.execute(f"UPDATE consultations SET status = 'closed', updated_at = ? WHERE {where}", [now(), *params])
        closed = []
        for cid in ids:
            row = self._consultation("id = ?", [cid])
            if row:
                closed.append(row)
        return closed

    # -- the answer log ------------------------------------------------------------------------
    def append(self, team_id: str, consultation_id: int, kind: str, user_id: str, *, question: str | None = None,
               value: str | int | None = None, raw_text: str | None = None,
               event_id: str | None = None) -> LogEntry | None:
        """Append to a consultation's log; None when `event_id` was already stored (a retry)."""
        t = now()
        try:
            with self.write() as db:
                if db.execute("SELECT 1 FROM consultations WHERE team_id = ? AND id = ?",
                              [team_id, consultation_id]).fetchone() is None:
                    raise StoreError("no such consultation")
                seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM answers WHERE consultation_id = ?",
                                 [consultation_id]).fetchone()[0]
                db.execute(
                    "INSERT INTO answers (consultation_id, seq, kind, question, value, raw_text, user_id, event_id,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [consultation_id, seq, kind, question, None if value is None else json.dumps(value),
                     raw_text, user_id, event_id, t])
                db.execute("UPDATE consultations SET updated_at = ? WHERE id = ?", [t, consultation_id])
        except sqlite3.IntegrityError:
            if event_id is not None and self.db.execute("SELECT 1 FROM answers WHERE event_id = ?",
                                                        [event_id]).fetchone():
                return None
            raise
        return LogEntry(seq=seq, kind=kind, question=question, value=value, raw_text=raw_text,  # type: ignore[arg-type]
                        user_id=user_id, event_id=event_id, created_at=t)

    def erase_raw_text(self, team_id: str, consultation_id: int, seq: int) -> None:
        """Forget what one log entry's message said (its author deleted it); the entry itself stays."""
        self._write1("UPDATE answers SET raw_text = NULL WHERE seq = ? AND consultation_id ="
                     " (SELECT id FROM consultations WHERE team_id = ? AND id = ?)",
                     [seq, team_id, consultation_id])

    def remember_workspace(self, team_id: str, enterprise_id: str | None, is_enterprise_install: bool) -> None:
        """Record a workspace's Grid organisation and install kind (seen on a request)."""
        self._write1("INSERT INTO workspaces (team_id, enterprise_id, is_enterprise_install, updated_at)"
                     " VALUES (?, ?, ?, ?) ON CONFLICT (team_id) DO UPDATE SET enterprise_id = excluded.enterprise_id,"
                     " is_enterprise_install = excluded.is_enterprise_install, updated_at = excluded.updated_at",
                     [team_id, enterprise_id, int(bool(is_enterprise_install)), now()])

    def workspace(self, team_id: str) -> tuple[str | None, bool] | None:
        """(enterprise id, installed org-wide) of a workspace, None when never seen in a Grid payload."""
        r = self.db.execute("SELECT enterprise_id, is_enterprise_install FROM workspaces WHERE team_id = ?",
                            [team_id]).fetchone()
        return (r[0], bool(r[1])) if r else None

    def last_seq(self, consultation_id: int) -> int:
        """The position of a consultation's latest log entry (0 when empty)."""
        return self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM answers WHERE consultation_id = ?",
                               [consultation_id]).fetchone()[0]

    def log(self, team_id: str, consultation_id: int, after_seq: int = 0) -> list[LogEntry]:
        """A consultation's log in order: all of it, or the entries after position `after_seq`."""
        if after_seq:
            return self._entries("AND a.seq > ? ORDER BY a.seq", [team_id, consultation_id, after_seq])
        return self._entries("ORDER BY a.seq", [team_id, consultation_id])

    def entry_by_event(self, team_id: str, consultation_id: int, event_id: str) -> LogEntry | None:
        """The log entry a delivery stored in this consultation, if any (one indexed lookup)."""
        found = self._entries("AND a.event_id = ?", [team_id, consultation_id, event_id])
        return found[0] if found else None

    def _entries(self, tail: str, params: list) -> list[LogEntry]:
        rows = self.db.execute(
            "SELECT a.seq, a.kind, a.question, a.value, a.raw_text, a.user_id, a.event_id, a.created_at"
            " FROM answers a JOIN consultations c ON c.id = a.consultation_id"
            f" WHERE c.team_id = ? AND a.consultation_id = ? {tail}", params).fetchall()
        # Rows this module wrote through validated models: constructed without validating them again.
        return [LogEntry.model_construct(seq=r[0], kind=r[1], question=r[2],
                                         value=None if r[3] is None else json.loads(r[3]), raw_text=r[4],
                                         user_id=r[5], event_id=r[6], created_at=r[7]) for r in rows]

    def decision_by_event(self, team_id: str, event_id: str) -> Decision | None:
        """The decision a delivery recorded in this team, if any."""
        found = self._decision("d.team_id = ? AND d.event_id = ?", [team_id, event_id])
        return found[0] if found else None

    def has_event(self, event_id: str) -> bool:
        """Whether an answer-log entry or a decision was already stored for this delivery id."""
        return self.db.execute("SELECT 1 FROM answers WHERE event_id = ? UNION ALL SELECT 1 FROM decisions"
                               " WHERE event_id = ? LIMIT 1", [event_id, event_id]).fetchone() is not None

    def participants(self, team_id: str, consultation_id: int) -> set[str]:
        """Who started or answered in a consultation."""
        c = self.get_consultation(team_id, consultation_id)
        if c is None:
            return set()
        users = {r[0] for r in self.db.execute("SELECT DISTINCT user_id FROM answers WHERE consultation_id = ?",
                                               [consultation_id]).fetchall()}
        return users | {c.started_by}

    def event_seen(self, event_id: str, team_id: str | None = None) -> bool:
        """Record a delivery id; True when it had been recorded before (a re-delivery)."""
        try:
            with self.write() as db:
                db.execute("INSERT INTO processed_events (event_id, team_id, created_at) VALUES (?, ?, ?)",
                           [event_id, team_id, now()])
            return False
        except sqlite3.IntegrityError:
            return True

    # -- recommendations and decisions ---------------------------------------------------------
    def save_recommendation(self, team_id: str, consultation_id: int, seq: int, result: dict) -> None:
        """Keep the recommendation given at a point of the log (with its knowledge version)."""
        if self.get_consultation(team_id, consultation_id) is None:
            raise StoreError("no such consultation")
        self._write1("INSERT INTO recommendations (consultation_id, seq, recommendation, result, knowledge_version,"
                     " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                     [consultation_id, seq, result.get("recommendation"), json.dumps(result, sort_keys=True),
                      result.get("knowledge_version", ""), now()])

    def has_recommendation(self, team_id: str, consultation_id: int, seq: int) -> bool:
        """Whether a recommendation was kept for this point of a consultation's log."""
        return self.db.execute(
            "SELECT 1 FROM recommendations r JOIN consultations c ON c.id = r.consultation_id"
            " WHERE c.team_id = ? AND r.consultation_id = ? AND r.seq = ?", [team_id, consultation_id, seq]
        ).fetchone() is not None

    def record_decision(self, team_id: str, *, channel: str, topic: str, framework: str, decided_by: str,
                        rationale: str, recommendation: str | None, knowledge_version: str,
                        answers: dict, result: dict, consultation_id: int | None = None,
                        thread_ts: str | None = None, status: str = "accepted",
                        event_id: str | None = None, decision_makers: list[str] | None = None,
                        consulted: list[str] | None = None, informed: list[str] | None = None,
                        review_on: str | None = None, announce: bool = False) -> Decision:
        """Record a decision. An accepted one supersedes the team's earlier accepted decision on the
        same channel and topic (a proposal supersedes nothing until it is accepted, `accept_decision`).

        With `event_id` (the Slack delivery that asked for it) a re-delivery returns the decision
        already recorded instead of recording a second one. `decision_makers` defaults to `decided_by`.
        """
        if status not in ("accepted", "proposed"):
            raise StoreError(f"a decision is recorded as accepted or proposed, not {status!r}")
        t = now()
        makers = _unique(decision_makers or [decided_by])
        with self.write() as db:
            if event_id is not None:
                seen = db.execute("SELECT id FROM decisions WHERE event_id = ?", [event_id]).fetchone()
                if seen:
                    return self._decision("d.id = ?", [seen[0]])[0]
            number = db.execute("SELECT COALESCE(MAX(number), 0) + 1 FROM decisions WHERE team_id = ?",
                                [team_id]).fetchone()[0]
            cur = db.execute(
                "INSERT INTO decisions (team_id, number, consultation_id, channel, thread_ts, topic, framework, status,"
                " decided_by, rationale, recommendation, supersedes, knowledge_version, answers, result, created_at,"
                " event_id, decision_makers, consulted, informed, review_on, announce)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [team_id, number, consultation_id, channel, thread_ts, topic, framework, status, decided_by,
                 rationale, recommendation, knowledge_version, json.dumps(answers, sort_keys=True),
                 json.dumps(result, sort_keys=True), t, event_id, json.dumps(makers),
                 json.dumps(_unique(consulted or [])), json.dumps(_unique(informed or [])), review_on,
                 int(bool(announce))])
            did = cur.lastrowid
            if review_on:
                db.execute("INSERT INTO reviews (team_id, decision_number, channel, thread_ts, due_at, created_at,"
                           " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           [team_id, number, channel, thread_ts, review_due_at(review_on), t, t])
            if status == "accepted":
                self._supersede(db, team_id, did, channel, topic)
            if consultation_id is not None:
                db.execute("UPDATE consultations SET status = 'decided', updated_at = ? WHERE id = ? AND team_id = ?",
                           [t, consultation_id, team_id])
        return self._decision("d.id = ?", [did])[0]

    @staticmethod
    def _supersede(db: sqlite_utils.Database, team_id: str, did: int, channel: str, topic: str) -> None:
        """Decision `did` is now accepted: the decision accepted before it on its channel and topic is
        superseded, and the two records link each other. Inside the caller's write."""
        prior = db.execute(
            "SELECT id FROM decisions WHERE team_id = ? AND channel = ? AND topic = ? AND status = 'accepted'"
            " AND id != ? ORDER BY number DESC LIMIT 1", [team_id, channel, topic, did]).fetchone()
        if prior:
            db.execute("UPDATE decisions SET status = 'superseded', superseded_by = ? WHERE id = ?", [did, prior[0]])
            db.execute("UPDATE decisions SET supersedes = ? WHERE id = ?", [prior[0], did])

    def accept_decision(self, team_id: str, number: int, user: str) -> Decision | None:
        """Accept a proposed decision: it supersedes the decision in force on its channel and topic, and
        the one who accepted it joins its decision-makers. None when it is not (or no longer) proposed."""
        t = now()
        with self.write() as db:
            row = db.execute("SELECT id, status, channel, topic, decision_makers FROM decisions"
                             " WHERE team_id = ? AND number = ?", [team_id, number]).fetchone()
            if row is None or row[1] != "proposed":
                return None
            did, _, channel, topic, makers = row
            db.execute("UPDATE decisions SET status = 'accepted', accepted_by = ?, accepted_at = ?,"
                       " decision_makers = ? WHERE id = ?",
                       [user, t, json.dumps(_unique([*json.loads(makers), user])), did])
            self._supersede(db, team_id, did, channel, topic)
        return self._decision("d.id = ?", [did])[0]

    def reject_decision(self, team_id: str, number: int, user: str) -> Decision | None:
        """Reject a proposed decision; its consultation opens again when nothing else is decided in it.
        None when it is not (or no longer) proposed."""
        t = now()
        with self.write() as db:
            row = db.execute("SELECT id, status, consultation_id FROM decisions WHERE team_id = ? AND number = ?",
                             [team_id, number]).fetchone()
            if row is None or row[1] != "proposed":
                return None
            did, _, cid = row
            db.execute("UPDATE decisions SET status = 'rejected', rejected_by = ?, rejected_at = ? WHERE id = ?",
                       [user, t, did])
            if cid is not None:
                db.execute("UPDATE consultations SET status = 'open', updated_at = ? WHERE id = ? AND team_id = ?"
                           " AND status = 'decided' AND NOT EXISTS (SELECT 1 FROM decisions WHERE consultation_id = ?"
                           " AND status IN ('proposed', 'accepted'))", [t, cid, team_id, cid])
        return self._decision("d.id = ?", [did])[0]

    # -- review reminders ------------------------------------------------------------------------
    _REVIEW_COLUMNS = ", ".join(Review.model_fields)

    def _reviews(self, where: str, params: list, tail: str = "") -> list[Review]:
        rows = self.db.execute(f"SELECT {self._REVIEW_COLUMNS} FROM reviews WHERE {where} {tail}", params).fetchall()
        return [Review(**dict(zip(Review.model_fields, r, strict=True))) for r in rows]

    def review(self, review_id: int) -> Review | None:
        """One reminder by its id."""
        found = self._reviews("id = ?", [review_id])
        return found[0] if found else None

    def reviews_of(self, team_id: str, number: int) -> list[Review]:
        """A decision's reminders, oldest first."""
        return self._reviews("team_id = ? AND decision_number = ?", [team_id, number], "ORDER BY id")

    def reviews(self, team_id: str, *, before: float | None = None, open_only: bool = True,
                limit: int = 50) -> list[Review]:
        """This team's reminders, soonest first: the open ones (not yet settled), due before `before`."""
        where, params = "team_id = ?", [team_id]
        if open_only:
            where += " AND status IN ('pending', 'scheduled', 'sent')"
        if before is not None:
            where += " AND due_at <= ?"
            params.append(before)
        return self._reviews(where, [*params, limit], "ORDER BY due_at, id LIMIT ?")

    def reviews_to_schedule(self, now_s: float, horizon_s: float, limit: int = 100) -> list[Review]:
        """Pending reminders of Slack threads due within the horizon (and not about to be due)."""
        return self._reviews("status = 'pending' AND due_at > ? AND due_at <= ? AND channel GLOB '[CDG]*'",
                             [now_s + 60, now_s + horizon_s, limit], "ORDER BY due_at LIMIT ?")

    def reviews_overdue(self, now_s: float, limit: int = 100) -> list[Review]:
        """Reminders of Slack threads whose time has come and that are not known to be in the thread."""
        return self._reviews("status IN ('pending', 'scheduled') AND due_at <= ? AND channel GLOB '[CDG]*'",
                             [now_s, limit], "ORDER BY due_at LIMIT ?")

    def review_update(self, review_id: int, *, expect: tuple[str, ...] | None = None, **fields) -> bool:
        """Set some fields of a reminder (only while its status is one of `expect`); True when it changed."""
        allowed = {"status", "scheduled_id", "message_ts", "settled_by", "settled_at", "due_at"}
        if not fields or not set(fields) <= allowed:
            raise StoreError(f"cannot set {sorted(set(fields) - allowed)} of a review")
        sets = ", ".join(f"{k} = ?" for k in fields)
        sql, params = f"UPDATE reviews SET {sets}, updated_at = ? WHERE id = ?", [*fields.values(), now(), review_id]
        if expect:
            sql += f" AND status IN ({', '.join('?' for _ in expect)})"
            params += list(expect)
        return self._write1(sql, params).rowcount > 0

    def add_review(self, team_id: str, number: int, due_at: float) -> Review | None:
        """A new reminder for a decision (in its thread), e.g. the next one after a confirmation."""
        d = self.decision(team_id, number)
        if d is None:
            return None
        t = now()
        cur = self._write1("INSERT INTO reviews (team_id, decision_number, channel, thread_ts, due_at, created_at,"
                           " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           [team_id, number, d.channel, d.thread_ts, due_at, t, t])
        return self.review(cur.lastrowid)

    # -- team polls -------------------------------------------------------------------------------
    def create_poll(self, team_id: str, consultation_id: int, created_by: str) -> int:
        """A poll on a consultation (the open one if it has one already); returns its id."""
        with self.write() as db:
            row = db.execute("SELECT id FROM polls WHERE team_id = ? AND consultation_id = ? AND status = 'open'",
                             [team_id, consultation_id]).fetchone()
            if row:
                return row[0]
            return db.execute("INSERT INTO polls (team_id, consultation_id, created_by, created_at)"
                              " VALUES (?, ?, ?, ?)", [team_id, consultation_id, created_by, now()]).lastrowid

    def poll(self, team_id: str, poll_id: int) -> dict | None:
        """A poll of this team: {id, consultation_id, created_by, status, created_at}."""
        row = self.db.execute("SELECT id, consultation_id, created_by, status, created_at FROM polls"
                              " WHERE team_id = ? AND id = ?", [team_id, poll_id]).fetchone()
        return dict(zip(("id", "consultation_id", "created_by", "status", "created_at"), row, strict=True)) \
            if row else None

    def save_poll_answers(self, team_id: str, poll_id: int, user_id: str, answers: dict) -> int:
        """A member's own answers (a second submission replaces the first); returns how many have answered."""
        with self.write() as db:
            if db.execute("SELECT 1 FROM polls WHERE team_id = ? AND id = ?", [team_id, poll_id]).fetchone() is None:
                raise StoreError("no such poll")
            db.execute("INSERT INTO poll_answers (poll_id, user_id, answers, created_at) VALUES (?, ?, ?, ?)"
                       " ON CONFLICT (poll_id, user_id) DO UPDATE SET answers = excluded.answers,"
                       " created_at = excluded.created_at", [poll_id, user_id, json.dumps(answers, sort_keys=True),
                                                             now()])
            return db.execute("SELECT COUNT(*) FROM poll_answers WHERE poll_id = ?", [poll_id]).fetchone()[0]

    def poll_answers(self, team_id: str, poll_id: int) -> dict[str, dict]:
        """Each member's answers to a poll of this team, by user id (in the order they answered)."""
        rows = self.db.execute("SELECT a.user_id, a.answers FROM poll_answers a JOIN polls p ON p.id = a.poll_id"
                               " WHERE p.team_id = ? AND a.poll_id = ? ORDER BY a.created_at, a.user_id",
                               [team_id, poll_id]).fetchall()
        return {u: json.loads(a) for u, a in rows}

    # (SQL expression, Decision field); the linked decisions are read by number, not by row id.
    _DECISION_FIELDS = (
        ("d.id", "id"), ("d.team_id", "team_id"), ("d.number", "number"), ("d.consultation_id", "consultation_id"),
        ("d.channel", "channel"), ("d.thread_ts", "thread_ts"), ("d.topic", "topic"), ("d.framework", "framework"),
        ("d.status", "status"), ("d.decided_by", "decided_by"), ("d.rationale", "rationale"),
        ("d.recommendation", "recommendation"),
        ("(SELECT s.number FROM decisions s WHERE s.id = d.supersedes)", "supersedes"),
        ("(SELECT s.number FROM decisions s WHERE s.id = d.superseded_by)", "superseded_by"),
        ("d.knowledge_version", "knowledge_version"), ("d.answers", "answers"), ("d.result", "result"),
        ("d.created_at", "created_at"), ("d.decision_makers", "decision_makers"), ("d.consulted", "consulted"),
        ("d.informed", "informed"), ("d.review_on", "review_on"), ("d.announce", "announce"),
        ("d.accepted_by", "accepted_by"), ("d.accepted_at", "accepted_at"), ("d.rejected_by", "rejected_by"),
        ("d.rejected_at", "rejected_at"))
    _JSON_FIELDS = ("answers", "result", "decision_makers", "consulted", "informed")

    def _decision(self, where: str, params: list, tail: str = "", *, full: bool = True) -> list[Decision]:
        cols = ", ".join("'{}'" if (name == "result" and not full) else expr for expr, name in self._DECISION_FIELDS)
        rows = self.db.execute(f"SELECT {cols} FROM decisions d WHERE {where} {tail}", params).fetchall()
        names = [name for _, name in self._DECISION_FIELDS]
        out = []
        for r in rows:
            data = dict(zip(names, r, strict=True))
            for name in self._JSON_FIELDS:
                data[name] = json.loads(data[name])
            data["announce"] = bool(data["announce"])
            out.append(Decision(**data))
        return out

    def decisions(self, team_id: str, *, limit: int = 10, offset: int = 0, status: str | None = None) -> list[Decision]:
        """This team's decisions, newest first (without the stored result, for listings); `status`: only those.

        Decisions are numbered 1..N per team and never deleted, so page k starts at number
        N - offset: an index seek, where OFFSET would walk every skipped row. Filtered by status,
        the (team, status, number) index is read in order and OFFSET skips only rows of that status.
        """
        if status is not None:
            return self._decision("d.team_id = ? AND d.status = ?", [team_id, status, limit, offset],
                                  "ORDER BY d.number DESC LIMIT ? OFFSET ?", full=False)
        upper = self.count_decisions(team_id) - offset
        return self._decision("d.team_id = ? AND d.number <= ?", [team_id, upper, limit],
                              "ORDER BY d.number DESC LIMIT ?", full=False)

    def count_decisions(self, team_id: str, status: str | None = None) -> int:
        """How many decisions this team has (its highest number: numbers have no gaps), or of one status."""
        if status is not None:
            return self.db.execute("SELECT COUNT(*) FROM decisions WHERE team_id = ? AND status = ?",
                                   [team_id, status]).fetchone()[0]
        return self.db.execute("SELECT COALESCE(MAX(number), 0) FROM decisions WHERE team_id = ?",
                               [team_id]).fetchone()[0]

    def decision(self, team_id: str, number: int) -> Decision | None:
        """One of this team's decisions by its number."""
        found = self._decision("d.team_id = ? AND d.number = ?", [team_id, number])
        return found[0] if found else None

    def all_decisions(self, team_id: str | None = None) -> Iterator[Decision]:
        """Every decision (of one team, or of all teams for admin re-checks), oldest first."""
        if team_id is None:
            yield from self._decision("1 = 1", [], "ORDER BY d.team_id, d.number")
        else:
            yield from self._decision("d.team_id = ?", [team_id], "ORDER BY d.number")

    # -- the outbox: replies owed to Slack, durable until sent ---------------------------------
    def outbox_enqueue(self, team_id: str, channel: str, method: str, payload: dict, *, thread_ts: str | None = None,
                       dedupe_key: str | None = None, tag: str | None = None) -> int | None:
        """Queue a Web API call; None when `dedupe_key` was queued before (a re-delivered event)."""
        cur = self._write1(
            "INSERT OR IGNORE INTO outbox (team_id, channel, thread_ts, method, payload, dedupe_key, tag,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [team_id, channel, thread_ts, method, json.dumps(payload), dedupe_key, tag, now()])
        return cur.lastrowid if cur.rowcount else None

    def outbox_enqueue_reply(self, team_id: str, channel: str, payload: dict, *, thread_ts: str | None,
                             dedupe_key: str, consultation_id: int, seq: int | None,
                             question: str | None = None) -> str:
        """Queue a question or recommendation unless it is stale or repeats the open question.

        Checked and written in one BEGIN IMMEDIATE transaction, so of two simultaneous answers
        (even in two processes) only replies that describe the latest log entry are queued, and
        the same next question is never asked twice in a row. Returns "queued"; "already" when
        `dedupe_key` was queued before (another delivery of the same event got there first); or
        "dropped" (stale, or it would ask the open question again).
        """
        tag = f"q:{consultation_id}:{question}" if question else None
        with self.write() as db:
            if db.execute("SELECT 1 FROM outbox WHERE dedupe_key = ?", [dedupe_key]).fetchone() is not None:
                return "already"
            if seq is not None:
                if self.last_seq(consultation_id) > seq:
                    return "dropped"  # a later answer's reply describes the consultation better
            if tag:
                # A range, not LIKE 'q:N:%': LIKE cannot use the (team_id, tag) index and would read
                # every row the team ever queued (';' is the character after ':').
                latest = db.execute("SELECT tag FROM outbox WHERE team_id = ? AND tag >= ? AND tag < ?"
                                    " ORDER BY id DESC LIMIT 1",
                                    [team_id, f"q:{consultation_id}:", f"q:{consultation_id};"]).fetchone()
                if latest and latest[0] == tag:
                    return "dropped"
            db.execute(
                "INSERT INTO outbox (team_id, channel, thread_ts, method, payload, dedupe_key, tag,"
                " created_at) VALUES (?, ?, ?, 'chat.postMessage', ?, ?, ?, ?)",
                [team_id, channel, thread_ts, json.dumps(payload), dedupe_key, tag, now()])
            return "queued"

    def outbox_enqueue_chatter(self, team_id: str, channel: str, payload: dict, *, thread_ts: str,
                               dedupe_key: str, max_pending: int = 10) -> str:
        """Queue a thread reply that no later one depends on (status, why, a clarification), bounded.

        A thread flooded with `status` (hundreds of lines) must not queue hundreds of replies that
        then go out at one per second: a reply identical to one still waiting in the thread is not
        queued again ("same"), and past `max_pending` waiting replies in the thread the oldest
        waiting one is dropped for the new one. Returns "queued", "same" or "already".
        """
        text = json.dumps(payload)
        with self.write() as db:
            if db.execute("SELECT 1 FROM outbox WHERE dedupe_key = ?", [dedupe_key]).fetchone() is not None:
                return "already"
            waiting = db.execute(
                "SELECT id, payload FROM outbox WHERE status = 'pending' AND channel = ? AND thread_ts = ?"
                " AND method = 'chat.postMessage' AND tag IS NULL AND lease_until = 0 AND attempts = 0"
                " ORDER BY id", [channel, thread_ts]).fetchall()
            if any(p == text for _, p in waiting):
                return "same"
            if len(waiting) >= max_pending:
                db.execute("UPDATE outbox SET status = 'dropped', last_error = 'superseded: the thread had "
                           f"{max_pending} replies waiting' WHERE id = ?", [waiting[0][0]])
            db.execute(
                "INSERT INTO outbox (team_id, channel, thread_ts, method, payload, dedupe_key, tag,"
                " created_at) VALUES (?, ?, ?, 'chat.postMessage', ?, ?, NULL, ?)",
                [team_id, channel, thread_ts, text, dedupe_key, now()])
            return "queued"

    def outbox_claim(self, now_s: float, lease_s: float, limit: int = 20,
                     skip_channels: frozenset[str] = frozenset()) -> list[dict]:
        """Lease due rows: each channel's oldest, and the rows after it up to its first chat.postMessage.

        Channels are served fairly: the claim starts from the head (oldest pending row) of every
        channel, oldest head first, so a channel with thousands of queued rows gives the others no
        wait beyond one row of its own. A channel whose head is not due, or leased, yields nothing
        (each channel keeps its order). One claim takes an answer's edit and the reply after it,
        and the sender sends them in order. A channel in `skip_channels` (posted to less than a
        second ago) yields only the rows before its next chat.postMessage (updates, ephemeral
        messages and views have their own limits). Payloads are read only for the rows taken.
        """
        due = "status = 'pending' AND not_before <= ? AND lease_until <= ?"
        if self.db.execute(f"SELECT 1 FROM outbox WHERE {due} LIMIT 1", [now_s, now_s]).fetchone() is None:
            return []  # nothing due: no write transaction (senders poll)
        with self.write() as db:
            # One row per channel: its head. MIN(id) with GROUP BY is answered from the index
            # (status, channel, id) alone; only the heads are then read from the table.
            head_ids = [r[0] for r in db.execute(
                "SELECT MIN(id) FROM outbox WHERE status = 'pending' GROUP BY channel").fetchall()]
            heads = []
            for i in range(0, len(head_ids), 500):
                chunk = head_ids[i:i + 500]
                heads += db.execute(
                    "SELECT channel, id, method, not_before, lease_until FROM outbox"
                    f" WHERE id IN ({','.join('?' * len(chunk))})", chunk).fetchall()
            heads = sorted((h for h in heads if h[3] <= now_s and h[4] <= now_s), key=lambda h: h[1])
            ids: list[int] = []
            for channel, head_id, method, _nb, _lu in heads:
                if len(ids) >= limit:
                    break
                if method == "chat.postMessage":
                    if channel not in skip_channels:
                        ids.append(head_id)
                    continue  # at most one post per channel per claim; later rows wait for it
                ids.append(head_id)
                # The head is an edit, a view, an ephemeral message or a job: take what follows it
                # up to and including the channel's next post, while due.
                for oid, m, nb, lu in db.execute(
                        "SELECT id, method, not_before, lease_until FROM outbox"
                        " WHERE status = 'pending' AND channel = ? AND id > ? ORDER BY id LIMIT ?",
                        [channel, head_id, limit]).fetchall():
                    if nb > now_s or lu > now_s or len(ids) >= limit:
                        break
                    if m == "chat.postMessage":
                        if channel not in skip_channels:
                            ids.append(oid)
                        break
                    ids.append(oid)
            if not ids:
                return []
            marks = ",".join("?" * len(ids))
            db.execute(f"UPDATE outbox SET lease_until = ?, attempts = attempts + 1 WHERE id IN ({marks})",
                       [now_s + lease_s, *ids])
            picked = db.execute(
                "SELECT id, team_id, channel, thread_ts, method, payload, attempts - 1, tag FROM outbox"
                f" WHERE id IN ({marks}) ORDER BY id", ids).fetchall()
        return [{"id": r[0], "team_id": r[1], "channel": r[2], "thread_ts": r[3], "method": r[4],
                 "payload": json.loads(r[5]), "attempts": r[6], "tag": r[7], "lease_until": now_s + lease_s}
                for r in picked]

    def outbox_done(self, outbox_id: int, result_ts: str | None) -> None:
        """Mark a row sent (keeping the message ts for later chat.update calls)."""
        self.outbox_done_many([(outbox_id, result_ts)])

    def outbox_done_many(self, sent: list[tuple[int, str | None]]) -> None:
        """Mark several rows sent, (id, message ts) each, in one transaction."""
        if not sent:
            return
        t = now()
        with self.write() as db:
            for outbox_id, result_ts in sent:
                db.execute("UPDATE outbox SET status = 'sent', result_ts = ?, sent_at = ?, lease_until = 0"
                           " WHERE id = ?", [result_ts, t, outbox_id])

    def outbox_retry(self, outbox_id: int, not_before: float, error: str) -> None:
        """Put a row back for a later try."""
        self._write1("UPDATE outbox SET not_before = ?, lease_until = 0, last_error = ? WHERE id = ?",
                     [not_before, error[:500], outbox_id])

    def outbox_fail(self, outbox_id: int, error: str) -> None:
        """Give up on a row (Slack refused it for good)."""
        self._write1("UPDATE outbox SET status = 'failed', lease_until = 0, last_error = ? WHERE id = ?",
                     [error[:500], outbox_id])

    def outbox_row(self, outbox_id: int) -> dict | None:
        """One outbox row's status and message ts."""
        r = self.db.execute("SELECT status, result_ts, channel FROM outbox WHERE id = ?", [outbox_id]).fetchone()
        return {"status": r[0], "result_ts": r[1], "channel": r[2]} if r else None

    def outbox_latest(self, team_id: str, tag: str) -> int | None:
        """The newest outbox row with a tag (e.g. the message that asked a question)."""
        r = self.db.execute("SELECT id FROM outbox WHERE team_id = ? AND tag = ? ORDER BY id DESC LIMIT 1",
                            [team_id, tag]).fetchone()
        return r[0] if r else None

    def outbox_pending(self) -> int:
        """How many rows are still owed to Slack."""
        return self.db.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").fetchone()[0]

    # -- data lifecycle ------------------------------------------------------------------------
    def forget_user(self, team_id: str, user_id: str, replacement: str = "forgotten-user") -> int:
        """Remove a user's identity from this team's records, keeping the decisions. Returns rows changed."""
        with self.write() as db:
            n = 0
            n += db.execute("UPDATE consultations SET started_by = ? WHERE team_id = ? AND started_by = ?",
                            [replacement, team_id, user_id]).rowcount
            n += db.execute("UPDATE answers SET user_id = ? WHERE user_id = ? AND consultation_id IN"
                            " (SELECT id FROM consultations WHERE team_id = ?)",
                            [replacement, user_id, team_id]).rowcount
            # One statement per table, so a decision counts once however many of its fields named the
            # user. The MADR lists are JSON arrays of ids: the id is replaced with its quotes, so no
            # other id that contains it is touched.
            q, gone = json.dumps(user_id), json.dumps(replacement)
            n += db.execute(
                "UPDATE decisions SET"
                " decided_by = CASE WHEN decided_by = ?1 THEN ?2 ELSE decided_by END,"
                " accepted_by = CASE WHEN accepted_by = ?1 THEN ?2 ELSE accepted_by END,"
                " rejected_by = CASE WHEN rejected_by = ?1 THEN ?2 ELSE rejected_by END,"
                " decision_makers = replace(decision_makers, ?3, ?4), consulted = replace(consulted, ?3, ?4),"
                " informed = replace(informed, ?3, ?4)"
                " WHERE team_id = ?5 AND (decided_by = ?1 OR accepted_by = ?1 OR rejected_by = ?1"
                " OR instr(decision_makers, ?3) OR instr(consulted, ?3) OR instr(informed, ?3))",
                [user_id, replacement, q, gone, team_id]).rowcount
            n += db.execute("UPDATE reviews SET settled_by = ? WHERE team_id = ? AND settled_by = ?",
                            [replacement, team_id, user_id]).rowcount
            n += db.execute("UPDATE polls SET created_by = ? WHERE team_id = ? AND created_by = ?",
                            [replacement, team_id, user_id]).rowcount
            n += db.execute("UPDATE OR REPLACE poll_answers SET user_id = ? WHERE user_id = ? AND poll_id IN"
                            " (SELECT id FROM polls WHERE team_id = ?)", [replacement, user_id, team_id]).rowcount
            # Messages kept in the outbox mention people by id ("answered by <@U...>").
            n += db.execute("UPDATE outbox SET payload = replace(payload, ?, ?)"
                            " WHERE team_id = ? AND instr(payload, ?)",
                            [user_id, replacement, team_id, user_id]).rowcount
        return n

    def backup(self, target: str | os.PathLike) -> Path:
        """A consistent online copy of the database (SQLite backup API), created 0600."""
        target = Path(target).expanduser()
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o600)
        os.close(fd)
        dest = sqlite3.connect(str(target))
        try:
            self.db.conn.backup(dest)
        finally:
            dest.close()
        os.chmod(target, 0o600)
        return target
