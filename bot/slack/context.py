"""What every listener needs: the store, the consultation service, and a way to queue replies."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from bot.consultation import Consultations, replay
from bot.models import Decision, Reply
from bot.render import blocks, decide_view
from bot.slack.config import SlackConfig
from bot.store import Store

log = logging.getLogger("framework_advisor.slack")


def team_of(body: dict) -> str | None:
    """The workspace id of an event or interaction payload."""
    team = body.get("team_id") or body.get("team")
    if isinstance(team, dict):
        team = team.get("id")
    return team or (body.get("event") or {}).get("team")


def teams_of(body: dict, home_team: str | None = None) -> set[str]:
    """The workspaces an interaction may act for: the payload's, the user's own (an org-wide install
    may send `team: null`), and the installation's (`home_team`, a shared channel's host)."""
    return {t for t in (team_of(body), (body.get("user") or {}).get("team_id"), home_team) if t}


class Waker(Protocol):
    """What the listeners need of the outbox senders: to be told there is something to send."""

    def wake(self) -> None:
        """Send what was queued now rather than at the next poll."""


def question_tag(consultation_id: int | None, question: str | None) -> str:
    """The outbox tag of the message that asked a question (so it can be updated when answered)."""
    return f"q:{consultation_id}:{question}"


def decision_tag(number: int) -> str:
    """The outbox tag of a decision's thread message (so a proposal's buttons can go once it is settled)."""
    return f"d:{number}"


@dataclass
class SlackContext:
    """Shared by the listeners of one app."""

    store: Store
    service: Consultations
    cfg: SlackConfig
    worker: Waker | None = None  # the outbox senders (threads here, or their own process)
    # Work that runs after an ack (starting a consultation, button clicks).
    executor: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(4, thread_name_prefix="work"))

    def submit(self, fn: Callable, *args) -> None:
        """Run `fn(*args)` after the ack, on the work threads; failures are logged, never raised.

        Inside an HTTP request the job waits until the response has been written (see
        `after_response`), so it does not compete with the ack for the interpreter.
        """
        def run() -> None:
            try:
                fn(*args)
            except Exception:  # noqa: BLE001
                log.exception("background work failed")

        pending = getattr(_request, "jobs", None)
        if pending is not None:
            pending.append((self.executor, run))
        else:
            self.executor.submit(run)


    @property
    def kb(self):
        """The knowledge base in use."""
        return self.service.kb

    def send(self, team: str, channel: str, thread_ts: str | None, replies: list[Reply], key: str, *,
             team_domain: str | None = None) -> None:
        """Queue replies in the outbox, de-duplicated by `key` (an event or action identity).

        A question or recommendation is dropped when a later answer has overtaken it, or when it
        asks the question already open; its note (e.g. "the later answer wins") is still said.
        A decision also updates the consultation's root post (linking the thread when `team_domain`
        is known), is broadcast to the channel when the team asked for it, and an accepted or
        rejected proposal loses its buttons. All of one event's replies are queued in one
        transaction: all or none.
        """
        # Rendering and reading happen before the transaction: it holds the database's write lock.
        payloads = [decide_view.render(self.kb, r) for r in replies]
        edits = {i: self._answered_edit(team, r) for i, r in enumerate(replies) if r.recorded_question}
        roots = {i: self._root_update(team, r.decision, team_domain) for i, r in enumerate(replies)
                 if r.kind == "decision" and r.decision is not None}
        with self.store.write():
            self._queue(team, channel, thread_ts, replies, payloads, edits, key, roots)
        self.wake()

    def _root_update(self, team: str, d: Decision, team_domain: str | None) -> dict | None:
        """The chat.update of a decision's root post (None outside a Slack thread)."""
        c = self.store.get_consultation(team, d.consultation_id) if d.consultation_id is not None else None
        if c is None or not c.thread_ts or c.channel == "terminal":
            return None
        return {"ts": c.thread_ts, **decide_view.root_message(c, d, team_domain)}

    def _queue_decision(self, team: str, channel: str, thread_ts: str | None, reply: Reply, payload: dict,
                        root: dict | None, key: str) -> None:
        """A decision's thread reply (tagged, so a proposal's buttons can be removed later), broadcast
        when the team asked to post the outcome; the root post's update; the settled proposal's edit."""
        d: Decision = reply.decision  # type: ignore[assignment]
        settled = d.accepted_by is not None or d.status == "rejected"
        if d.announce and d.status == "accepted":
            payload = {**payload, "reply_broadcast": True}
        proposal = self.store.outbox_latest(team, decision_tag(d.number)) if settled else None
        self.store.outbox_enqueue(team, channel, "chat.postMessage", payload, thread_ts=thread_ts, dedupe_key=key,
                                  tag=None if settled else decision_tag(d.number))
        if root is not None:
            self.store.outbox_enqueue(team, d.channel, "chat.update", root, dedupe_key=f"{key}:root")
        if proposal is not None:
            edit = {**decide_view.proposal_settled(d), "ref": proposal}
            self.store.outbox_enqueue(team, channel, "chat.update", edit, dedupe_key=f"{key}:proposal")

    def _queue(self, team: str, channel: str, thread_ts: str | None, replies: list[Reply], payloads: list[dict],
               edits: dict[int, tuple[int, dict | None]], key: str,
               roots: dict[int, dict | None] | None = None) -> None:
        for i, (reply, payload) in enumerate(zip(replies, payloads, strict=True)):
            if i in edits:
                self._mark_answered(team, channel, reply, edits[i], f"{key}:upd")
            if roots is not None and i in roots:
                self._queue_decision(team, channel, thread_ts, reply, payload, roots[i], f"{key}:{i}")
                continue
            if reply.kind in ("question", "recommendation") and reply.consultation_id is not None:
                outcome = self.store.outbox_enqueue_reply(
                    team, channel, payload, thread_ts=thread_ts, dedupe_key=f"{key}:{i}",
                    consultation_id=reply.consultation_id, seq=reply.seq,
                    question=reply.question if reply.kind == "question" else None)
                note = reply.text.split("\n", 1)[0] if "\n" in reply.text else ""
                # A note is said only for a reply dropped as stale or repeated, not when another
                # delivery of this event already queued its replies (Slack's retries can arrive together).
                if outcome == "dropped" and note and not reply.duplicate and not note.startswith("*"):
                    self.store.outbox_enqueue(team, channel, "chat.postMessage",
                                              blocks.text_reply(Reply(kind="text", text=note)),
                                              thread_ts=thread_ts, dedupe_key=f"{key}:{i}:note")
                continue
            if thread_ts and reply.kind in ("text", "clarify"):  # nothing later depends on it: bounded per thread
                self.store.outbox_enqueue_chatter(team, channel, payload, thread_ts=thread_ts, dedupe_key=f"{key}:{i}")
                continue
            self.store.outbox_enqueue(team, channel, "chat.postMessage", payload, thread_ts=thread_ts,
                                      dedupe_key=f"{key}:{i}")

    def _answered_edit(self, team: str, reply: Reply, *, fresh: bool = False) -> tuple[int, dict | None]:
        """(the log position read, the edit showing the value in force there, or None if unanswered).

        `fresh`: read the log now, instead of taking what the reply says was in force at its `seq`.
        """
        qid = reply.recorded_question
        if reply.seq is not None and not fresh:
            # The consultation says what was in force at the position its reply describes.
            if reply.recorded_in_force is None:
                return reply.seq, None
            value, by = reply.recorded_in_force
            q = self.kb.question(qid)  # type: ignore[arg-type]
            return reply.seq, blocks.answered(self.kb, q.prompt, q.id, value, by)
        log = self.store.log(team, reply.consultation_id)  # type: ignore[arg-type]
        read_at = log[-1].seq if log else 0
        answers, by, _, _ = replay(log)
        if qid not in answers:
            return read_at, None
        q = self.kb.question(qid)  # type: ignore[arg-type]
        return read_at, blocks.answered(self.kb, q.prompt, q.id, answers[qid], by.get(qid, ""))

    def _mark_answered(self, team: str, channel: str, reply: Reply, edit: tuple[int, dict | None], key: str) -> None:
        """Queue the edit of an answered question: its buttons become the value in force and who gave it."""
        ref = self.store.outbox_latest(team, question_tag(reply.consultation_id, reply.recorded_question))
        if ref is None:
            return
        read_at, payload = edit
        if self.store.last_seq(reply.consultation_id) != read_at:  # type: ignore[arg-type]
            # Another answer was stored since: the value in force is read again, inside the transaction.
            _, payload = self._answered_edit(team, reply, fresh=True)
        if payload is not None:
            self.store.outbox_enqueue(team, channel, "chat.update", {**payload, "ref": ref}, dedupe_key=key)

    def ephemeral(self, team: str, channel: str, user: str, text: str, thread_ts: str | None, key: str) -> None:
        """Queue an ephemeral message for one user."""
        payload = blocks.text_reply(Reply(kind="text", text=text))
        payload.update(channel=channel, user=user)
        if thread_ts:
            payload["thread_ts"] = thread_ts
        self.store.outbox_enqueue(team, channel, "chat.postEphemeral", payload, dedupe_key=key)
        self.wake()

    def wake(self) -> None:
        """Tell the outbox worker there is something to send."""
        if self.worker is not None:
            self.worker.wake()


