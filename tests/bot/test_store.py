"""The SQLite store: WAL, 0600, per-team numbering, supersede, dedupe, isolation, backup, forget, migrations."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import pytest

from bot.store import MIGRATIONS, Store, StoreError

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


def test_per_team_numbering(store: Store) -> None:
    a1, b1 = _consultation(store, "TA"), _consultation(store, "TB")
    a2 = _consultation(store, "TA", thread="t2")
    assert store.consultation_number("TA", a1.id) == 1
    assert store.consultation_number("TB", b1.id) == 1
    assert store.consultation_number("TA", a2.id) == 2
    da, db_ = _decide(store, "TA"), _decide(store, "TB")
    assert (da.number, db_.number) == (1, 1)
    assert da.id != db_.id
    assert _decide(store, "TA", topic="other").number == 2
    assert store.count_decisions("TA") == 2 and store.count_decisions("TB") == 1


def test_same_thread_twice_is_refused(store: Store) -> None:
    _consultation(store, "TA", thread="same")
    with pytest.raises(sqlite3.IntegrityError):
        _consultation(store, "TA", thread="same")
    _consultation(store, "TB", thread="same")  # another team may use the same ids


def test_supersede_on_same_channel_and_topic(store: Store) -> None:
    first = _decide(store, "TA", framework="flask")
    other_topic = _decide(store, "TA", topic="frontend", framework="node")
    other_channel = _decide(store, "TA", channel="C2", framework="node")
    second = _decide(store, "TA", framework="django")
    assert second.supersedes == first.number == 1
    assert store.decision("TA", 1).status == "superseded"
    assert store.decision("TA", other_topic.number).status == "accepted"
    assert store.decision("TA", other_channel.number).status == "accepted"
    assert second.status == "accepted"
    third = _decide(store, "TA", framework="flask")
    assert third.supersedes == second.number  # only the latest accepted one
    assert store.decision("TA", second.number).status == "superseded"
    # a proposal does not supersede anything
    proposal = _decide(store, "TA", framework="node", status="proposed")
    assert proposal.supersedes is None and store.decision("TA", third.number).status == "accepted"
    # another team's decision on the same channel/topic is untouched
    b = _decide(store, "TB")
    assert b.supersedes is None
    assert store.decision("TA", third.number).status == "accepted"


def test_decision_records_close_the_consultation(store: Store) -> None:
    c = _consultation(store, "TA")
    d = _decide(store, "TA", consultation_id=c.id)
    assert store.get_consultation("TA", c.id).status == "decided"
    assert store.decision("TA", d.number).answers == {"team_size": 3}
    assert store.decision("TA", d.number).result == {"recommendation": "django"}
    listed = store.decisions("TA")
    assert [x.number for x in listed] == [1] and listed[0].result == {}  # listings omit the result


def test_event_id_dedupe(store: Store) -> None:
    c = _consultation(store, "TA")
    first = store.append("TA", c.id, "answer", "U1", question="team_size", value=3, event_id="Ev1")
    assert first is not None and first.seq == 1
    assert store.append("TA", c.id, "answer", "U1", question="team_size", value=3, event_id="Ev1") is None
    assert [e.seq for e in store.log("TA", c.id)] == [1]
    second = store.append("TA", c.id, "answer", "U2", question="app_type", value="web_app", event_id="Ev2")
    assert second.seq == 2
    assert [(e.question, e.value) for e in store.log("TA", c.id)] == [("team_size", 3), ("app_type", "web_app")]
    assert store.event_seen("X1") is False
    assert store.event_seen("X1") is True


def test_team_isolation(store: Store) -> None:
    a = _consultation(store, "TA", user="UA")
    store.append("TA", a.id, "answer", "UA", question="team_size", value=3)
    _decide(store, "TA", consultation_id=a.id, by="UA")
    # team B has nothing yet: it cannot reach A's records by number or by id
    assert store.decision("TB", 1) is None
    assert store.consultation_by_number("TB", 1) is None
    assert store.get_consultation("TB", a.id) is None
    assert store.consultation_number("TB", a.id) is None
    assert store.consultation_by_thread("TB", "C1", "t1") is None
    assert store.log("TB", a.id) == []
    assert store.participants("TB", a.id) == set()
    assert store.decisions("TB") == [] and list(store.all_decisions("TB")) == []
    assert store.open_consultations("TB") == []
    with pytest.raises(StoreError):
        store.append("TB", a.id, "answer", "UB", question="team_size", value=99)
    with pytest.raises(StoreError):
        store.save_recommendation("TB", a.id, 1, {"recommendation": "node"})
    store.set_status("TB", a.id, "cancelled")
    assert store.get_consultation("TA", a.id).status == "decided"
    assert store.forget_user("TB", "UA") == 0
    # once B has its own decision 1, it gets its own, not A's
    _decide(store, "TB", framework="node", by="UB")
    assert store.decision("TB", 1).framework == "node"
    assert store.decision("TA", 1).framework == "flask"


def test_concurrent_appends_get_distinct_sequence_numbers(store: Store) -> None:
    c = _consultation(store, "TA")
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(25):
                store.append("TA", c.id, "answer", f"U{n}", question="team_size", value=i + 1)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert [e.seq for e in store.log("TA", c.id)] == list(range(1, 101))


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


def test_forget_user_keeps_decisions_but_removes_the_user(store: Store) -> None:
    c = _consultation(store, "TA", user="UGONE")
    store.append("TA", c.id, "answer", "UGONE", question="team_size", value=3)
    store.append("TA", c.id, "answer", "UKEEP", question="app_type", value="web_app")
    _decide(store, "TA", consultation_id=c.id, by="UGONE")
    b = _consultation(store, "TB", user="UGONE")  # same id in another workspace: not this request
    changed = store.forget_user("TA", "UGONE")
    assert changed == 3  # started_by, one answer, decided_by
    d = store.decision("TA", 1)
    assert d is not None and d.framework == "flask" and d.decided_by == "forgotten-user"
    assert store.get_consultation("TA", c.id).started_by == "forgotten-user"
    assert {e.user_id for e in store.log("TA", c.id)} == {"forgotten-user", "UKEEP"}
    assert "UGONE" not in store.participants("TA", c.id)
    assert store.get_consultation("TB", b.id).started_by == "UGONE"
    rows = store.db.execute("SELECT COUNT(*) FROM answers WHERE user_id = 'UGONE'").fetchone()[0]
    assert rows == 0


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


def test_close_idle(store: Store) -> None:
    c = _consultation(store, "TA")
    assert store.close_idle("TA", "0000") == []
    closed = store.close_idle("TA", "9999")
    assert [x.id for x in closed] == [c.id]
    assert store.get_consultation("TA", c.id).status == "closed"


def test_log_after_a_position_reads_only_the_later_entries(store: Store) -> None:
    c = _consultation(store, "T1")
    for v in ("web", "api", "web"):
        store.append("T1", c.id, "answer", "U1", question="app_type", value=v)
    full = store.log("T1", c.id)
    assert [e.seq for e in full] == [1, 2, 3]
    assert store.log("T1", c.id, after_seq=1) == full[1:]
    assert store.log("T1", c.id, after_seq=3) == []
    assert store.log("T2", c.id, after_seq=1) == []  # still team-scoped
