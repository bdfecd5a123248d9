"""Team polls: each member's own answers to a consultation's questions."""

from __future__ import annotations

import json

from bot.store.common import StoreError, now


class PollRecords:
    """Team polls: each member's own answers to a consultation's questions.

    A part of `Store`: it uses the engine's `db` and `write`.
    """

    def create_poll(self, team_id: str, consultation_id: int, created_by: str) -> int:
        """A poll on a consultation (the open one if it has one already); returns its id."""
        with self.write() as db:
            self._lock(db, "polls", consultation_id)  # checked, then created: one open poll per consultation
            row = db.execute("SELECT id FROM polls WHERE team_id = ? AND consultation_id = ? AND status = 'open'",
                             [team_id, consultation_id]).fetchone()
            if row:
                return row[0]
            return db.execute("INSERT INTO polls (team_id, consultation_id, created_by, created_at)"
                              " VALUES (?, ?, ?, ?)", [team_id, consultation_id, created_by, now()]).lastrowid

    def poll(self, team_id: str, poll_id: int) -> dict | None:
        """A poll of this team: {id, consultation_id, created_by, status, created_at}."""
        row = self.db.execute("SELECT id, consultation_id, created_by, status, created_at FROM polls"
                              " WHERE team_id = ? AND id = ?", [team_id, poll_id]).fetchone()
        return dict(zip(("id", "consultation_id", "created_by", "status", "created_at"), row, strict=True)) \
            if row else None

    def save_poll_answers(self, team_id: str, poll_id: int, user_id: str, answers: dict) -> int:
        """A member's own answers (a second submission replaces the first); returns how many have answered."""
        with self.write() as db:
            if db.execute("SELECT 1 FROM polls WHERE team_id = ? AND id = ?", [team_id, poll_id]).fetchone() is None:
                raise StoreError("no such poll")
            db.execute("INSERT INTO poll_answers (poll_id, user_id, answers, created_at) VALUES (?, ?, ?, ?)"
                       " ON CONFLICT (poll_id, user_id) DO UPDATE SET answers = excluded.answers,"
                       " created_at = excluded.created_at", [poll_id, user_id, json.dumps(answers, sort_keys=True),
                                                             now()])
            return db.execute("SELECT COUNT(*) FROM poll_answers WHERE poll_id = ?", [poll_id]).fetchone()[0]

    def poll_answers(self, team_id: str, poll_id: int) -> dict[str, dict]:
        """Each member's answers to a poll of this team, by user id (in the order they answered)."""
        rows = self.db.execute("SELECT a.user_id, a.answers FROM poll_answers a JOIN polls p ON p.id = a.poll_id"
                               " WHERE p.team_id = ? AND a.poll_id = ? ORDER BY a.created_at, a.user_id",
                               [team_id, poll_id]).fetchall()
        return {u: json.loads(a) for u, a in rows}
