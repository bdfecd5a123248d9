"""The decide dialog's submission (`view_submission`, callback `fa_decide`).

The submission is validated and the decision recorded, with its replies queued in the outbox,
before the acknowledgement, as thread answers are: the acknowledgement is the answer Slack shows
(`response_action: errors` keeps the dialog open with a message beside each field; an empty ack
closes it), so the decision is stored by the time the dialog closes. The view's id is the
delivery's identity: the same view submitted twice records one decision.
"""

from __future__ import annotations

import logging
import sqlite3

from slack_bolt import App

from bot import metrics
from bot.consultation import NOT_A_PARTICIPANT
from bot.render import decide_view
from bot.slack.context import SlackContext, teams_of
from bot.store import StoreBusy

log = logging.getLogger("framework_advisor.dialogs")

BUSY = "The database is busy right now, so nothing was recorded. Please submit again in a few seconds."
GONE = "This consultation is not there any more, so nothing was recorded."


def register(app: App, ctx: SlackContext) -> None:
    """Attach the view_submission listener of the decide dialog."""

    @app.view(decide_view.CALLBACK_ID)
    def on_submit(ack, body: dict, view: dict, context) -> None:
        metrics.ACKED["action"].inc()
        try:
            problems = submit(ctx, body, view, getattr(context.authorize_result, "team_id", None))
        except (StoreBusy, sqlite3.OperationalError) as e:  # a storage fault: the dialog stays open
            log.warning("decision not recorded: %s", e)
            problems = {"rationale": BUSY}
        except Exception:  # noqa: BLE001 - never a stack trace in Slack
            log.exception("decide dialog failed")
            problems = {"rationale": "Sorry, something went wrong on my side; nothing was recorded. Please try again."}
        if problems:
            ack(response_action="errors", errors=decide_view.errors(problems))
        else:
            ack()


def submit(ctx: SlackContext, body: dict, view: dict, home_team: str | None = None) -> dict[str, str]:
    """Record a submitted decision; returns the problems by field (empty when it was recorded)."""
    meta = decide_view.metadata(view)
    user = (body.get("user") or {}).get("id")
    team = meta.get("t")
    # The metadata is ours (Slack returns it untouched), but only for this workspace or the
    # installation's own (a shared channel): never another team's consultation.
    if not isinstance(team, str) or team not in teams_of(body, home_team):
        return {"rationale": GONE}
    cid = meta.get("c")
    c = ctx.store.get_consultation(team, cid) if isinstance(cid, int) else None
    if c is None or not user:
        return {"rationale": GONE}
    fields = decide_view.read(view)
    problems = ctx.service.decision_problems(fields["framework"], fields["rationale"], fields["review_on"])
    if not ctx.service.may_decide(team, c.id, user):
        problems["framework"] = NOT_A_PARTICIPANT
    if problems:
        return problems
    key = f"view:{view.get('id')}"
    reply = ctx.service.decide(team, c.id, user, fields["framework"], fields["rationale"].strip(), event_id=key,
                               status=fields["status"], decision_makers=fields["decision_makers"] or [user],
                               consulted=fields["consulted"], informed=fields["informed"],
                               review_on=fields["review_on"], announce=fields["announce"])
    if reply.kind != "decision":
        return {"framework": reply.text}
    if not reply.duplicate:
        metrics.DECISIONS.inc()
    ctx.send(team, c.channel, c.thread_ts, [reply], key=key, team_domain=(body.get("team") or {}).get("domain"))
    return {}
