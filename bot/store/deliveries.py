"""Slack deliveries already handled (event de-duplication) and the workspaces seen."""

from __future__ import annotations

from bot.store.common import now


class DeliveryRecords:
    """Slack deliveries already handled (event de-duplication) and the workspaces seen.

    A part of `Store`: it uses the engine's `db` and `write`.
    """

    def remember_workspace(self, team_id: str, enterprise_id: str | None, is_enterprise_install: bool) -> None:
        """Record a workspace's Grid organisation and install kind (seen on a request)."""
        self._write1("INSERT INTO workspaces (team_id, enterprise_id, is_enterprise_install, updated_at)"
                     " VALUES (?, ?, ?, ?) ON CONFLICT (team_id) DO UPDATE SET enterprise_id = excluded.enterprise_id,"
                     " is_enterprise_install = excluded.is_enterprise_install, updated_at = excluded.updated_at",
                     [team_id, enterprise_id, int(bool(is_enterprise_install)), now()])

    def workspace(self, team_id: str) -> tuple[str | None, bool] | None:
        """(enterprise id, installed org-wide) of a workspace, None when never seen in a Grid payload."""
        r = self.db.execute("SELECT enterprise_id, is_enterprise_install FROM workspaces WHERE team_id = ?",
                            [team_id]).fetchone()
        return (r[0], bool(r[1])) if r else None

    def has_event(self, event_id: str) -> bool:
        """Whether an answer-log entry or a decision was already stored for this delivery id."""
        return self.db.execute("SELECT 1 FROM answers WHERE event_id = ? UNION ALL SELECT 1 FROM decisions"
                               " WHERE event_id = ? LIMIT 1", [event_id, event_id]).fetchone() is not None

    def event_seen(self, event_id: str, team_id: str | None = None) -> bool:
        """Record a delivery id; True when it had been recorded before (a re-delivery)."""
        # OR IGNORE rather than catching the duplicate: on PostgreSQL an error would abort the caller's write.
        with self.write() as db:
            return db.execute("INSERT OR IGNORE INTO processed_events (event_id, team_id, created_at) VALUES (?, ?, ?)",
                              [event_id, team_id, now()]).rowcount == 0