_request = threading.local()


class after_response:
    """WSGI body wrapper: jobs submitted while handling the request start once the response is sent.

    A WSGI server calls `close()` after the last byte of the body is handed to it. A response with
    an empty body (a bare ack, as for `/framework start`) has had nothing sent by then: waitress
    writes its headers only after `close()`, so a job started there competed with them for the
    interpreter (bench, section ack: +0.1 ms at p50 and more at p99). For such a response the
    headers are sent first, through the WSGI `write` callable (an empty write sends them).
    """

    def __init__(self, handler: Callable, environ: dict, start_response: Callable):
        _request.jobs = []
        self._write: Callable[[bytes], object] | None = None
        self._sent = False
        self.status = ""  # the status line the handler started its response with

        def capture(status, headers, exc_info=None):
            self.status = status
            self._write = start_response(status, headers, exc_info)
            return self._write

        try:
            self._body = handler(environ, capture)
        finally:
            self._jobs, _request.jobs = _request.jobs, None

    def __iter__(self):
        for chunk in self._body:
            if chunk:
                self._sent = True
            yield chunk

    def close(self) -> None:
        """Start the deferred jobs (after sending the headers of an empty response)."""
        close = getattr(self._body, "close", None)
        if close:
            close()
        if self._jobs and not self._sent and self._write is not None:
            try:
                self._write(b"")
            except Exception:  # noqa: BLE001 - the client went away: the jobs still run
                pass
        for executor, job in self._jobs:
            executor.submit(job)
