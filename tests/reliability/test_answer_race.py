"""Two people answer the same open question at once: deterministic reproductions of how the thread shows it.

test_concurrency.py runs the race at random across two processes and only counts these outcomes; here one
handler is held back at a chosen point (a sleep wrapped around a store / context call, nothing else
changed) so the interleaving is the same on every run. The bot runs in-process against the fake.

Interleaving 1 (A's replies are queued after B's): A stores "Prototype" (seq 1) and computes its next
question (team_language); B stores "Web app" (seq 2, wins) and queues team_size; then A's team_language and
A's "answered by" edit are queued. Interleaving 2 (B read the state before A stored): B wins, unannounced.
"""

from __future__ import annotations

import threading
import time

import pytest

from tests.reliability.helpers import (
    TEAM,
    Fake,
    inprocess_bot,
    posts,
    query,
    send_answer,
    start_consultation,
    thread_questions,
    wait_drained,
)


@pytest.fixture
def bot(tmp_path):
    with Fake() as fake, inprocess_bot(fake, tmp_path / "race.db") as running:
        running.fake = fake
        yield running


def _answer_both(bot, channel, thread, first, second, gap=0.2) -> None:
    """Send `first` = (user, text, event_id), then `second` `gap` seconds later; both typed at the same time."""
    ts = f"{time.time():.6f}"
    out = {}

    def send(user, text, event_id):
        out[event_id] = send_answer(bot.url, channel, thread, user, text, event_id, ts=ts)

    t = threading.Thread(target=send, args=first)
    t.start()
    time.sleep(gap)
    send(*second)
    t.join()
    assert set(out.values()) == {200}
    wait_drained(bot.db, timeout=20)
    time.sleep(0.2)


@pytest.fixture
def replies_of_a_queued_late(bot, monkeypatch):
    channel = "C0RACELATE"
    cid, thread = start_consultation(bot.url, bot.fake, bot.db, channel, "U0RACEA")
    ctx = bot.built.ctx
    real_send = ctx.send

    def late_for_a(team, ch, th, replies, key):
        if key == "ev:EvRaceA":
            time.sleep(0.8)  # A's replies were computed before B's answer, and are queued after B's
        return real_send(team, ch, th, replies, key)

    monkeypatch.setattr(ctx, "send", late_for_a)
    _answer_both(bot, channel, thread, ("U0RACEA", "a prototype", "EvRaceA"), ("U0RACEB", "a web app", "EvRaceB"))
    assert [r[0] for r in query(bot.db, "SELECT event_id FROM answers WHERE consultation_id = ? ORDER BY seq",
                                [cid])] == ["EvRaceA", "EvRaceB"]
    st = bot.built.ctx.service.state(TEAM, cid)
    assert st.answers["app_type"] == "web_app"  # B, stored last, wins
    return channel, cid, thread, st


def test_the_last_question_shown_is_the_open_one(bot, replies_of_a_queued_late):
    channel, cid, thread, st = replies_of_a_queued_late
    asked = thread_questions(bot.fake, channel, thread)
    assert asked[-1] == st.next_question, f"thread asks {asked}, but the open question is {st.next_question}"


def test_the_answered_question_shows_the_answer_in_force(bot, replies_of_a_queued_late):
    channel, cid, thread, st = replies_of_a_queued_late
    first_question = posts(bot.fake, channel, thread)[0].response["ts"]
    shown = next(m["text"] for m in bot.fake.channel_messages(channel) if m["ts"] == first_question)
    assert "Web app" in shown, f"the question now reads {shown!r}, but the answer in force is web_app"


def test_an_override_by_a_simultaneous_answer_is_announced(bot, monkeypatch):
    channel = "C0RACENOTE"
    cid, thread = start_consultation(bot.url, bot.fake, bot.db, channel, "U0NOTEA")
    store = bot.built.ctx.store
    real_append = store.append

    def slow_for_b(*args, **kwargs):
        if kwargs.get("event_id") == "EvNoteB":
            time.sleep(0.6)  # B has read the state (no answer yet); A stores meanwhile
        return real_append(*args, **kwargs)

    monkeypatch.setattr(store, "append", slow_for_b)
    _answer_both(bot, channel, thread, ("U0NOTEB", "a web app", "EvNoteB"), ("U0NOTEA", "a prototype", "EvNoteA"),
                 gap=0.15)
    assert [r[0] for r in query(bot.db, "SELECT event_id FROM answers WHERE consultation_id = ? ORDER BY seq",
                                [cid])] == ["EvNoteA", "EvNoteB"]
    texts = [c.params.get("text", "") for c in posts(bot.fake, channel, thread)]
    assert any("The later answer wins" in t for t in texts), texts
