"""Review reminders in Slack: scheduled in the decision's thread, delivered once, and their buttons.

- The sweep (every `SWEEP_S`, in `serve`) queues outbox jobs; the jobs run in the sender, like
  every other Web API call: *schedule* a reminder due within Slack's 120 days with
  `chat.scheduleMessage`; *deliver* one whose time came `DELIVERY_GRACE_S` ago: if the scheduled
  message is in the thread (found by its block id, as scheduled messages carry no metadata) it is
  marked sent; otherwise (cancelled, never scheduled, the bot was down) it is posted now. A
  still-pending scheduled copy is deleted first, so the thread gets one reminder either way.
- [Still right] records a confirmation and sets the next review; [Remind me later] moves it a
  week on; [Revisit] opens a new consultation in the channel with the decision's answers
  prefilled. The reminder message then says what was done, without its buttons.
"""

from __future__ import annotations

import json
import logging
import re
import time

from slack_bolt import App
from slack_sdk.errors import SlackApiError

from bot import metrics
from bot.models import Decision, Review
from bot.reviews import DELIVERY_GRACE_S, SCHEDULE_HORIZON_S, Reviews
from bot.slack.context import SlackContext, teams_of
from bot.slack.outbox import JOB_PREFIX
from bot.slack.starting import START_JOB

log = logging.getLogger("framework_advisor.reviews")

SCHEDULE_JOB = f"{JOB_PREFIX}review_schedule"
DELIVER_JOB = f"{JOB_PREFIX}review_deliver"
SWEEP_S = 60
ACTIONS = re.compile(r"^fa_review_(ok|later|revisit)$")
NOT_YOURS = ("Only the decision's makers, the one who recorded it, or someone who took part in its consultation "
             "can answer this reminder.")


def block_id(r: Review) -> str:
    """The id of a reminder's buttons block: how its message is found in the thread."""
    return f"fa_review:{r.id}"


def reminder_message(reviews: Reviews, d: Decision, r: Review) -> dict:
    """The reminder as chat.postMessage / chat.scheduleMessage arguments (text fallback and blocks)."""
    text = reviews.reminder(d).text
    value = json.dumps({"r": r.id})
    return {"text": text, "blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "actions", "block_id": block_id(r), "elements": [
            {"type": "button", "action_id": "fa_review_ok", "style": "primary", "value": value,
             "text": {"type": "plain_text", "text": "Still right"}},
            {"type": "button", "action_id": "fa_review_revisit", "value": value,
             "text": {"type": "plain_text", "text": "Revisit"}},
            {"type": "button", "action_id": "fa_review_later", "value": value,
             "text": {"type": "plain_text", "text": "Remind me later"}}]}]}


def sweep(ctx: SlackContext, now_s: float | None = None) -> int:
    """Queue the schedule and delivery jobs that are due; returns how many were queued."""
    now_s = time.time() if now_s is None else now_s
    queued = 0
    for r in ctx.store.reviews_to_schedule(now_s, SCHEDULE_HORIZON_S):
        # One try per due time (a snooze makes a new one); a refused schedule falls back to delivery.
        if ctx.store.outbox_enqueue(r.team_id, r.channel, SCHEDULE_JOB, {"review": r.id, "due_at": r.due_at},
                                    dedupe_key=f"review:{r.id}:schedule:{r.due_at}") is not None:
            queued += 1
    for r in ctx.store.reviews_overdue(now_s - DELIVERY_GRACE_S):
        if ctx.store.outbox_enqueue(r.team_id, r.channel, DELIVER_JOB, {"review": r.id, "due_at": r.due_at},
                                    dedupe_key=f"review:{r.id}:deliver:{r.due_at}") is not None:
            queued += 1
    if queued:
        ctx.wake()
    return queued


