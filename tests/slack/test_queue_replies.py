"""Queueing an event's replies when another delivery of the same event got there first."""

from __future__ import annotations

import pytest

from bot.parsing import Command
from bot.slack.context import SlackContext
from tests.slack.helpers import offline_context, outbox_texts

TEAM, CH, ROOT = "T0QUEUE", "C0QUEUE", "1700000000.000100"
ALICE = "U0ALICE"


@pytest.fixture
def ctx(tmp_path) -> SlackContext:
    return offline_context(tmp_path / "queue.db")


def _posts(ctx: SlackContext) -> list[str]:
    return outbox_texts(ctx, "chat.postMessage")


def test_a_skip_whose_redelivery_queued_first_says_nothing_more(ctx) -> None:
    c, first = ctx.service.start(TEAM, CH, ROOT, ALICE, "queue")
    ctx.send(TEAM, CH, ROOT, [first], key="start")
    key = "act:1:fa_skip:U0ALICE:1.5"
    st = ctx.service.state(TEAM, c.id)
    original = ctx.service.command(st, ALICE, Command(name="skip"), event_id=key)
    assert original[0].text.startswith("Skipped:")  # the note the first delivery would say
    # A second delivery of the same click finds the skip stored and queues its reply first.
    again = ctx.service.redelivered(TEAM, c.id, key)
    assert again is not None
    ctx.send(TEAM, CH, ROOT, again, key=key)
    ctx.send(TEAM, CH, ROOT, original, key=key)
    posts = _posts(ctx)
    assert len(posts) == 2, posts  # the first question and the next one: no "Skipped" note after it
    assert not any(p.startswith("Skipped:") for p in posts)


def test_a_reply_repeating_the_open_question_still_says_its_note(ctx) -> None:
    c, first = ctx.service.start(TEAM, CH, ROOT, ALICE, "queue")
    ctx.send(TEAM, CH, ROOT, [first], key="start")
    [a] = ctx.service.handle_text(TEAM, c.id, ALICE, "a static site", event_id="EvA")
    ctx.send(TEAM, CH, ROOT, [a], key="ev:EvA")
    [b] = ctx.service.handle_text(TEAM, c.id, ALICE, "actually a web app", event_id="EvB")
    ctx.send(TEAM, CH, ROOT, [b], key="ev:EvB")
    posts = _posts(ctx)
    assert any("web app" in p.lower() for p in posts[2:]), posts
