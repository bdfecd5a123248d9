"""Block Kit for team polls: the invitation, each member's private dialog, and the result.

- `invitation`: the thread message that invites everyone ([Answer privately], [Show the result]).
- `dialog`: a modal with the consultation's questions as inputs, prefilled with the thread's
  answers (every input optional: a member answers what they know); `read` turns the submission
  back into canonical answers and the problems to show beside their fields.
- `result`: per question whether the team agrees; for each disagreement whether it changes the
  recommendation, with a button per value to settle it; each member's own recommendation.
"""

from __future__ import annotations

import json

from slack_sdk.models.blocks import (
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.poll import PollSummary, disagreement_text
from bot.render.blocks import _cut, escape
from bot.render.explain import because_text, fw_name, topic, value_label
from knowledge.models import KnowledgeBase
from rules.answers import AnswerError, validate_value

CALLBACK_ID = "fa_poll"
ACTION = "value"


def invitation(poll_id: int, consultation_id: int, user: str, answered: int = 0) -> dict:
    """The thread message inviting every member to answer on their own."""
    value = json.dumps({"p": poll_id, "c": consultation_id})
    text = (f"<@{user}> asks everyone to answer on their own: your answers stay private until the result shows "
            "where the team agrees, and whether a disagreement changes the recommendation.")
    count = f"{answered} answered so far." if answered else "Nobody has answered yet."
    return {"text": text, "blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "actions", "block_id": f"fa_poll:{poll_id}", "elements": [
            {"type": "button", "action_id": "fa_poll_answer", "style": "primary", "value": value,
             "text": {"type": "plain_text", "text": "Answer privately"}},
            {"type": "button", "action_id": "fa_poll_result", "value": value,
             "text": {"type": "plain_text", "text": "Show the result"}}]},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": count}]}]}


def dialog(kb: KnowledgeBase, *, poll_id: int, team: str, answers: dict, topic_text: str = "") -> dict:
    """The member's modal: one optional input per question, prefilled with the thread's answers."""
    inputs = []
    for q in kb.questions:
        current = answers.get(q.id)
        if q.type == "integer":
            element = PlainTextInputElement(action_id=ACTION, initial_value=str(current) if current else None,
                                            placeholder=f"{q.min or 1} to {q.max or 10000}")
        else:
            options = [Option(value=v, text=PlainTextObject(text=value_label(kb, q.id, v)[:75])) for v in q.allowed]
            initial = next((o for o in options if o.value == current), None)
            element = StaticSelectElement(action_id=ACTION, options=options, initial_option=initial)
        inputs.append(InputBlock(block_id=f"q_{q.id}", label=q.prompt[:2000], optional=True, element=element))
    intro = "Answer what you know; leave the rest empty. The others do not see your answers, only the result."
    if topic_text:
        intro = f"*{escape(topic_text)}*\n{intro}"
    view = View(type="modal", callback_id=CALLBACK_ID, title=PlainTextObject(text="Your answers"),
                submit=PlainTextObject(text="Send"), close=PlainTextObject(text="Cancel"),
                private_metadata=json.dumps({"p": poll_id, "t": team}, separators=(",", ":")),
                blocks=[SectionBlock(text=MarkdownTextObject(text=intro)), *inputs])
    return view.to_dict()


def read(kb: KnowledgeBase, view: dict) -> tuple[dict, dict[str, str]]:
    """A submitted poll dialog: (canonical answers, problems by block id for `response_action: errors`)."""
    values = (view.get("state") or {}).get("values") or {}
    answers, problems = {}, {}
    for q in kb.questions:
        state = (values.get(f"q_{q.id}") or {}).get(ACTION) or {}
        raw = state.get("value") if q.type == "integer" else (state.get("selected_option") or {}).get("value")
        if raw in (None, ""):
            continue
        try:
            answers[q.id] = validate_value(q, int(raw) if q.type == "integer" and str(raw).strip().isdigit()
                                           else raw)
        except (AnswerError, ValueError):
            problems[f"q_{q.id}"] = (f"A whole number from {q.min or 1} to {q.max or 10000}."
                                     if q.type == "integer" else "Pick one of the options.")
    return answers, problems


def result(kb: KnowledgeBase, summary: PollSummary, poll_id: int) -> dict:
    """The poll's result in the thread, with a button per value for each disagreement."""
    n = len(summary.members)
    lines = [f"*The team's answers* ({n} member{'s' if n != 1 else ''})"]
    if summary.agreed:
        lines.append("Everyone agrees: " + because_text(kb, summary.agreed) + ".")
    if not summary.disagreements:
        lines.append("No disagreement.")
    out = [{"type": "section", "text": {"type": "mrkdwn", "text": _cut("\n".join(lines))}}]
    for d in sorted(summary.disagreements, key=lambda d: (not d.matters, d.question)):
        out.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(disagreement_text(kb, d))}})
        out.append({"type": "actions", "block_id": f"fa_pollq:{poll_id}:{d.question}", "elements": [
            {"type": "button", "action_id": f"fa_poll_pick_{i}",
             "value": json.dumps({"p": poll_id, "q": d.question, "v": v}),
             "text": {"type": "plain_text", "text": f"Use {value_label(kb, d.question, v)}"[:75]}}
            for i, v in enumerate(d.by_value)][:5]})
    own = " · ".join(f"<@{u}>: {fw_name(r) if r else 'no clear winner'}" for u, r in summary.own.items())
    out.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(f"Each on their own: {own}", 2900)}]})
    text = "\n".join(lines + [disagreement_text(kb, d) for d in summary.disagreements])
    return {"text": _cut(text, 3000), "blocks": out[:50]}


def settled_text(kb: KnowledgeBase, question: str, value, user: str) -> str:
    """What a settled disagreement says once a value was chosen."""
    return f"<@{user}> settled *{topic(question)}*: {value_label(kb, question, value)}."
