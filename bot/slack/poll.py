"""Team polls in Slack: `/framework poll [topic]` or [Ask everyone], each member's private dialog,
the result in the thread, and the buttons that settle a disagreement.

The comparison itself is in `bot.poll` (no Slack there). Here: the invitation is posted in the
consultation's thread (tagged, so its count of answers can be updated); [Answer privately] opens
the dialog at once (a trigger_id lasts 3 s); a submission is stored per member, a second one
replaces the first; [Show the result] posts where the team agrees and, for each disagreement,
whether it changes the recommendation; what everyone agrees on is recorded in the consultation
(one log entry, by the one who asked for the result), and [Use X] records a disputed answer, after
which the consultation goes on as usual.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3

from slack_bolt import App
from slack_sdk.errors import SlackApiError

from bot import metrics
from bot.consultation import NOT_A_PARTICIPANT
from bot.poll import summarize
from bot.render import poll_view
from bot.slack.context import SlackContext, teams_of
from bot.store import StoreBusy

log = logging.getLogger("framework_advisor.poll")

ACTIONS = re.compile(r"^fa_poll_(start|answer|result|pick_\d+)$")
GONE = "This poll is no longer available."
NO_DIALOG = "I could not open your answers (Slack said `{error}`). Click [Answer privately] again."


def invitation_tag(poll_id: int) -> str:
    """The outbox tag of a poll's invitation message (its answer count is updated in place)."""
    return f"poll:{poll_id}"


def invite(ctx: SlackContext, team: str, consultation_id: int, user: str, key: str) -> int:
    """Open (or reuse) the consultation's poll and post its invitation in the thread; returns the poll id."""
    c = ctx.store.get_consultation(team, consultation_id)
    poll_id = ctx.store.create_poll(team, consultation_id, user)
    answered = len(ctx.store.poll_answers(team, poll_id))
    ctx.store.outbox_enqueue(team, c.channel, "chat.postMessage",  # type: ignore[union-attr]
                             poll_view.invitation(poll_id, consultation_id, user, answered),
                             thread_ts=c.thread_ts, dedupe_key=f"{key}:invite",  # type: ignore[union-attr]
                             tag=invitation_tag(poll_id))
    ctx.wake()
    return poll_id


def register(app: App, ctx: SlackContext) -> None:
    """Attach the poll buttons and the poll dialog's submission."""

    def on_click(ack, body: dict, action: dict, client, context) -> None:
        ack()
        metrics.ACKED["action"].inc()
        # Right after the response is written (the decide dialog does the same): views.open must come
        # within 3 s of the click, which the outbox cannot promise.
        ctx.submit(work, body, action, client, getattr(context.authorize_result, "team_id", None))

    def work(body: dict, action: dict, client, home_team: str | None) -> None:
        try:
            handle(ctx, body, action, client, home_team)
        except (StoreBusy, sqlite3.OperationalError) as e:
            log.warning("poll click %s not recorded: %s", action.get("action_id"), e)
        except Exception:  # noqa: BLE001 - never a stack trace in Slack
            log.exception("poll click %s failed", action.get("action_id"))

    app.action(ACTIONS)(on_click)

    @app.view(poll_view.CALLBACK_ID)
    def on_submit(ack, body: dict, view: dict, context) -> None:
        metrics.ACKED["action"].inc()
        try:
            problems = submit(ctx, body, view, getattr(context.authorize_result, "team_id", None))
        except (StoreBusy, sqlite3.OperationalError) as e:
            log.warning("poll answers not recorded: %s", e)
            problems = {"q_app_type": "The database is busy: nothing was recorded. Please send again."}
        except Exception:  # noqa: BLE001 - never a stack trace in Slack
            log.exception("poll dialog failed")
            problems = {"q_app_type": "Sorry, something went wrong on my side; nothing was recorded."}
        if problems:
            ack(response_action="errors", errors=problems)
        else:
            ack()


