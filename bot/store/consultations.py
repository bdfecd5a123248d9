"""Consultations, their answer log and the recommendations given."""

from __future__ import annotations

import json
import sqlite3

from bot.models import Consultation, LogEntry
from bot.store.common import StoreError, now

_CONSULTATION_FIELDS = tuple(Consultation.model_fields)
_CONSULTATION_COLUMNS = ", ".join(_CONSULTATION_FIELDS)




class ConsultationRecords:
    """Consultations, their answer log and the recommendations given.

    A part of `Store`: it uses the engine's `db` and `write`.
    """

    def create_consultation(self, team_id: str, channel: str, thread_ts: str, started_by: str,
                            topic: str, knowledge_version: str) -> Consultation:
        """A new open consultation, numbered per team."""
        t = now()
        with self.write() as db:
            self._lock(db, "consultations", team_id)  # MAX() + 1: one numbering writer per team at a time
            number = db.execute("SELECT COALESCE(MAX(number), 0) + 1 FROM consultations WHERE team_id = ?",
                                [team_id]).fetchone()[0]
            cur = db.execute(
                "INSERT INTO consultations (team_id, number, channel, thread_ts, started_by, topic, status,"
                " knowledge_version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?, ?)",
                [team_id, number, channel, thread_ts, started_by, topic, knowledge_version, t, t])
            cid = cur.lastrowid
        return self.get_consultation(team_id, cid)

    def _consultation(self, where: str, params: list) -> Consultation | None:
        row = self.db.execute(f"SELECT {_CONSULTATION_COLUMNS} FROM consultations WHERE {where}", params).fetchone()
        if row is None:
            return None
        # A row this module wrote through a validated model: constructed without validating it again
        # (read several times per thread answer).
        return Consultation.model_construct(**dict(zip(_CONSULTATION_FIELDS, row, strict=True)))

    def get_consultation(self, team_id: str, consultation_id: int) -> Consultation | None:
        """A consultation of this team by its id."""
        return self._consultation("team_id = ? AND id = ?", [team_id, consultation_id])

    def consultation_number(self, team_id: str, consultation_id: int) -> int | None:
        """The per-team number of a consultation."""
        row = self.db.execute("SELECT number FROM consultations WHERE team_id = ? AND id = ?",
                              [team_id, consultation_id]).fetchone()
        return row[0] if row else None

    def consultation_by_number(self, team_id: str, number: int) -> Consultation | None:
        """A consultation of this team by its per-team number."""
        return self._consultation("team_id = ? AND number = ?", [team_id, number])

    def consultation_by_thread(self, team_id: str, channel: str, thread_ts: str) -> Consultation | None:
        """The consultation held in a thread, if any."""
        return self._consultation("team_id = ? AND channel = ? AND thread_ts = ?", [team_id, channel, thread_ts])

    def open_consultations(self, team_id: str, limit: int = 20) -> list[tuple[int, Consultation]]:
        """This team's open consultations, most recently active first, with their numbers."""
        rows = self.db.execute(
            "SELECT id, number FROM consultations WHERE team_id = ? AND status = 'open'"
            " ORDER BY updated_at DESC LIMIT ?", [team_id, limit]).fetchall()
        return [(n, self.get_consultation(team_id, cid)) for cid, n in rows]  # type: ignore[misc]

    def open_consultations_in(self, team_id: str, channel: str, limit: int = -1) -> list[Consultation]:
        """This team's open consultations in one channel ("terminal"), most recently active first (-1: all)."""
        # No LIMIT for "all": PostgreSQL refuses SQLite's LIMIT -1.
        rows = self.db.execute(
            f"SELECT {_CONSULTATION_COLUMNS} FROM consultations WHERE team_id = ? AND status = 'open'"
            " AND channel = ? ORDER BY updated_at DESC, id DESC" + (" LIMIT ?" if limit >= 0 else ""),
            [team_id, channel, *([limit] if limit >= 0 else [])]).fetchall()
        return [Consultation.model_construct(**dict(zip(_CONSULTATION_FIELDS, r, strict=True))) for r in rows]

    def set_status(self, team_id: str, consultation_id: int, status: str) -> None:
        """Change a consultation's status."""
        with self.write() as db:
            db.execute("UPDATE consultations SET status = ?, updated_at = ? WHERE team_id = ? AND id = ?",
                       [status, now(), team_id, consultation_id])

    def close_idle(self, team_id: str | None, older_than: str) -> list[Consultation]:
        """Close open consultations not touched since `older_than`; returns the closed ones."""
        with self.write() as db:
            where = "status = 'open' AND updated_at < ?" + (" AND team_id = ?" if team_id else "")
            params = [older_than] + ([team_id] if team_id else [])
            # Where writers are concurrent the rows are locked (in id order) as they are read, so none
            # touched meanwhile is listed as closed without being closed.
            lock = f" ORDER BY id{self.dialect.for_update}" if self.dialect.for_update else ""
            ids = [r[0] for r in db.execute(f"SELECT id FROM consultations WHERE {where}{lock}", params).fetchall()]
            db.execute(f"UPDATE consultations SET status = 'closed', updated_at = ? WHERE {where}", [now(), *params])
        closed = []
        for cid in ids:
            row = self._consultation("id = ?", [cid])
            if row:
                closed.append(row)
        return closed

    def append(self, team_id: str, consultation_id: int, kind: str, user_id: str, *, question: str | None = None,
               value: str | int | None = None, raw_text: str | None = None,
               event_id: str | None = None) -> LogEntry | None:
        """Append to a consultation's log; None when `event_id` was already stored (a retry)."""
        t = now()
        try:
            with self.write() as db:
                self._lock(db, "answers", consultation_id)  # MAX(seq) + 1: one writer per consultation's log
                if db.execute("SELECT 1 FROM consultations WHERE team_id = ? AND id = ?",
                              [team_id, consultation_id]).fetchone() is None:
                    raise StoreError("no such consultation")
                seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM answers WHERE consultation_id = ?",
                                 [consultation_id]).fetchone()[0]
                db.execute(
                    "INSERT INTO answers (consultation_id, seq, kind, question, value, raw_text, user_id, event_id,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [consultation_id, seq, kind, question, None if value is None else json.dumps(value),
                     raw_text, user_id, event_id, t])
                db.execute("UPDATE consultations SET updated_at = ? WHERE id = ?", [t, consultation_id])
        except sqlite3.IntegrityError:
            if event_id is not None and self.db.execute("SELECT 1 FROM answers WHERE event_id = ?",
                                                        [event_id]).fetchone():
                return None
            raise
        return LogEntry(seq=seq, kind=kind, question=question, value=value, raw_text=raw_text,  # type: ignore[arg-type]
                        user_id=user_id, event_id=event_id, created_at=t)

    def erase_raw_text(self, team_id: str, consultation_id: int, seq: int) -> None:
        """Forget what one log entry's message said (its author deleted it); the entry itself stays."""
        self._write1("UPDATE answers SET raw_text = NULL WHERE seq = ? AND consultation_id ="
                     " (SELECT id FROM consultations WHERE team_id = ? AND id = ?)",
                     [seq, team_id, consultation_id])

    def last_seq(self, consultation_id: int) -> int:
        """The position of a consultation's latest log entry (0 when empty)."""
        return self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM answers WHERE consultation_id = ?",
                               [consultation_id]).fetchone()[0]

    def log(self, team_id: str, consultation_id: int, after_seq: int = 0) -> list[LogEntry]:
        """A consultation's log in order: all of it, or the entries after position `after_seq`."""
        if after_seq:
            return self._entries("AND a.seq > ? ORDER BY a.seq", [team_id, consultation_id, after_seq])
        return self._entries("ORDER BY a.seq", [team_id, consultation_id])

    def entry_by_event(self, team_id: str, consultation_id: int, event_id: str) -> LogEntry | None:
        """The log entry a delivery stored in this consultation, if any (one indexed lookup)."""
        found = self._entries("AND a.event_id = ?", [team_id, consultation_id, event_id])
        return found[0] if found else None

    def _entries(self, tail: str, params: list) -> list[LogEntry]:
        rows = self.db.execute(
            "SELECT a.seq, a.kind, a.question, a.value, a.raw_text, a.user_id, a.event_id, a.created_at"
            " FROM answers a JOIN consultations c ON c.id = a.consultation_id"
            f" WHERE c.team_id = ? AND a.consultation_id = ? {tail}", params).fetchall()
        # Rows this module wrote through validated models: constructed without validating them again.
        return [LogEntry.model_construct(seq=r[0], kind=r[1], question=r[2],
                                         value=None if r[3] is None else json.loads(r[3]), raw_text=r[4],
                                         user_id=r[5], event_id=r[6], created_at=r[7]) for r in rows]

    def participants(self, team_id: str, consultation_id: int) -> set[str]:
        """Who started or answered in a consultation."""
        c = self.get_consultation(team_id, consultation_id)
        if c is None:
            return set()
        users = {r[0] for r in self.db.execute("SELECT DISTINCT user_id FROM answers WHERE consultation_id = ?",
                                               [consultation_id]).fetchall()}
        return users | {c.started_by}

    def save_recommendation(self, team_id: str, consultation_id: int, seq: int, result: dict) -> None:
        """Keep the recommendation given at a point of the log (with its knowledge version)."""
        if self.get_consultation(team_id, consultation_id) is None:
            raise StoreError("no such consultation")
        self._write1("INSERT INTO recommendations (consultation_id, seq, recommendation, result, knowledge_version,"
                     " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                     [consultation_id, seq, result.get("recommendation"), json.dumps(result, sort_keys=True),
                      result.get("knowledge_version", ""), now()])

    def has_recommendation(self, team_id: str, consultation_id: int, seq: int) -> bool:
        """Whether a recommendation was kept for this point of a consultation's log."""
        return self.db.execute(
            "SELECT 1 FROM recommendations r JOIN consultations c ON c.id = r.consultation_id"
            " WHERE c.team_id = ? AND r.consultation_id = ? AND r.seq = ?", [team_id, consultation_id, seq]
        ).fetchone() is not None
