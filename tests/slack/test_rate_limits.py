"""A 429 with Retry-After on one channel: the reply waits in the database, not in a sender.

Before, slack_sdk's rate-limit handler slept inside a sender for the whole Retry-After while it held
the row's lease: another sender claimed the expired row and posted it, the sleeper woke and posted it
again, and the other channels waited behind the sleeping senders.
"""

from __future__ import annotations

import time

from tests.slack.helpers import ALICE, TYPED, Bot, unique, wait_until


def _ok_posts(bot: Bot, channel: str, text_part: str) -> list:
    return [c for c in bot.fake.calls_to("chat.postMessage")
            if c.params.get("channel") == channel and (c.response or {}).get("ok")
            and text_part in str(c.params.get("text", ""))]


def test_a_429_on_one_channel_posts_once_after_the_wait_and_others_flow(bot: Bot) -> None:
    limited, other = unique("C0LIMIT"), unique("C0FLOW")
    root_l, first_l = bot.start(limited, "rate limited")
    root_o, first_o = bot.start(other, "flowing")
    time.sleep(1.1)  # both channels past their own one-post-per-second pace

    bot.fake.ratelimit_channel(limited, 4)
    t0 = time.monotonic()
    assert bot.say(limited, root_l.ts, TYPED[first_l.question]) == 200
    assert bot.say(other, root_o.ts, TYPED[first_o.question]) == 200

    # The other channel's next question comes at its normal pace, while the limited one waits.
    nxt_o = bot.next_post(other, 2, timeout=10)
    other_latency = time.monotonic() - t0
    assert other_latency < 2.5, f"the other channel waited {other_latency:.1f} s behind a 429 elsewhere"

    nxt_l = bot.next_post(limited, 2, timeout=20)
    limited_latency = time.monotonic() - t0
    assert limited_latency >= 3.5, "posted before Slack's Retry-After ran out"
    refused = [c for c in bot.fake.calls_to("chat.postMessage")
               if c.params.get("channel") == limited and c.fault == "429"]
    assert refused, "the fake never answered 429: the test proves nothing"
    # Posted once: the text of the limited channel's next question landed exactly one time.
    time.sleep(1.5)
    assert len(_ok_posts(bot, limited, nxt_l.text)) == 1
    assert len(_ok_posts(bot, other, nxt_o.text)) == 1
    # The wait was the outbox's (the row put back with Retry-After), not a sender sleeping in slack_sdk.
    errors = [r[0] for r in bot.store().db.execute(
        "SELECT last_error FROM outbox WHERE channel = ? AND method = 'chat.postMessage'", [limited]).fetchall()]
    assert "ratelimited" in errors
    wait_until(lambda: bot.store().outbox_pending() == 0, what="the outbox drained")


def test_a_thread_that_can_no_longer_be_posted_to_tells_the_starter_once(bot: Bot) -> None:
    ch = unique("C0READONLY")
    root, first = bot.start(ch, "read-only later")
    time.sleep(1.1)
    # The channel became read-only (e.g. an announcement channel): the next post there is refused.
    bot.fake.fail_next("chat.postMessage", "error", times=1, error="restricted_action_read_only_channel")
    assert bot.say(ch, root.ts, TYPED[first.question]) == 200
    dm = wait_until(lambda: [c for c in bot.fake.calls_to("chat.postMessage")
                             if c.params.get("channel") == ALICE and (c.response or {}).get("ok")],
                    timeout=15, what="a message to the starter")
    assert "restricted_action_read_only_channel" in dm[0].params["text"]
    assert "read-only later" in dm[0].params["text"]
    time.sleep(1.5)
    assert len([c for c in bot.fake.calls_to("chat.postMessage") if c.params.get("channel") == ALICE]) == 1
