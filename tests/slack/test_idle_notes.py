"""The idle sweep notes only a few closed consultations per channel (a backlog of notes silenced channels)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.consultation import Consultations
from bot.slack.server import IDLE_NOTES_PER_CHANNEL, idle_notes
from bot.store import Store


def test_ten_thousand_stale_consultations_in_one_channel_get_a_few_notes(tmp_path) -> None:
    store = Store(tmp_path / "idle.db")
    service = Consultations(store)
    for i in range(2000):
        store.create_consultation("T0IDLE", "C0STALE", f"{i}.0001", "U1", "", "v")
    store.create_consultation("T0IDLE", "C0OTHER", "1.0001", "U2", "", "v")
    old = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    store.db.execute("UPDATE consultations SET updated_at = ?", [old])
    closed = service.close_idle("T0IDLE")
    assert len(closed) == 2001
    noted = idle_notes(closed)
    assert sorted(c.channel for c in noted) == ["C0OTHER"] + ["C0STALE"] * IDLE_NOTES_PER_CHANNEL
    stale = [c for c in noted if c.channel == "C0STALE"]
    assert {c.thread_ts for c in stale} == {f"{i}.0001" for i in range(2000 - IDLE_NOTES_PER_CHANNEL, 2000)}
