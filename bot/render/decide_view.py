"""Block Kit for recording decisions: the decide dialog, its submission, and the messages around a decision.

- `dialog`: the modal opened by [Adopt X] and by the button under a plain-words decision: the
  framework (preselected), the rationale (required), decision-makers, consulted and informed
  (MADR 4), a review date, accepted or proposed, and whether to post the outcome to the channel.
- `read` turns a `view_submission`'s state back into plain fields; `errors` maps the core's
  problems (by field) to the dialog's blocks for `response_action: errors`.
- `render`: a reply as a message, as `blocks.render` does, except that a decision gets who decided
  and the review date (and, for a proposal, [Accept] and [Reject]), and a plain-words decision
  without a reason gets a button that opens the dialog.
- `root_message`: the consultation's root post once decided ("Decided: Node.js, decision 3, by ...").

Built with slack_sdk's models, which validate Block Kit's limits (24-character titles,
`private_metadata` of at most 3,000 characters) when serialised. User text is escaped; the
mentions and dates we add are inserted after escaping.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    CheckboxesElement,
    ContextBlock,
    DatePickerElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    RadioButtonsElement,
    SectionBlock,
    StaticSelectElement,
    UserMultiSelectElement,
)
from slack_sdk.models.views import View

from bot.models import Consultation, Decision, Reply
from bot.render import blocks
from bot.render.blocks import escape
from bot.render.explain import fw_name
from knowledge.models import FRAMEWORKS, KnowledgeBase

CALLBACK_ID = "fa_decide"
# The dialog's input blocks (block_id) and the core's field names they carry.
BLOCKS = {"framework": "fa_framework", "rationale": "fa_rationale", "decision_makers": "fa_makers",
          "consulted": "fa_consulted", "informed": "fa_informed", "review_on": "fa_review", "status": "fa_status",
          "announce": "fa_announce"}
ACTION = "value"  # every input's action_id: the block id says which field it is
MAX_RATIONALE = 2000
ROOT_RATIONALE = 300  # how much of the rationale the root message repeats


def _text(text: str, limit: int = blocks.SECTION_LIMIT) -> MarkdownTextObject:
    return MarkdownTextObject(text=blocks._cut(text, limit))


def _option(value: str, label: str) -> Option:
    return Option(value=value, text=PlainTextObject(text=label))


def dialog(*, consultation_id: int, team: str, framework: str, recommendation: str | None, user: str,
           participants: list[str], review_on: str, topic: str, number: int | None) -> dict:
    """The decide modal for one consultation, `framework` preselected, the clicker a decision-maker and
    the consultation's other participants consulted."""
    options = [_option(fw, fw_name(fw)) for fw in FRAMEWORKS]
    chosen = options[FRAMEWORKS.index(framework)] if framework in FRAMEWORKS else options[0]
    about = f"Consultation {number}" if number is not None else "This consultation"
    if topic:
        about += f": {escape(topic)}"
    rec = (f"The advisor recommends *{fw_name(recommendation)}*." if recommendation
           else "The advisor has no clear recommendation.")
    accepted = _option("accepted", "Accepted: the team's decision from now on")
    proposed = _option("proposed", "Proposed: another decision-maker accepts it in the thread")
    others = [u for u in participants if u != user][:100]
    view = View(
        type="modal", callback_id=CALLBACK_ID, title=PlainTextObject(text="Record the decision"),
        submit=PlainTextObject(text="Record"), close=PlainTextObject(text="Cancel"),
        # Where the decision goes; Slack hands it back unchanged with the submission.
        private_metadata=json.dumps({"c": consultation_id, "t": team}, separators=(",", ":")),
        blocks=[
            SectionBlock(text=_text(f"{about}\n{rec}")),
            InputBlock(block_id=BLOCKS["framework"], label="Framework", element=StaticSelectElement(
                action_id=ACTION, options=options, initial_option=chosen)),
            InputBlock(block_id=BLOCKS["rationale"], label="Why this framework",
                       hint="What the record is read for later: the reasons that mattered to the team.",
                       element=PlainTextInputElement(action_id=ACTION, multiline=True, max_length=MAX_RATIONALE,
                                                     placeholder="e.g. the team knows Django and we need the admin")),
            InputBlock(block_id=BLOCKS["decision_makers"], label="Decision-makers", optional=True,
                       element=UserMultiSelectElement(action_id=ACTION, initial_users=[user])),
            InputBlock(block_id=BLOCKS["consulted"], label="Consulted", optional=True,
                       element=UserMultiSelectElement(action_id=ACTION, initial_users=others or None)),
            InputBlock(block_id=BLOCKS["informed"], label="Informed", optional=True,
                       element=UserMultiSelectElement(action_id=ACTION)),
            InputBlock(block_id=BLOCKS["review_on"], label="Review on",
                       hint="The thread is asked then whether this is still the right choice.",
                       element=DatePickerElement(action_id=ACTION, initial_date=review_on)),
            InputBlock(block_id=BLOCKS["status"], label="Status", element=RadioButtonsElement(
                action_id=ACTION, options=[accepted, proposed], initial_option=accepted)),
            InputBlock(block_id=BLOCKS["announce"], label="Outcome", optional=True, element=CheckboxesElement(
                action_id=ACTION, options=[_option("yes", "Also post the outcome to the channel")])),
        ])
    return view.to_dict()


