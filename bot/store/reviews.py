"""Review reminders of decisions (the store is their source of truth)."""

from __future__ import annotations

from bot.models import Review
from bot.store.common import StoreError, now

# A Slack conversation (C..., D..., G...), not the terminal; SQLite's GLOB '[CDG]*' in SQL both backends know.
_SLACK_THREAD = "substr(channel, 1, 1) IN ('C', 'D', 'G')"


class ReviewRecords:
    """Review reminders of decisions (the store is their source of truth).

    A part of `Store`: it uses the engine's `db` and `write`.
    """

    _REVIEW_COLUMNS = ", ".join(Review.model_fields)

    def _reviews(self, where: str, params: list, tail: str = "") -> list[Review]:
        rows = self.db.execute(f"SELECT {self._REVIEW_COLUMNS} FROM reviews WHERE {where} {tail}", params).fetchall()
        return [Review(**dict(zip(Review.model_fields, r, strict=True))) for r in rows]

    def review(self, review_id: int) -> Review | None:
        """One reminder by its id."""
        found = self._reviews("id = ?", [review_id])
        return found[0] if found else None

    def reviews_of(self, team_id: str, number: int) -> list[Review]:
        """A decision's reminders, oldest first."""
        return self._reviews("team_id = ? AND decision_number = ?", [team_id, number], "ORDER BY id")

    def reviews(self, team_id: str, *, before: float | None = None, open_only: bool = True,
                limit: int = 50) -> list[Review]:
        """This team's reminders, soonest first: the open ones (not yet settled), due before `before`."""
        where, params = "team_id = ?", [team_id]
        if open_only:
            where += " AND status IN ('pending', 'scheduled', 'sent')"
        if before is not None:
            where += " AND due_at <= ?"
            params.append(before)
        return self._reviews(where, [*params, limit], "ORDER BY due_at, id LIMIT ?")

    def reviews_to_schedule(self, now_s: float, horizon_s: float, limit: int = 100) -> list[Review]:
        """Pending reminders of Slack threads due within the horizon (and not about to be due)."""
        return self._reviews(f"status = 'pending' AND due_at > ? AND due_at <= ? AND {_SLACK_THREAD}",
                             [now_s + 60, now_s + horizon_s, limit], "ORDER BY due_at LIMIT ?")

    def reviews_overdue(self, now_s: float, limit: int = 100) -> list[Review]:
        """Reminders of Slack threads whose time has come and that are not known to be in the thread."""
        return self._reviews(f"status IN ('pending', 'scheduled') AND due_at <= ? AND {_SLACK_THREAD}",
                             [now_s, limit], "ORDER BY due_at LIMIT ?")

    def review_update(self, review_id: int, *, expect: tuple[str, ...] | None = None, **fields) -> bool:
        """Set some fields of a reminder (only while its status is one of `expect`); True when it changed."""
        allowed = {"status", "scheduled_id", "message_ts", "settled_by", "settled_at", "due_at"}
        if not fields or not set(fields) <= allowed:
            raise StoreError(f"cannot set {sorted(set(fields) - allowed)} of a review")
        sets = ", ".join(f"{k} = ?" for k in fields)
        sql, params = f"UPDATE reviews SET {sets}, updated_at = ? WHERE id = ?", [*fields.values(), now(), review_id]
        if expect:
            sql += f" AND status IN ({', '.join('?' for _ in expect)})"
            params += list(expect)
        return self._write1(sql, params).rowcount > 0

    def add_review(self, team_id: str, number: int, due_at: float) -> Review | None:
        """A new reminder for a decision (in its thread), e.g. the next one after a confirmation."""
        d = self.decision(team_id, number)
        if d is None:
            return None
        t = now()
        cur = self._write1("INSERT INTO reviews (team_id, decision_number, channel, thread_ts, due_at, created_at,"
                           " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           [team_id, number, d.channel, d.thread_ts, due_at, t, t])
        return self.review(cur.lastrowid)
