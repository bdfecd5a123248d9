"""Concurrency: 100 consultations, two people answering the same open question at the same moment, against
two `serve` processes sharing one database (each request routed at random to one of them).

No lost update (both answers stored against the open question, the one stored last is the value in
force), no question asked twice in a row, every consultation consistent (integrity, contiguous seq).
How the thread presents such a race (which question is shown last, whether the override is announced)
is reproduced deterministically in test_answer_race.py; here it is only counted.
"""

from __future__ import annotations

import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.reliability.helpers import (
    TEAM,
    Fake,
    ServeProcess,
    answer_text,
    integrity_problems,
    query,
    send_answer,
    send_command,
    thread_questions,
    wait_drained,
    wait_until,
)

N = 100
ROUNDS = 3
SEED = 99


def _two_values(rng: random.Random, question) -> tuple:
    if question.type == "integer":
        a, b = rng.sample([2, 4, 8, 15, 30, 60, 120], 2)
        return a, b
    a, b = rng.sample([v.value for v in question.values], 2)
    return a, b


@pytest.fixture(scope="module")
def race(tmp_path_factory):
    """Run the whole scenario once; the tests below check its outcome."""
    from bot.consultation import Consultations
    from bot.store import Store

    tmp = tmp_path_factory.mktemp("race")
    db = str(tmp / "race.db")
    rng = random.Random(SEED)
    with Fake() as fake:
        Store(db)  # create the schema once before two processes open it
        servers = [ServeProcess(db, fake.url, str(tmp / f"serve{n}.log")).start() for n in range(2)]
        try:
            channels = [f"C{i:03d}RACE" for i in range(N)]
            with ThreadPoolExecutor(12) as pool:
                statuses = list(pool.map(lambda ch: send_command(rng.choice(servers).url, fake, "start race",
                                                                 ch, f"U{ch}A"), channels))
            assert statuses == [200] * N
            rows = wait_until(lambda: (r := query(db, "SELECT channel, id, thread_ts FROM consultations"))
                              and len(r) == N and r, 20, "100 consultations")
            convs = {ch: (cid, th) for ch, cid, th in rows}
            service = Consultations(Store(db))
            kb = service.kb
            pairs, observed = [], []
            lock = threading.Lock()

            def pair(channel: str, rnd: int, seed: int) -> None:
                prng = random.Random(seed)
                cid, thread = convs[channel]
                st = service.state(TEAM, cid)
                latest = query(db, "SELECT tag FROM outbox WHERE tag LIKE ? ORDER BY id DESC LIMIT 1", [f"q:{cid}:%"])
                shown = latest[0][0].split(":", 2)[2] if latest else None
                with lock:
                    observed.append((channel, rnd, shown, st.next_question))
                if st.done or not st.next_question:
                    return
                q = kb.question(st.next_question)
                va, vb = _two_values(prng, q)
                now = time.time()
                sends = [("A", va, f"{now:.6f}"), ("B", vb, f"{now + 0.001:.6f}")]  # B typed 1 ms later
                targets = [prng.choice(servers).url for _ in sends]
                barrier = threading.Barrier(2)
                out = {}

                def one(who, value, ts, url):
                    barrier.wait()
                    out[who] = send_answer(url, channel, thread, f"U{channel}{who}", answer_text(q, value),
                                           f"Ev{channel}R{rnd}{who}", ts=ts)

                threads = [threading.Thread(target=one, args=(*s, u)) for s, u in zip(sends, targets, strict=True)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                with lock:
                    pairs.append({"channel": channel, "cid": cid, "round": rnd, "question": q.id, "A": va, "B": vb,
                                  "status": out, "servers": targets})

            for rnd in range(ROUNDS):
                with ThreadPoolExecutor(8) as pool:
                    list(pool.map(lambda a: pair(*a), [(ch, rnd, rng.random()) for ch in channels]))
            wait_drained(db, timeout=60)
            time.sleep(0.5)
        finally:
            for s in servers:
                s.stop()
        yield {"db": db, "fake": fake, "pairs": pairs, "convs": convs, "service": service, "servers": servers,
               "observed": observed}


def test_every_concurrent_answer_is_stored_and_the_last_stored_wins(race):
    db, pairs, service = race["db"], race["pairs"], race["service"]
    assert len(pairs) >= N * 2, "too few rounds had an open question"
    assert all(p["status"] == {"A": 200, "B": 200} for p in pairs)
    assert integrity_problems(db) == []
    rows = {ev: (cid, seq, q, v) for ev, cid, seq, q, v in
            query(db, "SELECT event_id, consultation_id, seq, question, value FROM answers")}
    lost, wrong_question, later_ts_won = [], [], 0
    for p in pairs:
        a, b = rows.get(f"Ev{p['channel']}R{p['round']}A"), rows.get(f"Ev{p['channel']}R{p['round']}B")
        if a is None or b is None:
            lost.append(p)
            continue
        if a[2] != p["question"] or b[2] != p["question"]:
            wrong_question.append((p, a, b))
        later_ts_won += b[1] > a[1]
    assert lost == [], f"{len(lost)} answers lost"
    assert wrong_question == [], "an answer written for the open question was stored against another"
    # The answer stored last (highest seq) is the value in force at the end (for the last round of each).
    for cid, _ in race["convs"].values():
        st = service.state(TEAM, cid)
        last = {}
        for c, _seq, q, v in sorted(rows.values(), key=lambda r: r[1]):
            if c == cid:
                last[q] = json.loads(v)
        assert st.answers == last
    # Figures only (the deterministic reproductions are in test_answer_race.py): how often the thread
    # announced the override, and how often the question last shown was not the open one.
    fake = race["fake"]
    notes = sum("The later answer wins" in c.params.get("text", "") for c in fake.calls_to("chat.postMessage"))
    stale = sum(1 for _, rnd, shown, open_q in race["observed"] if rnd and shown != open_q)
    both = sum(1 for p in pairs if len(set(p["servers"])) == 2)
    print(f"\nconcurrency: {len(pairs)} simultaneous pairs ({2 * len(pairs)} answers, {both} pairs split across "
          f"the two processes): 0 lost; the later-typed answer was stored last in {later_ts_won}/{len(pairs)}; "
          f"'The later answer wins' announced {notes} times; a stale question was the last one shown "
          f"{stale} times out of {len(race['observed']) - N}")


def test_no_question_is_posted_twice_in_a_row(race):
    fake = race["fake"]
    repeated = {}
    for channel, (_cid, thread) in race["convs"].items():
        asked = thread_questions(fake, channel, thread)
        twice = [q for q, nxt in zip(asked, asked[1:], strict=False) if q == nxt]
        if twice:
            repeated[channel] = asked
    assert repeated == {}
