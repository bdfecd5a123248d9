"""A whole consultation through a running `serve`: /framework start, answers, recommendation, decision, history.

And every /framework subcommand, with its bad-argument paths (ephemeral usage, HTTP 200, no trace).
"""

from __future__ import annotations

import re

import pytest

from tests.slack.helpers import ALICE, BOB, BUTTON, TEAM, TYPED, Bot, Post, button_for, unique, wait_until


def run_to_recommendation(bot: Bot, channel: str, root: Post, post: Post, user: str = ALICE) -> tuple[Post, list]:
    """Answer every question (typed and clicked in turn) until the recommendation; returns it and the steps."""
    steps = []
    for i in range(20):
        q = post.question
        if q is None:
            return post, steps
        assert post.thread_ts == root.ts, "every question is asked in the consultation's thread"
        n = len(bot.posts(channel))
        if i % 2 == 0:
            assert bot.say(channel, root.ts, TYPED[q], user=user) == 200
            steps.append(("typed", q, TYPED[q]))
        else:
            action_id, value = button_for(post.params, BUTTON[q])
            assert value == {"c": value["c"], "q": q, "v": BUTTON[q]}
            assert bot.click(post, action_id, channel=channel, user=user) == 200
            steps.append(("clicked", q, BUTTON[q]))
        nxt = bot.next_post(channel, n)
        assert nxt.question != q, f"{q} was asked again after {steps[-1]}: {nxt.text}"
        post = nxt
    pytest.fail("no recommendation after 20 answers")


def test_whole_consultation_to_decision_and_history(bot: Bot) -> None:
    ch = unique("C0FULL")
    root, first = bot.start(ch, "billing portal")

    # The root message is in the channel; the first question is in its thread, with buttons.
    assert root.thread_ts is None
    assert root.text == f"Framework consultation started by <@{ALICE}>: billing portal"
    assert first.thread_ts == root.ts
    assert first.question == "app_type"
    ids = [e["action_id"] for b in first.blocks if b["type"] == "actions" for e in b["elements"]]
    assert ids[:5] == [f"fa_answer_{i}" for i in range(5)] and "fa_skip" in ids

    rec, steps = run_to_recommendation(bot, ch, root, first)
    assert {kind for kind, _, _ in steps} == {"typed", "clicked"}
    assert len(steps) >= 3

    # The recommendation: a header, reasons, Adopt buttons for each framework.
    assert rec.thread_ts == root.ts
    assert rec.text.startswith("*Recommendation: ")
    header = next(b for b in rec.blocks if b["type"] == "header")
    assert header["text"]["text"].startswith("Recommendation: ")
    adopt = [e["action_id"] for b in rec.blocks if b["type"] == "actions" for e in b["elements"]]
    assert {"fa_decide_django", "fa_decide_flask", "fa_decide_node", "fa_how", "fa_changes"} <= set(adopt)

    # Every answered question's buttons were replaced by who answered what.
    c = bot.store().consultation_by_thread(TEAM, ch, root.ts)
    updates = bot.updates(ch)
    assert len(updates) == len(steps)  # queued before each next post, in channel order
    for u in updates:
        assert f"answered by <@{ALICE}>:" in u.params["text"]
        assert not [b for b in u.params.get("blocks", []) if b["type"] == "actions"]

    # A typed decision in the thread is recorded.
    n = len(bot.posts(ch))
    assert bot.say(ch, root.ts, "decide flask because we already run it") == 200
    decision = bot.next_post(ch, n)
    assert decision.thread_ts == root.ts
    assert re.match(r"Decision \d+ recorded: \*Flask\*", decision.text), decision.text
    assert "Rationale: we already run it" in decision.text
    store = bot.store()
    d = store.decisions(TEAM, limit=1)[0]
    assert (d.framework, d.rationale, d.decided_by, d.consultation_id) == ("flask", "we already run it", ALICE, c.id)
    assert store.get_consultation(TEAM, c.id).status == "decided"
    assert set(d.answers) == {q for _, q, _ in steps}

    # /framework history lists it, with a date the reader's client formats.
    status, ack = bot.command("history", channel=ch)
    assert status == 200 and ack["response_type"] == "ephemeral"
    line = next(x for x in ack["text"].split("\n") if x.startswith(f"*{d.number}.*"))
    assert "*Flask*" in line and "billing portal" in line and f"<@{ALICE}>" in line
    assert re.search(r"<!date\^\d+\^\{date_short_pretty\} \{time\}\|\d{4}-\d\d-\d\d \d\d:\d\d UTC>", line)

    status, ack = bot.command(f"show {d.number}", channel=ch)
    assert status == 200
    assert "*Flask*" in ack["text"] and "*Rationale:* we already run it" in ack["text"]
    assert "*Answers:* app type = " in ack["text"]

    # The record is uploaded into the thread as a MADR file (test_decide_dialog checks the upload itself).
    uploads = len(bot.fake.calls_to("files.completeUploadExternal"))
    status, ack = bot.command(f"export {d.number}", channel=ch)
    assert status == 200
    assert ack["text"].startswith(f"Uploading decision {d.number}'s record, `{d.number:04d}-use-flask-for-billing-"
                                  "portal.md` (MADR 4), into its thread.")
    done = wait_until(lambda: bot.fake.calls_to("files.completeUploadExternal")[uploads:], what="the upload")[0]
    record = bot.fake.uploads[done.param("files")[0]["id"]].decode()
    assert "# Use Flask for billing portal" in record and "## Decision Outcome" in record
    assert 'Chosen option: "Flask", because we already run it.' in record

    status, ack = bot.command(f"whatif {d.number} team_size=40", channel=ch)
    assert status == 200
    assert ack["text"].startswith(f"*What if team size = 40* (decision {d.number}: Flask)")
    assert "\nBefore: " in ack["text"] and "\nAfter: " in ack["text"]

    # An answer typed after the decision stores nothing; the thread says it is decided.
    n = len(bot.posts(ch))
    assert bot.say(ch, root.ts, "yes") == 200
    closed = bot.next_post(ch, n)
    assert closed.text.startswith("This consultation has a recorded decision.")
    assert bot.store().log(TEAM, c.id)[-1].kind == "answer" and len(bot.store().log(TEAM, c.id)) == len(steps)


