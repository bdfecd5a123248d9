"""The outbox: Web API calls owed to Slack, durable until sent, claimed per channel."""

from __future__ import annotations

import json

from bot.store.common import now


class OutboxQueue:
    """The outbox: Web API calls owed to Slack, durable until sent, claimed per channel.

    A part of `Store`: it uses the engine's `db` and `write`.
    """

    def outbox_enqueue(self, team_id: str, channel: str, method: str, payload: dict, *, thread_ts: str | None = None,
                       dedupe_key: str | None = None, tag: str | None = None) -> int | None:
        """Queue a Web API call; None when `dedupe_key` was queued before (a re-delivered event)."""
        cur = self._write1(
            "INSERT OR IGNORE INTO outbox (team_id, channel, thread_ts, method, payload, dedupe_key, tag,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [team_id, channel, thread_ts, method, json.dumps(payload), dedupe_key, tag, now()])
        return cur.lastrowid if cur.rowcount else None

    def outbox_enqueue_reply(self, team_id: str, channel: str, payload: dict, *, thread_ts: str | None,
                             dedupe_key: str, consultation_id: int, seq: int | None,
                             question: str | None = None) -> str:
        """Queue a question or recommendation unless it is stale or repeats the open question.

        Checked and written in one BEGIN IMMEDIATE transaction, so of two simultaneous answers
        (even in two processes) only replies that describe the latest log entry are queued, and
        the same next question is never asked twice in a row. Returns "queued"; "already" when
        `dedupe_key` was queued before (another delivery of the same event got there first); or
        "dropped" (stale, or it would ask the open question again).
        """
        tag = f"q:{consultation_id}:{question}" if question else None
        with self.write() as db:
            if db.execute("SELECT 1 FROM outbox WHERE dedupe_key = ?", [dedupe_key]).fetchone() is not None:
                return "already"
            if seq is not None:
                if self.last_seq(consultation_id) > seq:
                    return "dropped"  # a later answer's reply describes the consultation better
            if tag:
                # A range, not LIKE 'q:N:%': LIKE cannot use the (team_id, tag) index and would read
                # every row the team ever queued (';' is the character after ':').
                latest = db.execute("SELECT tag FROM outbox WHERE team_id = ? AND tag >= ? AND tag < ?"
                                    " ORDER BY id DESC LIMIT 1",
                                    [team_id, f"q:{consultation_id}:", f"q:{consultation_id};"]).fetchone()
                if latest and latest[0] == tag:
                    return "dropped"
            db.execute(
                "INSERT INTO outbox (team_id, channel, thread_ts, method, payload, dedupe_key, tag,"
                " created_at) VALUES (?, ?, ?, 'chat.postMessage', ?, ?, ?, ?)",
                [team_id, channel, thread_ts, json.dumps(payload), dedupe_key, tag, now()])
            return "queued"

    def outbox_enqueue_chatter(self, team_id: str, channel: str, payload: dict, *, thread_ts: str,
                               dedupe_key: str, max_pending: int = 10) -> str:
        """Queue a thread reply that no later one depends on (status, why, a clarification), bounded.

        A thread flooded with `status` (hundreds of lines) must not queue hundreds of replies that
        then go out at one per second: a reply identical to one still waiting in the thread is not
        queued again ("same"), and past `max_pending` waiting replies in the thread the oldest
        waiting one is dropped for the new one. Returns "queued", "same" or "already".
        """
        text = json.dumps(payload)
        with self.write() as db:
            if db.execute("SELECT 1 FROM outbox WHERE dedupe_key = ?", [dedupe_key]).fetchone() is not None:
                return "already"
            waiting = db.execute(
                "SELECT id, payload FROM outbox WHERE status = 'pending' AND channel = ? AND thread_ts = ?"
                " AND method = 'chat.postMessage' AND tag IS NULL AND lease_until = 0 AND attempts = 0"
                " ORDER BY id", [channel, thread_ts]).fetchall()
            if any(p == text for _, p in waiting):
                return "same"
            if len(waiting) >= max_pending:
                db.execute("UPDATE outbox SET status = 'dropped', last_error = 'superseded: the thread had "
                           f"{max_pending} replies waiting' WHERE id = ?", [waiting[0][0]])
            db.execute(
                "INSERT INTO outbox (team_id, channel, thread_ts, method, payload, dedupe_key, tag,"
                " created_at) VALUES (?, ?, ?, 'chat.postMessage', ?, ?, NULL, ?)",
                [team_id, channel, thread_ts, text, dedupe_key, now()])
            return "queued"

    def outbox_claim(self, now_s: float, lease_s: float, limit: int = 20,
                     skip_channels: frozenset[str] = frozenset()) -> list[dict]:
        """Lease due rows: each channel's oldest, and the rows after it up to its first chat.postMessage.

        Channels are served fairly: the claim starts from the head (oldest pending row) of every
        channel, oldest head first, so a channel with thousands of queued rows gives the others no
        wait beyond one row of its own. A channel whose head is not due, or leased, yields nothing
        (each channel keeps its order). One claim takes an answer's edit and the reply after it,
        and the sender sends them in order. A channel in `skip_channels` (posted to less than a
        second ago) yields only the rows before its next chat.postMessage (updates, ephemeral
        messages and views have their own limits). Payloads are read only for the rows taken.
        """
        due = "status = 'pending' AND not_before <= ? AND lease_until <= ?"
        if self.db.execute(f"SELECT 1 FROM outbox WHERE {due} LIMIT 1", [now_s, now_s]).fetchone() is None:
            return []  # nothing due: no write transaction (senders poll)
        with self.write() as db:
            # One row per channel: its head. MIN(id) with GROUP BY is answered from the index
            # (status, channel, id) alone; only the heads are then read from the table.
            head_ids = [r[0] for r in db.execute(
                "SELECT MIN(id) FROM outbox WHERE status = 'pending' GROUP BY channel").fetchall()]
            heads = []
            for i in range(0, len(head_ids), 500):
                chunk = head_ids[i:i + 500]
                heads += db.execute(
                    "SELECT channel, id, method, not_before, lease_until FROM outbox"
                    f" WHERE id IN ({','.join('?' * len(chunk))})", chunk).fetchall()
            heads = sorted((h for h in heads if h[3] <= now_s and h[4] <= now_s), key=lambda h: h[1])
            ids: list[int] = []
            for channel, head_id, method, _nb, _lu in heads:
                if len(ids) >= limit:
                    break
                if method == "chat.postMessage":
                    if channel not in skip_channels:
                        ids.append(head_id)
                    continue  # at most one post per channel per claim; later rows wait for it
                ids.append(head_id)
                # The head is an edit, a view, an ephemeral message or a job: take what follows it
                # up to and including the channel's next post, while due.
                for oid, m, nb, lu in db.execute(
                        "SELECT id, method, not_before, lease_until FROM outbox"
                        " WHERE status = 'pending' AND channel = ? AND id > ? ORDER BY id LIMIT ?",
                        [channel, head_id, limit]).fetchall():
                    if nb > now_s or lu > now_s or len(ids) >= limit:
                        break
                    if m == "chat.postMessage":
                        if channel not in skip_channels:
                            ids.append(oid)
                        break
                    ids.append(oid)
            if not ids:
                return []
            marks = ",".join("?" * len(ids))
            db.execute(f"UPDATE outbox SET lease_until = ?, attempts = attempts + 1 WHERE id IN ({marks})",
                       [now_s + lease_s, *ids])
            picked = db.execute(
                "SELECT id, team_id, channel, thread_ts, method, payload, attempts - 1, tag FROM outbox"
                f" WHERE id IN ({marks}) ORDER BY id", ids).fetchall()
        return [{"id": r[0], "team_id": r[1], "channel": r[2], "thread_ts": r[3], "method": r[4],
                 "payload": json.loads(r[5]), "attempts": r[6], "tag": r[7], "lease_until": now_s + lease_s}
                for r in picked]

    def outbox_done_many(self, sent: list[tuple[int, str | None]]) -> None:
        """Mark several rows sent, (id, message ts) each, in one transaction."""
        if not sent:
            return
        t = now()
        with self.write() as db:
            for outbox_id, result_ts in sent:
                db.execute("UPDATE outbox SET status = 'sent', result_ts = ?, sent_at = ?, lease_until = 0"
                           " WHERE id = ?", [result_ts, t, outbox_id])

    def outbox_retry(self, outbox_id: int, not_before: float, error: str) -> None:
        """Put a row back for a later try."""
        self._write1("UPDATE outbox SET not_before = ?, lease_until = 0, last_error = ? WHERE id = ?",
                     [not_before, error[:500], outbox_id])

    def outbox_fail(self, outbox_id: int, error: str) -> None:
        """Give up on a row (Slack refused it for good)."""
        self._write1("UPDATE outbox SET status = 'failed', lease_until = 0, last_error = ? WHERE id = ?",
                     [error[:500], outbox_id])

    def outbox_row(self, outbox_id: int) -> dict | None:
        """One outbox row's status and message ts."""
        r = self.db.execute("SELECT status, result_ts, channel FROM outbox WHERE id = ?", [outbox_id]).fetchone()
        return {"status": r[0], "result_ts": r[1], "channel": r[2]} if r else None

    def outbox_latest(self, team_id: str, tag: str) -> int | None:
        """The newest outbox row with a tag (e.g. the message that asked a question)."""
        r = self.db.execute("SELECT id FROM outbox WHERE team_id = ? AND tag = ? ORDER BY id DESC LIMIT 1",
                            [team_id, tag]).fetchone()
        return r[0] if r else None

    def outbox_pending(self) -> int:
        """How many rows are still owed to Slack."""
        return self.db.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").fetchone()[0]
