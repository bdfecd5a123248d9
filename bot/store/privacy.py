"""Data lifecycle: forgetting a user while keeping the team's decisions."""

from __future__ import annotations

import json


class PrivacyRecords:
    """Data lifecycle: forgetting a user while keeping the team's decisions.

    A part of `Store`: it uses the engine's `db` and `write`.
    """

    def forget_user(self, team_id: str, user_id: str, replacement: str = "forgotten-user") -> int:
        """Remove a user's identity from this team's records, keeping the decisions. Returns rows changed."""
        with self.write() as db:
            n = 0
            n += db.execute("UPDATE consultations SET started_by = ? WHERE team_id = ? AND started_by = ?",
                            [replacement, team_id, user_id]).rowcount
            n += db.execute("UPDATE answers SET user_id = ? WHERE user_id = ? AND consultation_id IN"
                            " (SELECT id FROM consultations WHERE team_id = ?)",
                            [replacement, user_id, team_id]).rowcount
            # One statement per table, so a decision counts once however many of its fields named the
            # user. The MADR lists are JSON arrays of ids: the id is replaced with its quotes, so no
            # other id that contains it is touched.
            q, gone = json.dumps(user_id), json.dumps(replacement)
            has = self.dialect.instr  # instr (SQLite), strpos (PostgreSQL): 0 when absent
            n += db.execute(
                "UPDATE decisions SET"
                " decided_by = CASE WHEN decided_by = ? THEN ? ELSE decided_by END,"
                " accepted_by = CASE WHEN accepted_by = ? THEN ? ELSE accepted_by END,"
                " rejected_by = CASE WHEN rejected_by = ? THEN ? ELSE rejected_by END,"
                " decision_makers = replace(decision_makers, ?, ?), consulted = replace(consulted, ?, ?),"
                " informed = replace(informed, ?, ?)"
                " WHERE team_id = ? AND (decided_by = ? OR accepted_by = ? OR rejected_by = ?"
                f" OR {has}(decision_makers, ?) > 0 OR {has}(consulted, ?) > 0 OR {has}(informed, ?) > 0)",
                [user_id, replacement] * 3 + [q, gone] * 3 + [team_id] + [user_id] * 3 + [q] * 3).rowcount
            n += db.execute("UPDATE reviews SET settled_by = ? WHERE team_id = ? AND settled_by = ?",
                            [replacement, team_id, user_id]).rowcount
            n += db.execute("UPDATE polls SET created_by = ? WHERE team_id = ? AND created_by = ?",
                            [replacement, team_id, user_id]).rowcount
            # A poll both answered keeps the forgotten user's answers under the replacement (what
            # SQLite's UPDATE OR REPLACE did): the replacement's own row goes first.
            team_polls = "SELECT id FROM polls WHERE team_id = ?"
            db.execute(f"DELETE FROM poll_answers WHERE user_id = ? AND poll_id IN ({team_polls}) AND poll_id IN"
                       " (SELECT poll_id FROM poll_answers WHERE user_id = ?)", [replacement, team_id, user_id])
            n += db.execute(f"UPDATE poll_answers SET user_id = ? WHERE user_id = ? AND poll_id IN ({team_polls})",
                            [replacement, user_id, team_id]).rowcount
            # Messages kept in the outbox mention people by id ("answered by <@U...>").
            n += db.execute("UPDATE outbox SET payload = replace(payload, ?, ?)"
                            f" WHERE team_id = ? AND {has}(payload, ?) > 0",
                            [user_id, replacement, team_id, user_id]).rowcount
        return n
