"""Types at the boundaries: stored records and what a consultation says back (channel-agnostic)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

# MADR's statuses: a proposal is accepted or rejected; an accepted decision is later superseded
# (by a newer accepted one on the same channel and topic) or deprecated.
DecisionStatus = Literal["proposed", "accepted", "rejected", "deprecated", "superseded"]
DECISION_STATUSES: tuple[str, ...] = ("proposed", "accepted", "rejected", "deprecated", "superseded")
ConsultationStatus = Literal["open", "decided", "cancelled", "closed"]
# "withdraw": the message that gave an answer was deleted; that answer no longer holds.
# "answers": one line that answered several questions (value: question -> value); one undo.
LogKind = Literal["answer", "answers", "skip", "undo", "restart", "withdraw"]


class Consultation(BaseModel):
    """One consultation: a thread in Slack, or a terminal session (team `local`)."""

    id: int
    team_id: str
    channel: str
    thread_ts: str
    started_by: str
    topic: str
    status: ConsultationStatus
    knowledge_version: str
    created_at: str
    updated_at: str


class LogEntry(BaseModel):
    """One entry of the append-only answer log of a consultation."""

    seq: int
    kind: LogKind
    question: str | None = None
    value: str | int | dict[str, str | int] | None = None
    raw_text: str | None = None
    user_id: str
    event_id: str | None = None
    created_at: str


class Decision(BaseModel):
    """A recorded decision, numbered per team."""

    id: int
    team_id: str
    number: int
    consultation_id: int | None
    channel: str
    thread_ts: str | None = None
    topic: str
    framework: str
    status: DecisionStatus
    decided_by: str
    rationale: str
    recommendation: str | None
    # Numbers of the decisions linked by a supersede, both ways.
    supersedes: int | None = None
    superseded_by: int | None = None
    knowledge_version: str
    answers: dict[str, Any] = Field(default_factory=dict)
    result: dict[str, Any] = Field(default_factory=dict)
    created_at: str
    # MADR 4 front matter: who decided, who was consulted, who is kept informed (user ids).
    decision_makers: list[str] = Field(default_factory=list)
    consulted: list[str] = Field(default_factory=list)
    informed: list[str] = Field(default_factory=list)
    # When the team means to look at it again (ISO date), and whether the outcome goes to the channel.
    review_on: str | None = None
    announce: bool = False
    # A proposal accepted (or rejected) later: by whom and when.
    accepted_by: str | None = None
    accepted_at: str | None = None
    rejected_by: str | None = None
    rejected_at: str | None = None


ReviewStatus = Literal["pending", "scheduled", "sent", "confirmed", "revisited", "cancelled"]


class Review(BaseModel):
    """A decision's review reminder: due at `due_at` (epoch seconds), in the decision's thread.

    pending -> scheduled (chat.scheduleMessage took it) -> sent (it is in the thread) -> confirmed
    ("Still right") or revisited; "Remind me later" makes it pending again with a later due time;
    a decision that is no longer in force cancels its reminder.
    """

    id: int
    team_id: str
    decision_number: int
    channel: str
    thread_ts: str | None = None
    due_at: float
    status: ReviewStatus
    scheduled_id: str | None = None
    message_ts: str | None = None
    settled_by: str | None = None
    settled_at: str | None = None
    created_at: str


# "chatter": a line that was neither an answer nor a command; Slack reacts to it, never replies.
ReplyKind = Literal["question", "recommendation", "text", "clarify", "decision", "closed", "error", "chatter"]


class Option(BaseModel):
    """A canonical value with its button label."""

    value: str
    label: str


class Reply(BaseModel):
    """Something the consultation says back; renderers turn it into Slack blocks or terminal text."""

    kind: ReplyKind
    text: str = ""
    question: str | None = None
    prompt: str | None = None
    options: list[Option] = Field(default_factory=list)
    input_hint: str | None = None
    result: dict[str, Any] | None = None
    decision: Decision | None = None
    consultation_id: int | None = None
    answered: int = 0
    # Set when this reply follows a stored answer: which question, what value, by whom.
    recorded_question: str | None = None
    recorded_value: str | int | None = None
    recorded_by: str | None = None
    # With recorded_question: the answer in force for it at `seq` and who gave it (None when it is
    # unanswered there, e.g. undone meanwhile), so a channel can show it without reading the log.
    recorded_in_force: tuple[str | int, str] | None = None
    # True when the triggering event had been handled before (a re-delivery): the reply is
    # regenerated so a reply lost to a crash can still be sent, but it must be de-duplicated.
    duplicate: bool = False
    # The answer-log position a question or recommendation describes (to drop overtaken replies).
    seq: int | None = None
    # A decision stated in plain words without a reason: the framework, waiting for its rationale.
    pending_decision: str | None = None
