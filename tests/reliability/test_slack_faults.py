"""Slack API faults on chat.postMessage: 429 with Retry-After, 500, connection resets, slow answers, and
failures that strike after Slack stored the message. The outbox must post every owed reply exactly once,
lose no answer, and keep to about one message per second per channel.

The bot runs in-process (`bot.slack.server.start`) against the fake; faults are queued on the fake.
"""

from __future__ import annotations

import json
import random
import time

import pytest

from tests.reliability.helpers import (
    Fake,
    duplicate_groups,
    inprocess_bot,
    owed_replies_missing,
    plan_consultations,
    posts,
    query,
    send_answer,
    start_consultation,
    stored,
    wait_drained,
)

SEED = 4242


@pytest.fixture
def bot(tmp_path):
    with Fake() as fake, inprocess_bot(fake, tmp_path / "faults.db") as running:
        running.fake = fake
        yield running


def _outbox_ids_by_text(db: str, channel: str) -> dict[str, int]:
    rows = query(db, "SELECT id, payload FROM outbox WHERE channel = ? AND method = 'chat.postMessage'", [channel])
    return {json.loads(p)["text"]: i for i, p in rows}


def test_mixed_faults_no_duplicate_no_lost_answer_no_lost_reply(bot):
    fake, db = bot.fake, bot.db
    rng = random.Random(SEED)
    plans = sorted(plan_consultations(rng, 40), key=lambda p: len(p.steps))[:8]
    convs = []
    for i, plan in enumerate(plans):
        channel = f"C{i:02d}FAULT"
        cid, thread = start_consultation(bot.url, fake, db, channel, f"U{i}FAULT")
        convs.append((channel, cid, thread, plan, []))
    # Faults that strike before Slack stored the message (the stored-then-failed kinds have their own tests).
    kinds = ["429"] * 3 + ["500"] * 5 + ["reset"] * 4 + ["slow"] * 2 + ["ok"] * 20
    rng.shuffle(kinds)
    fake.queue_faults("chat.postMessage", kinds, delay=1.0, retry_after=1)
    for k in range(max(len(p.steps) for p in plans) - 1):
        for channel, cid, thread, plan, sent in convs:
            if k < len(plan.steps) - 1:
                t = time.time()
                assert send_answer(bot.url, channel, thread, f"U{cid}", plan.steps[k].text, f"Ev{channel}{k}",
                                   ts=f"{t:.6f}") == 200
                sent.append(t)
    wait_drained(db, timeout=90)
    time.sleep(0.3)

    faults = [c.fault for c in fake.calls_to("chat.postMessage") if c.fault and c.fault != "slow"]
    assert len(faults) >= 12, f"too few faults were met: {faults}"
    # 0 lost answers
    answers = sum(p.answers for p in plans)
    assert query(db, "SELECT COUNT(*) FROM answers") == [(answers,)]
    # 0 lost replies: every event has its own reply after it; nothing given up
    assert query(db, "SELECT COUNT(*) FROM outbox WHERE status != 'sent'") == [(0,)]
    missing = {ch: owed_replies_missing([c.time for c in posts(fake, ch, th)], sent, first_owed=len(sent) + 1)
               for ch, _, th, _, sent in convs}
    assert {ch: n for ch, n in missing.items() if n} == {}
    # 0 duplicates
    assert duplicate_groups(fake) == {}
    # a 429 is retried after its Retry-After, not before
    calls = fake.calls_to("chat.postMessage")
    for n, c in enumerate(calls):
        if c.fault == "429":
            later = [d for d in calls[n + 1:] if d.params.get("channel") == c.params.get("channel")]
            assert later and later[0].time - c.time >= 0.9, "posted again before Retry-After"
    print(f"\nslack faults: {len(kinds) - kinds.count('ok')} faults queued, {len(faults)} met "
          f"({', '.join(f'{k} x{faults.count(k)}' for k in sorted(set(faults)))}); {answers} answers, "
          f"{sum(len(s) for *_, s in convs)} replies owed: 0 lost, 0 duplicated")


def _answer_with_a_stored_post_failing(bot, channel: str, user: str, fault: str, event_id: str) -> str:
    """Answer in a new consultation while the reply's chat.postMessage is stored, then fails with
    `fault`; returns the thread once the outbox is drained."""
    cid, thread = start_consultation(bot.url, bot.fake, bot.db, channel, user)
    bot.fake.fail_after_store("chat.postMessage", fault)
    assert send_answer(bot.url, channel, thread, user, "a web app", event_id) == 200
    wait_drained(bot.db, timeout=30)
    return thread


