"""What only the PostgreSQL store does: replicas' claims that skip each other's channels without waiting,
rows committed out of id order, bounded waits (StoreBusy), errors in the SQLite store's contract,
lost connections, migrations under an advisory lock, pg_dump instead of backup(), the "C" collation,
and psycopg imported only by those who use it. Skips, saying why, where PostgreSQL is unavailable.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.store import MIGRATIONS, ConstraintError, Store, StoreBusy, StoreError, StoreUnavailable, postgres_store
from bot.store.dialect import lock_key
from tests import pg

if pg.in_ci():
    import psycopg
else:
    psycopg = pytest.importorskip("psycopg", reason=pg.PSYCOPG_HINT)

from bot.store import postgres  # noqa: E402  (imports psycopg: after the skip)
from bot.store.engine import Engine  # noqa: E402
from bot.store.pg_schema import PG_MIGRATIONS  # noqa: E402

TEAM = "T1"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def target(pg_database: str) -> str:
    """These tests are PostgreSQL's alone: the contract's `open_store` opens its replicas on it."""
    return pg_database


@pytest.fixture
def stores(open_store):
    """Open a Store on the test's PostgreSQL database (another replica), closed at the end."""
    return open_store


@pytest.fixture
def raw(pg_database: str):
    """A plain psycopg connection to the test's database (another process, as far as the store knows)."""
    with psycopg.connect(pg_database) as conn:
        yield conn


def _decide(store: Store, topic: str = "api", **kwargs):
    return store.record_decision(TEAM, channel="C1", topic=topic, framework="flask", decided_by="U1",
                                 rationale="r", recommendation=None, knowledge_version="kv", answers={}, result={},
                                 **kwargs)


def test_a_url_gives_the_postgresql_store_with_its_defaults(stores, pg_database: str, monkeypatch) -> None:
    s = stores()
    assert type(s).__name__ == "PostgresStore" and type(s) is postgres_store() and isinstance(s, Store)
    assert (s.path, s.dialect.name, s.post_interval_s, s.migrations) == (pg_database, "postgresql", 1.0,
                                                                          PG_MIGRATIONS)
    monkeypatch.setenv("FRAMEWORK_ADVISOR_DB", pg_database)
    assert isinstance(stores(), postgres_store())  # Store() reads $FRAMEWORK_ADVISOR_DB


def test_the_engine_replaces_every_method_of_sqlite_s() -> None:
    # PostgresStore inherits Store (SQLite's engine first): any engine method PostgreSQL's engine does
    # not define would run SQLite code on a psycopg connection.
    sqlite_only = {"_check", "_fault", "_rollback", "_busy_guard", "_exclusive", "_flock"}  # called by SQLite's alone
    missing = {name for name, value in vars(Engine).items()
               if callable(value) and not name.startswith("__") and name not in vars(postgres.PostgresEngine)}
    assert missing == sqlite_only
    for name in ("db", "write", "_write1", "_lock", "migrate", "schema_version", "ping", "healthy", "close", "backup"):
        assert getattr(postgres_store(), name) is getattr(postgres.PostgresEngine, name)


def test_sqlite_users_never_import_psycopg(tmp_path) -> None:
    code = ("import sys\nfrom bot.store import Store\n"
            f"s = Store({str(tmp_path / 'a.db')!r}); s.record_decision('T', channel='C', topic='t', framework='flask',"
            " decided_by='U', rationale='r', recommendation=None, knowledge_version='kv', answers={}, result={})\n"
            "assert Store(':memory:').ping()\n"
            "print(sorted(m for m in sys.modules if m.startswith('psycopg')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# -- the outbox across replicas ---------------------------------------------------------------------------
def test_a_channel_another_replica_is_claiming_is_skipped_without_waiting(stores, raw) -> None:
    s = stores()
    a = s.outbox_enqueue(TEAM, "C1", "chat.postMessage", {"text": "a"})
    b = s.outbox_enqueue(TEAM, "C2", "chat.postMessage", {"text": "b"})
    # Another replica is mid-claim on C1: it holds the channel's lock.
    raw.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [lock_key(("outbox", "C1"))])
    started = time.monotonic()
    assert [r["id"] for r in s.outbox_claim(time.time(), 30)] == [b]
    assert time.monotonic() - started < 0.5  # skipped, not waited for
    raw.rollback()
    assert [r["id"] for r in s.outbox_claim(time.time(), 30)] == [a]