def test_compare_cites_the_flask_vs_node_table(bot: Bot) -> None:
    status, ack = bot.command("compare flask node real-time", channel=unique("C0CMP"))
    assert status == 200 and ack["response_type"] == "ephemeral"
    assert ack["text"].startswith("*Comparison* of Flask, Node.js on “real-time”")
    assert "Flask Vs Node #9" in ack["text"]
    assert all(b["type"] == "section" for b in ack["blocks"])


def test_help_lists_every_subcommand(bot: Bot) -> None:
    status, ack = bot.command("help", channel=unique("C0HLP"))
    assert status == 200 and ack["response_type"] == "ephemeral"
    for sub in ("start", "history", "show N", "export N", "compare", "whatif N", "cancel N", "help"):
        assert f"/framework {sub}" in ack["text"], sub


def test_cancel_by_number_closes_the_thread(bot: Bot) -> None:
    ch = unique("C0CNL")
    root, _ = bot.start(ch, "cancel me")
    store = bot.store()
    c = store.consultation_by_thread(TEAM, ch, root.ts)
    number = store.db.execute("SELECT number FROM consultations WHERE id = ?", [c.id]).fetchone()[0]

    status, ack = bot.command(f"cancel {number}", channel=ch)
    assert status == 200
    assert ack["text"] == "This consultation is cancelled. Nothing was decided."
    note = bot.next_post(ch, 2)
    assert note.thread_ts == root.ts and note.text == "This consultation is cancelled. Nothing was decided."
    assert bot.store().get_consultation(TEAM, c.id).status == "cancelled"

    # Cancelling again says so and posts nothing more.
    status, ack = bot.command(f"cancel {number}", channel=ch)
    assert ack["text"].startswith("This consultation was cancelled.")
    # A typed answer in the cancelled thread gets the same note and stores nothing.
    assert bot.say(ch, root.ts, "a web app") == 200
    again = bot.next_post(ch, 3)
    assert again.text.startswith("This consultation was cancelled.")
    assert bot.store().log(TEAM, c.id) == []
    assert len(bot.posts(ch)) == 4


@pytest.mark.parametrize(("text", "expected"), [
    ("frobnicate", "I don't know the subcommand `frobnicate`."),
    ("show abc", "Usage: `/framework show N`: N is a number from `/framework history`."),
    ("show 999", "There is no decision 999 in this workspace. See `/framework history`."),
    ("show", "Usage: `/framework show N`"),
    ("export x", "Usage: `/framework export N`"),
    ("export 999", "There is no decision 999 in this workspace."),
    ("whatif 1", "Usage: `/framework whatif N question=value`, e.g. `/framework whatif 3 team_size=40`."),
    ("whatif abc team_size=3", "Usage: `/framework whatif N question=value`"),
    ("whatif 999 team_size=3", "There is no decision 999 in this workspace."),
    ("history x", "Usage: `/framework history [status] [page]`, e.g. `/framework history 2` or"),
    ("history 0", "Usage: `/framework history [status] [page]`"),
    ("history 99", "There are only "),
    ("cancel", "Usage: `/framework cancel N`"),
    ("cancel 999", "There is no consultation 999 in this workspace."),
    ("forget", "Usage: `/framework forget me`"),
])
def test_bad_arguments_answer_usage_ephemerally(bot: Bot, text: str, expected: str) -> None:
    ch = unique("C0BAD")
    if text == "history 99":  # needs at least one decision so that there is a page count
        root, _ = bot.start(ch, "for history")
        bot.say(ch, root.ts, "decide django")
    status, ack = bot.command(text, channel=ch, user=BOB)
    assert status == 200
    assert ack is not None and ack["response_type"] == "ephemeral"
    assert ack["text"].startswith(expected), ack["text"]
    assert "Traceback" not in ack["text"] and "Error" not in ack["text"]
    assert ack["blocks"] and ack["blocks"][0]["text"]["text"].startswith(expected[:20])


def test_unknown_subcommand_shows_the_usage(bot: Bot) -> None:
    status, ack = bot.command("frobnicate now", channel=unique("C0BAD"))
    assert status == 200
    assert "*Framework Advisor* helps your team choose" in ack["text"]
    assert "`/framework start [topic]`" in ack["text"]


def test_whatif_unknown_question_and_bad_value(bot: Bot) -> None:
    ch = unique("C0WIF")
    root, _ = bot.start(ch, "what if")
    assert bot.say(ch, root.ts, "decide node") == 200
    n = bot.store().decisions(TEAM, limit=1)[0].number
    _, ack = bot.command(f"whatif {n} colour=blue", channel=ch)
    assert ack["text"].startswith("Unknown question 'colour'. Questions: app_type, team_size")
    _, ack = bot.command(f"whatif {n} team_size=lots", channel=ch)
    assert ack["text"] == "team_size accepts a number from 1 to 10000."
