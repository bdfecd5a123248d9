"""Review reminders against the fake Slack: scheduled with chat.scheduleMessage when within Slack's
120 days, delivered once however the schedule fares (kept, cancelled, the bot restarted), and
answered with [Still right], [Remind me later] and [Revisit] by the people who may decide.

The review date is months away, so the tests move the clocks: the sweep takes `now`, and the
fake's `clock` decides what Slack would call the past or too far ahead."""

from __future__ import annotations

import json
import time

from bot.reviews import DELIVERY_GRACE_S, SNOOZE_DAYS, Reviews
from bot.slack import reviews as slack_reviews
from bot.store import Store
from tests.fakes import FakeSlackWebAPI
from tests.reliability.helpers import (
    TEAM,
    inprocess_bot,
    query,
    send_click,
    start_consultation,
    wait_drained,
    wait_until,
)

DAY = 86400.0
ALICE, BOB, MALLORY = "U0REVALICE", "U0REVBOB", "U0REVMALLORY"


def _decided(running, fake, channel: str) -> tuple[int, str, int]:
    """A consultation in `channel` answered and decided by Alice (in-process); (consultation, thread, decision)."""
    cid, thread = start_consultation(running.url, fake, running.db, channel, ALICE, "billing")
    service = running.built.ctx.service
    for line in ("a REST API", "mostly python", "freedom", "small", "a few weeks"):
        service.handle_text(TEAM, cid, ALICE, line)
    reply = service.decide(TEAM, cid, ALICE, "flask", "we already run Flask elsewhere")
    assert reply.kind == "decision"
    return cid, thread, reply.decision.number


def _reminders(fake: FakeSlackWebAPI, channel: str, review_id: int) -> list[dict]:
    """The reminder messages of one review in the channel (found by their buttons' block id)."""
    return [m for m in fake.messages.get(channel, [])
            if any(b.get("block_id") == f"fa_review:{review_id}" for b in m.get("blocks") or [])]


def _review(store: Store, number: int):
    (r,) = [x for x in store.reviews_of(TEAM, number) if x.status not in ("confirmed", "revisited")]
    return r


def test_a_reminder_is_scheduled_within_120_days_and_posted_once_after_a_restart(tmp_path) -> None:
    fake = FakeSlackWebAPI().start()
    db = tmp_path / "bot.db"
    try:
        with inprocess_bot(fake, db) as running:
            _cid, thread, number = _decided(running, fake, "C0REVIEW1")
            r = _review(running.store, number)
            assert r.status == "pending" and r.thread_ts == thread
            # Six months ahead is beyond chat.scheduleMessage's 120 days: nothing is scheduled yet.
            slack_reviews.sweep(running.built.ctx, now_s=time.time())
            wait_drained(db)
            assert fake.calls_to("chat.scheduleMessage") == []
            # 30 days before it is due, Slack takes the schedule.
            fake.clock = lambda: r.due_at - 30 * DAY
            assert slack_reviews.sweep(running.built.ctx, now_s=r.due_at - 30 * DAY) == 1
            wait_drained(db)
            (sid, entry), = fake.scheduled.items()
            assert (entry["channel"], entry["thread_ts"], entry["post_at"]) == ("C0REVIEW1", thread, int(r.due_at))
            assert _review(running.store, number).status == "scheduled"
        # The bot is down when Slack posts it; it starts again afterwards.
        fake.deliver_scheduled(now=r.due_at + 1)
        with inprocess_bot(fake, db) as running:
            fake.clock = lambda: r.due_at + 600
            slack_reviews.sweep(running.built.ctx, now_s=r.due_at + DELIVERY_GRACE_S + 1)
            wait_drained(db)
            assert len(_reminders(fake, "C0REVIEW1", r.id)) == 1  # found in the thread, not posted again
            assert _review(running.store, number).status == "sent"
            assert "decision" in _reminders(fake, "C0REVIEW1", r.id)[0]["text"]
            # Another sweep queues nothing more.
            assert slack_reviews.sweep(running.built.ctx, now_s=r.due_at + 3 * DELIVERY_GRACE_S) == 0
    finally:
        fake.stop()


def test_a_cancelled_schedule_still_ends_in_one_reminder(tmp_path) -> None:
    fake = FakeSlackWebAPI().start()
    db = tmp_path / "bot.db"
    try:
        with inprocess_bot(fake, db) as running:
            _cid, thread, number = _decided(running, fake, "C0REVIEW2")
            r = _review(running.store, number)
            fake.clock = lambda: r.due_at - DAY
            slack_reviews.sweep(running.built.ctx, now_s=r.due_at - DAY)
            wait_drained(db)
            assert fake.cancel_scheduled() == 1  # an admin removed it, or Slack lost it
            fake.clock = lambda: r.due_at + 600
            slack_reviews.sweep(running.built.ctx, now_s=r.due_at + DELIVERY_GRACE_S + 1)
            wait_drained(db)
            (m,) = _reminders(fake, "C0REVIEW2", r.id)
            assert m["thread_ts"] == thread
            assert [b["text"]["text"] for b in m["blocks"][1]["elements"]] == ["Still right", "Revisit",
                                                                               "Remind me later"]
            # A schedule still waiting in Slack when the bot posts would be a second reminder: none is left.
            assert fake.scheduled == {}
    finally:
        fake.stop()


def _click(running, fake, channel: str, message: dict, action_id: str, user: str, review_id: int) -> None:
    action = {"action_id": action_id, "block_id": f"fa_review:{review_id}", "value": json.dumps({"r": review_id}),
              "action_ts": f"{time.time():.6f}"}
    assert send_click(running.url, action, channel=channel, user=user, message_ts=message["ts"]) == 200