def test_stored_then_500_is_found_by_metadata_and_not_posted_again(bot):
    fake, db, channel = bot.fake, bot.db, "C0STORED500"
    thread = _answer_with_a_stored_post_failing(bot, channel, "U0STORED500", "stored500", "EvStored500")

    failed = [c for c in fake.calls_to("chat.postMessage") if c.fault == "stored500"]
    assert len(failed) == 1 and stored(failed[0])
    text = failed[0].params["text"]
    assert [c.params["text"] for c in posts(fake, channel, thread)].count(text) == 1
    assert duplicate_groups(fake) == {}
    checks = [c for c in fake.calls_to("conversations.replies") if c.time > failed[0].time]
    assert checks and checks[0].params["channel"] == channel and checks[0].params["ts"] == thread
    assert str(checks[0].params.get("include_all_metadata")).lower() in ("1", "true")
    # the message carried its outbox id, and the row now points at the message that landed
    meta = failed[0].param("metadata")
    row = _outbox_ids_by_text(db, channel)[text]
    assert meta["event_payload"]["outbox_id"] == row
    assert query(db, "SELECT status, result_ts FROM outbox WHERE id = ?", [row]) == [("sent", failed[0].response["ts"])]


def test_500_before_storing_is_posted_again_once(bot):
    fake, db = bot.fake, bot.db
    channel, user = "C0PLAIN500", "U0PLAIN500"
    cid, thread = start_consultation(bot.url, fake, db, channel, user)
    fake.fail_next("chat.postMessage", "500", times=3)
    assert send_answer(bot.url, channel, thread, user, "a web app", "EvPlain500") == 200
    wait_drained(db, timeout=30)
    attempts = [c for c in fake.calls_to("chat.postMessage") if c.params.get("thread_ts") == thread]
    assert [c.fault for c in attempts][-4:] == ["500", "500", "500", None]
    assert len(posts(fake, channel, thread)) == 2  # the first question and the reply, once each
    assert [c for c in fake.calls_to("conversations.replies") if c.time > attempts[-4].time]  # it did look


def test_reply_slower_than_the_client_timeout_is_not_posted_twice(bot):
    """Slack stores the message but answers after the client gave up (timeout): the retry must find it."""
    fake, db = bot.fake, bot.db
    bot.built.app.client.timeout = 2  # the production client waits 10 s; the logic is the same
    channel, user = "C0SLOW", "U0SLOW"
    cid, thread = start_consultation(bot.url, fake, db, channel, user)
    fake.fail_next("chat.postMessage", "slow", delay=2.3)
    assert send_answer(bot.url, channel, thread, user, "a web app", "EvSlow") == 200
    time.sleep(3)
    wait_drained(db, timeout=30)
    time.sleep(0.3)
    assert duplicate_groups(fake) == {}
    assert len(posts(fake, channel, thread)) == 2
    assert fake.calls_to("conversations.replies")


def test_reset_after_slack_stored_the_message_is_not_posted_twice(bot):
    _answer_with_a_stored_post_failing(bot, "C0RESET", "U0RESET", "storedreset", "EvStoredReset")
    time.sleep(0.3)
    assert duplicate_groups(bot.fake) == {}


def test_one_channel_gets_at_most_one_message_per_second_and_nothing_is_dropped(bot):
    fake, db = bot.fake, bot.db
    channel, user = "C0RATE", "U0RATE"
    cid, thread = start_consultation(bot.url, fake, db, channel, user)
    plan = plan_consultations(random.Random(SEED), 1)[0]
    lines = ["why", "status", plan.steps[0].text, "how", "help", plan.steps[1].text, "status", "why"]
    t0 = time.monotonic()
    for k, line in enumerate(lines):  # all at once: the replies queue up
        assert send_answer(bot.url, channel, thread, user, line, f"EvRate{k}") == 200
    assert time.monotonic() - t0 < 2
    wait_drained(db, timeout=30)
    replies = posts(fake, channel, thread, stored_only=False)
    assert len(replies) == 1 + len(lines)  # nothing dropped
    gaps = [b.time - a.time for a, b in zip(replies, replies[1:], strict=False)]
    assert min(gaps) >= 0.9, gaps
    # in the order they were queued
    order = [row for row, in query(db, "SELECT payload FROM outbox WHERE channel = ? AND method = "
                                       "'chat.postMessage' ORDER BY id", [channel])]
    assert [c.params["text"] for c in replies] == [json.loads(p)["text"] for p in order]
    root = [c for c in fake.calls_to("chat.postMessage") if c.params.get("channel") == channel
            and not c.params.get("thread_ts")][0]
    print(f"\nrate: {len(replies)} replies in one channel, min gap {min(gaps):.2f} s, "
          f"max gap {max(gaps):.2f} s; root -> first question {replies[0].time - root.time:.2f} s")