def jobs(ctx: SlackContext) -> dict:
    """The outbox jobs of reminders, for `OutboxWorker(jobs=...)`."""
    reviews = Reviews(ctx.service)

    def current(row: dict) -> tuple[Review, Decision] | None:
        p = row["payload"]
        r = ctx.store.review(p["review"])
        if r is None or r.due_at != p["due_at"]:
            return None  # snoozed or gone since the job was queued
        d = reviews.in_force(r)
        return (r, d) if d is not None else None

    def run_schedule(client, row: dict) -> None:
        found = current(row)
        if found is None or found[0].status != "pending":
            return
        r, d = found
        try:
            resp = client.chat_scheduleMessage(channel=r.channel, thread_ts=r.thread_ts, post_at=int(r.due_at),
                                               **reminder_message(reviews, d, r))
        except SlackApiError as e:
            if e.response.status_code == 429:
                raise
            # time_in_past, time_too_far, a closed channel...: the delivery job posts it when due.
            error = str(e.response.get("error"))
            metrics.SLACK_ERRORS.labels(method="chat.scheduleMessage", error=error).inc()
            log.info("review %s not scheduled: %s", r.id, error)
            return
        ctx.store.review_update(r.id, status="scheduled", scheduled_id=resp.get("scheduled_message_id"),
                                expect=("pending",))

    def run_deliver(client, row: dict) -> None:
        found = current(row)
        if found is None or found[0].status not in ("pending", "scheduled"):
            return
        r, d = found
        ts = _in_thread(client, r)
        if ts is None:
            if r.scheduled_id:
                try:  # a copy still waiting in Slack (its clock behind ours) would post a second reminder
                    client.chat_deleteScheduledMessage(channel=r.channel, scheduled_message_id=r.scheduled_id)
                except SlackApiError as e:
                    if e.response.status_code == 429:
                        raise
                ts = _in_thread(client, r)  # it may have been posted in the meantime
            if ts is None:
                ts = client.chat_postMessage(channel=r.channel, thread_ts=r.thread_ts,
                                             **reminder_message(reviews, d, r)).get("ts")
        ctx.store.review_update(r.id, status="sent", message_ts=ts, expect=("pending", "scheduled"))

    return {SCHEDULE_JOB: run_schedule, DELIVER_JOB: run_deliver}


def _in_thread(client, r: Review) -> str | None:
    """The ts of the reminder's message if it is in the thread already."""
    try:
        if r.thread_ts:
            resp = client.conversations_replies(channel=r.channel, ts=r.thread_ts, limit=200)
        else:
            resp = client.conversations_history(channel=r.channel, limit=100)
    except SlackApiError as e:
        if e.response.status_code == 429:
            raise
        return None
    for m in resp.get("messages", []) or []:
        if any(b.get("block_id") == block_id(r) for b in m.get("blocks") or []):
            return m.get("ts")
    return None


def register(app: App, ctx: SlackContext) -> None:
    """Attach the reminder buttons: ack at once, the work after the ack."""
    reviews = Reviews(ctx.service)

    def on_click(ack, body: dict, action: dict, context) -> None:
        ack()
        metrics.ACKED["action"].inc()
        ctx.submit(handle, ctx, reviews, body, action, getattr(context.authorize_result, "team_id", None))

    app.action(ACTIONS)(on_click)


def handle(ctx: SlackContext, reviews: Reviews, body: dict, action: dict, home_team: str | None = None) -> None:
    """Carry out one reminder click (a re-delivered click changes nothing: the reminder is settled)."""
    user = (body.get("user") or {}).get("id")
    try:
        value = json.loads(action.get("value") or "{}")
    except ValueError:
        return
    r = ctx.store.review(value.get("r")) if isinstance(value, dict) and isinstance(value.get("r"), int) else None
    teams = teams_of(body, home_team)
    if r is None or not user or r.team_id not in teams:
        return  # not this workspace's reminder: say nothing, reveal nothing
    channel = (body.get("channel") or {}).get("id") or r.channel
    msg_ts = (body.get("container") or {}).get("message_ts") or (body.get("message") or {}).get("ts")
    key = f"review:{r.id}:{action.get('action_id')}:{user}:{action.get('action_ts', '')}"
    d = ctx.store.decision(r.team_id, r.decision_number)
    if d is None:
        return
    if not reviews.may_settle(d, user):
        ctx.ephemeral(r.team_id, channel, user, NOT_YOURS, r.thread_ts, key)
        return
    kind = action.get("action_id", "").removeprefix("fa_review_")
    if kind == "ok":
        outcome = reviews.confirm(r, user)
    elif kind == "later":
        outcome = reviews.snooze(r, user)
    else:
        if not reviews.revisited(r, user):
            outcome = reviews.settled_text(r)
        else:
            outcome = f"<@{user}> is revisiting decision {d.number}: a new consultation starts in this channel " \
                      "with its answers filled in."
            _revisit(ctx, reviews, d, user, channel, key)
    if msg_ts:
        ctx.store.outbox_enqueue(r.team_id, channel, "chat.update", {
            "ts": msg_ts, "text": outcome,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": reviews.reminder(d).text}},
                       {"type": "context", "elements": [{"type": "mrkdwn", "text": outcome}]}]},
            dedupe_key=f"{key}:update")
        ctx.wake()


def _revisit(ctx: SlackContext, reviews: Reviews, d: Decision, user: str, channel: str, key: str) -> None:
    """Open a new consultation in the channel with the decision's answers filled in (the start job)."""
    topic = f"revisit of decision {d.number}" + (f": {d.topic}" if d.topic else "")
    command = {"team_id": d.team_id, "channel_id": channel, "user_id": user, "text": f"start {topic}",
               "prefill": reviews.prefill(d), "revisits": d.number}
    ctx.store.outbox_enqueue(d.team_id, channel, START_JOB, {"command": command}, dedupe_key=f"{key}:start")
    ctx.wake()
