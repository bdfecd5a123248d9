"""The consultation: start, answer, undo, skip, why, how, status, decide, cancel. Channel-agnostic.

Slack threads, the terminal and the tests all drive this class. SQLite holds the truth (an
append-only answer log); the current state is always rebuilt by replaying that log, and the
engine is asked afresh, so nothing lives only in memory and two processes agree.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from bot import parsing
from bot.models import Consultation, Decision, LogEntry, Option, Reply
from bot.render import explain
from bot.store import Store, StoreError
from bot.understanding import understand
from knowledge.models import FRAMEWORKS, Question
from rules.advisor import Advisor
from rules.advisor import default as default_advisor
from rules.answers import AnswerError, validate_value

MAX_TEXT = parsing.MAX_ANSWER_CHARS  # one limit for every typed line
# How much of a topic is kept (the root message says the same).
TOPIC_LIMIT = 200
IDLE_DAYS = 7
MAX_RATIONALE = 2000
# A decision's review date, in months, when knowledge/settings.toml does not say (`review_months`).
REVIEW_MONTHS = 6
NOT_A_PARTICIPANT = ("Only the person who started this consultation or someone who answered in it can record the "
                     "decision.")


@dataclass
class State:
    """A consultation rebuilt from its log."""

    consultation: Consultation
    answers: dict[str, str | int] = field(default_factory=dict)
    answered_by: dict[str, str] = field(default_factory=dict)
    skipped: set[str] = field(default_factory=set)
    last_seq: int = 0
    # When the open question last changed (ISO time); the log, to find the question open before.
    current_since: str = ""
    log: list[LogEntry] = field(default_factory=list)
    next_question: str | None = None
    done: bool = False
    # Open questions that can still change the result (the engine's own bound on what is left).
    useful: int = 0
    # The explained result is built only when asked for (`how`, `status`): most states only need
    # the next question.
    make_result: Callable[[], dict] | None = field(default=None, repr=False)
    _result: dict | None = field(default=None, repr=False)

    @property
    def result(self) -> dict | None:
        """The ranking, reasons and caveats now (without what_would_change)."""
        if self._result is None and self.make_result is not None:
            self._result = self.make_result()
        return self._result


def _in_force(st: State, question: str) -> tuple[str | int, str] | None:
    """The answer in force for a question in a state, and who gave it (None when unanswered)."""
    if question not in st.answers:
        return None
    return st.answers[question], st.answered_by.get(question, "")


def replay(log: list[LogEntry]) -> tuple[dict, dict, set, list]:
    """Answers, who gave them, user-skipped questions and the undo stack after a log."""
    answers: dict[str, str | int] = {}
    by: dict[str, str] = {}
    skipped: set[str] = set()
    stack: list[tuple] = []  # (kind, question, previous value, previous user, was skipped)
    for e in log:
        if e.kind == "answer" and e.question:
            stack.append(("answer", e.question, answers.get(e.question), by.get(e.question), e.question in skipped))
            answers[e.question] = e.value  # type: ignore[assignment]
            by[e.question] = e.user_id
            skipped.discard(e.question)
        elif e.kind == "answers" and isinstance(e.value, dict):
            # Several answers from one line: one undo restores all of them.
            stack.append(("answers", [(q, answers.get(q), by.get(q), q in skipped) for q in e.value], None, None,
                          False))
            for q, v in e.value.items():
                answers[q], by[q] = v, e.user_id
                skipped.discard(q)
        elif e.kind == "skip" and e.question:
            stack.append(("skip", e.question, None, None, e.question in skipped))
            skipped.add(e.question)
        elif e.kind == "undo" and stack:
            kind, q, prev, prev_by, was_skipped = stack.pop()
            if kind == "answers":
                for q1, prev1, prev_by1, was_skipped1 in q:
                    _restore(answers, by, skipped, q1, prev1, prev_by1, was_skipped1)
                continue
            if kind == "answer":
                if prev is None:
                    answers.pop(q, None)
                    by.pop(q, None)
                else:
                    answers[q], by[q] = prev, prev_by  # type: ignore[assignment]
            if was_skipped:
                skipped.add(q)
            else:
                skipped.discard(q)
        elif e.kind == "withdraw" and e.question:
            stack.append(("answer", e.question, answers.get(e.question), by.get(e.question), e.question in skipped))
            answers.pop(e.question, None)
            by.pop(e.question, None)
        elif e.kind == "restart":
            answers, by, skipped, stack = {}, {}, set(), []
    return answers, by, skipped, stack


def _restore(answers: dict, by: dict, skipped: set, q: str, prev: object, prev_by: object, was_skipped: bool) -> None:
    """Put one question back as it was before an undone entry."""
    if prev is None:
        answers.pop(q, None)
        by.pop(q, None)
    else:
        answers[q], by[q] = prev, prev_by
    if was_skipped:
        skipped.add(q)
    else:
        skipped.discard(q)


class Consultations:
    """The conversation engine over a store and an advisor."""

    def __init__(self, store: Store, advisor: Advisor | None = None):
        self.store = store
        self.advisor = advisor or default_advisor()
        self.kb = self.advisor.kb

    # -- state ---------------------------------------------------------------------------------
    def state(self, team_id: str, consultation_id: int, upto: int | None = None, *,
              since: State | None = None) -> State:
        """Rebuild a consultation's state from the store and evaluate it (`upto`: as of that log seq).

        `since`: a state of the same consultation read earlier in this call; only the log entries
        after it are read (the log is append-only).
        """
        c = self.store.get_consultation(team_id, consultation_id)
        if c is None:
            raise StoreError("no such consultation")
        if since is not None and since.log:
            log = since.log + self.store.log(team_id, consultation_id, after_seq=since.log[-1].seq)
        else:
            log = self.store.log(team_id, consultation_id)
        if upto is not None:
            log = [e for e in log if e.seq <= upto]
        answers, by, skipped, _ = replay(log)
        st = State(c, dict(sorted(answers.items())), by, skipped, log[-1].seq if log else 0)
        excluded = frozenset(skipped)
        selection = self.advisor.next_step(st.answers, excluded)
        st.next_question, st.done = selection.next_question, selection.done
        st.useful = sum(1 for u in selection.usefulness.values() if u > 0)
        st.make_result = lambda: self.advisor.recommend(st.answers, excluded=excluded, with_changes=False)
        st.log = log
        st.current_since = log[-1].created_at if log else ""
        return st

    def previous_question(self, st: State) -> str | None:
        """The question that was open before the latest log entry (computed only when needed)."""
        if not st.log:
            return None
        answers, _, skipped, _ = replay(st.log[:-1])
        ev = self.advisor.evaluate(dict(sorted(answers.items())))
        return self.advisor.select(ev, frozenset(skipped)).next_question

    def full_result(self, st: State) -> dict:
        """The complete recommendation (with what would change it) for a state."""
        return self.advisor.recommend(st.answers, excluded=frozenset(st.skipped))

    def question_reply(self, st: State, note: str = "") -> Reply:
        """The reply asking the open question."""
        q = self.kb.question(st.next_question)  # type: ignore[arg-type]
        options = [Option(value=v.value, label=v.label) for v in q.values]
        hint = explain.options_text(q) if q.type == "integer" else None
        asked = len(st.answers) + len(st.skipped) + 1
        more = max(0, st.useful - 1)
        progress = f"_Question {asked} · " + (f"at most {more} more_" if more else "the last one that can matter_")
        text = (note + "\n" if note else "") + progress + "\n" + q.prompt
        return Reply(kind="question", text=text, question=q.id, prompt=q.prompt, options=options, input_hint=hint,
                     consultation_id=st.consultation.id, answered=len(st.answers))

    def next_reply(self, st: State, note: str = "", *, save: bool = True) -> Reply:
        """After a change: the next question, or the recommendation when the engine stops.

        Both carry `seq`, the log position they describe, so a channel can drop a reply that a
        later answer has already overtaken. `save` keeps the recommendation in the store.
        """
        if not st.done and st.next_question:
            return self.question_reply(st, note).model_copy(update={"seq": st.last_seq})
        result = self.full_result(st)
        if save:
            self.store.save_recommendation(st.consultation.team_id, st.consultation.id, st.last_seq, result)
        text = (note + "\n" if note else "") + explain.recommendation(self.kb, result)
        return Reply(kind="recommendation", text=text, result=result, consultation_id=st.consultation.id,
                     answered=len(st.answers), seq=st.last_seq)

    # -- starting --------------------------------------------------------------------------------
    def start(self, team_id: str, channel: str, thread_ts: str, user: str, topic: str = "") -> tuple[Consultation,
                                                                                                       Reply]:
        """Open a consultation and return it with its first question.

        A thread holds one consultation: starting again on a thread that has one (a start retried
        after a crash) returns that one, with the question it is at.
        """
        c = self.store.consultation_by_thread(team_id, channel, thread_ts)
        if c is None:
            c = self.store.create_consultation(team_id, channel, thread_ts, user, topic.strip()[:TOPIC_LIMIT],
                                               self.advisor.version)
        return c, self.next_reply(self.state(team_id, c.id))

    def prefill(self, team_id: str, consultation_id: int, user: str, answers: dict, note: str) -> Reply:
        """Store earlier answers in a new consultation as one log entry (one `back` undoes them all) and
        ask what is left. Answers today's questions no longer take are dropped; run again, it adds nothing."""
        st = self.state(team_id, consultation_id)
        valid = {}
        for qid, value in answers.items():
            try:
                valid[qid] = validate_value(self.kb.question(qid), value)
            except (AnswerError, KeyError):
                continue
        if valid and not st.log:
            self.store.append(team_id, consultation_id, "answers", user, question=next(iter(valid)), value=valid,
                              raw_text=note, event_id=f"prefill:{consultation_id}")
            st = self.state(team_id, consultation_id)
        filled = explain.because_text(self.kb, valid) if valid else "nothing"
        return self.next_reply(st, f"{note}: {filled}. Change any of them with `actually ...`.")

    # -- re-deliveries ------------------------------------------------------------------------
    def redelivered(self, team_id: str, consultation_id: int, event_id: str | None) -> list[Reply] | None:
        """The reply owed to a delivery that was already stored, rebuilt; None when it is new.

        A decision is said again; an answer, skip, undo or restart gets the state as of its own
        log entry. Marked `duplicate`, never saved again: a channel queues it only if the first
        delivery's reply was lost (a crash between storing and queueing).
        """
        if event_id is None:
            return None
        d = self.store.decision_by_event(team_id, event_id)
        if d is not None:
            return [Reply(kind="decision", text=decision_text(d), decision=d, consultation_id=d.consultation_id,
                          duplicate=True)]
        entry = self.store.entry_by_event(team_id, consultation_id, event_id)
        if entry is None:
            return None
        # Saved only if the first delivery died before saving it.
        saved = self.store.has_recommendation(team_id, consultation_id, entry.seq)
        then = self.state(team_id, consultation_id, upto=entry.seq)
        reply = self.next_reply(then, save=not saved)
        update: dict = {"duplicate": True}
        if entry.kind == "answer":
            update.update(recorded_question=entry.question, recorded_value=entry.value, recorded_by=entry.user_id,
                          recorded_in_force=_in_force(then, entry.question))  # type: ignore[arg-type]
        return [reply.model_copy(update=update)]

    # -- answers and commands ------------------------------------------------------------------
    def handle_text(self, team_id: str, consultation_id: int, user: str, text: str, *,
                    event_id: str | None = None, message_time: str | None = None) -> list[Reply]:
        """Handle a typed line: a command, a correction, or an answer to the open question.

        `message_time` (ISO) is when the message was written; an answer written while the
        previous question was still open answers that question (two people answering at once).
        For a re-delivered event nothing is stored twice; the replies are regenerated with
        `duplicate=True` so the caller can de-duplicate them against what it already queued.
        """
        if len(text) > MAX_TEXT:
            return [Reply(kind="clarify", text=f"That answer is too long (over {MAX_TEXT} characters), so I "
                                                "did not store it. Please answer in a sentence or two.")]
        again = self.redelivered(team_id, consultation_id, event_id)
        if again is not None:
            return again
        st = self.state(team_id, consultation_id)
        target = None if st.done else st.next_question
        if target and message_time and st.current_since and message_time < st.current_since:
            target = self.previous_question(st) or target  # written before the question moved on
        recommendation = st.result["recommendation"] if st.done and st.result else None  # type: ignore[index]
        u = understand(self.kb.questions, text, open=target, answers=st.answers, skipped=st.skipped,
                       recommended=st.done, recommendation=recommendation)
        if u.command is not None:
            cmd = u.command
            if cmd.name == "decide" and cmd.framework and not cmd.rationale and not _typed_decide(text):
                name = explain.fw_name(cmd.framework)
                return [Reply(kind="clarify", pending_decision=cmd.framework, consultation_id=st.consultation.id,
                              text=f"To record *{name}* as the team's decision, say why in one line: "
                                   f"`decide {cmd.framework} because ...`")]
            return self.command(st, user, cmd, event_id=event_id)
        if st.consultation.status != "open":
            return [self.closed_reply(st.consultation)]
        if u.kind == "chatter":
            return [Reply(kind="chatter", question=target, text="(Not taken as an answer or a command.)")]
        if not u.answers:
            return [Reply(kind="clarify", text=u.refused or "I didn't catch that.", question=target)]
        return self.answer_many(st, user, u.answers, raw_text=text, event_id=event_id, open_question=target,
                                note=u.open_note)

    def answer_many(self, st: State, user: str, answers: dict[str, str | int], *, raw_text: str | None,
                    event_id: str | None, open_question: str | None, note: str | None = None) -> list[Reply]:
        """Store what one line said (one log entry, one undo) and say back what was understood."""
        team_id, consultation_id = st.consultation.team_id, st.consultation.id
        try:
            answers = {qid: validate_value(self.kb.question(qid), v) for qid, v in answers.items()}
        except (AnswerError, KeyError):
            return [Reply(kind="clarify", text="I could not store that answer. " + parsing.SKIP_HINT)]
        got = "Got it: " + " · ".join(self.echo(qid, v) for qid, v in answers.items()) + "."
        if note:
            got += " " + note
        if len(answers) == 1:
            (qid, value), = answers.items()
            replies = self.answer(team_id, consultation_id, user, qid, value, raw_text=raw_text, event_id=event_id,
                                  before=st, echo=got)
        else:
            if self.store.append(team_id, consultation_id, "answers", user, question=open_question or
                                 next(iter(answers)), value=answers, raw_text=raw_text, event_id=event_id) is None:
                return self.redelivered(team_id, consultation_id, event_id) or []
            after = self.state(team_id, consultation_id, since=st)
            replies = [self.next_reply(after, got + self._outcome_note(st, after))]
        return replies

    def echo(self, qid: str, value: object) -> str:
        """How an answer reads back in a "Got it" line ("6 developers", "Forms: Yes")."""
        label = explain.value_label(self.kb, qid, value)
        q = self.kb.question(qid)
        if q.type == "integer":
            return f"{value} developer{'s' if value != 1 else ''}" if qid == "team_size" else f"{qid}: {label}"
        if q.type == "yes_no":
            return f"{explain.TOPICS.get(qid, qid.replace('_', ' ').capitalize())}: {label}"
        return label

    def _outcome_note(self, before: State, after: State) -> str:
        """After a recommendation was shown, what a new answer did to it."""
        if not before.done or not after.done or before.result is None:
            return ""
        old, new = before.result, self.full_result(after)
        if old["recommendation"] != new["recommendation"]:
            return (f" The recommendation changes from {explain.fw_name(old['recommendation'])} to "
                    f"{explain.fw_name(new['recommendation'])}.")
        margin_old, margin_new = _margin(old), _margin(new)
        how = ("by a wider margin" if margin_new > margin_old + 1e-9 else
               "by a narrower margin" if margin_new < margin_old - 1e-9 else "by the same margin")
        return f" The recommendation is still {explain.fw_name(new['recommendation'])}, {how}."

    def _answer_given_by(self, st: State, user: str, text: str) -> LogEntry | None:
        """The answer entry a message gave (its user and text), when that answer is still in force."""
        for e in reversed(st.log):
            if e.kind == "answers" and e.user_id == user and e.raw_text == text and isinstance(e.value, dict):
                return e if any(st.answers.get(q) == v for q, v in e.value.items()) else None
            if e.kind == "answer" and e.user_id == user and e.raw_text == text and e.question:
                if st.answers.get(e.question) == e.value and st.answered_by.get(e.question) == user:
                    return e
                return None
        return None

    def edited(self, team_id: str, consultation_id: int, user: str, old_text: str, new_text: str, *,
               event_id: str | None = None) -> list[Reply]:
        """A message that gave an answer was edited: the edited text answers the same question again.

        Like "actually ...": the new value replaces the old one and the reply says so. An edit of a
        message that was no answer (chatter, a command) or whose answer was since replaced does nothing.
        """
        st = self.state(team_id, consultation_id)
        if st.consultation.status != "open":
            return []
        entry = self._answer_given_by(st, user, old_text)
        if entry is None or old_text == new_text:
            return []
        if entry.kind == "answers":
            # A line that answered several questions: read the edit as that line again.
            u = understand(self.kb.questions, new_text, open=entry.question)
            if not u.answers:
                return [Reply(kind="clarify", text="I could not read your edited message, so the earlier answers "
                                                   "stand. " + (u.refused or ""))]
            return self.answer_many(st, user, u.answers, raw_text=new_text, event_id=event_id,
                                    open_question=entry.question)
        q = self.kb.question(entry.question)  # type: ignore[arg-type]
        parsed = parsing.parse_answer(q, new_text)
        if not parsed.ok:
            return [Reply(kind="clarify", question=q.id,
                          text=f"I could not read your edited answer to “{q.prompt}”, so the earlier one stands. "
                               + (parsed.message or ""))]
        return self.answer(team_id, consultation_id, user, q.id, parsed.value, raw_text=new_text,
                           event_id=event_id, before=st)

    def deleted(self, team_id: str, consultation_id: int, user: str, old_text: str, *,
                event_id: str | None = None) -> list[Reply]:
        """A message that gave an answer was deleted: withdraw that answer and erase its text."""
        st = self.state(team_id, consultation_id)
        if st.consultation.status != "open":
            return []
        entry = self._answer_given_by(st, user, old_text)
        if entry is None:
            return []
        questions = list(entry.value) if isinstance(entry.value, dict) else [entry.question]
        for i, qid in enumerate(questions):
            # Only the first withdrawal carries the event id: a re-delivery stops there.
            if self.store.append(team_id, consultation_id, "withdraw", user, question=qid,
                                 event_id=event_id if i == 0 else None) is None:
                return self.redelivered(team_id, consultation_id, event_id) or []
        self.store.erase_raw_text(team_id, consultation_id, entry.seq)
        label = ", ".join(q.replace("_", " ") for q in questions)  # type: ignore[union-attr]
        return [self.next_reply(self.state(team_id, consultation_id),
                                f"Withdrawn: the answer to {label} (its message was deleted).")]

    def answer(self, team_id: str, consultation_id: int, user: str, question: str, value: object, *,
               raw_text: str | None = None, event_id: str | None = None, before: State | None = None,
               echo: str = "") -> list[Reply]:
        """Record a canonical answer (from a button, a parsed text or `set`) and move on.

        `before` is the state the caller already rebuilt (it only shapes the note and the status check).
        """
        try:
            q = self.kb.question(question)
        except KeyError:
            return [Reply(kind="clarify", text=f"There is no question called {question!r}. Questions: "
                                               + ", ".join(q.id for q in self.kb.questions))]
        try:
            value = validate_value(q, value)
        except AnswerError:
            return [Reply(kind="clarify", text=f"{q.prompt} accepts {explain.options_text(q)}.", question=q.id)]
        before = before or self.state(team_id, consultation_id)
        if before.consultation.status != "open":
            return [self.closed_reply(before.consultation)]
        entry = self.store.append(team_id, consultation_id, "answer", user, question=q.id, value=value,
                                  raw_text=raw_text, event_id=event_id)
        if entry is None:
            # A re-delivery of an answer already stored (possibly at this very moment, by another thread).
            return self.redelivered(team_id, consultation_id, event_id) or []
        after = self.state(team_id, consultation_id, since=before)
        note = self._change_note(q, [e for e in after.log if e.seq < entry.seq], before, user, value)
        if echo and not note:
            note = echo  # "Got it: Web app." says what was understood; a change note says more
        note += self._outcome_note(before, after)
        reply = self.next_reply(after, note.strip())
        return [reply.model_copy(update={"recorded_question": q.id, "recorded_value": value, "recorded_by": user,
                                         "recorded_in_force": _in_force(after, q.id)})]

    def _change_note(self, q: Question, earlier: list[LogEntry], before: State, user: str, value: object) -> str:
        # The previous value comes from the log just before this answer's own entry, so an answer
        # stored by someone else in between is still named ("the later answer wins").
        answers, by, _, _ = replay(earlier)
        old = answers.get(q.id)
        label = explain.value_label(self.kb, q.id, value)
        if old is None:
            # An answer to a question other than the open one (set, a correction): confirm it.
            return "" if q.id == before.next_question else f"Noted: {explain.topic(q.id)} = {label}."
        if old == value:
            return ""
        old_label = explain.value_label(self.kb, q.id, old)
        if by.get(q.id) not in (None, user):
            return f"The later answer wins: {explain.topic(q.id)} is now {label} (it was {old_label})."
        return f"Changed {explain.topic(q.id)} from {old_label} to {label}."

    def command(self, st: State, user: str, cmd: parsing.Command, *, event_id: str | None = None) -> list[Reply]:
        """Carry out a typed command in a consultation (see `THREAD_COMMANDS`)."""
        entry = THREAD_COMMANDS.get(cmd.name)
        if entry is None:
            return [Reply(kind="clarify", text=HELP_THREAD)]
        method, open_only = entry
        if open_only and st.consultation.status != "open":
            return [self.closed_reply(st.consultation)]
        return getattr(self, method)(st, user, cmd, event_id)

    def _current(self, st: State) -> Question | None:
        return self.kb.question(st.next_question) if st.next_question else None

    def _cmd_why(self, st: State, user: str, cmd: parsing.Command, event_id: str | None) -> list[Reply]:
        current = self._current(st)
        if current is None and st.done:  # after the recommendation, "why" is about the winner
            return [Reply(kind="text", text=explain.why_winner(self.kb, self.full_result(st)))]
        return [Reply(kind="text", text=explain.why(self.kb, current))]

    def _cmd_how(self, st: State, user: str, cmd: parsing.Command, event_id: str | None) -> list[Reply]:
        return [Reply(kind="text", text=explain.how(self.kb, st.result))]  # type: ignore[arg-type]

    def _cmd_status(self, st: State, user: str, cmd: parsing.Command, event_id: str | None) -> list[Reply]:
        return [Reply(kind="text", text=explain.status(self.kb, st.answers, self._current(st), st.result))]  # type: ignore

    def _cmd_help(self, st: State, user: str, cmd: parsing.Command, event_id: str | None) -> list[Reply]:
        return [Reply(kind="text", text=HELP_THREAD)]

    def _cmd_decide(self, st: State, user: str, cmd: parsing.Command, event_id: str | None) -> list[Reply]:
        return [self.decide(st.consultation.team_id, st.consultation.id, user, cmd.framework, cmd.rationale or "",
                            typed=cmd.value, event_id=event_id)]

    def _cmd_cancel(self, st: State, user: str, cmd: parsing.Command, event_id: str | None) -> list[Reply]:
        return [self.cancel(st.consultation.team_id, st.consultation.id, user)]

    def _cmd_quit(self, st: State, user: str, cmd: parsing.Command, event_id: str | None) -> list[Reply]:
        return [Reply(kind="text", text="Bye. The consultation stays open; come back any time.")]

    def _cmd_back(self, st: State, user: str, cmd: parsing.Command, event_id: str | None) -> list[Reply]:
        team, cid = st.consultation.team_id, st.consultation.id
        if not replay(self.store.log(team, cid))[3]:
            return [Reply(kind="clarify", text="There is nothing to undo yet.")]
        if self.store.append(team, cid, "undo", user, event_id=event_id) is None:
            return self.redelivered(team, cid, event_id) or []
        return [self.next_reply(self.state(team, cid), "Undone.")]

    def _cmd_skip(self, st: State, user: str, cmd: parsing.Command, event_id: str | None) -> list[Reply]:
        team, cid, current = st.consultation.team_id, st.consultation.id, self._current(st)
        if current is None:
            return [Reply(kind="clarify", text="There is no open question to skip.")]
        if self.store.append(team, cid, "skip", user, question=current.id, event_id=event_id) is None:
            return self.redelivered(team, cid, event_id) or []
        return [self.next_reply(self.state(team, cid), f"Skipped: {current.prompt}")]

    def _cmd_restart(self, st: State, user: str, cmd: parsing.Command, event_id: str | None) -> list[Reply]:
        team, cid = st.consultation.team_id, st.consultation.id
        if self.store.append(team, cid, "restart", user, event_id=event_id) is None:
            return self.redelivered(team, cid, event_id) or []
        return [self.next_reply(self.state(team, cid), "Starting over: all answers cleared.")]

    def _set(self, st: State, user: str, cmd: parsing.Command, event_id: str | None) -> list[Reply]:
        ids = {q.id for q in self.kb.questions}
        if not cmd.question or cmd.question not in ids or not cmd.value:
            return [Reply(kind="clarify", text="Usage: `set question=value`, e.g. `set team_size=30`. Questions: "
                                               + ", ".join(sorted(ids)))]
        q = self.kb.question(cmd.question)
        if cmd.value in q.allowed:  # a canonical value as it stands: nothing to parse
            value: object = cmd.value
        else:
            parsed = parsing.parse_answer(q, cmd.value)
            value = parsed.value
            if value is None:
                return [Reply(kind="clarify", text=parsed.message or f"{q.id} accepts {explain.options_text(q)}.",
                              question=q.id)]
        return self.answer(st.consultation.team_id, st.consultation.id, user, q.id, value,
                           raw_text=f"set {cmd.question}={cmd.value}", event_id=event_id, before=st)

    # -- deciding, cancelling -------------------------------------------------------------------
    def may_decide(self, team_id: str, consultation_id: int, user: str) -> bool:
        """Only the person who started a consultation or someone who answered in it may decide or cancel."""
        return user in self.store.participants(team_id, consultation_id)

    def decide(self, team_id: str, consultation_id: int, user: str, framework: str | None, rationale: str = "", *,
               typed: str | None = None, event_id: str | None = None, status: str = "accepted",
               decision_makers: list[str] | None = None, consulted: list[str] | None = None,
               informed: list[str] | None = None, review_on: str | None = None, announce: bool = False) -> Reply:
        """Record the team's decision for a consultation (adopt the recommendation or choose another).

        `status` "proposed" records a proposal that another decision-maker accepts later (`accept`);
        only an accepted decision supersedes the one in force. `review_on` (ISO date) defaults to
        `review_months` from today. `event_id` makes it idempotent: a re-delivered request returns
        the decision already recorded.
        """
        if framework not in FRAMEWORKS:
            what = f" ({typed!r} is not one of them)" if typed else ""
            return Reply(kind="clarify", text=f"Decide for django, flask or node{what}: e.g. `decide flask because "
                                              "we already run it`.")
        st = self.state(team_id, consultation_id)
        if st.consultation.status == "cancelled":
            return self.closed_reply(st.consultation)
        if not self.may_decide(team_id, consultation_id, user):
            return Reply(kind="clarify", text=NOT_A_PARTICIPANT)
        existed = event_id is not None and self.store.has_event(event_id)
        result = self.full_result(st)
        rec = result["recommendation"]
        if not rationale:
            rationale = "Adopted the recommendation." if framework == rec else "Chosen by the team."
        d = self.store.record_decision(
            team_id, channel=st.consultation.channel, topic=st.consultation.topic, framework=framework,
            decided_by=user, rationale=rationale[:MAX_RATIONALE], recommendation=rec,
            knowledge_version=self.advisor.version, answers=st.answers, result=result,
            consultation_id=consultation_id, thread_ts=st.consultation.thread_ts, event_id=event_id,
            status="proposed" if status == "proposed" else "accepted", decision_makers=decision_makers or [user],
            consulted=consulted, informed=informed, review_on=review_on or self.default_review_date(),
            announce=announce)
        return Reply(kind="decision", text=decision_text(d), decision=d, consultation_id=consultation_id,
                     duplicate=existed)

    def default_review_date(self, today: date | None = None) -> str:
        """The review date a decision gets unless the team picks one: `review_months` from today (ISO)."""
        months = getattr(self.kb.settings, "review_months", REVIEW_MONTHS)
        return add_months(today or datetime.now(UTC).date(), months).isoformat()

    def decision_problems(self, framework: str | None, rationale: str, review_on: str | None,
                          today: date | None = None) -> dict[str, str]:
        """What is wrong with a decision entered in a form, by field (framework, rationale, review_on).

        Empty when it can be recorded. A channel shows each message beside its field.
        """
        problems: dict[str, str] = {}
        if framework not in FRAMEWORKS:
            problems["framework"] = "Choose Django, Flask or Node.js."
        text = rationale.strip()
        if not text:
            problems["rationale"] = "Say why, in a sentence or two: it is what the record is read for later."
        elif len(text) > MAX_RATIONALE:
            problems["rationale"] = f"Keep it under {MAX_RATIONALE} characters (it has {len(text)})."
        if review_on:
            try:
                when = date.fromisoformat(review_on)
            except ValueError:
                problems["review_on"] = "Pick a date."
            else:
                if when <= (today or datetime.now(UTC).date()):
                    problems["review_on"] = "Pick a date after today."
        return problems

    def may_accept(self, d: Decision, user: str) -> bool:
        """Who may accept or reject a proposal: not its proposer; one of the decision-makers it names,
        or, when it names nobody else, anyone who may decide in its consultation."""
        if user == d.decided_by:
            return False
        others = [u for u in d.decision_makers if u != d.decided_by]
        if others:
            return user in others
        return d.consultation_id is not None and self.may_decide(d.team_id, d.consultation_id, user)

    def accept(self, team_id: str, number: int, user: str, *, reject: bool = False) -> Reply:
        """Accept (or reject) proposed decision `number`. An accepted proposal supersedes the decision
        in force on its channel and topic, and both records link each other."""
        d = self.store.decision(team_id, number)
        if d is None:
            return Reply(kind="clarify", text=f"There is no decision {number}.")
        if d.status != "proposed":
            return Reply(kind="clarify", text=f"Decision {number} is {d.status}, not a proposal any more.",
                         decision=d, consultation_id=d.consultation_id)
        if not self.may_accept(d, user):
            who = ("You proposed it, so another decision-maker accepts or rejects it." if user == d.decided_by else
                   "Only a decision-maker named on it (or, if it names none, someone taking part in the "
                   "consultation) can accept or reject it.")
            return Reply(kind="clarify", text=f"Decision {number} is a proposal. {who}", decision=d,
                         consultation_id=d.consultation_id)
        done = (self.store.reject_decision if reject else self.store.accept_decision)(team_id, number, user)
        if done is None:  # someone else accepted or rejected it a moment ago
            now = self.store.decision(team_id, number)
            return Reply(kind="clarify", text=f"Decision {number} is {now.status if now else 'gone'}, "  # type: ignore
                                              "not a proposal any more.", decision=now,
                         consultation_id=d.consultation_id)
        return Reply(kind="decision", text=decision_text(done), decision=done, consultation_id=done.consultation_id)

    def cancel(self, team_id: str, consultation_id: int, user: str) -> Reply:
        """Cancel an open consultation."""
        st = self.state(team_id, consultation_id)
        if st.consultation.status != "open":
            return self.closed_reply(st.consultation)
        if not self.may_decide(team_id, consultation_id, user):
            return Reply(kind="clarify", text="Only the person who started this consultation or someone who "
                                              "answered in it can cancel it.")
        self.store.set_status(team_id, consultation_id, "cancelled")
        return Reply(kind="closed", text="This consultation is cancelled. Nothing was decided.",
                     consultation_id=consultation_id)

    def closed_reply(self, c: Consultation) -> Reply:
        """What to say when someone writes in a consultation that is no longer open."""
        word = {"decided": "has a recorded decision", "cancelled": "was cancelled",
                "closed": "was closed after a week without activity"}.get(c.status, "is closed")
        return Reply(kind="closed", text=f"This consultation {word}. Start a new one with `/framework start`.",
                     consultation_id=c.id)

    def close_idle(self, team_id: str | None = None, days: int = IDLE_DAYS) -> list[Consultation]:
        """Close consultations idle for `days`; returns them so the caller can post a note."""
        cutoff = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="microseconds")
        return self.store.close_idle(team_id, cutoff)

    # -- what if --------------------------------------------------------------------------------
    def whatif(self, decision: Decision, question: str, raw_value: str) -> Reply:
        """Re-run a past decision's answers with one answer changed and say what moves."""
        try:
            q = self.kb.question(question)
        except KeyError:
            return Reply(kind="clarify", text=f"Unknown question {question!r}. Questions: "
                                              + ", ".join(q.id for q in self.kb.questions))
        value: object = raw_value if raw_value in q.allowed else parsing.parse_answer(q, raw_value).value
        try:
            value = validate_value(q, value)
            answers = self.advisor.validate(decision.answers)
        except AnswerError as e:
            return Reply(kind="clarify", text=f"{q.id} accepts {explain.options_text(q)}." if e.question == q.id
                         else f"Decision {decision.number} has answers this knowledge base no longer accepts.")
        before = self.advisor.recommend(answers, with_changes=False)
        after = self.advisor.recommend({**answers, q.id: value}, with_changes=False)
        lines = [f"*What if {explain.topic(q.id)} = {explain.value_label(self.kb, q.id, value)}* "
                 f"(decision {decision.number}: {explain.fw_name(decision.framework)})",
                 f"Before: {explain.fw_name(before['recommendation'])} — {explain.ranking_text(before)}",
                 f"After: {explain.fw_name(after['recommendation'])} — {explain.ranking_text(after)}"]
        old_rules = {r["rule"] for r in before["reasons"]}
        new_rules = {r["rule"] for r in after["reasons"]}
        for r in after["reasons"]:
            if r["rule"] not in old_rules:
                lines.append(f"• now fires: {r['text']} ({r['source']})")
        for r in before["reasons"]:
            if r["rule"] not in new_rules:
                lines.append(f"• no longer fires: {r['text']} ({r['source']})")
        return Reply(kind="text", text="\n".join(lines), result=after)


