"""Team polls: where the team disagrees, and whether the disagreement matters.

Each member answers a consultation's questions on their own (prefilled with the thread's
answers). `summarize` compares them question by question: where everyone agrees the answer
stands; where members differ, the recommendation is worked out with each member's value (every
other question at the team's agreed value, or the one most members gave), so the team learns whether the difference
changes anything ("one member says 5 developers, another 12: with 12, Django instead of Flask").
Each member's own recommendation is worked out too. No Slack here: the Slack layer shows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.render.explain import fw_name, topic, value_label
from knowledge.models import KnowledgeBase
from rules.advisor import Advisor


@dataclass(frozen=True)
class Disagreement:
    """Members who gave different values to one question, and the recommendation with each value."""

    question: str
    by_value: dict  # value -> user ids who gave it
    outcome: dict  # value -> the recommendation with it (None: no clear winner)

    @property
    def matters(self) -> bool:
        """True when the values lead to different recommendations."""
        return len(set(self.outcome.values())) > 1


@dataclass(frozen=True)
class PollSummary:
    """What a poll shows: the agreed answers, the disagreements, each member's own recommendation."""

    members: list[str]
    agreed: dict = field(default_factory=dict)  # question -> value everyone gave
    disagreements: list[Disagreement] = field(default_factory=list)
    own: dict = field(default_factory=dict)  # user -> their recommendation
    base: dict = field(default_factory=dict)  # the thread's answers with the agreed ones


def summarize(advisor: Advisor, thread_answers: dict, member_answers: dict[str, dict]) -> PollSummary:
    """Compare the members' answers (user -> answers); `thread_answers` is what the consultation holds."""
    members = list(member_answers)
    questions = [q.id for q in advisor.kb.questions if any(q.id in a for a in member_answers.values())]
    agreed, split = {}, {}
    for qid in questions:
        by_value: dict = {}
        for user in members:
            if qid in member_answers[user]:
                by_value.setdefault(member_answers[user][qid], []).append(user)
        if len(by_value) == 1:
            agreed[qid] = next(iter(by_value))
        else:
            split[qid] = by_value
    base = {**thread_answers, **agreed}
    # Each disagreement is weighed with the other disputed questions at the value most members gave
    # (the first given on a tie): "with 12, Django instead of Flask" as the team mostly sees the rest.
    majority = {qid: max(by_value, key=lambda v, b=by_value: len(b[v])) for qid, by_value in split.items()}
    disagreements = []
    for qid, by_value in split.items():
        rest = {**base, **{q: v for q, v in majority.items() if q != qid}}
        outcome = {v: advisor.outcome({**rest, qid: v}) for v in by_value}
        disagreements.append(Disagreement(question=qid, by_value=by_value, outcome=outcome))
    own = {user: advisor.outcome({**thread_answers, **member_answers[user]}) for user in members}
    return PollSummary(members=members, agreed=agreed, disagreements=disagreements, own=own, base=base)


def disagreement_text(kb: KnowledgeBase, d: Disagreement) -> str:
    """"team size: <@A> says 5, <@B> says 12: with 12, Django instead of Flask" (or: it changes nothing)."""
    said = ", ".join(f"{' and '.join(f'<@{u}>' for u in users)} {'say' if len(users) > 1 else 'says'} "
                     f"{value_label(kb, d.question, v)}" for v, users in d.by_value.items())
    if not d.matters:
        rec = next(iter(d.outcome.values()))
        return f"*{topic(d.question)}*: {said}. Either way: {fw_name(rec) if rec else 'no clear winner'}."
    ways = "; ".join(f"with {value_label(kb, d.question, v)}, {fw_name(r) if r else 'no clear winner'}"
                     for v, r in d.outcome.items())
    return f"*{topic(d.question)}*: {said}. It matters: {ways}."
