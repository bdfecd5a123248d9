"""Another process holds the database's write lock: requests still answer within Slack's 3 s."""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager

from bot.slack.actions import NOT_RECORDED
from bot.slack.commands import BUSY
from tests.slack.helpers import ALICE, TEAM, Bot, button_for, http_get, now_ts, unique, wait_until


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
    assert bot.next_post(ch, 2).question == "team_size"
    assert [(e.question, e.value) for e in bot.store().log(TEAM, cid)] == [("app_type", "web_app")]
