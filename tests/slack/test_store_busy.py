"""Another process holds the database's write lock: requests still answer within Slack's 3 s."""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager

from bot.slack.actions import NOT_RECORDED
from bot.slack.commands import BUSY
from tests.slack.helpers import ALICE, TEAM, Bot, button_for, http_get, next_question, now_ts, unique, wait_until


@contextmanager
def foreign_write_lock(bot: Bot):
    """Hold the writers' lock file, as another framework-advisor process in a long write would."""
    fd = os.open(f"{bot.db}-writer.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def test_a_click_while_the_database_is_locked_is_answered_not_recorded_then_works(bot: Bot) -> None:
    ch = unique("C0BUSY")
    root, first = bot.start(ch, "busy db")
    cid = bot.consultation_id(ch, root.ts)
    action_id, value = button_for(first.params, "web_app")
    before = len(bot.fake.calls_to("response_url"))
    with foreign_write_lock(bot):
        t0 = time.monotonic()
        body, ctype = bot.click_body(action_id, value, channel=ch, user=ALICE, team=TEAM, message_ts=first.ts,
                                     thread_ts=root.ts, action_ts=now_ts())
        assert bot.post(body, ctype)[0] == 200
        assert time.monotonic() - t0 < 3
        told = wait_until(lambda: bot.fake.calls_to("response_url")[before:], timeout=8, what="a 'not recorded'")
        assert told[0].params["text"] == NOT_RECORDED and told[0].params["response_type"] == "ephemeral"
        assert time.monotonic() - t0 < 5
        # A command answered in the ack says "busy" (within Slack's limit), never a stack trace.
        t1 = time.monotonic()
        status, ack = bot.command("forget me", channel=ch, user="U0BUSYFORGET")  # a write
        assert status == 200 and time.monotonic() - t1 < 3
        assert ack is not None and ack["text"] == BUSY
        # healthz tells the truth while the database cannot be written.
        assert http_get(bot.url + "/healthz")[0] == 503
    assert bot.store().log(TEAM, cid) == []  # nothing half-stored
    body, ctype = bot.click_body(action_id, value, channel=ch, user=ALICE, team=TEAM, message_ts=first.ts,
                                 thread_ts=root.ts, action_ts=now_ts())
    assert bot.post(body, ctype)[0] == 200
    assert bot.next_post(ch, 2).question == next_question({"app_type": "web_app"})
    assert [(e.question, e.value) for e in bot.store().log(TEAM, cid)] == [("app_type", "web_app")]


def test_a_thread_answer_while_locked_gets_a_500_then_slacks_retry_stores_it_once(bot: Bot) -> None:
    ch = unique("C0BUSYEV")
    root, _ = bot.start(ch, "busy event")
    cid = bot.consultation_id(ch, root.ts)
    ts = now_ts()
    with foreign_write_lock(bot):
        t0 = time.monotonic()
        status = bot.say(ch, root.ts, "a web app", ts=ts, event_id="EvBUSY0001")
        assert status == 500 and time.monotonic() - t0 < 3  # Slack retries a 500; not acknowledged, not lost
    # Slack's retry of the same event, after the lock is gone, and a second retry racing it.
    headers = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"}
    event = {"type": "message", "channel": ch, "user": ALICE, "text": "a web app", "ts": ts, "thread_ts": root.ts,
             "channel_type": "channel", "event_ts": ts, "team": TEAM}
    assert bot.event(event, event_id="EvBUSY0001", headers=headers) == 200
    assert bot.event(event, event_id="EvBUSY0001", headers=headers) == 200
    assert bot.next_post(ch, 2).question == next_question({"app_type": "web_app"})
    assert [(e.question, e.value) for e in bot.store().log(TEAM, cid)] == [("app_type", "web_app")]