def test_a_row_another_transaction_holds_is_skipped_and_its_channel_waits(stores, raw) -> None:
    s = stores(post_interval_s=0)
    with s.write():
        edit = s.outbox_enqueue(TEAM, "C1", "chat.update", {"ref": 1, "text": "x"})
        post = s.outbox_enqueue(TEAM, "C1", "chat.postMessage", {"text": "y"})
    other = s.outbox_enqueue(TEAM, "C2", "chat.postMessage", {"text": "z"})
    # A sender elsewhere is marking the post done (its row lock): the claim takes the edit, and not the post.
    raw.execute("SELECT id FROM outbox WHERE id = %s FOR UPDATE", [post])
    assert [r["id"] for r in s.outbox_claim(time.time(), 30)] == [edit, other]
    raw.rollback()


def test_a_row_committed_out_of_id_order_waits_for_the_later_one_in_flight(stores, raw) -> None:
    s = stores(post_interval_s=0)
    early = raw.execute("INSERT INTO outbox (team_id, channel, method, payload, created_at)"
                        " VALUES (%s, 'C1', 'chat.postMessage', '{}', 'now') RETURNING id", [TEAM]).fetchone()[0]
    late = s.outbox_enqueue(TEAM, "C1", "chat.postMessage", {"text": "later"})
    assert late > early
    assert [r["id"] for r in s.outbox_claim(time.time(), 30)] == [late]
    raw.commit()
    # The earlier id is now the channel's head, but a row of the channel is in flight: nothing more yet.
    assert s.outbox_claim(time.time(), 30) == []
    s.outbox_done_many([(late, "1")])
    assert [r["id"] for r in s.outbox_claim(time.time(), 30)] == [early]


def test_many_replica_threads_claim_a_big_outbox_without_a_row_leased_twice(stores) -> None:
    replicas = [stores(post_interval_s=0), stores(post_interval_s=0)]
    with replicas[0].write():
        for i in range(2000):
            replicas[0].outbox_enqueue(TEAM, f"C{i % 50}", ("chat.update", "chat.postMessage")[i % 3 == 0], {"n": i})
    seen: list[int] = []
    lock = threading.Lock()

    def sender(n: int) -> None:
        s = replicas[n % 2]
        while True:
            rows = s.outbox_claim(time.time(), 30, limit=8)
            if not rows:
                if s.outbox_pending() == 0:
                    return
                time.sleep(0.002)
                continue
            with lock:
                seen.extend(r["id"] for r in rows)
            s.outbox_done_many([(r["id"], None) for r in rows])

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(sender, range(8)))
    assert len(seen) == len(set(seen)) == 2000


# -- bounded waits, errors ---------------------------------------------------------------------------------
def test_a_writer_held_up_by_another_is_busy_within_the_bound(stores, raw) -> None:
    s = stores(write_wait_s=0.3)
    _decide(s)
    raw.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [lock_key(("decisions", TEAM))])
    started = time.monotonic()
    with pytest.raises(StoreBusy, match="busy"):
        _decide(s, topic="other")
    assert 0.25 < time.monotonic() - started < 1.5
    raw.rollback()
    assert _decide(s, topic="other").number == 2  # once the other writer is gone


def test_a_row_lock_held_elsewhere_is_busy_within_the_bound(stores, raw) -> None:
    s = stores(write_wait_s=0.3)
    c = s.create_consultation(TEAM, "C1", "1.1", "U1", "api", "kv")
    raw.execute("SELECT 1 FROM consultations WHERE id = %s FOR UPDATE", [c.id])
    with pytest.raises(StoreBusy):
        s.set_status(TEAM, c.id, "closed")
    raw.rollback()
    s.set_status(TEAM, c.id, "closed")
    assert s.get_consultation(TEAM, c.id).status == "closed"


def test_no_free_connection_is_busy_within_the_bound(stores) -> None:
    s = stores(pool_size=1, write_wait_s=0.3)
    inside, leave = threading.Event(), threading.Event()

    def hold() -> None:
        with s.write():
            inside.set()
            leave.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    inside.wait(10)
    try:
        with pytest.raises(StoreBusy, match="no connection free"):
            s.count_decisions(TEAM)
        assert not s.healthy(wait_s=0.2)
    finally:
        leave.set()
        t.join()
    assert s.healthy()


