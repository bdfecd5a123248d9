"""The outbox senders in a process of their own, beside `serve`.

One Python process runs one thread at a time. With the senders inside `serve`, every reply sent
competes with the next request's acknowledgement for the interpreter; under load each slows the
other (bench, section threads). So `serve` starts this process and tells it through its stdin
that replies were queued (a byte per wake). The database stays the only channel for the replies
themselves, and its leases already let several senders share the outbox. The outbox's jobs (the
Slack work of `/framework start`) run here too, for the same reason.

- If this process dies, `serve` logs it and starts another (queued replies wait in SQLite).
- If `serve` goes away, even killed, this process reads end-of-file on stdin and stops.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time

log = logging.getLogger("framework_advisor.outbox")

RESTART_DELAY_S = 1.0
# The lowest priority short of SCHED_IDLE (which could starve replies on a saturated machine). Under
# Linux's EEVDF scheduler a low-weight task reaches the point where a waking task may pre-empt it
# sooner: at nice 19 the requests right after a /framework start waited on a busy core (> 2 ms) about
# 30% less often than at nice 10 (3 runs of 2,500 rounds of the ack benchmark's requests, each).
NICE = 19


class OutboxProcess:
    """`serve`'s handle on the sender process: start, wake, stop, restart when it dies."""

    def __init__(self, cfg, db_path: str):
        self.cfg = cfg
        self.db_path = db_path
        self.proc: subprocess.Popen | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the process and a thread that restarts it if it exits."""
        self._spawn()
        threading.Thread(target=self._supervise, name="outbox-supervisor", daemon=True).start()

    def _spawn(self) -> None:
        env = {**os.environ, **self.cfg.env(), "FRAMEWORK_ADVISOR_DB": self.db_path}
        proc = subprocess.Popen([sys.executable, "-m", "bot.slack.outbox_process"], stdin=subprocess.PIPE, env=env)
        os.set_blocking(proc.stdin.fileno(), False)  # type: ignore[union-attr]
        with self._lock:
            self.proc = proc

    def wake(self) -> None:
        """Replies were queued: let the senders look now (never blocks; a full pipe means awake)."""
        with self._lock:
            proc = self.proc
        if proc is None or proc.stdin is None:
            return
        try:
            os.write(proc.stdin.fileno(), b"w")
        except (BlockingIOError, BrokenPipeError, ValueError, OSError):
            pass  # already has wakes pending, or exiting (the supervisor restarts it; rows wait in SQLite)

    def stop(self, timeout: float = 5.0) -> None:
        """Close its stdin (it finishes the message in hand and exits); terminate it if it does not."""
        self._stopping.set()
        with self._lock:
            proc = self.proc
        if proc is None:
            return
        try:
            proc.stdin.close()  # type: ignore[union-attr]
        except OSError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait(5)

    def _supervise(self) -> None:
        while not self._stopping.wait(0.5):
            with self._lock:
                proc = self.proc
            if proc is not None and proc.poll() is not None and not self._stopping.is_set():
                log.error("the outbox process exited (%s); starting another", proc.returncode)
                time.sleep(RESTART_DELAY_S)
                if not self._stopping.is_set():
                    self._spawn()


def main() -> None:
    """The sender process: the configuration from the environment, wakes on stdin until it closes."""
    from bot import logs
    from bot.slack import config
    from bot.slack.app import installations, sender
    from bot.store import Store

    cfg = config.from_env()
    logs.setup(cfg.secrets())
    # Below serve in the CPU scheduler's order: serve acknowledges Slack within 3 s, while a reply
    # can wait a few milliseconds. On a busy machine serve's requests then pre-empt the senders.
    os.nice(NICE)
    store = Store(os.environ["FRAMEWORK_ADVISOR_DB"])
    # The same senders and jobs as `serve` builds (bot.slack.app.sender): the jobs open consultations
    # and queue replies, as serve would.
    worker, _ = sender(cfg, store, installation_store=installations(cfg, store))
    signal.signal(signal.SIGTERM, lambda signum, frame: os.close(0))  # ends the read loop below
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a terminal reaches serve, which stops us
    worker.start()
    worker.wake()  # replies queued while no sender ran
    try:
        while os.read(0, 4096):
            worker.wake()
    except OSError:
        pass
    worker.stop()


if __name__ == "__main__":
    main()
