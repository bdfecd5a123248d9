"""Shared helpers for the reliability tests: serve processes, signed Slack requests, a fake with
"stored, then failed" faults, and database / thread checks.

Every test here runs the real bot (a `framework-advisor serve` subprocess, or `bot.slack.server.start`
in-process) against tests/fakes' FakeSlackWebAPI; nothing in bot/ is patched unless a test says so.
"""

from __future__ import annotations

import collections
import http.client
import json
import os
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fakes import event_body, post_signed, slash_command_body
from tests.fakes.signing import block_actions_body, view_submission_body
from tests.fakes.slack_web_api import FakeSlackWebAPI, _Fault, _Handler, _Request, _token
from tests.slack.helpers import raw_post, wait_until  # noqa: F401 - shared HTTP helpers, re-exported

ROOT = Path(__file__).resolve().parents[2]
SECRET = "reliabilitysigningsecret42"
BOT_TOKEN = "xoxb-111-222-reliabilitybottoken"
APP_TOKEN = "xapp-1-A0FAKEAPP-333-reliabilityapptoken"
CLIENT_ID = "1111.2222"
CLIENT_SECRET = "reliabilityclientsecret77"
TEAM = "T0FAKE001"  # the fake's own workspace
RETRY_HEADERS = {1: {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
                 2: {"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_timeout"}}


# -- small utilities -------------------------------------------------------------------------------
def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, body: bytes, content_type: str, *, retry: int = 0, secret: str = SECRET,
         timeout: float = 15, headers: dict[str, str] | None = None) -> int:
    """POST a signed Slack request; the HTTP status, or 0 when the connection failed (a killed server)."""
    extra = dict(RETRY_HEADERS.get(retry, {})) if retry else {}
    if retry > 2:
        extra = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_error"}
    extra.update(headers or {})
    try:
        status, _, _ = post_signed(url, body, content_type, secret, extra, timeout=timeout)
        return status
    except (OSError, http.client.HTTPException, urllib.error.URLError):
        return 0


def message_event(channel: str, thread_ts: str, user: str, text: str, ts: str | None = None) -> dict:
    """A `message` event typed by a person in a thread."""
    return {"type": "message", "channel": channel, "user": user, "text": text, "ts": ts or f"{time.time():.6f}",
            "thread_ts": thread_ts, "channel_type": "channel", "team": TEAM}


def send_answer(url: str, channel: str, thread_ts: str, user: str, text: str, event_id: str, *,
                ts: str | None = None, retry: int = 0, team: str = TEAM) -> int:
    """Deliver a thread message event (signed HTTP); its status (0 when the server was unreachable)."""
    ev = message_event(channel, thread_ts, user, text, ts)
    ev["team"] = team
    body, ct = event_body(ev, event_id=event_id, team_id=team)
    return post(url, body, ct, retry=retry)


def send_command(url: str, fake: FakeSlackWebAPI, text: str, channel: str, user: str, team: str = TEAM) -> int:
    """Deliver `/framework <text>` (signed HTTP) with a response_url served by the fake."""
    body, ct = slash_command_body(text=text, channel_id=channel, user_id=user, team_id=team,
                                  response_url=fake.response_url())
    return post(url, body, ct)


def send_click(url: str, action: dict, *, channel: str, user: str, message_ts: str, retry: int = 0,
               team: str = TEAM) -> int:
    """Deliver a block_actions click (the same action_ts on every delivery)."""
    body, ct = block_actions_body([action], channel_id=channel, user_id=user, team_id=team,
                                  message={"ts": message_ts, "type": "message", "text": ""},
                                  response_url="http://127.0.0.1:9/unused")
    return post(url, body, ct, retry=retry)


def send_submission(url: str, view: dict, values: dict, *, user: str, retry: int = 0, team: str = TEAM) -> int:
    """Deliver a view_submission of a dialog the bot opened (the same payload on every delivery)."""
    body, ct = view_submission_body(view, values, user_id=user, team_id=team)
    return post(url, body, ct, retry=retry)


# -- the database, read from the test side -------------------------------------------------------
def connect(path: str | os.PathLike) -> sqlite3.Connection:
    """A plain connection for assertions (WAL readers do not block the bot)."""
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 30000")
    return conn