# A typed command -> (its method, whether the consultation must still be open). A new thread command is
# one method and one entry here (its words are in parsing's command grammar).
THREAD_COMMANDS = {"why": ("_cmd_why", False), "how": ("_cmd_how", False), "status": ("_cmd_status", False),
                   "help": ("_cmd_help", False), "decide": ("_cmd_decide", False), "cancel": ("_cmd_cancel", False),
                   "quit": ("_cmd_quit", False), "back": ("_cmd_back", True), "skip": ("_cmd_skip", True),
                   "restart": ("_cmd_restart", True), "set": ("_set", True)}


def _typed_decide(text: str) -> bool:
    """Whether a line is the explicit `decide X` command (recorded at once, as it always was)."""
    return parsing.clean(text).lower().lstrip(" @:").startswith("decide")


def _margin(result: dict) -> float:
    """How far the recommended framework is ahead of the next one."""
    scores = sorted((float(r["score"]) for r in result.get("ranking", [])), reverse=True)
    return scores[0] - scores[1] if len(scores) > 1 else 0.0


def add_months(day: date, months: int) -> date:
    """The same day `months` later (the month's last day when it is shorter: 31 Aug + 6 = 28/29 Feb)."""
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def decision_text(d: Decision) -> str:
    """One line about a recorded decision (recorded, proposed, accepted later, rejected)."""
    name = explain.fw_name(d.framework)
    if d.status == "rejected":
        return (f"Decision {d.number} rejected: *{name}* was proposed and is not adopted. The consultation is "
                "open again.")
    why = d.rationale
    sup = ""
    if d.supersedes:
        why, sup = why.rstrip(".") + ".", f" It supersedes decision {d.supersedes}."
    if d.accepted_by:
        return f"Decision {d.number} accepted: *{name}*. Rationale: {why}{sup}"
    rec = d.recommendation
    adopted = "adopting the recommendation" if d.framework == rec else f"the advisor recommended {explain.fw_name(rec)}"
    if d.status == "proposed":
        return (f"Decision {d.number} proposed: *{name}* ({adopted}). Rationale: {d.rationale.rstrip('.')}. "
                "It takes effect when another decision-maker accepts it.")
    return f"Decision {d.number} recorded: *{name}* ({adopted}). Rationale: {why}{sup}"


HELP_THREAD = """*In a consultation you can type*
• an answer to the open question (e.g. `about 12 of us`, `yes, chat features`, `mostly JS devs`)
• `why`: why this question · `how`: the rules fired so far · `status`: answers so far
• `back`: undo the last answer · `skip`: skip this question · `restart`: clear all answers
• `set team_size=30` or `actually we are 30 people`: change an earlier answer
• `decide flask because we already run it`: record the decision · `cancel`: cancel the consultation"""