def metadata(view: dict) -> dict:
    """The dialog's private metadata: {"c": consultation id, "t": team} ({} when unreadable)."""
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def read(view: dict) -> dict:
    """A submitted dialog's fields: framework, rationale, decision_makers, consulted, informed, review_on,
    status, announce (missing inputs read as empty)."""
    values = (view.get("state") or {}).get("values") or {}

    def state(field: str) -> dict:
        return (values.get(BLOCKS[field]) or {}).get(ACTION) or {}

    def picked(field: str) -> str | None:
        return (state(field).get("selected_option") or {}).get("value")

    return {
        "framework": picked("framework"),
        "rationale": state("rationale").get("value") or "",
        "decision_makers": [str(u) for u in state("decision_makers").get("selected_users") or []],
        "consulted": [str(u) for u in state("consulted").get("selected_users") or []],
        "informed": [str(u) for u in state("informed").get("selected_users") or []],
        "review_on": state("review_on").get("selected_date"),
        "status": "proposed" if picked("status") == "proposed" else "accepted",
        "announce": any(o.get("value") == "yes" for o in state("announce").get("selected_options") or []),
    }


def errors(problems: dict[str, str]) -> dict[str, str]:
    """The core's problems by field as `response_action: errors` (block id -> message, at most 150 characters)."""
    return {BLOCKS.get(field, BLOCKS["rationale"]): text[:150] for field, text in problems.items()}


# -- messages -------------------------------------------------------------------------------------
def _mention(user: str | None) -> str:
    return f"<@{user}>" if user and re.match(r"^[UW][A-Z0-9]{2,}$", user) else escape(user or "someone")


def _date(iso_day: str) -> str:
    """A date each reader's client shows in their own format (the ISO date as the fallback)."""
    epoch = int(datetime.fromisoformat(iso_day).replace(hour=12, tzinfo=UTC).timestamp())
    return f"<!date^{epoch}^{{date_long}}|{iso_day}>"


def _people(ids: list[str]) -> str:
    return ", ".join(_mention(u) for u in ids)


def decision_context(d: Decision) -> str:
    """Who decided, who was consulted and informed, when it is reviewed."""
    parts = []
    if d.accepted_by:
        parts.append(f"proposed by {_mention(d.decided_by)}, accepted by {_mention(d.accepted_by)}")
    elif d.rejected_by:
        parts.append(f"proposed by {_mention(d.decided_by)}, rejected by {_mention(d.rejected_by)}")
    else:
        parts.append(f"{'proposed' if d.status == 'proposed' else 'recorded'} by {_mention(d.decided_by)}")
    if d.decision_makers and d.decision_makers != [d.decided_by]:
        parts.append(f"decision-makers {_people(d.decision_makers)}")
    if d.consulted:
        parts.append(f"consulted {_people(d.consulted)}")
    if d.informed:
        parts.append(f"informed {_people(d.informed)}")
    if d.review_on and d.status in ("accepted", "proposed"):
        parts.append(f"review on {_date(d.review_on)}")
    return " · ".join(parts)


