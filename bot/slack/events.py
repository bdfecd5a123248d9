"""Events: answers typed in consultation threads, and the App Home tab.

A thread answer is committed to SQLite (with its event_id, UNIQUE) and its replies are queued
in the outbox *before* the listener returns, and the app runs with process_before_response, so
the HTTP 200 (or the Socket Mode ack) is sent only after that: an acknowledged answer cannot be
lost, and a re-delivered event is recognised and stores nothing twice.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime

from slack_bolt import App

from bot import metrics
from bot.slack import commands, home, starting
from bot.slack.context import SlackContext, team_of

# The reaction on a thread message that was neither an answer nor a command.
CHATTER_REACTION = "speech_balloon"

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


MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")


def register(app: App, ctx: SlackContext) -> None:
    """Attach the message, app_mention, app_home_opened listeners, and acknowledge the rest we receive."""

    def as_command(team: str, channel: str, user: str, text: str, event_id: str, thread_ts: str | None) -> None:
        """A mention or a direct message read as `/framework <text>`: start, or an answer posted back."""
        text = MENTION.sub(" ", text).strip()
        sub, rest = commands.split(text)
        command = {"team_id": team, "channel_id": channel, "user_id": user, "text": text, "response_url": None,
                   "event_id": event_id}
        if sub in ("", "start"):
            starting.enqueue_start(ctx, command, dedupe_key=f"ev:{event_id}")
            return
        try:
            reply = commands.answer(ctx, command, sub, rest)
        except Exception:  # noqa: BLE001 - never a stack trace in Slack
            log.exception("mention %s failed", sub)
            reply = "Sorry, something went wrong on my side; nothing was changed. Please try again."
        payload = {"text": reply[:39000]}
        if thread_ts:
            payload["thread_ts"] = thread_ts
        ctx.store.outbox_enqueue(team, channel, "chat.postMessage", payload, thread_ts=thread_ts,
                                 dedupe_key=f"ev:{event_id}")
        ctx.wake()

    def edited_or_deleted(event: dict, body: dict) -> None:
        """An answer's message edited (the new text replaces the answer) or deleted (the answer is withdrawn)."""
        new, old = event.get("message") or {}, event.get("previous_message") or {}
        thread_ts, user = old.get("thread_ts") or new.get("thread_ts"), old.get("user") or new.get("user")
        team, channel = team_of(body), event.get("channel")
        if not team or not channel or not thread_ts or not user or old.get("bot_id") or thread_ts == old.get("ts"):
            return
        c = ctx.store.consultation_by_thread(team, channel, thread_ts)
        if c is None or old.get("text") is None:
            return
        event_id = body.get("event_id") or f"{event['subtype']}:{channel}:{event.get('event_ts')}"
        if event["subtype"] == "message_changed":
            if new.get("text") is None or new.get("text") == old.get("text"):
                return  # an unfurl or a reaction count changed, not the words
            replies = ctx.service.edited(team, c.id, user, old["text"], new["text"], event_id=event_id)
        else:
            replies = ctx.service.deleted(team, c.id, user, old["text"], event_id=event_id)
        if replies:
            ctx.send(team, channel, thread_ts, replies, key=f"ev:{event_id}")

    @app.event("app_mention")
    def on_mention(event: dict, body: dict, context) -> None:
        metrics.ACKED["event"].inc()
        team, channel, user = team_of(body), event.get("channel"), event.get("user")
        if not team or not channel or not user or event.get("bot_id"):
            return
        thread_ts = event.get("thread_ts")
        if thread_ts and ctx.store.consultation_by_thread(team, channel, thread_ts) is not None:
            return  # a mention inside a consultation thread is also a message event: answered there
        as_command(team, channel, user, event.get("text") or "", body.get("event_id") or f"men:{event.get('ts')}",
                   thread_ts)

    for name in ("member_joined_channel", "member_left_channel", "tokens_revoked", "app_uninstalled"):
        # Received (subscribed, or sent to every app); nothing to do, but unacknowledged Slack retries.
        if name in ("tokens_revoked", "app_uninstalled") and ctx.cfg.mode == "oauth":
            continue  # bolt's token revocation listeners handle these in OAuth mode
        app.event(name)(lambda: None)

    @app.event("message")
    def on_message(event: dict, body: dict, context) -> None:
        metrics.ACKED["event"].inc()
        subtype = event.get("subtype")
        if subtype in ("message_changed", "message_deleted"):
            return edited_or_deleted(event, body)
        # A file shared with a comment in the thread: the comment is an answer like any message.
        if subtype and subtype not in ("thread_broadcast", "file_share") or event.get("bot_id"):
            return
        thread_ts, ts, user = event.get("thread_ts"), event.get("ts"), event.get("user")
        if not user or user == context.get("bot_user_id"):
            return
        if not thread_ts and event.get("channel_type") == "im" and team_of(body) and event.get("channel"):
            # The app's messages tab: "start", "help", "history" ... typed to the bot directly.
            as_command(team_of(body), event["channel"], user, event.get("text") or "",
                       body.get("event_id") or f"msg:{event['channel']}:{ts}", None)
            return
        if not thread_ts or thread_ts == ts:
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
        if any(r.kind == "chatter" for r in replies):
            # Side talk in the thread gets no public reply: a reaction tells its author it was not taken.
            ctx.store.outbox_enqueue(team, channel, "reactions.add", {"channel": channel, "timestamp": ts,
                                                                      "name": CHATTER_REACTION},
                                     dedupe_key=f"ev:{event_id}:react")
            replies = [r for r in replies if r.kind != "chatter"]
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