def _posted_reminder(running, fake, channel: str, number: int):
    r = _review(running.store, number)
    fake.clock = lambda: r.due_at + 600
    slack_reviews.sweep(running.built.ctx, now_s=r.due_at + DELIVERY_GRACE_S + 1)
    wait_drained(running.db)
    (m,) = _reminders(fake, channel, r.id)
    return r, m


def test_still_right_later_and_revisit_by_participants_only(tmp_path) -> None:
    fake = FakeSlackWebAPI().start()
    try:
        with inprocess_bot(fake, tmp_path / "bot.db") as running:
            store = running.store
            # Mallory took no part: her click changes nothing and she is told why, privately.
            _cid, _thread, number = _decided(running, fake, "C0REVIEW3")
            r, m = _posted_reminder(running, fake, "C0REVIEW3", number)
            _click(running, fake, "C0REVIEW3", m, "fa_review_ok", MALLORY, r.id)
            wait_until(lambda: fake.calls_to("chat.postEphemeral"), 5, "the refusal")
            assert store.review(r.id).status == "sent"
            assert "Only the decision's makers" in fake.calls_to("chat.postEphemeral")[-1].params["text"]

            # Still right: the confirmation is recorded and the next review set, the message says so.
            _click(running, fake, "C0REVIEW3", m, "fa_review_ok", ALICE, r.id)
            wait_until(lambda: store.review(r.id).status == "confirmed", 5, "the confirmation")
            assert store.review(r.id).settled_by == ALICE
            nxt = [x for x in store.reviews_of(TEAM, number) if x.status == "pending"]
            assert len(nxt) == 1 and nxt[0].due_at > time.time() + 150 * DAY
            wait_drained(running.db)
            updated = fake.calls_to("chat.update")[-1].params
            assert updated["ts"] == m["ts"] and "Confirmed by" in updated["text"]
            assert "fa_review_ok" not in json.dumps(updated.get("blocks"))  # its buttons are gone

            # Remind me later: the same reminder a week on.
            _cid, _thread, number = _decided(running, fake, "C0REVIEW4")
            r, m = _posted_reminder(running, fake, "C0REVIEW4", number)
            before = time.time()
            _click(running, fake, "C0REVIEW4", m, "fa_review_later", ALICE, r.id)
            wait_until(lambda: store.review(r.id).status == "pending", 5, "the snooze")
            assert store.review(r.id).due_at >= before + SNOOZE_DAYS * DAY - 5

            # Revisit: a new consultation in the channel, the decision's answers filled in.
            _cid, _thread, number = _decided(running, fake, "C0REVIEW5")
            r, m = _posted_reminder(running, fake, "C0REVIEW5", number)
            _click(running, fake, "C0REVIEW5", m, "fa_review_revisit", ALICE, r.id)
            wait_until(lambda: len(query(running.db, "SELECT id FROM consultations WHERE channel = 'C0REVIEW5'")) == 2,
                       10, "the revisiting consultation")
            wait_drained(running.db)
            old, new = (x[0] for x in query(running.db, "SELECT id FROM consultations WHERE channel = 'C0REVIEW5'"
                                                        " ORDER BY id"))
            service = running.built.ctx.service
            assert service.state(TEAM, new).answers == store.decision(TEAM, number).answers
            assert store.get_consultation(TEAM, new).topic == f"revisit of decision {number}: billing"
            assert store.review(r.id).status == "revisited"
            texts = [c.params.get("text", "") for c in fake.calls_to("chat.postMessage")
                     if c.params.get("channel") == "C0REVIEW5"]
            assert any(f"Filled in from decision {number}" in t for t in texts)
    finally:
        fake.stop()


def test_a_reminder_says_when_todays_knowledge_would_advise_otherwise(tmp_path) -> None:
    store = Store(tmp_path / "a.db")
    try:
        from bot.consultation import Consultations

        service = Consultations(store)
        answers = {"app_type": "rest_api", "team_language": "python", "project_size": "small"}
        now_rec = service.advisor.recommend(answers, with_changes=False)["recommendation"]
        old = store.record_decision(TEAM, channel="C1", topic="api", framework="node", decided_by=ALICE,
                                    rationale="r", recommendation="node", knowledge_version="an-older-version",
                                    answers=answers, result={}, thread_ts="1.1", review_on="2099-01-01")
        same = store.record_decision(TEAM, channel="C2", topic="api", framework=now_rec, decided_by=ALICE,
                                     rationale="r", recommendation=now_rec, knowledge_version=service.advisor.version,
                                     answers=answers, result={}, thread_ts="2.2", review_on="2099-01-01")
        reviews = Reviews(service)
        drift = reviews.reminder(old).drift
        assert drift is not None and "Node.js" in drift and "Flask" in drift
        assert reviews.reminder(same).drift is None
        # every decision with a review date has its reminder, due that morning
        assert [r.decision_number for r in store.reviews(TEAM)] == [old.number, same.number]
    finally:
        store.close()


def test_app_home_lists_the_reviews_due(tmp_path) -> None:
    from bot.slack import home

    fake = FakeSlackWebAPI().start()
    try:
        with inprocess_bot(fake, tmp_path / "bot.db") as running:
            ctx = running.built.ctx
            assert "Reviews due" not in json.dumps(home.view(ctx, TEAM, ALICE, None))  # six months away
            _cid, _thread, number = _decided(running, fake, "C0REVIEW6")
            r = _review(running.store, number)
            running.store.review_update(r.id, due_at=time.time() + 3 * DAY)
            texts = json.dumps(home.view(ctx, TEAM, ALICE, None))
            assert "Reviews due" in texts and f"decision {number}: Flask for billing" in texts
    finally:
        fake.stop()
