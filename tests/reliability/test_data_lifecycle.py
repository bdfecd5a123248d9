"""Data lifecycle: `framework-advisor backup` while a writer is busy gives a consistent copy; `/framework forget me`
and `framework-advisor forget USER --team T` remove the user from that team's consultations, answers and
decisions only, and keep the decisions.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time

import pytest
from slack_bolt.request import BoltRequest

from tests.fakes import signed_headers, slash_command_body
from tests.reliability.helpers import BOT_TOKEN, ROOT, SECRET, Fake, dump, integrity_problems, query, snapshot


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT)})


def _counts(db) -> dict[str, int]:
    return {t: query(db, f"SELECT COUNT(*) FROM {t}")[0][0]
            for t in ("consultations", "answers", "decisions", "recommendations", "outbox")}


def _consistency_problems(db) -> list[str]:
    """Multi-row transactions seen half-done: a decided consultation without its decision, or the reverse."""
    problems = integrity_problems(db)
    half = query(db, "SELECT c.id FROM consultations c LEFT JOIN decisions d ON d.consultation_id = c.id"
                     " WHERE (c.status = 'decided') != (d.id IS NOT NULL)")
    if half:
        problems.append(f"consultations half-decided: {half[:5]}")
    stale = query(db, "SELECT c.id FROM consultations c JOIN answers a ON a.consultation_id = c.id"
                      " GROUP BY c.id HAVING MAX(a.created_at) > MAX(c.updated_at)")
    if stale:
        problems.append(f"answers newer than their consultation's updated_at: {stale[:5]}")
    return problems


def test_backup_while_a_writer_is_active_is_a_consistent_copy(tmp_path):
    from bot.store import Store

    db = tmp_path / "live.db"
    store = Store(db)
    stop, done = threading.Event(), []

    def writer() -> None:
        n = 0
        while not stop.is_set():
            c = store.create_consultation("TLIVE", f"C{n % 7}", f"{n}.0", "U0W", f"topic {n}", "v1")
            for k in range(1 + n % 5):
                store.append("TLIVE", c.id, "answer", "U0W", question=f"q{k}", value=k, event_id=f"EvLive{n}-{k}")
            store.save_recommendation("TLIVE", c.id, 1 + n % 5, {"recommendation": "flask"})
            store.record_decision("TLIVE", channel=c.channel, topic=c.topic, framework="flask", decided_by="U0W",
                                  rationale="r", recommendation="flask", knowledge_version="v1", answers={},
                                  result={}, consultation_id=c.id, thread_ts=c.thread_ts)
            store.outbox_enqueue("TLIVE", c.channel, "chat.postMessage", {"text": "x" * 2000}, dedupe_key=f"o{n}")
            n += 1
            done.append(n)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    wait = time.monotonic() + 10
    while len(done) < 30 and time.monotonic() < wait:
        time.sleep(0.05)
    backups = []
    try:
        for i in range(3):
            before, n0 = _counts(db), len(done)
            target = tmp_path / f"backup{i}.db"
            out = cli("backup", str(target), "--db", str(db))
            assert out.returncode == 0, out.stderr
            after, n1 = _counts(db), len(done)
            assert n1 > n0, "the writer was not writing during the backup"
            backups.append((target, before, after))
    finally:
        stop.set()
        t.join(10)
    for target, before, after in backups:
        assert _consistency_problems(target) == []
        copied = _counts(target)
        for table, n in copied.items():
            assert before[table] <= n <= after[table], (table, before[table], n, after[table])
        assert oct(os.stat(target).st_mode & 0o777) == "0o600"
    print(f"\nbackup: 3 copies taken while {len(done)} write transactions ran; each consistent "
          f"({', '.join(str(_counts(t)['consultations']) for t, _, _ in backups)} consultations)")


A, B = "T0FORGETA", "T0FORGETB"


@pytest.fixture
def two_teams(tmp_path):
    """Users U0ONE and U0TWO started, answered and decided consultations in both teams (through the bot)."""
    from bot.slack.app import build
    from bot.slack.config import SlackConfig
    from bot.store import Store

    db = tmp_path / "forget.db"
    store = Store(db)
    with Fake() as fake:
        cfg = SlackConfig(mode="http", api_url=fake.url, bot_token=BOT_TOKEN, signing_secret=SECRET)
        built = build(cfg, store)
        ctx, service = built.ctx, built.ctx.service
        n = 0
        for team in (A, B):
            for starter, other in (("U0ONE", "U0TWO"), ("U0TWO", "U0ONE")):
                n += 1
                c, reply = service.start(team, f"C0F{n}", f"{n}.5", starter, f"forget topic {n}")
                ctx.send(team, c.channel, c.thread_ts, [reply], key=f"start:{c.id}")
                for k, (who, text) in enumerate([(starter, "a web app"), (other, "about 30 of us"),
                                                 (starter, "mostly python"), (other, "for years")]):
                    ctx.send(team, c.channel, c.thread_ts,
                             service.handle_text(team, c.id, who, text, event_id=f"EvF{n}{k}"), key=f"ev:EvF{n}{k}")
                service.decide(team, c.id, other, "django", f"rationale {n}")
        yield {"db": str(db), "store": store, "app": built.app}


def _mentions(db, team, user) -> dict[str, int]:
    s = snapshot(db, team)
    return {"consultations": sum(user in r for r in s["consultations"]),
            "answers": sum(user in r for r in s["answers"]),
            "decisions": sum(user in r for r in s["decisions"])}


def _decisions_without_who(db, team) -> list[tuple]:
    return query(db, "SELECT number, framework, status, rationale, recommendation, answers, result FROM decisions"
                     " WHERE team_id = ? ORDER BY number", [team])


def _forget_me(app, team: str, user: str) -> str:
    body, ct = slash_command_body(text="forget me", team_id=team, user_id=user, channel_id="C0F1")
    headers = {"content-type": [ct], **{k.lower(): [v] for k, v in signed_headers(SECRET, body).items()}}
    response = app.dispatch(BoltRequest(body=body.decode(), headers=headers))
    assert response.status == 200
    return json.loads(response.body)["text"]


def test_forget_me_removes_the_user_from_that_team_only_and_keeps_the_decisions(two_teams):
    db = two_teams["db"]
    mine = _mentions(db, A, "U0ONE")
    # Every scripted line is stored: "about 30 of us" answers the team size while the team's language is open,
    # "mostly python" that language, and "for years" the duration while the flexibility is open.
    assert mine == {"consultations": 1, "answers": 4, "decisions": 1}
    other_team, kept = snapshot(db, B), _decisions_without_who(db, A)
    two_before = _mentions(db, A, "U0TWO")

    text = _forget_me(two_teams["app"], A, "U0ONE")
    changed = re.search(r"removed from (\d+) record", text)
    assert changed and int(changed.group(1)) >= sum(mine.values()), text
    assert _mentions(db, A, "U0ONE") == {"consultations": 0, "answers": 0, "decisions": 0}
    assert _mentions(db, A, "U0TWO") == two_before  # someone else's records are untouched
    assert snapshot(db, B) == other_team  # the same user in another workspace is untouched
    assert _decisions_without_who(db, A) == kept  # every decision kept, only the name is gone
    assert integrity_problems(db) == []


def test_cli_forget_removes_the_user_from_that_team_only(two_teams):
    db = two_teams["db"]
    other_team, kept = snapshot(db, A), _decisions_without_who(db, B)
    theirs, others = _mentions(db, B, "U0TWO"), _mentions(db, B, "U0ONE")
    assert theirs == {"consultations": 1, "answers": 4, "decisions": 1}
    out = cli("forget", "U0TWO", "--team", B, "--db", db)
    assert out.returncode == 0, out.stderr
    changed = re.search(r"removed U0TWO from (\d+) record", out.stdout)
    assert changed and int(changed.group(1)) >= sum(theirs.values()), out.stdout
    assert _mentions(db, B, "U0TWO") == {"consultations": 0, "answers": 0, "decisions": 0}
    assert _mentions(db, B, "U0ONE") == others
    assert snapshot(db, A) == other_team
    assert _decisions_without_who(db, B) == kept
    # the CLI needs --team: it never forgets across every workspace at once
    assert cli("forget", "U0TWO", "--db", db).returncode == 2


def test_forget_me_leaves_no_trace_of_the_user_in_the_team_rows(two_teams):
    db = two_teams["db"]
    _forget_me(two_teams["app"], A, "U0ONE")
    rows = snapshot(db, A)
    assert "U0ONE" not in dump(rows), {t: [r for r in v if "U0ONE" in dump(r)][:2] for t, v in rows.items()}
