"""The outbox: Web API calls owed to Slack, durable until sent, claimed per channel."""

from __future__ import annotations

import json

from bot.store.common import now
from bot.store.dialect import lock_key


def _take(rows: list[tuple], now_s: float, room: int, posts: bool) -> list[int]:
    """Of one channel's pending rows in order, (id, method, not_before, lease_until) with its head first,
    the ids one claim leases: the head, and what follows while due up to and including the next
    chat.postMessage, at most `room` (a post only when `posts`: the channel was not posted to just now)."""
    ids: list[int] = []
    for oid, method, not_before, lease_until in rows:
        if not_before > now_s or lease_until > now_s or len(ids) >= room:
            break
        if method == "chat.postMessage":
            if posts:
                ids.append(oid)
            break  # at most one post per channel per claim; later rows wait for it
        ids.append(oid)
    return ids


def _claimed(rows: list[tuple], lease_until: float) -> list[dict]:
    """The rows a claim leased, (id, team, channel, thread, method, payload, attempts before, tag) each, as dicts."""
    return [{"id": r[0], "team_id": r[1], "channel": r[2], "thread_ts": r[3], "method": r[4],
             "payload": json.loads(r[5]), "attempts": r[6], "tag": r[7], "lease_until": lease_until} for r in rows]


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
            self._lock(db, "thread", channel, thread_ts)  # checked, then queued (as chatter is: one lock, one order)
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
            self._lock(db, "thread", channel, thread_ts)  # the thread's waiting replies are read, then changed
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

        With the store's `post_interval_s` (PostgreSQL's default: POST_INTERVAL_S) the pace is kept
        in the database too (`channel_pace`, on the database's clock: one clock for every replica):
        a channel posted to, by any process, less than that long ago is skipped the same way. A
        claimed post records the time in the claim's transaction, and `outbox_done_many` again once
        it is sent: a sender sends its claimed rows one after another, so a post may go out well
        after its claim, and the next one must wait from then. On PostgreSQL several processes
        claim at once (`_claim_concurrently`).
        """
        due = "status = 'pending' AND not_before <= ? AND lease_until <= ?"
        if self.db.execute(f"SELECT 1 FROM outbox WHERE {due} LIMIT 1", [now_s, now_s]).fetchone() is None:
            return []  # nothing due: no write transaction (senders poll)
        if self.dialect.concurrent_writers:
            return self._claim_concurrently(now_s, lease_s, limit, skip_channels)
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
            if self.post_interval_s > 0:
                clock = self.dialect.epoch_now
                skip_channels = skip_channels | {r[0] for r in db.execute(
                    f"SELECT channel FROM channel_pace WHERE last_post > {clock} - ? AND last_post < {clock} + ?",
                    [self.post_interval_s, self.post_interval_s]).fetchall()}
            ids: list[int] = []
            for channel, head_id, method, nb, lu in heads:
                if len(ids) >= limit:
                    break
                rows = [(head_id, method, nb, lu)]
                if method != "chat.postMessage":
                    # The head is an edit, a view, an ephemeral message or a job: what follows it
                    # may go too, up to and including the channel's next post, while due.
                    rows += db.execute(
                        "SELECT id, method, not_before, lease_until FROM outbox"
                        " WHERE status = 'pending' AND channel = ? AND id > ? ORDER BY id LIMIT ?",
                        [channel, head_id, limit]).fetchall()
                ids += _take(rows, now_s, limit - len(ids), channel not in skip_channels)
            if not ids:
                return []
            marks = ",".join("?" * len(ids))
            db.execute(f"UPDATE outbox SET lease_until = ?, attempts = attempts + 1 WHERE id IN ({marks})",
                       [now_s + lease_s, *ids])
            picked = db.execute(
                "SELECT id, team_id, channel, thread_ts, method, payload, attempts - 1, tag FROM outbox"
                f" WHERE id IN ({marks}) ORDER BY id", ids).fetchall()
            if self.post_interval_s > 0:
                self._paced(db, sorted({r[2] for r in picked if r[4] == "chat.postMessage"}))
        return _claimed(picked, now_s + lease_s)

    def _claim_concurrently(self, now_s: float, lease_s: float, limit: int,
                            skip_channels: frozenset[str]) -> list[dict]:
        """`outbox_claim` where several processes claim at once (PostgreSQL), with the same result.

        1. From one snapshot, the candidates: every channel's head, due, in channels with no
           leased row (a row of one channel committed out of id order cannot then go out beside
           a later one that is in flight), oldest head first.
        2. A channel is claimed by one claimer at a time: a transaction-scoped advisory lock per
           channel, tried without waiting (another claimer holds it: that channel is skipped).
           Only as many channels as this claim can still take are tried, so concurrent claimers
           share the channels instead of one locking them all.
        3. The locked channels are read again (a new snapshot, after the locks: a claim committed
           meanwhile is seen), with their pace, and picked as on SQLite (`_take`).
        4. The rows picked are locked FOR UPDATE SKIP LOCKED and checked again (a sender marking
           one done or putting it back at this moment); a channel keeps only its rows before the
           first it could not lock, so its order holds. Then the lease, and the pace of each
           channel a post was claimed in, in this transaction.
        """
        interval = self.post_interval_s
        outbox_lock = lock_key(("outbox", ""))
        with self.write() as db:
            # psycopg prepares a statement after 5 runs; PostgreSQL's generic plans of these queries
            # (what is due depends on the time given) took 4x as long with 50,000 rows queued.
            db.execute("SET LOCAL plan_cache_mode = force_custom_plan")
            # The channels with pending rows by a skip scan of the (channel, id) index: one probe per
            # channel, where DISTINCT ON would read every pending row (0.7 ms against 7 ms, 50,000 queued).
            heads = [r[0] for r in db.execute(
                "WITH RECURSIVE c (channel) AS ((SELECT channel FROM outbox WHERE status = 'pending'"
                " ORDER BY channel LIMIT 1) UNION ALL SELECT (SELECT o.channel FROM outbox o WHERE o.status = 'pending'"
                " AND o.channel > c.channel ORDER BY o.channel LIMIT 1) FROM c WHERE c.channel IS NOT NULL)"
                " SELECT c.channel FROM c CROSS JOIN LATERAL (SELECT id, not_before, lease_until FROM outbox"
                " WHERE status = 'pending' AND channel = c.channel ORDER BY id LIMIT 1) h"
                " WHERE h.not_before <= ? AND h.lease_until <= ? AND NOT EXISTS (SELECT 1 FROM outbox l"
                " WHERE l.status = 'pending' AND l.channel = c.channel AND l.lease_until > ?) ORDER BY h.id",
                [now_s, now_s, now_s]).fetchall()]
            chosen: dict[str, list[tuple[int, str]]] = {}
            taken, start = 0, 0
            while taken < limit and start < len(heads):
                batch = heads[start:start + limit - taken]
                start += len(batch)
                mine = [r[0] for r in db.execute(
                    "SELECT ch FROM unnest(?::text[]) WITH ORDINALITY AS u(ch, n)"
                    " WHERE pg_try_advisory_xact_lock(hashtextextended(? || ch, 0)) ORDER BY n",
                    [batch, outbox_lock]).fetchall()]
                if not mine:
                    continue
                channels: dict[str, list[tuple]] = {}
                for ch, oid, method, nb, lu, leased, paced in db.execute(
                        "SELECT u.ch, o.id, o.method, o.not_before, o.lease_until,"
                        " EXISTS (SELECT 1 FROM outbox l WHERE l.status = 'pending' AND l.channel = u.ch"
                        " AND l.lease_until > ?),"
                        f" COALESCE((SELECT abs({self.dialect.epoch_now} - p.last_post) < ? FROM channel_pace p"
                        " WHERE p.channel = u.ch), false)"
                        " FROM unnest(?::text[]) AS u(ch) CROSS JOIN LATERAL"
                        " (SELECT id, method, not_before, lease_until FROM outbox WHERE status = 'pending'"
                        " AND channel = u.ch ORDER BY id LIMIT ?) o ORDER BY o.id",
                        [now_s, interval, mine, limit]).fetchall():
                    if not leased:  # oldest head first: the order of the channels' first rows
                        channels.setdefault(ch, []).append((oid, method, nb, lu, paced))
                for ch, rows in channels.items():
                    if taken >= limit:
                        break
                    methods = {r[0]: r[1] for r in rows}
                    ids = _take([r[:4] for r in rows], now_s, limit - taken, ch not in skip_channels and not rows[0][4])
                    if ids:
                        chosen[ch] = [(i, methods[i]) for i in ids]
                        taken += len(ids)
            if not chosen:
                return []
            wanted = [i for rows in chosen.values() for i, _ in rows]
            # By id alone (the primary key, whatever the statistics say), checked here: a locked row is
            # read in its latest version.
            locked = {oid for oid, status, nb, lu in db.execute(
                "SELECT id, status, not_before, lease_until FROM outbox WHERE id = ANY(?) FOR UPDATE SKIP LOCKED",
                [wanted]).fetchall() if status == "pending" and nb <= now_s and lu <= now_s}
            ids, posted = [], []
            for ch, rows in chosen.items():
                for oid, method in rows:
                    if oid not in locked:
                        break
                    ids.append(oid)
                    if method == "chat.postMessage":
                        posted.append(ch)
            if not ids:
                return []
            picked = sorted(db.execute(
                "UPDATE outbox SET lease_until = ?, attempts = attempts + 1 WHERE id = ANY(?)"
                " RETURNING id, team_id, channel, thread_ts, method, payload, attempts - 1, tag",
                [now_s + lease_s, ids]).fetchall())
            if interval > 0:
                self._paced(db, sorted(set(posted)))
        return _claimed(picked, now_s + lease_s)

    def _paced(self, db, channels: list[str]) -> None:
        """Record that these channels were posted to now (the database's clock), inside the caller's write."""
        for channel in channels:  # sorted by the callers: concurrent writers lock the rows in one order
            db.execute(f"INSERT INTO channel_pace (channel, last_post) VALUES (?, {self.dialect.epoch_now})"
                       " ON CONFLICT (channel) DO UPDATE SET last_post = excluded.last_post", [channel])

    def outbox_done_many(self, sent: list[tuple[int, str | None]]) -> None:
        """Mark several rows sent, (id, message ts) each, in one transaction."""
        if not sent:
            return
        t = now()
        with self.write() as db:
            for outbox_id, result_ts in sent:
                db.execute("UPDATE outbox SET status = 'sent', result_ts = ?, sent_at = ?, lease_until = 0"
                           " WHERE id = ?", [result_ts, t, outbox_id])
            if self.post_interval_s > 0:
                # The pace runs from when a post went out, not only from its claim (see outbox_claim);
                # a job (`/framework start`) posts the consultation's root message.
                ids = [i for i, _ in sent]
                marks = ",".join("?" * len(ids))
                self._paced(db, sorted({r[0] for r in db.execute(
                    f"SELECT DISTINCT channel FROM outbox WHERE id IN ({marks})"
                    " AND (method = 'chat.postMessage' OR (method >= 'job:' AND method < 'job;'))", ids).fetchall()}))

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
