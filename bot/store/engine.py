"""The store's SQLite engine: connections, transactions, migrations, health and backup.

(PostgreSQL's engine, with the same interface, is bot/store/postgres.py.)

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
import os
import shutil
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from bot.store.common import StoreBusy, StoreError, default_path
from bot.store.dialect import SQLITE
from bot.store.schema import MIGRATIONS

WRITE_WAIT_S = 2.0
"""How long a write waits for the writers' lock (threads, `flock`, SQLite's busy handler) in all."""
STARTUP_WAIT_S = 30.0
"""The wait of the migration at start (nobody is waiting for an answer yet)."""
HEALTH_WAIT_S = 0.5
"""How long /healthz waits to prove it could write."""
MIN_FREE_BYTES = 1 << 20
"""Below this much free space on the database's disk /healthz says unhealthy (a write may need new pages)."""
POST_INTERVAL_S = 1.0
"""The outbox's pace on PostgreSQL: at most one chat.postMessage claimed per channel in this many seconds."""
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


class Engine:
    """Connections and transactions of one database file, safe to share between threads.

    `post_interval_s`: the outbox claim's pace per channel, kept in the database (0, the default
    here: one sender process paces itself, see bot/slack/outbox.py).
    """

    dialect = SQLITE
    migrations = MIGRATIONS

    def __init__(self, path: str | os.PathLike | None = None, *, write_wait_s: float = WRITE_WAIT_S,
                 post_interval_s: float | None = None):
        self.path = str(path or default_path())
        self.write_wait_s = write_wait_s
        self.post_interval_s = 0.0 if post_interval_s is None else post_interval_s
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

    def _lock(self, db: sqlite_utils.Database, *key: object) -> None:
        """Make the writers of one thing (e.g. ("decisions", team)) wait for each other until this write ends.

        Nothing to do on SQLite: BEGIN IMMEDIATE already lets one writer at a time in.
        """

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

    def schema_version(self) -> int:
        """The database's schema version (0 before the first migration)."""
        return self.db.execute("PRAGMA user_version").fetchone()[0]

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