def handle(ctx: SlackContext, body: dict, action: dict, client, home_team: str | None = None) -> None:
    """Carry out one poll click."""
    user = (body.get("user") or {}).get("id")
    try:
        value = json.loads(action.get("value") or "{}")
    except ValueError:
        return
    if not user or not isinstance(value, dict):
        return
    teams = teams_of(body, home_team)
    aid = action.get("action_id", "")
    msg_ts = (body.get("container") or {}).get("message_ts") or (body.get("message") or {}).get("ts", "")
    key = f"act:{msg_ts}:{aid}:{user}:{action.get('action_ts', '')}"
    if aid == "fa_poll_start":
        c = next((x for t in teams if (x := ctx.store.get_consultation(t, value.get("c"))) is not None), None) \
            if isinstance(value.get("c"), int) else None
        if c is None:
            return
        if not ctx.service.may_decide(c.team_id, c.id, user):
            ctx.ephemeral(c.team_id, c.channel, user, NOT_A_PARTICIPANT, c.thread_ts, key)
            return
        invite(ctx, c.team_id, c.id, user, key)
        return
    pid = value.get("p")
    found = next(((t, p) for t in teams if isinstance(pid, int) and (p := ctx.store.poll(t, pid)) is not None), None)
    if found is None:
        return
    team, poll = found
    c = ctx.store.get_consultation(team, poll["consultation_id"])
    if c is None:
        return
    if aid == "fa_poll_answer":
        _open_dialog(ctx, client, body, team, poll, c, user, key)
    elif aid == "fa_poll_result":
        _result(ctx, team, poll, c, user, key)
    else:
        qid, v = value.get("q"), value.get("v")
        if c.status != "open":
            ctx.ephemeral(team, c.channel, user, ctx.service.closed_reply(c).text, c.thread_ts, key)
            return
        replies = ctx.service.answer(team, c.id, user, str(qid), v, raw_text=f"team poll {poll['id']}: settled",
                                     event_id=key)
        ctx.send(team, c.channel, c.thread_ts, replies, key=key)


def _open_dialog(ctx: SlackContext, client, body: dict, team: str, poll: dict, c, user: str, key: str) -> None:
    trigger = body.get("trigger_id")
    if not trigger or ctx.store.event_seen(f"dlg:{key}", team):
        return  # a re-delivered click: its dialog is open already
    mine = ctx.store.poll_answers(team, poll["id"]).get(user)
    answers = mine if mine is not None else ctx.service.state(team, c.id).answers
    view = poll_view.dialog(ctx.kb, poll_id=poll["id"], team=team, answers=answers, topic_text=c.topic)
    try:
        client.views_open(trigger_id=trigger, view=view)
    except SlackApiError as e:
        error = str(e.response.get("error", "")) if e.response is not None else ""
        metrics.SLACK_ERRORS.labels(method="views.open", error=error or "unknown").inc()
        ctx.ephemeral(team, c.channel, user, NO_DIALOG.format(error=error or "no answer"), c.thread_ts, key)


def submit(ctx: SlackContext, body: dict, view: dict, home_team: str | None = None) -> dict[str, str]:
    """Store a member's submitted answers; returns the problems by block id (empty when stored)."""
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        meta = {}
    user = (body.get("user") or {}).get("id")
    team, pid = meta.get("t"), meta.get("p")
    first = f"q_{ctx.kb.questions[0].id}"
    if not user or team not in teams_of(body, home_team) or not isinstance(pid, int):
        return {first: GONE}
    poll = ctx.store.poll(team, pid)
    c = ctx.store.get_consultation(team, poll["consultation_id"]) if poll else None
    if c is None:
        return {first: GONE}
    answers, problems = poll_view.read(ctx.kb, view)
    if problems:
        return problems
    n = ctx.store.save_poll_answers(team, pid, user, answers)
    ref = ctx.store.outbox_latest(team, invitation_tag(pid))
    if ref is not None:  # the invitation says how many have answered
        payload = poll_view.invitation(pid, c.id, poll["created_by"], n)
        ctx.store.outbox_enqueue(team, c.channel, "chat.update", {"ref": ref, **payload},
                                 dedupe_key=f"poll:{pid}:count:{n}")
    ctx.ephemeral(team, c.channel, user, f"Thanks: your answers are in ({n} answered so far). They stay private; "
                                         "[Show the result] compares them.", c.thread_ts, f"view:{view.get('id')}")
    return {}


def _result(ctx: SlackContext, team: str, poll: dict, c, user: str, key: str) -> None:
    members = ctx.store.poll_answers(team, poll["id"])
    if not members:
        ctx.ephemeral(team, c.channel, user, "Nobody has answered yet: [Answer privately] first.", c.thread_ts, key)
        return
    st = ctx.service.state(team, c.id)
    summary = summarize(ctx.service.advisor, st.answers, members)
    ctx.store.outbox_enqueue(team, c.channel, "chat.postMessage", poll_view.result(ctx.kb, summary, poll["id"]),
                             thread_ts=c.thread_ts, dedupe_key=f"{key}:result")
    ctx.wake()
    # What everyone agrees on and the thread does not hold yet becomes the consultation's answer.
    new = {q: v for q, v in summary.agreed.items() if st.answers.get(q) != v}
    if new and c.status == "open":
        who = ", ".join(members)
        replies = ctx.service.answer_many(st, user, new, raw_text=f"team poll {poll['id']}: agreed by {who}",
                                          event_id=key, open_question=st.next_question)
        ctx.send(team, c.channel, c.thread_ts, replies, key=key)
