"""The terminal client as a real client: topic prompt, quit and resume, the open list, decisions show, parse."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import cli
from bot.consultation import Consultations
from bot.store import Store
from knowledge.models import KnowledgeBase

STAYS_OPEN = re.compile(r"The consultation stays open: `framework-advisor chat --resume (\d+)` continues it\.$")


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "advisor.db")


def run(*args: str, stdin: str | None = None) -> Result:
    """The CLI in-process, stdin fed from `stdin` (stdout and stderr kept apart)."""
    return CliRunner().invoke(cli, list(args), input=stdin)


def chat(db: str, *args: str, stdin: str = "") -> Result:
    return run("chat", "--db", db, "--user", "alice", *args, stdin=stdin)


def left_open(result: Result) -> int:
    """The consultation id a chat said it left open (its last line)."""
    assert result.exit_code == 0, (result.stdout, result.stderr)
    match = STAYS_OPEN.search(result.stdout.rstrip())
    assert match, result.stdout
    return int(match.group(1))


def answers_of(db: str, cid: int, team: str = "local") -> dict:
    return Consultations(Store(db)).state(team, cid).answers


# -- topic -----------------------------------------------------------------------------------------
def test_chat_asks_for_the_topic_and_stores_it(db: str) -> None:
    result = chat(db, stdin="billing portal\nquit\n")
    prompt = result.stdout.index("What is this consultation about? (Enter skips)")
    assert prompt < result.stdout.index("What are you building")  # asked before the first question
    cid = left_open(result)
    assert Store(db).get_consultation("local", cid).topic == "billing portal"


def test_enter_skips_the_topic_and_a_given_topic_is_not_asked(db: str) -> None:
    skipped = left_open(chat(db, stdin="\nquit\n"))
    assert Store(db).get_consultation("local", skipped).topic == ""
    given = chat(db, "--topic", "search", stdin="quit\n")
    assert "What is this consultation about?" not in given.stdout
    assert Store(db).get_consultation("local", left_open(given)).topic == "search"


def test_end_of_input_at_the_topic_starts_nothing(db: str) -> None:
    result = chat(db, stdin="")
    assert result.exit_code == 0 and "Nothing was started." in result.stdout
    assert Store(db).open_consultations_in("local", "terminal") == []


# -- quit and resume -------------------------------------------------------------------------------
def test_quit_then_resume_continues_the_same_consultation(db: str, kb: KnowledgeBase) -> None:
    cid = left_open(chat(db, "--topic", "billing", stdin="1\nquit\n"))  # 1 picks "Web app"
    assert answers_of(db, cid) == {"app_type": "web_app"}
    open_q = kb.question("team_language")  # what a web app is asked next

    again = chat(db, "--resume", stdin="we are 12 people\nexit\n")
    assert left_open(again) == cid
    out = again.stdout
    assert f"Resuming consultation {cid}: billing." in out
    assert "• app type: Web app" in out  # what is known so far
    assert open_q.prompt in out.split("Resuming", 1)[1]  # the open question, asked again
    assert answers_of(db, cid) == {"app_type": "web_app", "team_size": 12}
    assert [c.id for c in Store(db).open_consultations_in("local", "terminal")] == [cid]  # no new one


def test_resume_by_id_keeps_numbered_picks_working(db: str) -> None:
    cid = left_open(chat(db, "--topic", "billing", stdin="1\n1\nq\n"))  # a web app, a Python team
    # The open question is now conventions or freedom: [1] Conventions [2] Freedom [3] No preference.
    result = chat(db, "--resume", str(cid), stdin="2\n")
    assert "[1] Conventions  [2] Freedom  [3] No preference" in result.stdout
    assert "(end of input) The consultation stays open" in result.stdout
    assert left_open(result) == cid
    assert answers_of(db, cid)["flexibility"] == "freedom"


def test_resume_without_an_id_takes_the_latest_open_terminal_one(db: str) -> None:
    first = left_open(chat(db, "--topic", "one", stdin="quit\n"))
    second = left_open(chat(db, "--topic", "two", stdin="quit\n"))
    Store(db).create_consultation("local", "C123", "1700000000.1", "alice", "a Slack thread", "v")  # not terminal
    assert left_open(chat(db, "--resume", stdin="quit\n")) == second
    chat(db, "--resume", str(first), stdin="1\nquit\n")  # answering makes it the latest
    assert left_open(chat(db, "--resume", stdin="quit\n")) == first


def refused(result: Result) -> str:
    """The one-line refusal of a chat that must not start (exit 2, nothing on stdout)."""
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_resume_refuses_a_missing_foreign_or_closed_consultation(db: str) -> None:
    assert "no open terminal consultation" in refused(chat(db, "--resume"))
    cid = left_open(chat(db, "--topic", "billing", stdin="quit\n"))
    assert "no consultation 999" in refused(chat(db, "--resume", "999"))
    assert f"no consultation {cid}" in refused(chat(db, "--resume", str(cid), "--team", "T-OTHER"))
    assert "consultation id" in refused(chat(db, "--resume", "abc"))

    decided = chat(db, "--resume", str(cid), stdin="decide flask because we run it\n")
    assert "Decision 1 recorded" in decided.stdout
    line = refused(chat(db, "--resume", str(cid)))
    assert f"consultation {cid} is no longer open (decided)" in line
    assert "no open terminal consultation" in refused(chat(db, "--resume"))


# -- list ------------------------------------------------------------------------------------------
def test_list_shows_the_open_terminal_consultations(db: str) -> None:
    assert run("chat", "--db", db, "--list").stdout == "No open consultations.\n"
    billing = left_open(chat(db, "--topic", "billing", stdin="1\n1\nquit\n"))
    untitled = left_open(chat(db, stdin="\nquit\n"))
    chat(db, "--topic", "done", stdin="decide node because realtime\n")  # decided: not listed

    result = run("chat", "--db", db, "--list")
    assert result.exit_code == 0
    header, *rows = result.stdout.strip().splitlines()
    assert header.split() == ["id", "answers", "last", "activity", "topic"]
    assert [r.split()[:2] for r in rows] == [[str(untitled), "0"], [str(billing), "2"]]  # latest first
    assert rows[0].endswith(" -") and rows[1].endswith(" billing")
    assert all(re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", r) for r in rows)
    assert "No open consultations." in run("chat", "--db", db, "--list", "--team", "T-OTHER").stdout


# -- decisions show --------------------------------------------------------------------------------
def test_decisions_show_prints_the_answers(db: str, kb: KnowledgeBase) -> None:
    chat(db, "--topic", "billing", stdin="1\n1\ndecide flask because we run it\n")
    result = run("decisions", "show", "1", "--db", db)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    start = lines.index("Answers:")
    assert lines[start + 1:start + 3] == [f"• {kb.question('app_type').prompt} → Web app",
                                          f"• {kb.question('team_language').prompt} → Python"]


# -- parse -----------------------------------------------------------------------------------------
def test_parse_one_line_with_an_open_question() -> None:
    result = run("parse", "--question", "team_size", "about 12 of us")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == '{"command": null, "answers": {"team_size": 12}, "refused": null}\n'


def test_parse_unknown_question_is_a_usage_error_listing_the_ids(kb: KnowledgeBase) -> None:
    result = run("parse", "--question", "team_sizes", "about 12 of us")
    assert result.exit_code == 2 and result.stdout == ""
    assert "team_sizes" in result.stderr
    assert all(q.id in result.stderr for q in kb.questions)


def test_parse_batch_puts_an_error_in_place_of_each_bad_line() -> None:
    lines = [json.dumps({"text": "about 12 of us", "open": "team_size", "recommended": False}),
             "{not json",
             json.dumps({"text": "about 12 of us", "open": "team_sizes", "recommended": False})]
    result = run("parse", "--batch", "-", stdin="\n".join(lines) + "\n")
    assert result.exit_code == 2  # as `recommend --batch`: some line was bad
    out = result.stdout.splitlines()
    assert len(out) == 3
    assert out[0] == '{"command": null, "answers": {"team_size": 12}, "refused": null}'
    assert json.loads(out[1])["error"].startswith("line 2: invalid JSON")
    assert list(json.loads(out[2])) == ["error"] and "team_sizes" in json.loads(out[2])["error"]


def test_parse_batch_from_a_file_all_good_exits_0(tmp_path: Path) -> None:
    batch = tmp_path / "lines.jsonl"
    batch.write_text(json.dumps({"text": "about 12 of us", "open": "team_size"}) + "\n"
                     + json.dumps({"text": "decide django because admin", "open": None, "recommended": True}) + "\n",
                     encoding="utf-8")
    result = run("parse", "--batch", str(batch))
    assert result.exit_code == 0, result.stdout
    first, second = (json.loads(x) for x in result.stdout.splitlines())
    assert first["answers"] == {"team_size": 12}
    assert list(second["command"]) == ["name", "framework", "rationale", "question", "value"]
    assert (second["command"]["name"], second["command"]["framework"]) == ("decide", "django")


def test_a_consultation_typed_in_plain_sentences_ends_in_a_decision_with_its_reason(db: str) -> None:
    lines = ["startup api",  # the topic
             "we're a small python startup, 3 of us, building a REST API prototype",
             "the api one", "a few weeks", "freedom, no admin, no forms",
             "let's go with it", "we want to ship the prototype this month",  # the reason, asked for
             "next week", "2031-05-01"]  # the review date, asked for: not a date, then one
    result = chat(db, stdin="\n".join(lines) + "\n")
    out = result.stdout
    assert result.exit_code == 0, (out, result.stderr)
    assert "Got it: 3 developers · Python." in out  # several answers in one line, echoed
    assert "Got it: Admin: No · Forms: No · Freedom." in out
    assert "Recommendation: Flask" in out
    assert "Why Flask? One line for the record" in out  # a plain-words decision asks why
    assert "Decision 1 recorded: Flask" in out and "Rationale: we want to ship the prototype this month" in out
    assert "Review it on? A date (YYYY-MM-DD)" in out and "Pick a date." in out
    assert Store(db).decision("local", 1).review_on == "2031-05-01"
    assert "Question 1 · at most" in out  # the progress line


def test_side_talk_and_commands_with_filler_in_the_terminal(db: str) -> None:
    result = chat(db, "--topic", "x", stdin="hmm let me check with the backend folks\nskip this one please\nquit\n")
    out = result.stdout
    assert "(Not taken as an answer or a command.)" in out
    assert "Skipped: What are you building" in out
    cid = left_open(result)
    assert answers_of(db, cid) == {}


# -- decisions review --------------------------------------------------------------------------------
def test_decisions_review_lists_what_is_due_and_records_a_confirmation(db: str) -> None:
    chat(db, "--topic", "billing", stdin="1\n1\ndecide flask because we run it\n")
    d = Store(db).decision("local", 1)
    assert d.review_on  # every decision gets a review date (review_months from today by default)
    assert run("decisions", "review", "--db", db, "--days", "1").stdout.startswith("No reviews due")
    listed = run("decisions", "review", "--db", db, "--days", "400").stdout.splitlines()
    assert listed[0] == f"{d.review_on}  decision 1: Flask for billing (accepted)"

    done = run("decisions", "review", "--db", db, "--confirm", "1", "--user", "bob")
    assert done.exit_code == 0 and done.stdout.startswith("Confirmed by bob on ")
    reviews = Store(db).reviews_of("local", 1)
    assert [(r.status, r.settled_by) for r in reviews] == [("confirmed", "bob"), ("pending", None)]
    record = run("decisions", "export", "1", "--db", db).stdout
    assert f"Reviewed on {reviews[0].settled_at[:10]} by bob: still the right choice." in record  # MADR Confirmation
    later = run("decisions", "review", "--db", db, "--later", "1")
    assert later.exit_code == 0 and "comes up again on" in later.stdout
    missing = run("decisions", "review", "--db", db, "--confirm", "9")
    assert missing.exit_code == 2 and "no review waiting" in missing.stderr
