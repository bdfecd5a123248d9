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
            n += db.execute(
                "UPDATE decisions SET"
                " decided_by = CASE WHEN decided_by = ?1 THEN ?2 ELSE decided_by END,"
                " accepted_by = CASE WHEN accepted_by = ?1 THEN ?2 ELSE accepted_by END,"
                " rejected_by = CASE WHEN rejected_by = ?1 THEN ?2 ELSE rejected_by END,"
                " decision_makers = replace(decision_makers, ?3, ?4), consulted = replace(consulted, ?3, ?4),"
                " informed = replace(informed, ?3, ?4)"
                " WHERE team_id = ?5 AND (decided_by = ?1 OR accepted_by = ?1 OR rejected_by = ?1"
                " OR instr(decision_makers, ?3) OR instr(consulted, ?3) OR instr(informed, ?3))",
                [user_id, replacement, q, gone, team_id]).rowcount
            n += db.execute("UPDATE reviews SET settled_by = ? WHERE team_id = ? AND settled_by = ?",
                            [replacement, team_id, user_id]).rowcount
            n += db.execute("UPDATE polls SET created_by = ? WHERE team_id = ? AND created_by = ?",
                            [replacement, team_id, user_id]).rowcount
            n += db.execute("UPDATE OR REPLACE poll_answers SET user_id = ? WHERE user_id = ? AND poll_id IN"
                            " (SELECT id FROM polls WHERE team_id = ?)", [replacement, user_id, team_id]).rowcount
            # Messages kept in the outbox mention people by id ("answered by <@U...>").
            n += db.execute("UPDATE outbox SET payload = replace(payload, ?, ?)"
                            " WHERE team_id = ? AND instr(payload, ?)",
                            [user_id, replacement, team_id, user_id]).rowcount
        return n
