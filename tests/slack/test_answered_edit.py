"""The edit that shows who answered a question: the value in force, even when replies are queued out of order."""

from __future__ import annotations

import pytest

from bot.slack.context import SlackContext
from tests.slack.helpers import offline_context, outbox_texts

TEAM, CH, ROOT = "T0EDIT", "C0EDIT", "1700000000.000100"
ALICE, BOB = "U0ALICE", "U0BOB"


@pytest.fixture
def ctx(tmp_path) -> SlackContext:
    return offline_context(tmp_path / "edit.db")


def _edits(ctx: SlackContext) -> list[str]:
    return outbox_texts(ctx, "chat.update")


def _start(ctx: SlackContext) -> int:
    c, first = ctx.service.start(TEAM, CH, ROOT, ALICE, "edits")
    ctx.send(TEAM, CH, ROOT, [first], key="start")
    assert first.question == "app_type"
    return c.id


def test_the_edit_shows_the_answer_just_given(ctx) -> None:
    cid = _start(ctx)
    [reply] = ctx.service.handle_text(TEAM, cid, ALICE, "a static site", event_id="EvA")
    assert reply.recorded_in_force == ("static_site", ALICE)
    ctx.send(TEAM, CH, ROOT, [reply], key="ev:EvA")
    assert _edits(ctx)[-1].endswith(f"answered by <@{ALICE}>: *Static site*")


def test_a_reply_queued_after_a_later_answer_still_shows_the_later_answer(ctx) -> None:
    cid = _start(ctx)
    [alice] = ctx.service.handle_text(TEAM, cid, ALICE, "a static site", event_id="EvA")
    [bob] = ctx.service.answer(TEAM, cid, BOB, "app_type", "web_app", raw_text="a web app", event_id="EvB")
    # Bob's handler queues first; Alice's, slower, queues after it, describing an older position.
    ctx.send(TEAM, CH, ROOT, [bob], key="ev:EvB")
    ctx.send(TEAM, CH, ROOT, [alice], key="ev:EvA")
    assert alice.recorded_in_force == ("static_site", ALICE)  # what was in force at its position
    assert _edits(ctx)[-1].endswith(f"answered by <@{BOB}>: *Web app*")  # but the edit reads what is now


def test_a_redelivered_answer_says_what_was_in_force_at_its_position(ctx) -> None:
    cid = _start(ctx)
    ctx.service.handle_text(TEAM, cid, ALICE, "a static site", event_id="EvA")
    ctx.service.answer(TEAM, cid, BOB, "app_type", "web_app", event_id="EvB")
    [again] = ctx.service.handle_text(TEAM, cid, ALICE, "a static site", event_id="EvA")
    assert again.duplicate and again.recorded_in_force == ("static_site", ALICE)