def decision_message(reply: Reply) -> dict:
    """A decision in the thread: the core's line, who and when, and [Accept] [Reject] for a proposal."""
    d = reply.decision
    text = escape(reply.text)
    if d is None:
        return blocks.text_reply(reply)
    out: list = [SectionBlock(text=_text(text)), ContextBlock(elements=[_text(decision_context(d))])]
    if d.status == "proposed":
        value = {"c": d.consultation_id, "d": d.number}
        out.append(ActionsBlock(block_id="fa_proposal", elements=[
            blocks._button("Accept", "fa_accept", value, style="primary"),
            blocks._button("Reject", "fa_reject", value, style="danger")]))
    return blocks.message(text, out)


def proposal_settled(d: Decision) -> dict:
    """The proposal's own message once accepted or rejected: its buttons go, what happened stays."""
    word = "accepted" if d.status != "rejected" else "rejected"
    text = (f"Decision {d.number} ({word}): *{fw_name(d.framework)}*. Rationale: {escape(d.rationale)}")
    return blocks.message(text, [SectionBlock(text=_text(text)), ContextBlock(elements=[_text(decision_context(d))])])


def pending_message(reply: Reply) -> dict:
    """A decision said in plain words without a reason: a button that opens the decide dialog."""
    fw = reply.pending_decision or ""
    text = (f"Record *{fw_name(fw)}* as the team's decision? Give the reason in the dialog, or type "
            f"`decide {fw} because ...`.")
    button = blocks._button(f"Record {fw_name(fw)}…", f"fa_decide_{fw}", {"c": reply.consultation_id, "f": fw},
                            style="primary")
    return blocks.message(text, [SectionBlock(text=_text(text)), ActionsBlock(block_id="fa_pending",
                                                                              elements=[button])])


def render(kb: KnowledgeBase, reply: Reply) -> dict:
    """Any reply as a chat.postMessage payload (decisions and pending decisions here, the rest in blocks)."""
    if reply.kind == "decision" and reply.decision is not None:
        return decision_message(reply)
    if reply.kind == "clarify" and reply.pending_decision in FRAMEWORKS and reply.consultation_id is not None:
        return pending_message(reply)
    return blocks.render(kb, reply)


def started_line(c: Consultation) -> str:
    """The root message's first line, as `/framework start` posted it."""
    return f"Framework consultation started by <@{c.started_by}>" + (f": {escape(c.topic)}" if c.topic else "")


def root_message(c: Consultation, d: Decision, team_domain: str | None = None) -> dict:
    """The consultation's root post once a decision is recorded, proposed, accepted or rejected."""
    name = fw_name(d.framework)
    why = escape(blocks._cut(" ".join(d.rationale.split()), ROOT_RATIONALE))
    if d.status == "rejected":
        outcome = (f"*Proposal rejected:* {name} (decision {d.number}), by {_mention(d.rejected_by)}. "
                   "The consultation is open again.")
    elif d.status == "proposed":
        outcome = (f"*Proposed:* {name}, decision {d.number}, by {_mention(d.decided_by)}: {why} "
                   "_(waiting for another decision-maker to accept it)_")
    else:
        who = (f"proposed by {_mention(d.decided_by)}, accepted by {_mention(d.accepted_by)}" if d.accepted_by
               else f"by {_mention(d.decided_by)}")
        outcome = f"*Decided:* {name}, decision {d.number}, {who}: {why}"
    if team_domain and c.thread_ts:
        outcome += (f" · <https://{team_domain}.slack.com/archives/{c.channel}/p{c.thread_ts.replace('.', '')}"
                    "|thread>")
    first = started_line(c)
    text = f"{first}\n{outcome}"
    return blocks.message(text, [SectionBlock(text=_text(first)), SectionBlock(text=_text(outcome))])
