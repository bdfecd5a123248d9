"""The decision lifecycle in the core: proposed, accepted later (superseding, linked both ways), rejected;
the MADR fields (decision-makers, consulted, informed, review date); the schema migration from v3;
the status filter; the dialog's validation; `decisions export --all --dir` writing identical bytes.

The lifecycle runs on both backends (SQLite and PostgreSQL: tests/store/backends.py); the migrations
from old SQLite files and the CLI (given a file with --db) on SQLite only.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlite_utils

from bot.consultation import Consultations, add_months
from bot.render import madr
from bot.store import MIGRATIONS, Store
from knowledge.models import KnowledgeBase
from tests.store import backends

TEAM = "T1"


@pytest.fixture(params=backends.BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    s = Store(backends.target(request, request.param, tmp_path))
    yield s
    s.close()


sqlite_only = pytest.mark.parametrize("store", ["sqlite"], indirect=True)


@pytest.fixture
def svc(store: Store, advisor) -> Consultations:
    return Consultations(store, advisor)


def _consultation(svc: Consultations, thread: str, user: str = "UA", topic: str = "billing") -> int:
    c, _ = svc.start(TEAM, "C1", thread, user, topic)
    return c.id


def test_a_proposal_accepted_by_another_decision_maker_supersedes_and_links_both(svc: Consultations,
                                                                                 store: Store) -> None:
    first = svc.decide(TEAM, _consultation(svc, "t1"), "UA", "django", "batteries included").decision
    assert first.status == "accepted" and first.decision_makers == ["UA"]

    cid = _consultation(svc, "t2", user="UB")
    r = svc.decide(TEAM, cid, "UB", "flask", "smaller and we know it", status="proposed",
                   decision_makers=["UB", "UC"], consulted=["UD"], informed=["UE"], review_on="2099-01-31")
    assert r.kind == "decision" and r.text.startswith("Decision 2 proposed: *Flask*")
    proposal = r.decision
    assert (proposal.status, proposal.supersedes, proposal.review_on) == ("proposed", None, "2099-01-31")
    assert (proposal.consulted, proposal.informed) == (["UD"], ["UE"])
    assert store.decision(TEAM, 1).status == "accepted"  # a proposal supersedes nothing

    # The proposer cannot accept it; a participant not named as a decision-maker cannot either.
    assert "You proposed it" in svc.accept(TEAM, 2, "UB").text
    assert "Only a decision-maker named on it" in svc.accept(TEAM, 2, "UA").text
    assert store.decision(TEAM, 2).status == "proposed"

    r = svc.accept(TEAM, 2, "UC")
    assert r.kind == "decision" and r.text == ("Decision 2 accepted: *Flask*. Rationale: smaller and we know it. "
                                               "It supersedes decision 1.")
    new, old = store.decision(TEAM, 2), store.decision(TEAM, 1)
    assert (new.status, new.supersedes, new.accepted_by) == ("accepted", 1, "UC")
    assert new.decision_makers == ["UB", "UC"]
    assert (old.status, old.superseded_by) == ("superseded", 2)
    assert svc.accept(TEAM, 2, "UC").text == "Decision 2 is accepted, not a proposal any more."

    # The status filter of the history.
    assert [d.number for d in store.decisions(TEAM, status="superseded")] == [1]
    assert [d.number for d in store.decisions(TEAM, status="accepted")] == [2]
    assert store.count_decisions(TEAM, "superseded") == 1 and store.count_decisions(TEAM) == 2


def test_a_proposal_naming_nobody_else_is_accepted_by_any_other_participant(svc: Consultations,
                                                                            store: Store) -> None:
    cid = _consultation(svc, "t1")
    svc.answer(TEAM, cid, "UB", "app_type", "web_app")
    svc.decide(TEAM, cid, "UA", "node", "one language", status="proposed")
    assert "Only a decision-maker" in svc.accept(TEAM, 1, "UZ").text  # took no part
    assert svc.accept(TEAM, 1, "UB").kind == "decision"
    assert store.decision(TEAM, 1).accepted_by == "UB"


def test_a_rejected_proposal_reopens_its_consultation(svc: Consultations, store: Store) -> None:
    cid = _consultation(svc, "t1")
    svc.answer(TEAM, cid, "UB", "app_type", "web_app")
    svc.decide(TEAM, cid, "UA", "node", "one language", status="proposed")
    assert store.get_consultation(TEAM, cid).status == "decided"
    r = svc.accept(TEAM, 1, "UB", reject=True)
    assert r.text.startswith("Decision 1 rejected: *Node.js*")
    d = store.decision(TEAM, 1)
    assert (d.status, d.rejected_by, d.supersedes) == ("rejected", "UB", None)
    assert store.get_consultation(TEAM, cid).status == "open"
    assert "The proposal was rejected by UB on" in madr.render(d, svc.kb)


def test_the_review_date_defaults_to_the_settings_months(svc: Consultations) -> None:
    months = getattr(svc.kb.settings, "review_months", 6)
    d = svc.decide(TEAM, _consultation(svc, "t1"), "UA", "django", "because").decision
    assert d.review_on == add_months(date.fromisoformat(d.created_at[:10]), months).isoformat()
    assert add_months(date(2025, 8, 31), 6) == date(2026, 2, 28)
    assert add_months(date(2027, 8, 31), 6) == date(2028, 2, 29)
    assert add_months(date(2025, 11, 15), 2) == date(2026, 1, 15)


def test_the_dialogs_validation(svc: Consultations) -> None:
    today = date(2026, 5, 1)
    assert svc.decision_problems("flask", "we run it", "2026-11-01", today) == {}
    assert set(svc.decision_problems("rails", "   \n ", "2026-04-01", today)) == {"framework", "rationale",
                                                                                  "review_on"}
    assert "under 2000" in svc.decision_problems("flask", "x" * 2001, None, today)["rationale"]
    assert svc.decision_problems("flask", "ok", "2026-05-01", today) == {"review_on": "Pick a date after today."}


def test_a_v3_database_opens_and_its_decisions_gain_the_new_fields(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite_utils.Database(path)
    for step in MIGRATIONS[:3]:
        step(db)
    db.execute("PRAGMA user_version = 3")
    row = ("TA", "C1", "api", "flask", "U1", "because", "flask", "kv", "{}", "{}", "2024-01-01T00:00:00+00:00")
    db.execute("INSERT INTO decisions (team_id, number, channel, topic, framework, status, decided_by, rationale,"
               " recommendation, knowledge_version, answers, result, created_at) VALUES (?, 1, ?, ?, ?, 'superseded',"
               " ?, ?, ?, ?, ?, ?, ?)", row)
    db.execute("INSERT INTO decisions (team_id, number, channel, topic, framework, status, decided_by, rationale,"
               " recommendation, knowledge_version, answers, result, created_at, supersedes) VALUES (?, 2, ?, ?, ?,"
               " 'accepted', ?, ?, ?, ?, ?, ?, ?, 1)", row)
    db.conn.commit()
    db.conn.close()

    s = Store(path)
    assert s.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) == 7
    old, new = s.decision("TA", 1), s.decision("TA", 2)
    assert (old.superseded_by, new.supersedes) == (2, 1)
    assert old.decision_makers == ["U1"] and old.consulted == [] and old.review_on is None
    assert "No review date was set" in madr.render(old, KnowledgeBase.model_construct(questions=[]))
    assert [d.number for d in s.decisions("TA", status="superseded")] == [1]


def test_a_v4_database_gains_a_reminder_for_each_decision_with_a_review_date(tmp_path: Path) -> None:
    path = tmp_path / "v4.db"
    db = sqlite_utils.Database(path)
    for step in MIGRATIONS[:4]:
        step(db)
    db.execute("PRAGMA user_version = 4")
    for number, status, review_on in ((1, "accepted", "2027-03-01"), (2, "superseded", "2027-03-02"),
                                      (3, "accepted", None)):
        db.execute("INSERT INTO decisions (team_id, number, channel, thread_ts, topic, framework, status, decided_by,"
                   " knowledge_version, created_at, review_on) VALUES ('TA', ?, 'C1', '1.1', 't', 'flask', ?, 'U1',"
                   " 'kv', '2026-09-01T00:00:00+00:00', ?)", [number, status, review_on])
    db.conn.commit()
    db.conn.close()

    s = Store(path)
    (r,) = s.reviews("TA")  # only the decision in force with a review date
    assert (r.decision_number, r.status, r.channel, r.thread_ts) == (1, "pending", "C1", "1.1")
    assert r.due_at == datetime(2027, 3, 1, 9, tzinfo=UTC).timestamp()


def test_forgetting_a_user_reaches_the_madr_lists(store: Store) -> None:
    store.record_decision(TEAM, channel="C1", topic="t", framework="flask", decided_by="UK", rationale="r",
                          recommendation=None, knowledge_version="kv", answers={}, result={},
                          decision_makers=["UK", "UGONE"], consulted=["UGONE2", "UGONE"], informed=["UGONE"])
    assert store.forget_user(TEAM, "UGONE") == 1
    d = store.decision(TEAM, 1)
    assert (d.decision_makers, d.consulted, d.informed) == (["UK", "forgotten-user"],
                                                            ["UGONE2", "forgotten-user"], ["forgotten-user"])


def test_madr_front_matter_and_confirmation(svc: Consultations) -> None:
    cid = _consultation(svc, "t1", topic="Billing: the new café portal")
    d = svc.decide(TEAM, cid, "UA", "django", "batteries", decision_makers=["UA", "UB"], consulted=["UC"],
                   informed=["UD", "UE"], review_on="2099-06-30").decision
    text = madr.render(d, svc.kb)
    front = text.split("---\n")[1]
    assert "decision-makers: UA, UB\nconsulted: UC\ninformed: UD, UE\n" in front
    assert "### Confirmation\n\nReview on 2099-06-30: the decision-makers check that Django still fits" in text
    assert madr.filename(d) == "0001-use-django-for-billing-the-new-cafe-portal.md"
    assert madr.render(d, svc.kb) == text  # deterministic


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, timeout=120)


@sqlite_only
def test_cli_export_all_writes_identical_bytes_twice(tmp_path: Path, svc: Consultations, store: Store) -> None:
    svc.decide(TEAM, _consultation(svc, "t1"), "UA", "django", "batteries")
    svc.decide(TEAM, _consultation(svc, "t2", topic="chat | app"), "UA", "node", "websockets", status="proposed")
    out = tmp_path / "docs" / "decisions"
    args = ("decisions", "export", "--all", "--dir", str(out), "--db", store.path, "--team", TEAM)

    first = cli(*args)
    assert first.returncode == 0, first.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == ["0001-use-django-for-billing.md", "0002-use-node-js-for-chat-app.md", "index.md"]
    assert "3 file(s) written, 0 unchanged" in first.stderr
    snapshot = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()}
    index = (out / "index.md").read_text()
    assert "| 0002 | [Use Node.js for chat \\| app](0002-use-node-js-for-chat-app.md) | proposed |" in index

    second = cli(*args)
    assert second.returncode == 0 and second.stdout == ""
    assert "0 file(s) written, 3 unchanged" in second.stderr
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()} == snapshot

    # A third decision on the first topic supersedes decision 1: only its file, the new one and the index change.
    svc.decide(TEAM, _consultation(svc, "t3"), "UA", "flask", "smaller after all")
    third = cli(*args)
    assert third.returncode == 0, third.stderr
    assert sorted(Path(line).name for line in third.stdout.split()) == [
        "0001-use-django-for-billing.md", "0003-use-flask-for-billing.md", "index.md"]
    assert (out / "0001-use-django-for-billing.md").read_text().splitlines()[1] == "status: superseded by ADR-0003"
    assert "This decision supersedes [decision 1](0001-use-django-for-billing.md)." in (
        out / "0003-use-flask-for-billing.md").read_text()
    assert (out / "0002-use-node-js-for-chat-app.md").read_bytes() == snapshot["0002-use-node-js-for-chat-app.md"][0]


@sqlite_only
def test_cli_export_arguments_and_accept(tmp_path: Path, svc: Consultations, store: Store) -> None:
    cid = _consultation(svc, "t1")
    svc.answer(TEAM, cid, "UB", "app_type", "web_app")
    svc.decide(TEAM, cid, "UA", "django", "batteries", status="proposed")
    for args, message in ((("--all",), "give --dir"), ((), "give a decision NUMBER, or --all"),
                          (("1", "--all", "--dir", str(tmp_path)), "give a decision NUMBER, or --all")):
        proc = cli("decisions", "export", *args, "--db", store.path, "--team", TEAM)
        assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr
    proc = cli("decisions", "accept", "1", "--user", "UA", "--db", store.path, "--team", TEAM)
    assert proc.returncode == 2 and "You proposed it" in proc.stderr
    proc = cli("decisions", "accept", "1", "--user", "UB", "--db", store.path, "--team", TEAM)
    assert proc.returncode == 0 and proc.stdout.startswith("Decision 1 accepted: Django."), proc.stderr
    listed = cli("decisions", "list", "--status", "accepted", "--json", "--db", store.path, "--team", TEAM)
    assert [json.loads(x)["accepted_by"] for x in listed.stdout.splitlines()] == ["UB"]