def query(path: str | os.PathLike, sql: str, params: tuple | list = ()) -> list[tuple]:
    """Rows of one query on a fresh connection."""
    conn = connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def integrity_problems(path: str | os.PathLike) -> list[str]:
    """What is wrong with a database file: integrity_check, foreign keys, orphans, seq gaps."""
    conn = connect(path)
    try:
        problems = []
        ic = conn.execute("PRAGMA integrity_check").fetchall()
        if ic != [("ok",)]:
            problems.append(f"integrity_check: {ic[:5]}")
        fk = conn.execute("PRAGMA foreign_key_check").fetchall()
        if fk:
            problems.append(f"foreign_key_check: {fk[:5]}")
        orphans = conn.execute("SELECT a.id FROM answers a LEFT JOIN consultations c ON c.id = a.consultation_id"
                               " WHERE c.id IS NULL").fetchall()
        if orphans:
            problems.append(f"answers without a consultation: {orphans[:5]}")
        for cid, n, lo, hi in conn.execute("SELECT consultation_id, COUNT(*), MIN(seq), MAX(seq) FROM answers"
                                           " GROUP BY consultation_id"):
            if (lo, hi) != (1, n):
                problems.append(f"consultation {cid}: seq not contiguous ({n} rows, {lo}..{hi})")
        bad_dec = conn.execute("SELECT d.id FROM decisions d LEFT JOIN consultations c ON c.id = d.consultation_id"
                               " WHERE d.consultation_id IS NOT NULL AND (c.id IS NULL OR c.team_id != d.team_id)"
                               ).fetchall()
        if bad_dec:
            problems.append(f"decisions pointing at a missing/foreign consultation: {bad_dec[:5]}")
        return problems
    finally:
        conn.close()


def snapshot(path: str | os.PathLike, team: str | None = None) -> dict[str, list[tuple]]:
    """Every row of every table (or one team's rows of the team-scoped tables), for before/after checks."""
    conn = connect(path)
    try:
        out = {}
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        for t in tables:
            if team is None:
                out[t] = conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall()
            elif t in ("consultations", "decisions", "outbox"):
                out[t] = conn.execute(f"SELECT * FROM {t} WHERE team_id = ? ORDER BY rowid", [team]).fetchall()
            elif t in ("answers", "recommendations"):
                out[t] = conn.execute(f"SELECT x.* FROM {t} x JOIN consultations c ON c.id = x.consultation_id"
                                      " WHERE c.team_id = ? ORDER BY x.rowid", [team]).fetchall()
        return out
    finally:
        conn.close()


def outbox_pending(path: str | os.PathLike) -> int:
    """Rows still owed to Slack."""
    return query(path, "SELECT COUNT(*) FROM outbox WHERE status = 'pending'")[0][0]


def wait_drained(path: str | os.PathLike, timeout: float = 60) -> None:
    """Wait until the outbox has nothing pending."""
    wait_until(lambda: outbox_pending(path) == 0, timeout, "the outbox to drain")


# -- what Slack received ---------------------------------------------------------------------------
def posts(fake: FakeSlackWebAPI, channel: str | None = None, thread_ts: str | None = None, *,
          stored_only: bool = True) -> list:
    """chat.postMessage calls (those that stored a message unless stored_only=False), oldest first."""
    out = []
    for c in fake.calls_to("chat.postMessage"):
        if channel is not None and c.params.get("channel") != channel:
            continue
        if thread_ts is not None and (c.params.get("thread_ts") or None) != thread_ts:
            continue
        if stored_only and not stored(c):
            continue
        out.append(c)
    return out


def duplicate_groups(fake: FakeSlackWebAPI, allowed: Callable[[str], bool] = lambda text: False) -> dict:
    """Messages the bot got into Slack more than once: {(channel, thread_ts, text): count}.

    Counted from the chat.postMessage calls that stored a message, with the text as posted (a later
    chat.update that marks a question answered must not hide a duplicate).
    """
    counter: collections.Counter = collections.Counter()
    for c in posts(fake):
        counter[(c.params.get("channel"), c.params.get("thread_ts") or None, c.params.get("text", ""))] += 1
    return {k: n for k, n in counter.items() if n > 1 and not allowed(k[2])}


def owed_replies_missing(reply_times: list[float], event_times: list[float], first_owed: int = 0) -> int:
    """How many events have no reply of their own after them (each event owes one reply; replies in order).

    For every k, the replies posted after event k must number at least the events from k on.
    Returns the largest shortfall (0 when every owed reply was posted).
    """
    replies = sorted(reply_times)
    events = sorted(event_times)
    worst = max(0, first_owed - len(replies))
    for k, t in enumerate(events):
        after = sum(1 for r in replies if r > t)
        worst = max(worst, (len(events) - k) - after)
    return worst


