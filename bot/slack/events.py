"""Events: answers typed in consultation threads, and the App Home tab.

A thread answer is committed to SQLite (with its event_id, UNIQUE) and its replies are queued
in the outbox *before* the listener returns, and the app runs with process_before_response, so
the HTTP 200 (or the Socket Mode ack) is sent only after that: an acknowledged answer cannot be
lost, and a re-delivered event is recognised and stores nothing twice.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from slack_bolt import App

from bot import metrics
from bot.slack import home
from bot.slack.context import SlackContext

log = logging.getLogger("framework_advisor.events")

# Message subtypes we cannot use as answers (edits, deletions, joins, bot posts...).
IGNORED_SUBTYPES = {"message_changed", "message_deleted", "bot_message", "channel_join", "channel_leave",
                    "thread_broadcast_deleted", "message_replied", "channel_topic", "channel_purpose", "pinned_item"}


def ts_time(ts: str) -> str | None:
    """A Slack ts as the ISO time the store uses (None when malformed)."""
    try:
        return datetime.fromtimestamp(float(ts), UTC).isoformat(timespec="microseconds")
    except (TypeError, ValueError, OverflowError):
        return None


def team_of(body: dict) -> str | None:
    """The workspace id of an event or interaction payload."""
    team = body.get("team_id") or body.get("team")
    if isinstance(team, dict):
        team = team.get("id")
    return team or (body.get("event") or {}).get("team")


def register(app: App, ctx: SlackContext) -> None:
    """Attach the message and app_home_opened listeners."""

    @app.event("message")
    def on_message(event: dict, body: dict, context) -> None:
        metrics.ACKED["event"].inc()
        subtype = event.get("subtype")
        if subtype and subtype != "thread_broadcast" or event.get("bot_id"):
            return
        thread_ts, ts, user = event.get("thread_ts"), event.get("ts"), event.get("user")
        if not thread_ts or thread_ts == ts or not user or user == context.get("bot_user_id"):
            return
        team, channel = team_of(body), event.get("channel")
        if not team or not channel:
            return
        c = ctx.store.consultation_by_thread(team, channel, thread_ts)
        if c is None:
            return  # not one of our threads
        event_id = body.get("event_id") or f"msg:{channel}:{ts}"
        text = event.get("text") or ""
        started = time.perf_counter()
        replies = ctx.service.handle_text(team, c.id, user, text, event_id=event_id, message_time=ts_time(ts))
        if any(r.kind == "recommendation" and not r.duplicate for r in replies):
            metrics.CONSULTATIONS_FINISHED.inc()
        if any(r.kind == "decision" for r in replies):
            metrics.DECISIONS.inc()
        ctx.send(team, channel, thread_ts, replies, key=f"ev:{event_id}")
        # Debug, as every per-request line (see commands.py); /metrics has the counts.
        log.debug("thread message handled", extra={
            "team": team, "channel": channel, "consultation": c.id, "event_id": event_id,
            "kind": ",".join(r.kind for r in replies) or "none",
            "latency_ms": round((time.perf_counter() - started) * 1000, 2)})

    @app.event("app_home_opened")
    def on_home(event: dict, body: dict) -> None:
        metrics.ACKED["event"].inc()
        if event.get("tab", "home") != "home":
            return
        team, user = team_of(body), event.get("user")
        if not team or not user:
            return
        view = home.view(ctx, team, user, event.get("channel"))
        ctx.store.outbox_enqueue(team, f"home:{user}", "views.publish", {"user_id": user, "view": view})
        ctx.wake()