def test_errors_keep_the_sqlite_store_s_contract(stores) -> None:
    s = stores()
    s.create_consultation(TEAM, "C1", "1.1", "U1", "api", "kv")
    with pytest.raises(ConstraintError) as caught:
        s.create_consultation(TEAM, "C1", "1.1", "U1", "api", "kv")
    assert isinstance(caught.value, sqlite3.IntegrityError)
    assert issubclass(StoreUnavailable, sqlite3.OperationalError)
    with pytest.raises(ValueError, match="SQLite-only"):
        s.db.execute("PRAGMA user_version")


def test_lost_connections_are_replaced(stores, pg_database: str) -> None:
    s = stores()
    _decide(s)
    with psycopg.connect(pg_database, autocommit=True) as admin:  # the server restarted, say
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                      " WHERE datname = current_database() AND pid <> pg_backend_pid()")
    assert s.decision(TEAM, 1).framework == "flask"  # a read is tried again on a fresh connection
    assert s.ping() and s.healthy()
    assert _decide(s, topic="other").number == 2


def test_healthy_is_false_when_the_database_is_gone(pg_url: str) -> None:
    url = pg.fresh_database(pg_url)
    s = Store(url, write_wait_s=0.3)
    try:
        assert s.healthy()
        pg.drop_database(url)
        assert not s.healthy() and not s.ping()
        with pytest.raises((StoreUnavailable, StoreBusy)):
            s.count_decisions(TEAM)
    finally:
        s.close()
        pg.drop_database(url)


def test_an_unreachable_server_is_refused_at_start_without_its_password(monkeypatch) -> None:
    monkeypatch.setattr(postgres, "CONNECT_TIMEOUT_S", 0.5)
    with pytest.raises(StoreError) as caught:
        Store("postgresql://advisor:s3cret@127.0.0.1:1/advisor")
    assert "s3cret" not in str(caught.value) and "advisor:***@127.0.0.1:1" in str(caught.value)


# -- schema, backup ----------------------------------------------------------------------------------------
def test_replicas_starting_together_migrate_once(pg_database: str) -> None:
    with ThreadPoolExecutor(4) as pool:
        opened = list(pool.map(lambda _: Store(pg_database), range(4)))
    try:
        assert {s.schema_version() for s in opened} == {len(PG_MIGRATIONS)}
        assert opened[0].db.execute("SELECT count(*) FROM store_schema").fetchone()[0] == 1
    finally:
        for s in opened:
            s.close()
    assert len(PG_MIGRATIONS) != len(MIGRATIONS)  # versioned per backend


def test_a_database_from_a_newer_release_is_refused(stores, pg_database: str) -> None:
    stores().db.execute("UPDATE store_schema SET version = ?", [len(PG_MIGRATIONS) + 3])
    with pytest.raises(StoreError, match=rf"schema version {len(PG_MIGRATIONS) + 3}, which is newer"):
        Store(pg_database)


def test_backup_says_to_use_pg_dump(stores, tmp_path) -> None:
    with pytest.raises(StoreError, match="pg_dump"):
        stores().backup(tmp_path / "copy.db")
    assert not (tmp_path / "copy.db").exists()


def test_texts_sort_byte_by_byte_whatever_the_database_s_collation(stores, raw) -> None:
    s = stores()
    collations = {r[0] for r in raw.execute(
        "SELECT collation_name FROM information_schema.columns WHERE table_schema = 'public'"
        " AND data_type = 'text'").fetchall()}
    assert collations == {"C"}
    # The outbox's tag range 'q:N:' <= tag < 'q:N;' (punctuation that en_US would ignore).
    c = s.create_consultation(TEAM, "C1", "1.1", "U1", "api", "kv")
    assert s.outbox_enqueue_reply(TEAM, "C1", {"text": "q"}, thread_ts="1.1", dedupe_key="k1", consultation_id=c.id,
                                  seq=None, question="app_type") == "queued"
    assert s.outbox_enqueue_reply(TEAM, "C1", {"text": "q"}, thread_ts="1.1", dedupe_key="k2", consultation_id=c.id,
                                  seq=None, question="app_type") == "dropped"