# -- a fake whose faults can strike after the message was stored ----------------------------------
class _StoringFaultHandler(_Handler):
    """Adds fault kinds "stored500" / "storedreset": Slack keeps the message, then the answer is lost."""

    def _apply_fault(self, fault: _Fault, call) -> bool:
        if fault.kind not in ("stored500", "storedreset"):
            return super()._apply_fault(fault, call)
        fake = self.fake
        token = _token(call.headers.get("Authorization"), call.params)
        call.response = fake._answer(_Request(call.method, call.params, call.headers, token))
        fake._record(call)
        if fault.kind == "stored500":
            self._send_json(500, {"ok": False, "error": "internal_error"})
        else:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
        return True


class Fake(FakeSlackWebAPI):
    """FakeSlackWebAPI plus "stored then failed" faults; every recorded call says whether it stored a message."""

    def start(self) -> Fake:
        from http.server import ThreadingHTTPServer

        handler = type("_BoundHandler", (_StoringFaultHandler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="FakeSlackWebAPI", daemon=True)
        self._thread.start()
        return self

    def fail_after_store(self, method: str, kind: str, times: int = 1) -> None:
        """The next `times` calls to `method` store their message, then answer 500 ("stored500") or drop
        the connection ("storedreset")."""
        assert kind in ("stored500", "storedreset")
        with self._lock:
            self._faults.setdefault(method, collections.deque()).extend(_Fault(kind) for _ in range(times))

    def queue_faults(self, method: str, kinds: list[str], delay: float = 1.0, retry_after: int = 1) -> None:
        """Queue a mixed list of faults (any fail_next kind, "stored500", "storedreset", or "ok" for none)."""
        with self._lock:
            q = self._faults.setdefault(method, collections.deque())
            for k in kinds:
                q.append(_Fault("slow", delay=0.0) if k == "ok" else _Fault(k, retry_after=retry_after, delay=delay))


def stored(call) -> bool:
    """Whether a recorded call stored a message (an ok answer, or a stored-then-failed fault)."""
    r = call.response or {}
    return bool(r.get("ok")) and "ts" in r


# -- serve as a subprocess -------------------------------------------------------------------------
@dataclass
class ServeProcess:
    """`python -m bot.cli serve` on a free port; stderr appended to `log_path` across restarts."""

    db: str
    api_url: str
    log_path: str
    env_extra: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    port: int = 0
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
        env.update(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=self.api_url,
                   FRAMEWORK_ADVISOR_DB=self.db, PYTHONPATH=str(ROOT))
        env.update(self.env_extra)
        return {k: v for k, v in env.items() if v is not None}

    def start(self, timeout: float = 30) -> ServeProcess:
        self.port = free_port()
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        try:
            self.proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1",
                                          "--port", str(self.port)], env=self.env(), cwd=str(ROOT),
                                         stdout=log, stderr=log)
        finally:
            log.close()
        self.starts += 1
        health = f"http://127.0.0.1:{self.port}/healthz"

        def up() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                with urllib.request.urlopen(health, timeout=1) as r:
                    return r.status == 200
            except OSError:
                return False

        wait_until(up, timeout, "serve to answer /healthz")
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM and wait (graceful)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, n: int = 3000) -> str:
        try:
            return Path(self.log_path).read_text(errors="replace")[-n:]
        except OSError:
            return ""


# -- the bot in-process ----------------------------------------------------------------------------
@contextmanager
def inprocess_bot(fake: FakeSlackWebAPI, db_path: str | os.PathLike, **cfg_extra) -> Iterator[Any]:
    """`bot.slack.server.start` in this process (HTTP mode) against the fake; yields the Running handle
    with `.url` (the events endpoint), `.store` and `.db`. The outbox senders run as threads here, so a
    test can reach their Web API client (`running.built.app.client`); `serve` runs them in a process
    of their own (tests/slack/test_outbox_process.py)."""
    from bot.slack.config import SlackConfig
    from bot.slack.server import start
    from bot.store import Store

    cfg = SlackConfig(mode="http", api_url=fake.url, bot_token=BOT_TOKEN, signing_secret=SECRET, **cfg_extra)
    store = Store(db_path)
    running = start(cfg, store, "127.0.0.1", 0, outbox_process=False)
    running.url = f"http://127.0.0.1:{running.port}/slack/events"
    running.store = store
    running.db = str(db_path)
    try:
        yield running
    finally:
        running.shutdown()


def start_consultation(url: str, fake: FakeSlackWebAPI, db: str, channel: str, user: str, topic: str = "",
                       team: str = TEAM, timeout: float = 10) -> tuple[int, str]:
    """`/framework start` in a channel; wait for the consultation row and its first question.

    Returns (consultation id, thread ts).
    """
    assert send_command(url, fake, f"start {topic}".strip(), channel, user, team) == 200
    row = wait_until(lambda: query(db, "SELECT id, thread_ts FROM consultations WHERE channel = ? AND team_id = ?",
                                   [channel, team]), timeout, f"consultation in {channel}")
    cid, thread = row[0]
    wait_until(lambda: posts(fake, channel, thread), timeout, f"first question in {channel}")
    return cid, thread


