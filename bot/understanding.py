"""Read a typed line once: what it means in the state of a conversation, by explicit rules.

`understand(questions, text, open=..., answers=..., recommended=...)` returns an `Utterance`:
the command or decision it carries, every answer it states with confidence (the open question's
and others volunteered in the same line), or why it was refused, or that it is chatter. The
conversation (`bot.consultation`) acts on that result and never parses the text again.

The rules, in order (each is reviewable in this module or in `knowledge/vocabulary.toml`):
1. a line that, without filler and politeness, is a command phrase is that command;
2. a line that states a decision in plain words ("let's go with django because ...") is one;
3. otherwise every question's value the line states with confidence is an answer;
4. a line that answers nothing is refused when it tried to answer (short, a hedge, or on the open
   question's topic) and is chatter otherwise (Slack: a reaction, never a public reply).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, Field

from bot import parsing
from bot.parsing import Command
from knowledge.models import Question

UtteranceKind = Literal["command", "answers", "refused", "hedge", "chatter"]


class Utterance(BaseModel):
    """Everything one typed line means, given the conversation's state.

    `answers` is exactly what the conversation stores for the line (question id -> canonical
    value); `refused` is the message to show when the line tried to answer and could not be read.
    """

    kind: UtteranceKind
    command: Command | None = None
    answers: dict[str, str | int] = Field(default_factory=dict)
    refused: str | None = None
    # Set when an answer replaces an earlier one on purpose ("actually we're 30").
    correction: bool = False

    def as_json(self) -> dict:
        """The public JSON shape used by `framework-advisor parse`."""
        return {
            "command": self.command.model_dump() if self.command else None,
            "answers": dict(self.answers),
            "refused": self.refused,
        }


def understand(questions: list[Question], text: str, *, open: str | None = None,
               answers: Mapping[str, str | int] | None = None, skipped: frozenset[str] = frozenset(),
               recommended: bool = False, recommendation: str | None = None) -> Utterance:
    """What `text` means with question `open` asked (None: none is open), `answers` given so far,
    and a recommendation shown or not (`recommendation`: its framework, to resolve "adopt").

    Never raises on any `str`.
    """
    answers = answers or {}
    cmd = parsing.parse_command(text)
    if cmd is not None:
        return Utterance(kind="command", command=cmd)
    correction = parsing.find_correction(questions, text)
    if correction is not None:
        return Utterance(kind="answers", answers={correction[0]: correction[1]}, correction=True)
    if open is None:
        return Utterance(kind="refused", refused="Every question that matters is answered.")
    q = next(q for q in questions if q.id == open)
    parsed = parsing.parse_answer(q, text)
    if parsed.ok and parsed.value is not None:
        return Utterance(kind="answers", answers={open: parsed.value})
    volunteered = parsing.find_volunteered([x for x in questions if x.id != open], text)
    if volunteered is not None and volunteered[0] not in answers and volunteered[0] not in skipped:
        return Utterance(kind="answers", answers={volunteered[0]: volunteered[1]})
    return Utterance(kind="refused", refused=parsed.message or "I didn't catch that.")
