"""The answer contract: validate canonical answers before they reach the engine.

All answers are optional; `None` means unanswered. Only canonical values are accepted here
(free text is the parser's job): integers must be JSON integers in range, yes/no questions also
take JSON true/false, choice questions take one of their values.
"""

from __future__ import annotations

from collections.abc import Mapping

from knowledge.models import KnowledgeBase, Question

Answers = dict[str, str | int]


class AnswerError(ValueError):
    """An answer the contract refuses: names the question and what it allows."""

    def __init__(self, question: str, allowed: list, message: str):
        super().__init__(message)
        self.question = question
        self.allowed = allowed
        self.message = message

    def as_dict(self) -> dict:
        """The error as JSON-ready data."""
        return {"question": self.question, "allowed": self.allowed, "message": self.message}


def allowed_text(question: Question) -> str:
    """The allowed values of a question, as a person reads them."""
    if question.type == "integer":
        return f"an integer from {question.min} to {question.max}"
    return ", ".join(question.allowed)  # type: ignore[arg-type]


def validate_value(question: Question, value: object) -> str | int:
    """The canonical form of one answer, or AnswerError."""
    if question.type == "integer":
        if isinstance(value, bool) or not isinstance(value, int) or not (question.min <= value <= question.max):
            raise AnswerError(question.id, question.allowed,
                              f"{question.id}: expected {allowed_text(question)}, got {value!r}")
        return value
    if question.type == "yes_no" and isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and value in question.allowed:
        return value
    raise AnswerError(question.id, question.allowed,
                      f"{question.id}: expected one of {allowed_text(question)}, got {value!r}")


def validate_answers(kb: KnowledgeBase, raw: Mapping[str, object]) -> Answers:
    """Validate a mapping of question id -> value; drop unanswered (None) ones."""
    if not isinstance(raw, Mapping):
        raise AnswerError("", [q.id for q in kb.questions], "answers must be a JSON object")
    ids = {q.id: q for q in kb.questions}
    answers: Answers = {}
    for qid, value in raw.items():
        if qid not in ids:
            raise AnswerError(str(qid), sorted(ids), f"unknown question {qid!r}; known: {', '.join(sorted(ids))}")
        if value is None:
            continue
        answers[qid] = validate_value(ids[qid], value)
    return answers