def answer_text(question, value) -> str:
    """A typed answer for a canonical value (the option label, or a number in words)."""
    if question.type == "integer":
        return f"about {value} of us"
    label = next((v.label for v in question.values if v.value == value), str(value))
    return label


def thread_questions(fake: FakeSlackWebAPI, channel: str, thread_ts: str) -> list[str]:
    """The question ids asked in a thread, in order (from the buttons' block ids / the prompt text)."""
    out = []
    for c in posts(fake, channel, thread_ts):
        blocks = c.param("blocks") or []
        qid = next((b.get("block_id", "")[5:] for b in blocks if str(b.get("block_id", "")).startswith("fa_q_")),
                   None)
        if qid:
            out.append(qid)
    return out


def dump(obj: Any) -> str:
    """JSON text of anything (for scanning payloads)."""
    return json.dumps(obj, ensure_ascii=False, default=str)


# -- scripted consultations ------------------------------------------------------------------------
@dataclass
class Step:
    """One typed line of a scripted consultation and what it is (an answer to `question`, or a command)."""

    text: str
    kind: str  # "answer" | "command" | "decide"
    question: str | None = None
    value: Any = None


@dataclass
class Plan:
    """A consultation scripted to a recommendation, then a decision."""

    steps: list[Step]
    recommendation: str

    @property
    def answers(self) -> int:
        return sum(1 for s in self.steps if s.kind == "answer")


def plan_consultations(rng, n: int, *, commands: float = 0.0, tag: str = "") -> list[Plan]:
    """`n` scripts of typed answers that reach a recommendation, ending with `decide`.

    Each line is checked the way `Consultations.handle_text` reads it (not a command, not a correction,
    parsed to the intended value), and the next question comes from the real engine, so the server,
    fed the same lines in the same order, walks the same path. With `commands` > 0, that share of
    scripts also types `status` once somewhere (a reply, no state change).
    """
    from bot import parsing
    from rules.advisor import default

    advisor = default()
    kb = advisor.kb
    plans = []
    for i in range(n):
        answers: dict = {}
        steps: list[Step] = []
        while True:
            result = advisor.recommend(dict(sorted(answers.items())), with_changes=False)
            if result["done"] or not result["next_question"]:
                break
            q = kb.question(result["next_question"])
            if q.type == "integer":
                value = rng.choice([2, 4, 8, 15, 30, 60, rng.randint(1, 200)])
                candidates = [f"about {value} of us", str(value), f"{value} devs"]
            else:
                opt = rng.choice(q.values)
                value = opt.value
                candidates = [opt.label, opt.label.lower(), str(value).replace("_", " ")]
            rng.shuffle(candidates)
            text = next(t for t in candidates + [str(value)]
                        if parsing.parse_command(t) is None and parsing.find_correction(kb.questions, t) is None
                        and parsing.parse_answer(q, t).ok and parsing.parse_answer(q, t).value == value)
            steps.append(Step(text, "answer", q.id, value))
            answers[q.id] = value
        rec = result["recommendation"] or "django"  # "no clear recommendation": the team picks one
        if commands and rng.random() < commands:
            steps.insert(rng.randint(1, len(steps)), Step("status", "command"))
        steps.append(Step(f"decide {rec} because reliability plan {tag}{i}", "decide"))
        plans.append(Plan(steps, rec))
    return plans


def post_oversized(url: str, body: bytes, headers: dict[str, str], timeout: float = 10) -> int:
    """POST a large body over a raw socket and return the status line's code, reading the answer as soon as
    the server sends one (a server refusing the body answers before reading it, then closes)."""
    import select
    from urllib.parse import urlsplit

    u = urlsplit(url)
    head = [f"POST {u.path} HTTP/1.1", f"Host: {u.hostname}:{u.port}", f"Content-Length: {len(body)}",
            "Connection: close"] + [f"{k}: {v}" for k, v in headers.items()]
    with socket.create_connection((u.hostname, u.port), timeout=timeout) as s:
        s.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        sent = 0
        while True:
            readable, _, _ = select.select([s], [], [], 0 if sent < len(body) else timeout)
            if readable:
                break
            if sent >= len(body):
                raise AssertionError("no answer")
            try:
                s.sendall(body[sent:sent + 65536])
            except OSError:
                break
            sent += 65536
        data = b""
        try:
            while b"\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
        return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
