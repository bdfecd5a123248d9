"""`serve` sends replies from a process of its own: it is restarted when it dies, and stops with serve."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tests.reliability.helpers import (
    Fake,
    ServeProcess,
    posts,
    query,
    send_answer,
    send_command,
    start_consultation,
    wait_drained,
    wait_until,
)


def _outbox_children(pid: int) -> list[int]:
    kids = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            kids += [int(x) for x in (task / "children").read_text().split()]
    except OSError:  # serve (or one of its threads) just exited
        return []
    out = []
    for k in kids:
        try:
            if b"bot.slack.outbox_process" in Path(f"/proc/{k}/cmdline").read_bytes():
                out.append(k)
        except OSError:  # that child just exited
            pass
    return out


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"


def test_a_killed_sender_process_is_replaced_and_the_reply_still_arrives(tmp_path) -> None:
    with Fake() as fake:
        server = ServeProcess(str(tmp_path / "o.db"), fake.url, str(tmp_path / "serve.log")).start()
        try:
            [first] = wait_until(lambda: _outbox_children(server.proc.pid), 10, "the outbox process")
            cid, thread = start_consultation(server.url, fake, server.db, "C0OUTBOX", "U0OUTBOX")
            os.kill(first, signal.SIGKILL)
            # Queued while no sender runs: it waits in SQLite for the next sender process.
            assert send_answer(server.url, "C0OUTBOX", thread, "U0OUTBOX", "a web app", "EvOutboxKill") == 200
            [second] = wait_until(lambda: [p for p in _outbox_children(server.proc.pid) if p != first], 15,
                                  "a new outbox process")
            wait_drained(server.db, timeout=30)
            assert len(posts(fake, "C0OUTBOX", thread)) == 2  # the first question and the reply to the answer
            assert "the outbox process exited" in server.log_tail(20000)
        finally:
            server.kill()  # no shutdown code runs in serve
        # Its stdin closes with serve: the sender process stops by itself.
        wait_until(lambda: _gone(second), 15, "the outbox process to stop after serve was killed")


def test_a_start_acknowledged_while_no_sender_runs_is_carried_out_by_the_next(tmp_path) -> None:
    """The start's Slack work is an outbox job: acknowledged by serve, done by the sender process."""
    with Fake() as fake:
        server = ServeProcess(str(tmp_path / "o.db"), fake.url, str(tmp_path / "serve.log")).start()
        try:
            [first] = wait_until(lambda: _outbox_children(server.proc.pid), 10, "the outbox process")
            os.kill(first, signal.SIGKILL)
            wait_until(lambda: _gone(first), 10, "the outbox process to die")
            assert send_command(server.url, fake, "start durable", "C0DURABLE", "U0DURABLE") == 200
            assert posts(fake, "C0DURABLE") == []  # serve itself posts nothing
            wait_until(lambda: [p for p in _outbox_children(server.proc.pid) if p != first], 15,
                       "a new outbox process")
            root = wait_until(lambda: posts(fake, "C0DURABLE"), 30, "the root message")[0]
            assert root.params["text"] == "Framework consultation started by <@U0DURABLE>: durable"
            [(job_id,)] = query(server.db, "SELECT id FROM outbox WHERE method = 'job:start' AND channel = 'C0DURABLE'")
            assert root.param("metadata")["event_payload"]["outbox_id"] == job_id  # posted by the job
            wait_until(lambda: posts(fake, "C0DURABLE", root.response["ts"]), 30, "the first question")
            wait_drained(server.db, timeout=30)
            assert len(posts(fake, "C0DURABLE")) == 2  # one root, one first question
        finally:
            server.stop()


def test_serve_stops_its_sender_process_on_sigterm(tmp_path) -> None:
    with Fake() as fake:
        server = ServeProcess(str(tmp_path / "o.db"), fake.url, str(tmp_path / "serve.log")).start()
        [child] = wait_until(lambda: _outbox_children(server.proc.pid), 10, "the outbox process")
        started = time.monotonic()
        server.stop()
        assert server.proc.returncode == 0, server.log_tail()
        wait_until(lambda: _gone(child), 10, "the outbox process to stop")
        assert time.monotonic() - started < 10, server.log_tail()


def test_a_sigterm_as_soon_as_serve_answers_still_stops_it_cleanly(tmp_path) -> None:
    """/healthz answers while serve is still starting (its sender process, its signal handlers)."""
    import subprocess
    import sys
    import urllib.request

    from tests.reliability.helpers import ROOT, free_port

    with Fake() as fake:
        for attempt in range(3):
            server = ServeProcess(str(tmp_path / f"s{attempt}.db"), fake.url, str(tmp_path / "serve.log"))
            port = free_port()
            proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port",
                                     str(port)], env=server.env(), cwd=str(ROOT),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                        if r.status == 200:
                            break
                except OSError:
                    time.sleep(0.001)
            proc.send_signal(signal.SIGTERM)  # at once: the first moment serve is reachable
            assert proc.wait(15) == 0, f"attempt {attempt}: serve died of the signal instead of stopping"
