"""The store's contract, on SQLite and on PostgreSQL alike (every test runs on both: tests/store/conftest.py).

Per-team numbering, supersede, proposals, event de-duplication, team isolation, the answer log,
reviews, polls, workspaces, forget_user, migrations, health; and concurrent writers from several
threads and several Store instances (replicas) on one database. SQLite-only checks (file
permissions, WAL, flock, the backup API, quick_check) are in tests/bot/test_store.py and
tests/reliability/test_storage_faults.py.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.store import Store, StoreError

KV = "kv-test"


def _consultation(store: Store, team: str, thread: str = "t1", user: str = "U1", channel: str = "C1",
                  topic: str = "api"):
    return store.create_consultation(team, channel, thread, user, topic, KV)


def _decide(store: Store, team: str, *, channel: str = "C1", topic: str = "api", framework: str = "flask",
            by: str = "U1", consultation_id: int | None = None, status: str = "accepted", **kwargs):
    return store.record_decision(team, channel=channel, topic=topic, framework=framework, decided_by=by,
                                 rationale="because", recommendation="django", knowledge_version=KV,
                                 answers={"team_size": 3}, result={"recommendation": "django"},
                                 consultation_id=consultation_id, status=status, **kwargs)


def _threads(n: int, work: Callable[[int], object]) -> list:
    """Run work(0..n-1) at once, each in its own thread; their results, re-raising the first error."""
    start = threading.Barrier(n)

    def run(i: int):
        start.wait()
        return work(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


# -- numbering, supersede, the decision lifecycle ----------------------------------------------------
def test_per_team_numbering(store: Store) -> None:
    a1, b1 = _consultation(store, "TA"), _consultation(store, "TB")
    a2 = _consultation(store, "TA", thread="t2")
    assert store.consultation_number("TA", a1.id) == 1
    assert store.consultation_number("TB", b1.id) == 1
    assert store.consultation_number("TA", a2.id) == 2
    assert store.consultation_by_number("TA", 2).id == a2.id
    da, db_ = _decide(store, "TA"), _decide(store, "TB")
    assert (da.number, db_.number) == (1, 1)
    assert da.id != db_.id
    assert _decide(store, "TA", topic="other").number == 2
    assert store.count_decisions("TA") == 2 and store.count_decisions("TB") == 1


def test_same_thread_twice_is_refused(store: Store) -> None:
    _consultation(store, "TA", thread="same")
    with pytest.raises(sqlite3.IntegrityError):  # PostgreSQL's ConstraintError is one too
        _consultation(store, "TA", thread="same")
    _consultation(store, "TB", thread="same")  # another team may use the same ids
    assert store.consultation_by_thread("TA", "C1", "same").started_by == "U1"


def test_supersede_on_same_channel_and_topic(store: Store) -> None:
    first = _decide(store, "TA", framework="flask")
    other_topic = _decide(store, "TA", topic="frontend", framework="node")
    other_channel = _decide(store, "TA", channel="C2", framework="node")
    second = _decide(store, "TA", framework="django")
    assert second.supersedes == first.number == 1
    assert store.decision("TA", 1).status == "superseded"
    assert store.decision("TA", 1).superseded_by == second.number
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


def test_a_proposal_accepted_later_supersedes_and_a_rejected_one_reopens_its_consultation(store: Store) -> None:
    first = _decide(store, "TA")
    proposal = _decide(store, "TA", framework="node", status="proposed", decision_makers=["UB", "UC"],
                       consulted=["UD"], informed=["UE"], review_on="2099-01-31", announce=True)
    assert (proposal.decision_makers, proposal.consulted, proposal.informed) == (["UB", "UC"], ["UD"], ["UE"])
    assert proposal.announce is True and proposal.review_on == "2099-01-31"
    accepted = store.accept_decision("TA", proposal.number, "UZ")
    assert (accepted.status, accepted.accepted_by, accepted.supersedes) == ("accepted", "UZ", first.number)
    assert accepted.decision_makers == ["UB", "UC", "UZ"]
    assert store.decision("TA", first.number).superseded_by == proposal.number
    assert store.accept_decision("TA", proposal.number, "UZ") is None  # no longer a proposal
    assert store.reject_decision("TA", proposal.number, "UZ") is None

    c = _consultation(store, "TA", thread="t9")
    p2 = _decide(store, "TA", framework="django", status="proposed", consultation_id=c.id)
    assert store.get_consultation("TA", c.id).status == "decided"
    rejected = store.reject_decision("TA", p2.number, "UY")
    assert (rejected.status, rejected.rejected_by) == ("rejected", "UY")
    assert store.get_consultation("TA", c.id).status == "open"
    assert store.accept_decision("TB", p2.number, "UY") is None  # another team's number
    with pytest.raises(StoreError):
        _decide(store, "TA", status="superseded")


def test_decision_listings_pages_and_statuses(store: Store) -> None:
    for i in range(7):
        _decide(store, "TA", topic=f"t{i % 3}", framework=("flask", "django", "node")[i % 3])
    assert [d.number for d in store.decisions("TA", limit=3)] == [7, 6, 5]
    assert [d.number for d in store.decisions("TA", limit=3, offset=3)] == [4, 3, 2]
    assert [d.number for d in store.decisions("TA", status="superseded")] == [4, 3, 2, 1]
    assert [d.number for d in store.decisions("TA", status="superseded", limit=2, offset=1)] == [3, 2]
    assert store.count_decisions("TA", "accepted") == 3
    assert [d.number for d in store.all_decisions("TA")] == list(range(1, 8))
    _decide(store, "TB")
    assert [(d.team_id, d.number) for d in store.all_decisions()][-2:] == [("TA", 7), ("TB", 1)]
    assert store.decisions("TA", limit=1)[0].result == {}  # listings omit the result
    assert store.decision("TA", 7).result == {"recommendation": "django"}


def test_decision_records_close_the_consultation(store: Store) -> None:
    c = _consultation(store, "TA")
    d = _decide(store, "TA", consultation_id=c.id)
    assert store.get_consultation("TA", c.id).status == "decided"
    assert store.decision("TA", d.number).answers == {"team_size": 3}
    assert store.decision("TA", d.number).result == {"recommendation": "django"}
    listed = store.decisions("TA")
    assert [x.number for x in listed] == [1] and listed[0].result == {}  # listings omit the result


# -- the answer log, de-duplication ------------------------------------------------------------------
def test_event_id_dedupe(store: Store) -> None:
    c = _consultation(store, "TA")
    first = store.append("TA", c.id, "answer", "U1", question="team_size", value=3, event_id="Ev1")
    assert first is not None and first.seq == 1
    assert store.append("TA", c.id, "answer", "U1", question="team_size", value=3, event_id="Ev1") is None
    assert [e.seq for e in store.log("TA", c.id)] == [1]
    second = store.append("TA", c.id, "answer", "U2", question="app_type", value="web_app", event_id="Ev2")
    assert second.seq == 2
    assert [(e.question, e.value) for e in store.log("TA", c.id)] == [("team_size", 3), ("app_type", "web_app")]
    assert store.entry_by_event("TA", c.id, "Ev2").seq == 2 and store.entry_by_event("TB", c.id, "Ev2") is None
    assert store.has_event("Ev1") and not store.has_event("Ev9")
    assert store.event_seen("X1") is False
    assert store.event_seen("X1") is True
    d = _decide(store, "TA", event_id="EvD")
    assert _decide(store, "TA", framework="node", event_id="EvD").id == d.id  # a re-delivery: the same decision
    assert store.count_decisions("TA") == 1 and store.decision_by_event("TA", "EvD").number == 1
    assert store.has_event("EvD")


def test_a_dedupe_inside_a_caller_s_write_keeps_the_rest_of_it(store: Store) -> None:
    c = _consultation(store, "TA")
    store.append("TA", c.id, "answer", "U1", question="team_size", value=3, event_id="Ev1")
    with store.write():
        assert store.append("TA", c.id, "answer", "U1", question="team_size", value=3, event_id="Ev1") is None
        assert store.event_seen("Ev1") is False
        store.append("TA", c.id, "answer", "U2", question="app_type", value="web_app")
    assert [e.seq for e in store.log("TA", c.id)] == [1, 2]
    assert store.event_seen("Ev1") is True


def test_a_failed_nested_write_undoes_only_itself(store: Store) -> None:
    c = _consultation(store, "TA")
    with store.write():
        store.append("TA", c.id, "answer", "U1", question="team_size", value=3)
        with pytest.raises(RuntimeError), store.write():
            store.append("TA", c.id, "answer", "U1", question="app_type", value="api")
            raise RuntimeError("undo the inner part")
        store.append("TA", c.id, "answer", "U1", question="app_type", value="web_app")
    assert [(e.seq, e.value) for e in store.log("TA", c.id)] == [(1, 3), (2, "web_app")]
    with pytest.raises(RuntimeError), store.write():
        store.append("TA", c.id, "answer", "U1", question="team_size", value=9)
        raise RuntimeError("undo all of it")
    assert store.last_seq(c.id) == 2


def test_the_log_and_what_it_keeps(store: Store) -> None:
    c = _consultation(store, "T1")
    for v in ("web", "api", "web"):
        store.append("T1", c.id, "answer", "U1", question="app_type", value=v, raw_text=f"it is {v} 100%")
    store.append("T1", c.id, "answers", "U2", value={"team_size": 4, "app_type": "api"})
    full = store.log("T1", c.id)
    assert [e.seq for e in full] == [1, 2, 3, 4] and full[3].value == {"team_size": 4, "app_type": "api"}
    assert full[0].raw_text == "it is web 100%"
    assert store.log("T1", c.id, after_seq=1) == full[1:]
    assert store.log("T1", c.id, after_seq=4) == []
    assert store.log("T2", c.id, after_seq=1) == []  # still team-scoped
    store.erase_raw_text("T1", c.id, 1)
    store.erase_raw_text("T2", c.id, 2)  # another team's: nothing
    assert [e.raw_text for e in store.log("T1", c.id)][:2] == [None, "it is api 100%"]
    assert store.participants("T1", c.id) == {"U1", "U2"}
    assert store.last_seq(c.id) == 4


def test_recommendations_are_kept_per_log_position(store: Store) -> None:
    c = _consultation(store, "TA")
    store.save_recommendation("TA", c.id, 3, {"recommendation": "django", "knowledge_version": KV})
    assert store.has_recommendation("TA", c.id, 3)
    assert not store.has_recommendation("TA", c.id, 4) and not store.has_recommendation("TB", c.id, 3)


def test_consultations_open_close_and_status(store: Store) -> None:
    a = _consultation(store, "TA", thread="t1")
    b = _consultation(store, "TA", thread="t2")
    c = _consultation(store, "TA", thread="t3", channel="C2")
    store.append("TA", a.id, "answer", "U1", question="team_size", value=3)  # a is now the most recent
    assert [n for n, _ in store.open_consultations("TA")] == [1, 3, 2]
    assert [x.id for x in store.open_consultations_in("TA", "C1")] == [a.id, b.id]
    assert [x.id for x in store.open_consultations_in("TA", "C1", limit=1)] == [a.id]
    store.set_status("TA", c.id, "cancelled")
    assert store.open_consultations_in("TA", "C2") == []
    assert store.close_idle("TA", "0000") == []
    closed = store.close_idle("TA", "9999")
    assert sorted(x.id for x in closed) == [a.id, b.id]
    assert store.get_consultation("TA", a.id).status == "closed"
    assert store.get_consultation("TA", c.id).status == "cancelled"


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


# -- reviews, polls, workspaces ----------------------------------------------------------------------
def test_review_reminders(store: Store) -> None:
    d = _decide(store, "TA", review_on="2099-03-01", thread_ts="1.1")
    _decide(store, "TA", channel="terminal", topic="t", review_on="2099-03-01")  # no Slack thread
    (r,) = store.reviews_of("TA", d.number)
    assert (r.status, r.channel, r.thread_ts) == ("pending", "C1", "1.1")
    due = r.due_at
    assert store.reviews_to_schedule(due - 3600, 7200) == [r]
    assert store.reviews_to_schedule(due - 30, 7200) == []  # about to be due: not scheduled any more
    assert [x.channel for x in store.reviews_overdue(due + 1)] == ["C1"]  # the terminal's is not Slack's
    assert [x.channel for x in store.reviews("TA", before=due)] == ["C1", "terminal"]
    assert store.reviews("TA", before=due - 1) == []
    assert store.review_update(r.id, status="scheduled", scheduled_id="Q1", expect=("pending",))
    assert not store.review_update(r.id, status="scheduled", expect=("pending",))  # no longer pending
    assert store.review(r.id).scheduled_id == "Q1"
    assert store.review_update(r.id, status="confirmed", settled_by="U1", settled_at="2099-03-01")
    assert [x.channel for x in store.reviews("TA")] == ["terminal"]
    assert len(store.reviews("TA", open_only=False)) == 2
    with pytest.raises(StoreError):
        store.review_update(r.id, team_id="TB")
    nxt = store.add_review("TA", d.number, due + 86400)
    assert (nxt.decision_number, nxt.due_at, nxt.status) == (d.number, due + 86400, "pending")
    assert store.add_review("TA", 99, due) is None
    assert [x.id for x in store.reviews_of("TA", d.number)] == [r.id, nxt.id]


def test_polls(store: Store) -> None:
    c = _consultation(store, "TA")
    pid = store.create_poll("TA", c.id, "U1")
    assert store.create_poll("TA", c.id, "U2") == pid  # the open one
    assert store.poll("TA", pid)["created_by"] == "U1" and store.poll("TB", pid) is None
    assert store.save_poll_answers("TA", pid, "U1", {"team_size": 3}) == 1
    assert store.save_poll_answers("TA", pid, "U2", {"team_size": 5}) == 2
    assert store.save_poll_answers("TA", pid, "U1", {"team_size": 4}) == 2  # replaced
    assert store.poll_answers("TA", pid) == {"U1": {"team_size": 4}, "U2": {"team_size": 5}}
    assert store.poll_answers("TB", pid) == {}
    with pytest.raises(StoreError):
        store.save_poll_answers("TB", pid, "U1", {})


def test_workspaces(store: Store) -> None:
    assert store.workspace("T1") is None
    store.remember_workspace("T1", "E1", False)
    store.remember_workspace("T1", "E1", True)
    store.remember_workspace("T2", None, False)
    assert store.workspace("T1") == ("E1", True) and store.workspace("T2") == (None, False)


# -- forgetting a user -------------------------------------------------------------------------------
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


def test_forget_user_reaches_lists_polls_reviews_and_the_outbox(store: Store) -> None:
    store.record_decision("TA", channel="C1", topic="t", framework="flask", decided_by="UK", rationale="r",
                          recommendation=None, knowledge_version="kv", answers={}, result={},
                          decision_makers=["UK", "UGONE"], consulted=["UGONE2", "UGONE"], informed=["UGONE"],
                          review_on="2099-01-01", status="proposed")
    store.accept_decision("TA", 1, "UGONE")
    (r,) = store.reviews_of("TA", 1)
    store.review_update(r.id, status="confirmed", settled_by="UGONE")
    c = _consultation(store, "TA", user="UK")
    pid = store.create_poll("TA", c.id, "UGONE")
    store.save_poll_answers("TA", pid, "UGONE", {"team_size": 3})
    store.save_poll_answers("TA", pid, "forgotten-user", {"team_size": 9})  # both answered: UGONE's stay
    store.outbox_enqueue("TA", "C1", "chat.postMessage", {"text": "answered by <@UGONE>"})
    store.outbox_enqueue("TB", "C1", "chat.postMessage", {"text": "answered by <@UGONE>"})
    # decision (one row for all its fields), review, poll, poll answer, outbox row
    assert store.forget_user("TA", "UGONE") == 5
    d = store.decision("TA", 1)
    assert (d.decision_makers, d.consulted, d.informed) == (["UK", "forgotten-user"],
                                                            ["UGONE2", "forgotten-user"], ["forgotten-user"])
    assert d.accepted_by == "forgotten-user" and store.review(r.id).settled_by == "forgotten-user"
    assert store.poll("TA", pid)["created_by"] == "forgotten-user"
    assert store.poll_answers("TA", pid) == {"forgotten-user": {"team_size": 3}}
    payloads = [r[0] for r in store.db.execute("SELECT payload FROM outbox ORDER BY id").fetchall()]
    assert payloads == ['{"text": "answered by <@forgotten-user>"}', '{"text": "answered by <@UGONE>"}']
    assert store.forget_user("TA", "UGONE") == 0


# -- migrations, health ------------------------------------------------------------------------------
def test_migrations_are_idempotent_and_versioned_per_backend(store: Store, open_store) -> None:
    _decide(store, "TA")
    assert store.schema_version() == len(store.migrations)
    again = open_store()
    assert again.migrate() == len(again.migrations) == again.schema_version()
    assert again.decision("TA", 1).framework == "flask"


def test_ping_and_healthy(store: Store) -> None:
    assert store.ping() and store.healthy()
    with store.write():
        assert store.healthy()  # inside a write: it holds the database
    assert store.count_decisions("TA") == 0  # the probe kept nothing


def test_a_closed_store_opens_again_at_its_next_use(store: Store) -> None:
    _decide(store, "TA")
    store.close()
    assert store.decision("TA", 1).framework == "flask"
    assert store.ping()


# -- concurrent writers: threads, and several Store instances on one database --------------------------
def test_concurrent_appends_get_distinct_sequence_numbers(store: Store) -> None:
    c = _consultation(store, "TA")

    def work(n: int) -> None:
        for i in range(25):
            store.append("TA", c.id, "answer", f"U{n}", question="team_size", value=i + 1)

    _threads(4, work)
    assert [e.seq for e in store.log("TA", c.id)] == list(range(1, 101))


def test_concurrent_decisions_from_several_replicas_are_numbered_without_gaps(store: Store, open_store) -> None:
    replicas = [store, open_store()]
    per_thread = 15

    def work(n: int) -> list[int]:
        s = replicas[n % 2]
        return [_decide(s, "TA", topic="same", framework=("flask", "django")[i % 2], by=f"U{n}").number
                for i in range(per_thread)]

    numbers = sorted(x for got in _threads(4, work) for x in got)
    assert numbers == list(range(1, 4 * per_thread + 1))
    decisions = list(store.all_decisions("TA"))
    assert [d.number for d in decisions] == numbers
    # Every accepted decision on one topic superseded the one before it: exactly one is in force,
    # and the supersede links form one chain 1 <- 2 <- ... <- N.
    assert [d.number for d in decisions if d.status == "accepted"] == [4 * per_thread]
    assert all(d.supersedes == d.number - 1 for d in decisions[1:])
    assert all(d.superseded_by == d.number + 1 for d in decisions[:-1])


def test_concurrent_consultations_are_numbered_per_team(store: Store, open_store) -> None:
    replicas = [store, open_store()]

    def work(n: int) -> list[int]:
        s = replicas[n % 2]
        return [s.create_consultation(("TA", "TB")[i % 2], "C1", f"{n}.{i}", "U1", "api", KV).id for i in range(10)]

    ids = [x for got in _threads(4, work) for x in got]
    for team in ("TA", "TB"):
        numbers = sorted(store.consultation_number(team, i) for i in ids if store.get_consultation(team, i))
        assert numbers == list(range(1, 21))


def test_a_redelivered_event_is_stored_once_across_replicas(store: Store, open_store) -> None:
    replicas = [store, open_store(), open_store()]
    c = _consultation(store, "TA")

    def seen(n: int) -> bool:
        return replicas[n % 3].event_seen("Ev-dup", "TA")

    assert sorted(_threads(6, seen)) == [False] + [True] * 5

    def answer(n: int):
        return replicas[n % 3].append("TA", c.id, "answer", "U1", question="team_size", value=3, event_id="Ev-a")

    entries = _threads(6, answer)
    assert sum(e is not None for e in entries) == 1
    assert [e.event_id for e in store.log("TA", c.id)] == ["Ev-a"]

    def decide(n: int) -> int:
        return _decide(replicas[n % 3], "TA", topic="dup", event_id="Ev-d").id

    assert len(set(_threads(6, decide))) == 1
    assert store.count_decisions("TA") == 1


def test_concurrent_accepts_of_one_proposal_accept_it_once(store: Store, open_store) -> None:
    replicas = [store, open_store()]
    _decide(store, "TA")
    p = _decide(store, "TA", framework="node", status="proposed")

    def settle(n: int):
        s = replicas[n % 2]
        return s.accept_decision("TA", p.number, f"U{n}") if n % 2 else s.reject_decision("TA", p.number, f"U{n}")

    done = [d for d in _threads(6, settle) if d is not None]
    assert len(done) == 1
    final = store.decision("TA", p.number)
    assert final.status == done[0].status
    assert store.decision("TA", 1).status == ("superseded" if final.status == "accepted" else "accepted")


def test_one_open_poll_per_consultation_under_concurrency(store: Store, open_store) -> None:
    replicas = [store, open_store()]
    c = _consultation(store, "TA")
    assert len(set(_threads(6, lambda n: replicas[n % 2].create_poll("TA", c.id, f"U{n}")))) == 1
