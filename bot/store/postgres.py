"""The store on PostgreSQL: the same `Store`, for several replicas (serve processes) on one database.

`Store("postgresql://...")` gives a `PostgresStore` (bot/store/__init__.py): the mixins' queries,
translated (bot/store/dialect.py), over this engine. psycopg is imported only here, when such a
store is made.
- Connections come from a psycopg_pool pool (autocommit). A statement outside a write borrows
  one for itself and gives it back at once; a write pins one to its thread for its transaction
  (READ COMMITTED), and a write inside a write is a savepoint, as on SQLite. A read that finds
  its pooled connection broken (the server restarted) is tried once more on a fresh one.
- Waits are bounded by the write wait, as on SQLite: for a connection from the pool, then, inside
  the transaction, `lock_timeout` (what is left of the wait) for every row or advisory lock, and
  `statement_timeout` (the wait, at least 5 s) for any statement. Past them: `StoreBusy`. So are a
  deadlock and a serialization failure (try again). A transaction left idle by a stuck process is
  ended by the server (`idle_in_transaction_session_timeout`), releasing its locks.
- Writers run concurrently. Where SQLite's single writer made a read-then-write safe (numbering
  decisions and consultations per team, an answer's seq, supersede, the checks before queueing a
  reply), the mixins take a transaction-scoped advisory lock on what they number or check
  (`_lock`: pg_advisory_xact_lock); the outbox claim uses FOR UPDATE SKIP LOCKED and keeps the
  pace of chat.postMessage per channel in the database for all replicas together (outbox.py).
- Errors keep the SQLite store's contract: a constraint is a `ConstraintError` (a
  sqlite3.IntegrityError), a lost connection or a read-only server a `StoreUnavailable` (a
  sqlite3.OperationalError). A failed statement aborts its whole write here (SQLite undoes only
  the statement): the mixins catch errors outside a write, or in a nested one (a savepoint).
- Migrations: `PG_MIGRATIONS`, the version in `store_schema`, under an advisory lock so replicas
  starting together migrate once. `backup()` is refused: use pg_dump.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import psycopg
import psycopg_pool
from psycopg import errors

from bot.store.common import ConstraintError, StoreBusy, StoreError, StoreUnavailable, default_path, redact
from bot.store.dialect import POSTGRES, lock_key, to_postgres
from bot.store.engine import HEALTH_WAIT_S, POST_INTERVAL_S, STARTUP_WAIT_S, WRITE_WAIT_S
from bot.store.pg_schema import PG_MIGRATIONS

POOL_SIZE = 10
"""The most connections one store (one process) opens: its request threads and outbox senders share them."""
CONNECT_TIMEOUT_S = 10.0
"""How long opening the store waits for its first connection (the server is down or unreachable)."""
MIN_STATEMENT_TIMEOUT_S = 5.0
"""The least `statement_timeout` a write sets (its lock waits are bounded by the write wait)."""
IDLE_IN_TRANSACTION_S = 60.0
"""The server ends a transaction left idle this long (a stuck process), releasing its locks."""

# A lock timeout, a statement timeout, a deadlock, a serialization failure: another writer's doing.
_BUSY = (errors.LockNotAvailable, errors.QueryCanceled, errors.DeadlockDetected, errors.SerializationFailure)
_UNAVAILABLE = (psycopg.OperationalError, psycopg.InterfaceError, errors.ReadOnlySqlTransaction)


class PgCursor:
    """A statement's result, read whole: what the mixins use of a sqlite3.Cursor."""

    __slots__ = ("_rows", "_next", "rowcount", "lastrowid")

    def __init__(self, rows: list[tuple], rowcount: int, lastrowid: int | None):
        self._rows = rows
        self._next = 0
        self.rowcount = rowcount
        self.lastrowid = lastrowid

    def fetchone(self) -> tuple | None:
        """The next row, or None."""
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def fetchall(self) -> list[tuple]:
        """The rows not yet fetched."""
        rest, self._next = self._rows[self._next:], len(self._rows)
        return rest

    def __iter__(self) -> Iterator[tuple]:
        return iter(self.fetchall())


