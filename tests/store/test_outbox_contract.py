"""The outbox's contract on SQLite and on PostgreSQL: fair claims per channel, each channel's order, leases,
de-duplication, the pace of chat.postMessage per channel kept in the database, and several replicas
claiming one outbox at once.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict

from bot.store import Store

TEAM = "T0CLAIM"


def _post(store: Store, channel: str, n: int) -> list[int]:
    with store.write():
        return [store.outbox_enqueue(TEAM, channel, "chat.postMessage", {"text": f"{channel} {i}"})
                for i in range(n)]


def test_a_channel_behind_a_long_backlog_is_claimed_at_once(store: Store) -> None:
    _post(store, "C0BUSY", 5000)
    [quiet] = _post(store, "C0QUIET", 1)
    rows = store.outbox_claim(time.time(), 30, limit=8)
    # One post per channel per claim, oldest head first: the busy channel's first row, then the quiet one.
    assert [r["channel"] for r in rows] == ["C0BUSY", "C0QUIET"]
    assert rows[1]["id"] == quiet


def test_each_channel_keeps_its_order_and_a_leased_head_closes_its_channel(open_store) -> None:
    store = open_store(post_interval_s=0)  # the order alone (the pace is tested below)
    a = _post(store, "C0A", 3)
    b = _post(store, "C0B", 2)
    now = time.time()
    first = store.outbox_claim(now, 30, limit=8)
    assert [r["id"] for r in first] == [a[0], b[0]]
    # Both heads leased: nothing more of either channel until they are done.
    assert store.outbox_claim(now, 30, limit=8) == []
    store.outbox_done_many([(a[0], "1.0")])
    assert [r["id"] for r in store.outbox_claim(now, 30, limit=8)] == [a[1]]


def test_an_edit_and_the_post_after_it_are_claimed_together(store: Store) -> None:
    with store.write():
        edit = store.outbox_enqueue(TEAM, "C0E", "chat.update", {"ref": 1, "text": "answered"})
        post = store.outbox_enqueue(TEAM, "C0E", "chat.postMessage", {"text": "next question"})
        store.outbox_enqueue(TEAM, "C0E", "chat.postMessage", {"text": "waits"})
    rows = store.outbox_claim(time.time(), 30, limit=8)
    assert [r["id"] for r in rows] == [edit, post]
    assert rows[0]["payload"] == {"ref": 1, "text": "answered"} and rows[0]["attempts"] == 0
    # Posted to less than a second ago: only the edit goes now.
    with store.write():
        edit2 = store.outbox_enqueue(TEAM, "C0F", "chat.update", {"ref": 1, "text": "answered"})
        store.outbox_enqueue(TEAM, "C0F", "chat.postMessage", {"text": "next question"})
    assert [r["id"] for r in store.outbox_claim(time.time(), 30, skip_channels=frozenset({"C0F"}))] == [edit2]


def test_the_claim_limit_is_kept_across_channels(store: Store) -> None:
    for ch in ("C1", "C2", "C3"):
        with store.write():
            for i in range(4):
                store.outbox_enqueue(TEAM, ch, "chat.update", {"ref": i, "text": "x"})
    rows = store.outbox_claim(time.time(), 30, limit=6)
    assert [r["channel"] for r in rows] == ["C1"] * 4 + ["C2"] * 2
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)


def test_a_flooded_thread_queues_a_bounded_number_of_replies(store: Store) -> None:
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


def test_enqueue_dedupe_and_a_row_s_life(open_store) -> None:
    store = open_store(post_interval_s=0)  # the caller's clock alone (the pace runs on the database's)
    rid = store.outbox_enqueue(TEAM, "C1", "chat.postMessage", {"text": "100% sure"}, thread_ts="1.1",
                               dedupe_key="ev:1", tag="decision:1")
    assert store.outbox_enqueue(TEAM, "C1", "chat.postMessage", {"text": "again"}, dedupe_key="ev:1") is None
    assert store.outbox_pending() == 1 and store.outbox_latest(TEAM, "decision:1") == rid
    assert store.outbox_latest("TOTHER", "decision:1") is None
    now = time.time()
    [row] = store.outbox_claim(now, 30)
    assert (row["payload"], row["thread_ts"], row["tag"], row["lease_until"]) == ({"text": "100% sure"}, "1.1",
                                                                                  "decision:1", now + 30)
    store.outbox_retry(rid, now + 10, "HTTP 500 internal_error")
    assert store.outbox_claim(now + 5, 30) == []  # not before its retry time
    [again] = store.outbox_claim(now + 10, 30)
    assert again["attempts"] == 1
    # A lease that ran out (a sender died): claimed again, and it counts as another attempt.
    [third] = store.outbox_claim(now + 41, 30)
    assert third["attempts"] == 2
    store.outbox_done_many([(rid, "1234.5")])
    assert store.outbox_row(rid) == {"status": "sent", "result_ts": "1234.5", "channel": "C1"}
    assert store.outbox_pending() == 0 and store.outbox_claim(now + 100, 30) == []
    bad = store.outbox_enqueue(TEAM, "C1", "chat.postMessage", {"text": "x"})
    store.outbox_fail(bad, "channel_not_found " * 100)
    assert store.outbox_row(bad)["status"] == "failed" and store.outbox_row(9999) is None
    assert len(store.db.execute("SELECT last_error FROM outbox WHERE id = ?", [bad]).fetchone()[0]) == 500
    store.outbox_done_many([])


def test_replies_are_queued_unless_stale_or_repeating_the_open_question(store: Store) -> None:
    c = store.create_consultation(TEAM, "C1", "1.1", "U1", "api", "kv")
    store.append(TEAM, c.id, "answer", "U1", question="team_size", value=3)

    def reply(key: str, seq: int | None, question: str | None = None) -> str:
        return store.outbox_enqueue_reply(TEAM, "C1", {"text": key}, thread_ts="1.1", dedupe_key=key,
                                          consultation_id=c.id, seq=seq, question=question)

    assert reply("ev:1", 1, "app_type") == "queued"
    assert reply("ev:1", 1, "app_type") == "already"
    assert reply("ev:2", 1, "app_type") == "dropped"  # the same question is open
    assert reply("ev:3", 1, "team_size") == "queued"
    store.append(TEAM, c.id, "answer", "U1", question="team_size", value=4)
    assert reply("ev:4", 1, "app_type") == "dropped"  # describes an older log position
    assert reply("ev:5", 2, None) == "queued"
    assert store.outbox_latest(TEAM, f"q:{c.id}:team_size") is not None


# -- the pace of chat.postMessage per channel, in the database ---------------------------------------------
def test_the_pace_defaults_per_backend(store: Store, backend: str) -> None:
    # SQLite's one sender process paces itself (bot/slack/outbox.py); PostgreSQL's replicas share the database's.
    assert store.post_interval_s == {"sqlite": 0.0, "postgres": 1.0}[backend]


def test_the_pace_holds_across_replicas_from_when_a_post_went_out(open_store) -> None:
    pace = 0.4  # seconds (1 by default on PostgreSQL): short, for a quick test on the database's clock
    a, b = open_store(post_interval_s=pace), open_store(post_interval_s=pace)
    p = _post(a, "C1", 3)
    [other] = _post(a, "C2", 1)
    t = 1_000_000.0  # the caller's clock decides what is due; the pace runs on the database's
    assert [r["id"] for r in a.outbox_claim(t, 30)] == [p[0], other]
    time.sleep(0.3)  # the sender sends its rows one after another: this post went out late
    a.outbox_done_many([(p[0], "1"), (other, "2")])
    time.sleep(0.2)
    # Another replica, half a second after the claim but 0.2 s after the post: the next post waits...
    assert b.outbox_claim(t, 30) == []
    # ...but an edit at a paced channel's head goes at once, without the post behind it.
    edit = b.outbox_enqueue(TEAM, "C2", "chat.update", {"ref": other, "text": "x"})
    behind = b.outbox_enqueue(TEAM, "C2", "chat.postMessage", {"text": "y"})
    assert [r["id"] for r in b.outbox_claim(t, 30, limit=8)] == [edit]
    b.outbox_done_many([(edit, None)])
    time.sleep(0.25)
    assert [r["id"] for r in b.outbox_claim(t, 30)] == [p[1], behind]
    # A job (`/framework start`) posts the root message: the channel's next post waits for the pace too.
    job = a.outbox_enqueue(TEAM, "C3", "job:start", {"command": {}})
    [claimed] = a.outbox_claim(t, 30)
    assert claimed["id"] == job
    first_question = a.outbox_enqueue(TEAM, "C3", "chat.postMessage", {"text": "q1"})
    a.outbox_done_many([(job, None)])
    assert a.outbox_claim(t, 30) == []
    time.sleep(pace + 0.05)
    assert [r["id"] for r in a.outbox_claim(t, 30)] == [first_question]


def test_replicas_claiming_at_once_lease_each_row_once_in_order_and_at_pace(open_store) -> None:
    """Two Store instances (replicas), three sender threads each, one outbox: every row leased once,
    each channel's rows in order and never two in flight, its posts sent at least a second apart."""
    replicas = [open_store(post_interval_s=1.0), open_store(post_interval_s=1.0)]
    channels = [f"C{i}" for i in range(6)]
    expected: dict[str, list[int]] = {}
    for ch in channels:
        with replicas[0].write():
            expected[ch] = [replicas[0].outbox_enqueue(TEAM, ch, method, {"n": i})
                            for i, method in enumerate(["chat.postMessage", "chat.update", "chat.postMessage",
                                                        "chat.postMessage"])]
    total = sum(len(v) for v in expected.values())
    claims: list[tuple[float, dict]] = []
    sends: dict[int, float] = {}
    in_flight: set[str] = set()
    overlaps: list[str] = []
    lock = threading.Lock()
    stop = time.monotonic() + 30

    def sender(store: Store) -> None:
        while time.monotonic() < stop:
            with lock:
                if len(claims) >= total:
                    return
            now_s = time.time()
            rows = store.outbox_claim(now_s, 30, limit=4)
            for r in rows:  # "sending", one after another, as bot/slack/outbox.py does
                sends[r["id"]] = time.time()
                time.sleep(0.003)
            with lock:
                for ch in {r["channel"] for r in rows}:
                    if ch in in_flight:
                        overlaps.append(ch)
                    in_flight.add(ch)
                claims.extend((now_s, r) for r in rows)
            with lock:
                in_flight.difference_update(r["channel"] for r in rows)
            store.outbox_done_many([(r["id"], "1") for r in rows])
            if not rows:
                time.sleep(0.01)

    threads = [threading.Thread(target=sender, args=(replicas[i % 2],)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [r["id"] for _, r in claims]
    assert sorted(ids) == sorted(i for v in expected.values() for i in v)  # each row once, none lost
    assert not overlaps
    by_channel: dict[str, list[tuple[float, dict]]] = defaultdict(list)
    for now_s, r in claims:
        by_channel[r["channel"]].append((now_s, r))
    for ch, got in by_channel.items():
        got.sort(key=lambda c: c[1]["id"])
        assert [r["id"] for _, r in got] == expected[ch]
        assert [c[0] for c in got] == sorted(c[0] for c in got)  # claimed in order
        posts = [sends[r["id"]] for _, r in got if r["method"] == "chat.postMessage"]
        assert all(b - a >= 1.0 for a, b in zip(posts, posts[1:], strict=False)), (ch, posts)
    assert replicas[1].outbox_pending() == 0
