"""Button clicks: answers, skip, adopt a framework, why, what would change it, start from App Home.

Each click is acknowledged first; the work runs in a lazy listener after the ack. A click's
identity (message, action, user, action_ts) is its event id, so a re-delivered click records
nothing twice; a stale click on an old question changes that answer, or says the consultation
is closed.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3

from slack_bolt import App
from slack_bolt.context.respond import Respond
from slack_sdk.errors import SlackApiError

from bot import metrics
from bot.consultation import NOT_A_PARTICIPANT
from bot.parsing import Command
from bot.render import decide_view, explain
from bot.slack import starting
from bot.slack.context import SlackContext, team_of
from bot.store import StoreBusy
from knowledge.models import FRAMEWORKS

log = logging.getLogger("framework_advisor.actions")

NOT_RECORDED = ("Sorry, that click was not recorded (the database could not be written just now). "
                "Please click again in a few seconds.")
ACTIONS = re.compile(r"^fa_(answer_\d+|skip|decide_(django|flask|node)|accept|reject|how|changes|home_start)$")
NO_DIALOG = ("I could not open the decide dialog (Slack said `{error}`). Click the button again, or type "
             "`decide {framework} because ...` in the thread.")


def register(app: App, ctx: SlackContext) -> None:
    """Attach the block_actions listener for every fa_* button: ack, then work on the executor."""

    def work(body: dict, action: dict, client, home_team: str | None) -> None:
        try:
            handle(ctx, body, action, client, home_team)
        except (StoreBusy, sqlite3.OperationalError) as e:  # a storage fault, not a bug: no traceback
            log.warning("action %s not recorded: %s", action.get("action_id"), e)
            not_recorded(body)
        except Exception:  # noqa: BLE001 - never a stack trace in Slack
            log.exception("action %s failed", action.get("action_id"))
            not_recorded(body)

    def not_recorded(body: dict) -> None:
        # The click was acknowledged but not stored (a write fault, a full disk, a busy database):
        # say so to the clicker alone. Straight through the response URL, as the store is what failed.
        url = body.get("response_url")
        if not url:
            return
        try:
            Respond(response_url=url)(text=NOT_RECORDED, response_type="ephemeral", replace_original=False)
        except Exception:  # noqa: BLE001 - nothing more we can do; the log has the cause
            log.warning("could not tell the clicker that the click was not recorded")

    def on_click(ack, body: dict, action: dict, client, context) -> None:
        ack()
        metrics.ACKED["action"].inc()
        result = context.authorize_result
        ctx.submit(work, body, action, client, getattr(result, "team_id", None))

    app.action(ACTIONS)(on_click)


def handle(ctx: SlackContext, body: dict, action: dict, client, home_team: str | None = None) -> None:
    """Carry out one click. `home_team`: the installation's workspace (bolt's authorization), for shared channels."""
    # An org-wide install's click may carry `team: null`: the user's own workspace, else the installation's.
    team = team_of(body) or (body.get("user") or {}).get("team_id") or home_team
    user = (body.get("user") or {}).get("id")
    action_id = action.get("action_id", "")
    try:
        value = json.loads(action.get("value") or "{}")
    except ValueError:
        return
    if not team or not user or not isinstance(value, dict):
        return
    msg_ts = (body.get("container") or {}).get("message_ts") or (body.get("message") or {}).get("ts", "")
    key = f"act:{msg_ts}:{action_id}:{user}:{action.get('action_ts', '')}"
    if action_id == "fa_home_start":
        return _home_start(ctx, team, user, value, key)
    cid = value.get("c")
    c = ctx.store.get_consultation(team, cid) if isinstance(cid, int) else None
    if c is None and home_team and home_team != team and isinstance(cid, int):
        # A shared channel (Slack Connect): the clicker's team is their own organisation's, the
        # consultation is the installation's. Taken only from the consultation's own channel.
        c = ctx.store.get_consultation(home_team, cid)
        if c is not None and c.channel != (body.get("channel") or {}).get("id"):
            c = None
        team = home_team if c is not None else team
    if c is None:
        return  # not this team's consultation: say nothing, reveal nothing
    channel = c.channel
    thread = c.thread_ts
    if action_id.startswith("fa_answer_"):
        replies = ctx.service.answer(team, c.id, user, str(value.get("q")), value.get("v"), raw_text=None,
                                     event_id=key)
        ctx.send(team, channel, thread, replies, key=key)
    elif action_id == "fa_skip":
        again = ctx.service.redelivered(team, c.id, key)
        if again is not None:
            ctx.send(team, channel, thread, again, key=key)  # a re-delivered click: same key, nothing new
            return
        st = ctx.service.state(team, c.id)
        if st.consultation.status != "open":
            ctx.send(team, channel, thread, [ctx.service.closed_reply(st.consultation)], key=key)
        elif st.next_question != value.get("q"):
            # A delivery of this same click may have skipped it since the check above (Slack retries
            # can arrive together): the state read afterwards shows its entry, so look again.
            again = ctx.service.redelivered(team, c.id, key)
            if again is not None:
                ctx.send(team, channel, thread, again, key=key)
                return
            ctx.ephemeral(team, channel, user, "That question is no longer the open one.", thread, key)
        else:
            ctx.send(team, channel, thread, ctx.service.command(st, user, Command(name="skip"), event_id=key), key=key)
    elif action_id.startswith("fa_decide_"):
        fw = action_id.removeprefix("fa_decide_")
        if fw in FRAMEWORKS:
            open_dialog(ctx, client, body, team, c, user, fw, key)
    elif action_id in ("fa_accept", "fa_reject"):
        number = value.get("d")
        if not isinstance(number, int):
            return
        reply = ctx.service.accept(team, number, user, reject=action_id == "fa_reject")
        if reply.kind == "decision" and reply.decision is not None and reply.decision.consultation_id == c.id:
            ctx.send(team, channel, thread, [reply], key=key, team_domain=(body.get("team") or {}).get("domain"))
        else:
            ctx.ephemeral(team, channel, user, reply.text, thread, key)
    elif action_id == "fa_how":
        st = ctx.service.state(team, c.id)
        # The Why? button explains the winner, as typed `why` explains a question; `how` keeps the trace.
        ctx.ephemeral(team, channel, user, explain.why_winner(ctx.kb, ctx.service.full_result(st)), thread, key)
    elif action_id == "fa_changes":
        st = ctx.service.state(team, c.id)
        result = ctx.service.full_result(st)
        changes = result["what_would_change"]
        if not changes:
            text = "No single answer change would change the recommendation."
        else:
            text = "*What would change it*\n" + "\n".join(
                f"• {ch['question'].replace('_', ' ')} = {explain.value_label(ctx.kb, ch['question'], ch['value'])}"
                f" → {explain.fw_name(ch['new_recommendation'])}" for ch in changes[:30])
        ctx.ephemeral(team, channel, user, text, thread, key)


def open_dialog(ctx: SlackContext, client, body: dict, team: str, c, user: str, framework: str, key: str) -> None:
    """[Adopt X] (or the button under a plain-words decision): the decide dialog, for participants only.

    views.open is called here, at once, with the bot's client: the click's trigger_id expires 3 s after
    the click, which the outbox cannot promise. Anyone else is told why, ephemerally.
    """
    if c.status == "cancelled":
        ctx.ephemeral(team, c.channel, user, ctx.service.closed_reply(c).text, c.thread_ts, key)
        return
    if not ctx.service.may_decide(team, c.id, user):
        ctx.ephemeral(team, c.channel, user, NOT_A_PARTICIPANT, c.thread_ts, key)
        return
    trigger = body.get("trigger_id")
    if not trigger or ctx.store.event_seen(f"dlg:{key}", team):
        return  # a re-delivered click: its dialog is open already (and its trigger_id spent)
    st = ctx.service.state(team, c.id)
    result = st.result or {}
    view = decide_view.dialog(consultation_id=c.id, team=team, framework=framework,
                              recommendation=result.get("recommendation") if st.done else None, user=user,
                              participants=sorted(ctx.store.participants(team, c.id)),
                              review_on=ctx.service.default_review_date(), topic=c.topic,
                              number=ctx.store.consultation_number(team, c.id))
    try:
        client.views_open(trigger_id=trigger, view=view)
    except SlackApiError as e:
        error = str(e.response.get("error", "")) if e.response is not None else ""
        log.info("decide dialog not opened: %s", error)
        metrics.SLACK_ERRORS.labels(method="views.open", error=error or "unknown").inc()
        ctx.ephemeral(team, c.channel, user, NO_DIALOG.format(error=error or "no answer", framework=framework),
                      c.thread_ts, key)


def _home_start(ctx: SlackContext, team: str, user: str, value: dict, key: str) -> None:
    """Start a consultation in the user's direct-message channel with the app (the start job, as everywhere)."""
    channel = value.get("ch")
    if not isinstance(channel, str) or not channel:
        return
    # The click's identity keys the job: a re-delivered click must not open a second consultation.
    starting.enqueue_start(ctx, {"team_id": team, "channel_id": channel, "user_id": user, "text": ""},
                           dedupe_key=key)
