"""The outbox claim is fair between channels: one channel's backlog cannot hold up another's reply."""

from __future__ import annotations

import time

from bot.store import Store

TEAM = "T0CLAIM"


def _post(store: Store, channel: str, n: int) -> list[int]:
    with store.write():
        return [store.outbox_enqueue(TEAM, channel, "chat.postMessage", {"text": f"{channel} {i}"})
                for i in range(n)]


def test_a_channel_behind_a_long_backlog_is_claimed_at_once(tmp_path) -> None:
    store = Store(tmp_path / "claim.db")
    _post(store, "C0BUSY", 5000)
    [quiet] = _post(store, "C0QUIET", 1)
    rows = store.outbox_claim(time.time(), 30, limit=8)
    # One post per channel per claim, oldest head first: the busy channel's first row, then the quiet one.
    assert [r["channel"] for r in rows] == ["C0BUSY", "C0QUIET"]
    assert rows[1]["id"] == quiet


def test_each_channel_keeps_its_order_and_a_leased_head_closes_its_channel(tmp_path) -> None:
    store = Store(tmp_path / "claim.db")
    a = _post(store, "C0A", 3)
    b = _post(store, "C0B", 2)
    now = time.time()
    first = store.outbox_claim(now, 30, limit=8)
    assert [r["id"] for r in first] == [a[0], b[0]]
    # Both heads leased: nothing more of either channel until they are done.
    assert store.outbox_claim(now, 30, limit=8) == []
    store.outbox_done_many([(a[0], "1.0")])
    assert [r["id"] for r in store.outbox_claim(now, 30, limit=8)] == [a[1]]


def test_an_edit_and_the_post_after_it_are_claimed_together(tmp_path) -> None:
    store = Store(tmp_path / "claim.db")
    with store.write():
        edit = store.outbox_enqueue(TEAM, "C0E", "chat.update", {"ref": 1, "text": "answered"})
        post = store.outbox_enqueue(TEAM, "C0E", "chat.postMessage", {"text": "next question"})
        store.outbox_enqueue(TEAM, "C0E", "chat.postMessage", {"text": "waits"})
    rows = store.outbox_claim(time.time(), 30, limit=8)
    assert [r["id"] for r in rows] == [edit, post]
    # Posted to less than a second ago: only the edit goes now.
    store2 = Store(tmp_path / "claim2.db")
    with store2.write():
        edit2 = store2.outbox_enqueue(TEAM, "C0E", "chat.update", {"ref": 1, "text": "answered"})
        store2.outbox_enqueue(TEAM, "C0E", "chat.postMessage", {"text": "next question"})
    assert [r["id"] for r in store2.outbox_claim(time.time(), 30, skip_channels=frozenset({"C0E"}))] == [edit2]


def test_decision_numbers_are_plain_ascii_integers() -> None:
    from bot.slack.commands import _number

    assert _number("1.5", "u")[0] is None  # was read as decision 1
    assert _number("²", "u")[0] is None  # isdigit() accepted it and int() raised
    assert _number("#3 team_size=4", "u") == (3, "team_size=4")


def test_a_flooded_thread_queues_a_bounded_number_of_replies(tmp_path) -> None:
    store = Store(tmp_path / "flood.db")
    same = [store.outbox_enqueue_chatter(TEAM, "C0FLOOD", {"text": "*Status* ..."}, thread_ts="1.1",
                                         dedupe_key=f"ev:{i}") for i in range(560)]
    assert same.count("queued") == 1 and same.count("same") == 559
    for i in range(30):
        store.outbox_enqueue_chatter(TEAM, "C0FLOOD", {"text": f"why {i}"}, thread_ts="1.1", dedupe_key=f"why:{i}")
    waiting = [r[0] for r in store.db.execute(
        "SELECT payload FROM outbox WHERE status = 'pending' AND channel = 'C0FLOOD' ORDER BY id").fetchall()]
    assert len(waiting) == 10
    assert waiting[-1] == '{"text": "why 29"}'  # the newest kept, the oldest dropped
    # A re-delivered event queues nothing again; another thread is not affected by this one's bound.
    again = store.outbox_enqueue_chatter(TEAM, "C0FLOOD", {"text": "x"}, thread_ts="1.1", dedupe_key="why:3")
    assert again == "already"
    other = store.outbox_enqueue_chatter(TEAM, "C0FLOOD", {"text": "why 0"}, thread_ts="2.2", dedupe_key="o:1")
    assert other == "queued"
