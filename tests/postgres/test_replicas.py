"""Three `serve` replicas on one PostgreSQL database, behind a round-robin client.

Thirty consultations, each in its own channel, are started and answered line by line (interleaved,
several requests in flight); each request goes to the next replica in turn. One replica is SIGKILLed
mid-run (with its sender process orphaned, it stops too); like Slack, every event that did not get
a 200 is delivered again, to another replica. Checked afterwards: every acknowledged answer stored
once, no reply posted twice, every consultation decided, and the per-channel pace (about one post a
second per channel) held across the replicas together.
"""

from __future__ import annotations

import random
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import pytest

from tests.reliability.helpers import (
    Fake,
    Plan,
    ServeProcess,
    duplicate_groups,
    plan_consultations,
    posts,
    send_answer,
    send_command,
    wait_until,
)

N = 30
REPLICAS = 3
WORKERS = 6
SEED = 20261204
KILL_AT = 0.4  # of the requests
PACE_S = 0.8  # the worker paces a channel at 1 s; measured at the fake, a little under it is still paced


def _query(url: str, sql: str, params: tuple | list = ()) -> list[tuple]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


@dataclass
class Conv:
    i: int
    channel: str
    user: str
    plan: Plan
    phase: str = "new"  # new -> starting -> ready -> done
    thread: str | None = None
    k: int = 0
    pending: dict | None = None
    acked: list = field(default_factory=list)
    inflight: bool = False


def test_three_replicas_one_killed_lose_nothing_and_post_once(pg_database: str, tmp_path) -> None:
    pytest.importorskip("psycopg")
    from bot.store import Store

    try:
        Store(pg_database).close()
    except Exception as e:  # noqa: BLE001 - a release whose store does not take a URL yet
        pytest.skip(f"the store does not open PostgreSQL here: {e}")
    rng = random.Random(SEED)
    plans = plan_consultations(rng, N, commands=0.3, tag="replica-")
    convs = [Conv(i, f"C{i:04d}REPL", f"U{i:04d}REPL", plans[i]) for i in range(N)]
    total = N + sum(len(p.steps) for p in plans)
    figures = {"requests": 0, "redelivered": 0, "failed": 0}

    with Fake() as fake:
        replicas = [ServeProcess(pg_database, fake.url, str(tmp_path / f"serve{r}.log"),
                                 env_extra={"FRAMEWORK_ADVISOR_REPLICA": f"replica-{r}"}).start(timeout=60)
                    for r in range(REPLICAS)]
        alive = list(range(REPLICAS))
        turn = [0]

        def next_url() -> str:
            turn[0] += 1
            return replicas[alive[turn[0] % len(alive)]].url

        def act(conv: Conv, url: str) -> tuple[Conv, str, int]:
            if conv.phase == "new":
                return conv, "start", send_command(url, fake, f"start replica topic {conv.i}", conv.channel, conv.user)
            p = conv.pending
            return conv, "step", send_answer(url, conv.channel, conv.thread, conv.user, conv.plan.steps[conv.k].text,
                                             p["event_id"], ts=p["ts"], retry=p["tries"])

        def settle(conv: Conv, kind: str, status: int) -> None:
            conv.inflight = False
            figures["requests"] += 1
            if status != 200:
                figures["failed"] += 1
            if kind == "start":
                if status == 200:
                    conv.phase = "starting"
                return
            conv.pending["tries"] += 1
            if status == 200:
                conv.acked.append(conv.pending["event_id"])
                conv.pending, conv.k = None, conv.k + 1
                if conv.k == len(conv.plan.steps):
                    conv.phase = "done"

        killed = False
        t0 = time.monotonic()
        futures: set = set()
        with ThreadPoolExecutor(WORKERS) as pool:
            while any(c.phase != "done" for c in convs) or futures:
                assert time.monotonic() - t0 < 600, "the run did not finish"
                if futures:
                    done, _ = wait(futures, timeout=0.05, return_when=FIRST_COMPLETED)
                    for f in done:
                        futures.remove(f)
                        settle(*f.result())
                starting = [c for c in convs if c.phase == "starting"]
                if starting:
                    rows = dict(_query(pg_database, "SELECT channel, thread_ts FROM consultations"))
                    for c in starting:
                        if c.channel in rows:
                            c.thread, c.phase = rows[c.channel], "ready"
                if not killed and figures["requests"] >= total * KILL_AT:
                    replicas[1].kill()  # SIGKILL: its requests in flight fail, Slack delivers them again
                    alive.remove(1)
                    killed = True
                idle = [c for c in convs if not c.inflight and c.phase in ("new", "ready")]
                rng.shuffle(idle)
                for c in idle[: WORKERS - len(futures)]:
                    if c.phase == "ready" and c.pending is None:
                        c.pending = {"event_id": f"Ev{c.i:03d}R{c.k:02d}", "ts": f"{time.time():.6f}", "tries": 0}
                    elif c.phase == "ready":
                        figures["redelivered"] += 1
                    c.inflight = True
                    futures.add(pool.submit(act, c, next_url()))
                if not futures and not idle:
                    time.sleep(0.05)
        traffic_s = time.monotonic() - t0
        # Rows leased by the killed replica's sender wait out their lease (30 s), then another takes them.
        wait_until(lambda: _query(pg_database, "SELECT COUNT(*) FROM outbox WHERE status = 'pending'")[0][0] == 0,
                   120, "the outbox to drain")
        drain_s = time.monotonic() - t0 - traffic_s
        for r in alive:
            replicas[r].stop()

        # -- every acknowledged answer stored once ---------------------------------------------------------
        answers = _query(pg_database, "SELECT event_id FROM answers WHERE event_id IS NOT NULL")
        assert len(answers) == len({a for (a,) in answers}) == sum(p.answers for p in plans)
        acked = {e for c in convs for e in c.acked}
        assert {a for (a,) in answers} <= acked
        # -- no reply twice, every consultation decided ---------------------------------------------------
        assert duplicate_groups(fake) == {}
        decided = _query(pg_database, "SELECT COUNT(DISTINCT consultation_id) FROM decisions WHERE status = 'accepted'")
        assert decided == [(N,)]
        assert _query(pg_database, "SELECT COUNT(*) FROM consultations WHERE status = 'decided'") == [(N,)]
        # -- the per-channel pace held across the replicas --------------------------------------------------
        gaps = []
        for c in convs:
            times = sorted(call.time for call in posts(fake, c.channel))
            gaps += [b - a for a, b in zip(times, times[1:], strict=False)]
        assert min(gaps) >= PACE_S, f"two posts to one channel {min(gaps):.3f} s apart"
        print(f"\nreplicas: {REPLICAS} (one killed), {N} consultations, {figures['requests']} requests "
              f"({figures['failed']} failed, {figures['redelivered']} redelivered) in {traffic_s:.1f} s, "
              f"drained {drain_s:.1f} s later; answers stored once: {len(answers)}; duplicates: 0; "
              f"closest posts in one channel: {min(gaps):.2f} s")
