"""Review reminders: when a decision is due for another look, and what the team can do about it.

The core of the reminder flow, shared by Slack and the terminal (no Slack here): which reminders
are due, what a reminder says (with the drift re-check: would today's knowledge recommend something
else for the same answers?), and what "Still right", "Remind me later" and "Revisit" do to the
record. Slack's `chat.scheduleMessage` is only the fast path of delivery (bot/slack/reviews.py);
the store is the source of truth, so a restart, a cancelled schedule or a date beyond Slack's
120-day limit still ends in one reminder.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime

from bot.consultation import Consultations, add_months
from bot.models import Decision, Review
from bot.render.explain import fw_name

# chat.scheduleMessage takes post_at at most 120 days ahead; a reminder further out waits in the store.
SCHEDULE_HORIZON_S = 119 * 86400
# A reminder whose time came this long ago without being seen in the thread is posted directly.
DELIVERY_GRACE_S = 120
SNOOZE_DAYS = 7
IN_FORCE = ("accepted", "proposed")
OPEN = ("pending", "scheduled", "sent")  # a reminder not yet answered (confirmed, revisited or cancelled)


@dataclass(frozen=True)
class Reminder:
    """What a reminder says: its text (mrkdwn, ids already safe) and whether the advice drifted."""

    text: str
    drift: str | None


def when(ts: float) -> str:
    """An epoch time as the day it falls on (UTC, ISO)."""
    return datetime.fromtimestamp(ts, UTC).date().isoformat()


class Reviews:
    """The review lifecycle over a consultation service (its store, advisor and settings)."""

    def __init__(self, service: Consultations):
        self.service = service
        self.store = service.store

    def reminder(self, d: Decision) -> Reminder:
        """The reminder of decision `d`: what was decided, when, by whom; whether the advice changed since."""
        topic = f" for {d.topic}" if d.topic else ""
        text = (f"*Time to look again at decision {d.number}*: {fw_name(d.framework)}{topic}, decided on "
                f"{d.created_at[:10]} by <@{d.decided_by}>. Still the right choice?")
        drift = self.drift(d)
        if drift:
            text += f"\n{drift}"
        return Reminder(text=text, drift=drift)

    def drift(self, d: Decision) -> str | None:
        """Said when the knowledge changed since the decision and the same answers get other advice now."""
        if d.knowledge_version == self.service.advisor.version:
            return None
        now_rec = self.service.advisor.recommend(d.answers, with_changes=False)["recommendation"]
        if now_rec == d.recommendation:
            return None
        then = fw_name(d.recommendation) if d.recommendation else "no clear winner"
        today = fw_name(now_rec) if now_rec else "no clear winner"
        return (f"The comparison's rules changed since then: for the same answers the advisor said {then} and "
                f"would now say {today}.")

    def due(self, team_id: str, now_s: float | None = None, within_days: int = 14) -> list[Review]:
        """The team's open reminders due within `within_days` (overdue ones first)."""
        now_s = time.time() if now_s is None else now_s
        return self.store.reviews(team_id, before=now_s + within_days * 86400)

    def in_force(self, r: Review) -> Decision | None:
        """The reminder's decision while it is still in force; None (and the reminder cancelled) otherwise."""
        d = self.store.decision(r.team_id, r.decision_number)
        if d is None or d.status not in IN_FORCE:
            self.store.review_update(r.id, status="cancelled", expect=OPEN)
            return None
        return d

    def may_settle(self, d: Decision, user: str) -> bool:
        """Who may confirm, snooze or revisit: the decision's makers, its recorder, or anyone who took part."""
        if user == d.decided_by or user in d.decision_makers:
            return True
        return d.consultation_id is not None and self.service.may_decide(d.team_id, d.consultation_id, user)

    def confirm(self, r: Review, user: str, today: date | None = None) -> str:
        """"Still right": the confirmation is recorded (MADR Confirmation) and the next review set."""
        if not self.store.review_update(r.id, status="confirmed", settled_by=user, settled_at=_now(),
                                        expect=OPEN):
            return self.settled_text(r)
        today = today or datetime.now(UTC).date()
        months = getattr(self.service.kb.settings, "review_months", 6)
        nxt = add_months(today, months)
        self.store.add_review(r.team_id, r.decision_number, datetime(nxt.year, nxt.month, nxt.day, 9,
                                                                      tzinfo=UTC).timestamp())
        return (f"Confirmed by <@{user}> on {today.isoformat()}: decision {r.decision_number} is still the right "
                f"choice. Next review on {nxt.isoformat()}.")

    def snooze(self, r: Review, user: str, now_s: float | None = None, days: int = SNOOZE_DAYS) -> str:
        """"Remind me later": the same reminder again in `days` days."""
        now_s = time.time() if now_s is None else now_s
        due = now_s + days * 86400
        if not self.store.review_update(r.id, status="pending", due_at=due, scheduled_id=None, message_ts=None,
                                        expect=OPEN):
            return self.settled_text(r)
        return f"<@{user}> asked to be reminded later: decision {r.decision_number} comes up again on {when(due)}."

    def revisited(self, r: Review, user: str) -> bool:
        """"Revisit": the reminder is settled as revisited (the new consultation is the caller's to open)."""
        return self.store.review_update(r.id, status="revisited", settled_by=user, settled_at=_now(),
                                        expect=OPEN)

    def prefill(self, d: Decision) -> dict:
        """The decision's answers that today's questions still take (the rest are asked again)."""
        out = {}
        for qid, value in d.answers.items():
            try:
                q = self.service.kb.question(qid)
            except KeyError:
                continue
            if q.type != "integer" and value not in q.allowed:
                continue
            out[qid] = value
        return out

    def settled_text(self, r: Review) -> str:
        """What a click on an already settled reminder is told."""
        now = self.store.review(r.id)
        status = now.status if now else "gone"
        who = f" by <@{now.settled_by}>" if now and now.settled_by else ""
        return f"This reminder was already handled ({status}{who})."


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
