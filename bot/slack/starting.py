"""Starting a consultation: the one sequence behind `/framework start`, `/framework poll`, a mention,
a direct message, App Home's button and a review's [Revisit].

`enqueue_start` queues it as an outbox job (the sender runs it: a slow Slack never holds up an
acknowledgement, and the work survives a restart of `serve`); `start` is the job itself: the root
message (joining a public channel only when Slack says we are not in it), the consultation, its
first question, and for a poll the invitation to answer privately.
"""

from __future__ import annotations

import logging

from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import metrics
from bot.consultation import TOPIC_LIMIT
from bot.render.blocks import escape
from bot.slack import poll
from bot.slack.context import SlackContext
from bot.slack.outbox import JOB_PREFIX, post_once

log = logging.getLogger("framework_advisor.start")

START_JOB = f"{JOB_PREFIX}start"
# What the start job needs from the slash command payload.
START_FIELDS = ("team_id", "channel_id", "user_id", "text", "response_url", "poll")
SORRY = "Sorry, I could not start the consultation; nothing was recorded. Please try again."

INVITE = ("I can only follow threads in channels I belong to, and I can't join this one myself. "
          "Invite me with `/invite @Framework Advisor` (or add the app in the channel's settings), "
          "then run `/framework start` again.")


def enqueue_start(ctx: SlackContext, command: dict, dedupe_key: str | None = None) -> bool:
    """Queue the start job for a command-shaped dict (a slash command, a mention, a DM); False if it failed."""
    try:
        ctx.store.outbox_enqueue(command["team_id"], command["channel_id"], START_JOB,
                                 {"command": {k: command.get(k) for k in START_FIELDS}}, dedupe_key=dedupe_key)
    except Exception:  # noqa: BLE001 - never a stack trace in Slack
        log.exception("start could not be queued")
        return False
    ctx.wake()
    return True


def split(text: str) -> tuple[str, str]:
    """The subcommand (lower case) and the rest of the text."""
    text = text.strip()
    if not text:
        return "", ""
    head, _, rest = text.partition(" ")
    return head.lower(), rest.strip()


def jobs(ctx: SlackContext) -> dict:
    """The outbox job of this module, for `OutboxWorker(jobs=...)`: the start of a consultation."""

    def run_start(client: WebClient, row: dict) -> None:
        command = row["payload"]["command"]
        if command.get("response_url"):
            respond = Respond(response_url=command["response_url"])
        else:  # started by a mention or a direct message: no response URL, answer ephemerally

            def respond(text: str, **_: object) -> None:
                ctx.ephemeral(command["team_id"], command["channel_id"], command["user_id"], text, None,
                              key=f"job:{row['id']}:respond")
        try:
            start(ctx, client, respond, command, split(command.get("text") or "")[1], row=row)
        except SlackApiError as e:
            if e.response.status_code == 429:
                raise  # the outbox runs the job again after Retry-After
            log.exception("start failed")
            respond(response_type="ephemeral", text=SORRY)
        except Exception:  # noqa: BLE001 - never a stack trace in Slack
            log.exception("start failed")
            try:
                respond(response_type="ephemeral", text=SORRY)
            except Exception:  # noqa: BLE001 - the response_url may have expired: nothing more to do
                log.warning("could not tell the user that start failed")

    return {START_JOB: run_start}


def start(ctx: SlackContext, client, respond, command: dict, topic: str, *, row: dict | None = None) -> None:
    """Post the root message (joining first only when Slack says we are not in a public channel),
    open the consultation, queue the first question.

    Posting comes first: private channels have `C...` ids too and cannot be joined
    (`method_not_supported_for_channel_type`), yet the bot posts there fine once invited. As an
    outbox job (`row`), the root message carries the row's id, so a job run again after a crash
    finds the root it posted and the consultation it opened instead of doubling them. A 429 is
    raised to the outbox, which runs the job again after Slack's Retry-After.
    """
    team, channel, user = command["team_id"], command["channel_id"], command["user_id"]
    topic = topic.strip()[:TOPIC_LIMIT]  # what the store keeps; the root message says the same
    title = f": {escape(topic)}" if topic else ""
    text = f"Framework consultation started by <@{user}>{title}"

    def post() -> str:
        if row is not None:  # the job's row is in this channel, not in a thread: it posts the root
            return post_once(client, row, {"text": text, "unfurl_links": False})
        return client.chat_postMessage(channel=channel, text=text, unfurl_links=False)["ts"]

    try:
        try:
            root_ts = post()
        except SlackApiError as e:
            if e.response.get("error") != "not_in_channel" or not channel.startswith("C"):
                raise
            # A public channel we are not in: join it and post again. A private one refuses the
            # join (method_not_supported_for_channel_type): then only an invitation helps.
            try:
                client.conversations_join(channel=channel)
            except SlackApiError as join_error:
                log.info("cannot join %s: %s", channel, join_error.response.get("error"))
                respond(response_type="ephemeral", text=INVITE)
                return
            root_ts = post()
    except SlackApiError as e:
        if e.response.status_code == 429:
            raise
        error = e.response.get("error")
        if error in ("not_in_channel", "channel_not_found", "method_not_supported_for_channel_type"):
            respond(response_type="ephemeral", text=INVITE)
        else:
            respond(response_type="ephemeral", text=f"Slack refused the message ({escape(str(error))}); nothing "
                                                    "was started.")
        return
    c, reply = ctx.service.start(team, channel, root_ts, user, topic)
    if command.get("revisits"):  # [Revisit] on a review reminder: the decision's answers come filled in
        reply = ctx.service.prefill(team, c.id, user, command.get("prefill") or {},
                                    f"Filled in from decision {command['revisits']}")
    metrics.CONSULTATIONS_STARTED.inc()
    log.info("consultation started", extra={"team": team, "channel": channel, "consultation": c.id})
    ctx.send(team, channel, root_ts, [reply], key=f"start:{c.id}")
    if command.get("poll"):
        poll.invite(ctx, team, c.id, user, key=f"start:{c.id}")