class PgDatabase:
    """`Store.db` on PostgreSQL: `execute(sql, params)` in the mixins' SQL (`?` placeholders).

    Pinned to a connection inside a write; otherwise each statement borrows one from the pool.
    """

    def __init__(self, engine: PostgresEngine, conn: psycopg.Connection | None = None):
        self._engine = engine
        self.conn = conn

    def execute(self, sql: str, parameters: Sequence | None = None) -> PgCursor:
        """Run one statement; its rows are read at once."""
        text, returns_id = to_postgres(sql)
        params = list(parameters) if parameters else []
        if self.conn is not None:
            return self._engine._run(self.conn, text, params, returns_id)
        return self._engine._autocommit(text, params, returns_id)


class _Probe(Exception):
    """Rolls back the write of a health probe."""


class _Pools:
    """The engine's pool, apart from the engine so that a finalizer can close it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pool: psycopg_pool.ConnectionPool | None = None

    def close(self) -> None:
        with self.lock:
            pool, self.pool = self.pool, None
        if pool is not None:
            pool.close()


class PostgresEngine:
    """Connections and transactions of one PostgreSQL database, safe to share between threads and processes.

    `post_interval_s`: the outbox claim's pace per channel (default POST_INTERVAL_S), kept in the
    database so that every replica's senders together respect it. `pool_size`: the most connections.
    """

    dialect = POSTGRES
    migrations = PG_MIGRATIONS

    def __init__(self, path: str | None = None, *, write_wait_s: float = WRITE_WAIT_S,
                 post_interval_s: float | None = None, pool_size: int = POOL_SIZE):
        self.path = str(path or default_path())
        self.name = redact(self.path)
        self.write_wait_s = write_wait_s
        self.post_interval_s = POST_INTERVAL_S if post_interval_s is None else post_interval_s
        self.pool_size = pool_size
        self._local = threading.local()
        self._pools = _Pools()
        weakref.finalize(self, self._pools.close)
        self._auto = PgDatabase(self)
        try:
            self._pool.wait(timeout=CONNECT_TIMEOUT_S)
        except psycopg_pool.PoolTimeout:
            self._pools.close()
            raise StoreError(f"cannot connect to the database {self.name} within {CONNECT_TIMEOUT_S:g} s") from None
        self.migrate()

    # -- connections --------------------------------------------------------------------------------
    @property
    def _pool(self) -> psycopg_pool.ConnectionPool:
        """The pool, opened at first use (again after `close`)."""
        pools = self._pools
        with pools.lock:
            if pools.pool is None:
                kwargs: dict = {"autocommit": True}
                if "connect_timeout" not in psycopg.conninfo.conninfo_to_dict(self.path):
                    kwargs["connect_timeout"] = int(CONNECT_TIMEOUT_S)
                pools.pool = psycopg_pool.ConnectionPool(
                    self.path, min_size=1, max_size=self.pool_size, kwargs=kwargs, configure=self._configure,
                    name="framework-advisor", timeout=self.write_wait_s, open=True)
            return pools.pool

    def _configure(self, conn: psycopg.Connection) -> None:
        """A new connection's session: the waits outside a write, UTC, a name in pg_stat_activity."""
        conn.execute(f"SET lock_timeout = {_ms(self.write_wait_s)}; "
                     f"SET statement_timeout = {_ms(max(self.write_wait_s, MIN_STATEMENT_TIMEOUT_S))}; "
                     f"SET idle_in_transaction_session_timeout = {_ms(IDLE_IN_TRANSACTION_S)}; "
                     "SET TimeZone = 'UTC'; SET application_name = 'framework-advisor'")

    def _getconn(self, wait_s: float) -> tuple[psycopg_pool.ConnectionPool, psycopg.Connection]:
        """A connection from the pool within `wait_s`, else StoreBusy; with the pool to give it back to."""
        pool = self._pool
        try:
            return pool, pool.getconn(timeout=max(wait_s, 0.001))
        except psycopg_pool.PoolTimeout:
            raise StoreBusy(f"the database {self.name} is busy (no connection free within {wait_s:g} s):"
                            " try again") from None
        except psycopg_pool.PoolClosed:
            raise StoreUnavailable(f"the database {self.name} was closed") from None

    @staticmethod
    def _putconn(pool: psycopg_pool.ConnectionPool, conn: psycopg.Connection) -> None:
        # A broken connection is discarded by the pool (and replaced); after close() it is closed.
        pool.putconn(conn)

    def _error(self, e: psycopg.Error) -> Exception:
        """A psycopg error in the store's contract (see the module); others (a bug in SQL) as they are."""
        if isinstance(e, _BUSY):
            return StoreBusy(f"the database {self.name} is busy ({type(e).__name__}: {str(e).strip()}): try again")
        if isinstance(e, psycopg.IntegrityError):
            return ConstraintError(str(e).strip())
        if isinstance(e, _UNAVAILABLE):
            return StoreUnavailable(f"the database {self.name}: {str(e).strip() or type(e).__name__}")
        return e

    def _run(self, conn: psycopg.Connection, sql: str, params: list, returns_id: bool = False) -> PgCursor:
        """One statement on one connection, its rows read whole; errors in the store's contract."""
        try:
            cur = conn.execute(sql, params)
            rows = cur.fetchall() if cur.description is not None else []
        except psycopg.Error as e:
            raise self._error(e) from e
        lastrowid = rows[-1][0] if returns_id and rows else None
        return PgCursor(rows, cur.rowcount, lastrowid)

    def _control(self, conn: psycopg.Connection, sql: str) -> None:
        """Transaction control (several statements, no parameters), errors in the store's contract."""
        try:
            conn.execute(sql)
        except psycopg.Error as e:
            raise self._error(e) from e

    def _autocommit(self, sql: str, params: list, returns_id: bool) -> PgCursor:
        """One statement as its own transaction on a pooled connection; a read is tried again once on a
        fresh connection when the pooled one turned out broken (a write is not: it may have been done)."""
        read = sql.lstrip()[:6].upper() == "SELECT"
        for attempt in (1, 2):
            pool, conn = self._getconn(self.write_wait_s)
            try:
                return self._run(conn, sql, params, returns_id)
            except StoreUnavailable:
                if not (read and attempt == 1 and conn.broken):
                    raise
            finally:
                self._putconn(pool, conn)
        raise AssertionError("unreachable")  # pragma: no cover

    @property
    def db(self) -> PgDatabase:
        """This thread's write's connection inside a write; otherwise one borrowed per statement."""
        return getattr(self._local, "db", None) or self._auto

    # -- transactions -------------------------------------------------------------------------------
    @contextmanager
    def write(self, *, wait_s: float | None = None) -> Iterator[PgDatabase]:
        """A write transaction; inside another write of the same thread, a savepoint of it.

        Raises `StoreBusy` when a connection, or a lock the transaction needs, is not had within
        `wait_s` (default: the store's `write_wait_s`).
        """
        local = self._local
        depth = getattr(local, "depth", 0)
        if depth:
            db, name = local.db, f"w{depth}"
            self._control(db.conn, f"SAVEPOINT {name}")
            local.depth = depth + 1
            try:
                yield db
            except BaseException:
                self._quietly(db.conn, f"ROLLBACK TO SAVEPOINT {name}; RELEASE SAVEPOINT {name}")
                raise
            else:
                self._control(db.conn, f"RELEASE SAVEPOINT {name}")
            finally:
                local.depth = depth
            return
        wait_s = self.write_wait_s if wait_s is None else wait_s
        deadline = time.monotonic() + wait_s
        pool, conn = self._getconn(wait_s)
        try:
            left = max(deadline - time.monotonic(), 0.001)
            self._control(conn, f"BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL lock_timeout = {_ms(left)};"
                                f" SET LOCAL statement_timeout = {_ms(max(left, MIN_STATEMENT_TIMEOUT_S))}")
            local.db, local.depth = PgDatabase(self, conn), 1
            try:
                yield local.db
            except BaseException:
                self._quietly(conn, "ROLLBACK")
                raise
            else:
                try:
                    self._control(conn, "COMMIT")
                except BaseException:
                    self._quietly(conn, "ROLLBACK")
                    raise
        finally:
            local.db, local.depth = None, 0
            self._putconn(pool, conn)

    @staticmethod
    def _quietly(conn: psycopg.Connection, sql: str) -> None:
        """Undo after a failure; a connection that cannot even do that is broken, and the pool drops it."""
        try:
            conn.execute(sql)
        except psycopg.Error:
            pass

    def _lock(self, db: PgDatabase, *key: object) -> None:
        """Make the writers of one thing (e.g. ("decisions", team)) wait for each other until this write ends.

        A transaction-scoped advisory lock on a 64-bit hash of the key (a collision only makes two
        unrelated writers wait for each other); the wait is bounded by `lock_timeout` (StoreBusy).
        """
        if db.conn is None:
            raise StoreError("_lock is for inside a write")
        db.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", [lock_key(key)])

    def _write1(self, sql: str, params: list) -> PgCursor:
        """One write statement: its own (autocommit) transaction, or part of the caller's write."""
        return self.db.execute(sql, params)

    # -- schema, health, lifecycle ------------------------------------------------------------------
    def migrate(self) -> int:
        """Bring the schema to the latest version; returns that version.

        A database from a newer release (a version this one does not know) is refused. Replicas
        starting together take turns (an advisory lock): the first migrates, the others find it done.
        """
        with self.write(wait_s=max(self.write_wait_s, STARTUP_WAIT_S)) as db:
            self._lock(db, "migrate")
            db.execute("CREATE TABLE IF NOT EXISTS store_schema (id integer PRIMARY KEY CHECK (id = 1),"
                       " version integer NOT NULL)")
            row = db.execute("SELECT version FROM store_schema WHERE id = 1").fetchone()
            version = row[0] if row else 0
            if version > len(PG_MIGRATIONS):
                raise StoreError(f"the database {self.name} has schema version {version}, which is newer than"
                                 f" this release knows ({len(PG_MIGRATIONS)}); upgrade framework-advisor")
            for n in range(version, len(PG_MIGRATIONS)):
                PG_MIGRATIONS[n](db)
            if version < len(PG_MIGRATIONS):
                db.execute("INSERT INTO store_schema (id, version) VALUES (1, ?) ON CONFLICT (id) DO UPDATE"
                           " SET version = excluded.version", [len(PG_MIGRATIONS)])
        return len(PG_MIGRATIONS)

    def schema_version(self) -> int:
        """The database's schema version (0 before the first migration)."""
        row = self.db.execute("SELECT version FROM store_schema WHERE id = 1").fetchone()
        return row[0] if row else 0

    def ping(self) -> bool:
        """True when the database answers a read."""
        try:
            return self.db.execute("SELECT 1").fetchone()[0] == 1
        except (psycopg.Error, StoreError, StoreUnavailable):
            return False

    def healthy(self, wait_s: float = HEALTH_WAIT_S) -> bool:
        """True when this process could write now (for /healthz): a connection, a write, ROLLBACK, within `wait_s`.

        The write (the schema version set to itself) fails on a read-only server (a standby, or a
        primary out of disk in read-only mode) and waits behind a migration; nothing is kept.
        """
        if getattr(self._local, "depth", 0):
            return True  # this thread is inside a write: the database took it
        try:
            with self.write(wait_s=wait_s) as db:
                db.execute("UPDATE store_schema SET version = version WHERE id = 1")
                raise _Probe
        except _Probe:
            return True
        except (StoreError, StoreUnavailable, psycopg.Error):
            return False

    def close(self) -> None:
        """Close the pool's connections (a write under way keeps its own until it ends); the next use opens a pool."""
        self._pools.close()

    def backup(self, target: str | os.PathLike) -> None:
        """Refused: backup() copies a SQLite file; a PostgreSQL database is backed up with pg_dump."""
        raise StoreError(f"backup() copies a SQLite database; {self.name} is PostgreSQL: use pg_dump"
                         f" (e.g. pg_dump --format=custom --file={os.fspath(target)} \"$FRAMEWORK_ADVISOR_DB\")")


def _ms(seconds: float) -> int:
    """A timeout in whole milliseconds, at least 1 (0 would mean none)."""
    return max(1, int(seconds * 1000))

