"""Decisions: recorded, proposed, accepted, rejected, superseded; read back for history and records."""

from __future__ import annotations

import json
from collections.abc import Iterator

import sqlite_utils

from bot.models import Decision
from bot.store.common import StoreError, _unique, now, review_due_at


class DecisionRecords:
    """Decisions: recorded, proposed, accepted, rejected, superseded; read back for history and records.

    A part of `Store`: it uses the engine's `db` and `write`.
    """

    def decision_by_event(self, team_id: str, event_id: str) -> Decision | None:
        """The decision a delivery recorded in this team, if any."""
        found = self._decision("d.team_id = ? AND d.event_id = ?", [team_id, event_id])
        return found[0] if found else None

    def record_decision(self, team_id: str, *, channel: str, topic: str, framework: str, decided_by: str,
                        rationale: str, recommendation: str | None, knowledge_version: str,
                        answers: dict, result: dict, consultation_id: int | None = None,
                        thread_ts: str | None = None, status: str = "accepted",
                        event_id: str | None = None, decision_makers: list[str] | None = None,
                        consulted: list[str] | None = None, informed: list[str] | None = None,
                        review_on: str | None = None, announce: bool = False) -> Decision:
        """Record a decision. An accepted one supersedes the team's earlier accepted decision on the
        same channel and topic (a proposal supersedes nothing until it is accepted, `accept_decision`).

        With `event_id` (the Slack delivery that asked for it) a re-delivery returns the decision
        already recorded instead of recording a second one. `decision_makers` defaults to `decided_by`.
        """
        if status not in ("accepted", "proposed"):
            raise StoreError(f"a decision is recorded as accepted or proposed, not {status!r}")
        t = now()
        makers = _unique(decision_makers or [decided_by])
        with self.write() as db:
            # Numbering (MAX() + 1), the re-delivery check and supersede: one decision writer per team.
            self._lock(db, "decisions", team_id)
            if event_id is not None:
                seen = db.execute("SELECT id FROM decisions WHERE event_id = ?", [event_id]).fetchone()
                if seen:
                    return self._decision("d.id = ?", [seen[0]])[0]
            number = db.execute("SELECT COALESCE(MAX(number), 0) + 1 FROM decisions WHERE team_id = ?",
                                [team_id]).fetchone()[0]
            cur = db.execute(
                "INSERT INTO decisions (team_id, number, consultation_id, channel, thread_ts, topic, framework, status,"
                " decided_by, rationale, recommendation, supersedes, knowledge_version, answers, result, created_at,"
                " event_id, decision_makers, consulted, informed, review_on, announce)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [team_id, number, consultation_id, channel, thread_ts, topic, framework, status, decided_by,
                 rationale, recommendation, knowledge_version, json.dumps(answers, sort_keys=True),
                 json.dumps(result, sort_keys=True), t, event_id, json.dumps(makers),
                 json.dumps(_unique(consulted or [])), json.dumps(_unique(informed or [])), review_on,
                 int(bool(announce))])
            did = cur.lastrowid
            if review_on:
                db.execute("INSERT INTO reviews (team_id, decision_number, channel, thread_ts, due_at, created_at,"
                           " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           [team_id, number, channel, thread_ts, review_due_at(review_on), t, t])
            if status == "accepted":
                self._supersede(db, team_id, did, channel, topic)
            if consultation_id is not None:
                db.execute("UPDATE consultations SET status = 'decided', updated_at = ? WHERE id = ? AND team_id = ?",
                           [t, consultation_id, team_id])
        return self._decision("d.id = ?", [did])[0]

    @staticmethod
    def _supersede(db: sqlite_utils.Database, team_id: str, did: int, channel: str, topic: str) -> None:
        """Decision `did` is now accepted: the decision accepted before it on its channel and topic is
        superseded, and the two records link each other. Inside the caller's write."""
        prior = db.execute(
            "SELECT id FROM decisions WHERE team_id = ? AND channel = ? AND topic = ? AND status = 'accepted'"
            " AND id != ? ORDER BY number DESC LIMIT 1", [team_id, channel, topic, did]).fetchone()
        if prior:
            db.execute("UPDATE decisions SET status = 'superseded', superseded_by = ? WHERE id = ?", [did, prior[0]])
            db.execute("UPDATE decisions SET supersedes = ? WHERE id = ?", [prior[0], did])

    def accept_decision(self, team_id: str, number: int, user: str) -> Decision | None:
        """Accept a proposed decision: it supersedes the decision in force on its channel and topic, and
        the one who accepted it joins its decision-makers. None when it is not (or no longer) proposed."""
        t = now()
        with self.write() as db:
            self._lock(db, "decisions", team_id)  # its status and supersede are read, then written
            row = db.execute("SELECT id, status, channel, topic, decision_makers FROM decisions"
                             " WHERE team_id = ? AND number = ?", [team_id, number]).fetchone()
            if row is None or row[1] != "proposed":
                return None
            did, _, channel, topic, makers = row
            db.execute("UPDATE decisions SET status = 'accepted', accepted_by = ?, accepted_at = ?,"
                       " decision_makers = ? WHERE id = ?",
                       [user, t, json.dumps(_unique([*json.loads(makers), user])), did])
            self._supersede(db, team_id, did, channel, topic)
        return self._decision("d.id = ?", [did])[0]

    def reject_decision(self, team_id: str, number: int, user: str) -> Decision | None:
        """Reject a proposed decision; its consultation opens again when nothing else is decided in it.
        None when it is not (or no longer) proposed."""
        t = now()
        with self.write() as db:
            self._lock(db, "decisions", team_id)  # its status is read, then written
            row = db.execute("SELECT id, status, consultation_id FROM decisions WHERE team_id = ? AND number = ?",
                             [team_id, number]).fetchone()
            if row is None or row[1] != "proposed":
                return None
            did, _, cid = row
            db.execute("UPDATE decisions SET status = 'rejected', rejected_by = ?, rejected_at = ? WHERE id = ?",
                       [user, t, did])
            if cid is not None:
                db.execute("UPDATE consultations SET status = 'open', updated_at = ? WHERE id = ? AND team_id = ?"
                           " AND status = 'decided' AND NOT EXISTS (SELECT 1 FROM decisions WHERE consultation_id = ?"
                           " AND status IN ('proposed', 'accepted'))", [t, cid, team_id, cid])
        return self._decision("d.id = ?", [did])[0]

    # (SQL expression, Decision field); the linked decisions are read by number, not by row id.
    _DECISION_FIELDS = (
        ("d.id", "id"), ("d.team_id", "team_id"), ("d.number", "number"), ("d.consultation_id", "consultation_id"),
        ("d.channel", "channel"), ("d.thread_ts", "thread_ts"), ("d.topic", "topic"), ("d.framework", "framework"),
        ("d.status", "status"), ("d.decided_by", "decided_by"), ("d.rationale", "rationale"),
        ("d.recommendation", "recommendation"),
        ("(SELECT s.number FROM decisions s WHERE s.id = d.supersedes)", "supersedes"),
        ("(SELECT s.number FROM decisions s WHERE s.id = d.superseded_by)", "superseded_by"),
        ("d.knowledge_version", "knowledge_version"), ("d.answers", "answers"), ("d.result", "result"),
        ("d.created_at", "created_at"), ("d.decision_makers", "decision_makers"), ("d.consulted", "consulted"),
        ("d.informed", "informed"), ("d.review_on", "review_on"), ("d.announce", "announce"),
        ("d.accepted_by", "accepted_by"), ("d.accepted_at", "accepted_at"), ("d.rejected_by", "rejected_by"),
        ("d.rejected_at", "rejected_at"))

    _JSON_FIELDS = ("answers", "result", "decision_makers", "consulted", "informed")

    def _decision(self, where: str, params: list, tail: str = "", *, full: bool = True) -> list[Decision]:
        cols = ", ".join("'{}'" if (name == "result" and not full) else expr for expr, name in self._DECISION_FIELDS)
        rows = self.db.execute(f"SELECT {cols} FROM decisions d WHERE {where} {tail}", params).fetchall()
        names = [name for _, name in self._DECISION_FIELDS]
        out = []
        for r in rows:
            data = dict(zip(names, r, strict=True))
            for name in self._JSON_FIELDS:
                data[name] = json.loads(data[name])
            data["announce"] = bool(data["announce"])
            out.append(Decision(**data))
        return out

    def decisions(self, team_id: str, *, limit: int = 10, offset: int = 0, status: str | None = None) -> list[Decision]:
        """This team's decisions, newest first (without the stored result, for listings); `status`: only those.

        Decisions are numbered 1..N per team and never deleted, so page k starts at number
        N - offset: an index seek, where OFFSET would walk every skipped row. Filtered by status,
        the (team, status, number) index is read in order and OFFSET skips only rows of that status.
        """
        if status is not None:
            return self._decision("d.team_id = ? AND d.status = ?", [team_id, status, limit, offset],
                                  "ORDER BY d.number DESC LIMIT ? OFFSET ?", full=False)
        upper = self.count_decisions(team_id) - offset
        return self._decision("d.team_id = ? AND d.number <= ?", [team_id, upper, limit],
                              "ORDER BY d.number DESC LIMIT ?", full=False)

    def count_decisions(self, team_id: str, status: str | None = None) -> int:
        """How many decisions this team has (its highest number: numbers have no gaps), or of one status."""
        if status is not None:
            return self.db.execute("SELECT COUNT(*) FROM decisions WHERE team_id = ? AND status = ?",
                                   [team_id, status]).fetchone()[0]
        return self.db.execute("SELECT COALESCE(MAX(number), 0) FROM decisions WHERE team_id = ?",
                               [team_id]).fetchone()[0]

    def decision(self, team_id: str, number: int) -> Decision | None:
        """One of this team's decisions by its number."""
        found = self._decision("d.team_id = ? AND d.number = ?", [team_id, number])
        return found[0] if found else None

    def all_decisions(self, team_id: str | None = None) -> Iterator[Decision]:
        """Every decision (of one team, or of all teams for admin re-checks), oldest first."""
        if team_id is None:
            yield from self._decision("1 = 1", [], "ORDER BY d.team_id, d.number")
        else:
            yield from self._decision("d.team_id = ?", [team_id], "ORDER BY d.number")
