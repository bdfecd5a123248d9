"""SQLite-only checks of the store: WAL, a 0600 file, the backup API, user_version migrations.

The behaviour both backends keep (numbering, supersede, dedupe, isolation, forget, the outbox, concurrent
writers...) is the contract in tests/store/, run on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from bot.store import MIGRATIONS, Store

KV = "kv-test"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "data" / "advisor.db")
    yield s
    s.close()


def _consultation(store: Store, team: str, thread: str = "t1", user: str = "U1", channel: str = "C1",
                  topic: str = "api"):
    return store.create_consultation(team, channel, thread, user, topic, KV)


def _decide(store: Store, team: str, *, channel: str = "C1", topic: str = "api", framework: str = "flask",
            by: str = "U1", consultation_id: int | None = None, status: str = "accepted"):
    return store.record_decision(team, channel=channel, topic=topic, framework=framework, decided_by=by,
                                 rationale="because", recommendation="django", knowledge_version=KV,
                                 answers={"team_size": 3}, result={"recommendation": "django"},
                                 consultation_id=consultation_id, status=status)


def test_wal_mode_and_private_file(tmp_path: Path) -> None:
    old = os.umask(0)  # even with a permissive umask the file is private
    try:
        s = Store(tmp_path / "nested" / "dir" / "a.db")
    finally:
        os.umask(old)
    assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert (Path(s.path).stat().st_mode & 0o777) == 0o600
    assert s.ping()
    # a raw connection sees WAL too: it is a property of the file, not of our connection
    raw = sqlite3.connect(s.path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()


def test_existing_world_readable_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    Store(path)
    assert (path.stat().st_mode & 0o777) == 0o600


def test_backup_is_consistent_readable_and_private(store: Store, tmp_path: Path) -> None:
    c = _consultation(store, "TA")
    _decide(store, "TA", consultation_id=c.id)
    # an uncommitted write on another connection must not appear in the copy
    other = sqlite3.connect(store.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE decisions SET framework = 'node'")
    try:
        target = store.backup(tmp_path / "backups" / "copy.db")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert (target.stat().st_mode & 0o777) == 0o600
    copy = Store(target)
    assert copy.decision("TA", 1).framework == "flask"
    assert copy.get_consultation("TA", c.id).status == "decided"
    assert sqlite3.connect(target).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    copy.close()


def test_migrations_are_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    first = Store(path)
    _decide(first, "TA")
    first.close()
    again = Store(path)
    assert again.migrate() == len(MIGRATIONS)
    assert again.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert again.decision("TA", 1).framework == "flask"
    tables = [r[0] for r in again.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    assert len(tables) == len(set(tables))
    assert {"consultations", "answers", "recommendations", "decisions", "processed_events", "outbox"} <= set(tables)




def test_a_v6_database_gains_the_outbox_pace_table(tmp_path: Path) -> None:
    path = tmp_path / "v6.db"
    db = sqlite_utils.Database(path)
    for step in MIGRATIONS[:6]:
        step(db)
    db.execute("PRAGMA user_version = 6")
    db.conn.commit()
    db.conn.close()
    s = Store(path)
    assert s.schema_version() == 7 == len(MIGRATIONS)
    assert s.db.execute("SELECT COUNT(*) FROM channel_pace").fetchone()[0] == 0
    # Off by default on SQLite (its one sender process paces itself): nothing is recorded.
    s.outbox_enqueue("T", "C1", "chat.postMessage", {"text": "x"})
    assert len(s.outbox_claim(1e9, 30)) == 1
    assert s.db.execute("SELECT COUNT(*) FROM channel_pace").fetchone()[0] == 0
    s.close()
