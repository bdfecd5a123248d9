"""Secrets: the bot token, app token, signing secret and client secret never appear in any log (stderr of full
`serve` runs at DEBUG level in HTTP, Socket Mode and OAuth mode, errors included, and in-process logging), and
the database file (with its WAL/SHM files) and backups are created 0600.
"""

from __future__ import annotations

import io
import logging
import os
import re
import stat
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.fakes import FakeSocketModeServer, event_body, event_payload, slash_command_payload
from tests.fakes.signing import block_actions_body
from tests.reliability.helpers import (
    APP_TOKEN,
    BOT_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
    ROOT,
    SECRET,
    Fake,
    ServeProcess,
    inprocess_bot,
    message_event,
    post,
    posts,
    raw_post,
    send_answer,
    send_command,
    start_consultation,
    wait_drained,
    wait_until,
)

INSTALLED_TOKEN = "xoxb-fake-installed-token"  # what the fake's oauth.v2.access hands out
SECRETS = [BOT_TOKEN, APP_TOKEN, SECRET, CLIENT_SECRET, INSTALLED_TOKEN]


def leaked(text: str) -> list[str]:
    """Every secret (or a distinctive half of one) found in `text`."""
    found = []
    for s in SECRETS:
        pieces = {s, s[len(s) // 2:], s[: len(s) // 2 + 4]} if len(s) > 12 else {s}
        found += [f"{s[:6]}… ({p!r})" for p in pieces if p in text]
    return found


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _cause_errors(url: str, fake, db: str) -> None:
    """A full consultation with Slack failing in every way, bad requests, and a listener that raises."""
    cid, thread = start_consultation(url, fake, db, "C0SECRET", "U0SECRET", "secrets")
    fake.fail_next("chat.postMessage", "500")
    fake.fail_next("chat.postMessage", "reset")
    fake.fail_next("chat.postMessage", "429", retry_after=1)
    fake.fail_next("chat.postMessage", "error", error="invalid_auth")
    fake.fail_next("chat.update", "error", error="token_revoked")
    for k, text in enumerate(["a web app", "about 30 of us", "why", "status"]):
        assert send_answer(url, "C0SECRET", thread, "U0SECRET", text, f"EvSecret{k}") == 200
    fake.unjoinable["C0NOJOIN"] = "channel_not_found"
    assert send_command(url, fake, "start cannot join", "C0NOJOIN", "U0SECRET") == 200
    assert send_command(url, fake, "show 1", "C0SECRET", "U0SECRET") == 200
    # a listener that raises: a thread message whose text is not a string
    ev = message_event("C0SECRET", thread, "U0SECRET", "x")
    ev["text"] = {"not": "a string"}
    body, ct = event_body(ev, event_id="EvRaises")
    post(url, body, ct)
    # a click with a broken value, forged and malformed requests
    body, ct = block_actions_body([{"action_id": "fa_how", "block_id": "b", "value": "{not json", "action_ts": "1"}])
    post(url, body, ct)
    raw_post(url, b'{"type": "event_callback"', {"Content-Type": "application/json", "X-Slack-Signature": "v0=00",
                                                  "X-Slack-Request-Timestamp": str(int(time.time()))})
    post(url, b"{not json", "application/json")
    post(url, b'{"type": "url_verification", "challenge": "c"}', "application/json", secret="wrong-secret-123")
    wait_drained(db, timeout=30)  # the outbox has worked through the faults
    time.sleep(0.5)


def test_http_serve_logs_no_secret_at_debug_level_even_on_errors(tmp_path):
    db, log = str(tmp_path / "http.db"), tmp_path / "http.log"
    with Fake() as fake:
        server = ServeProcess(db, fake.url, str(log), env_extra={"LOG_LEVEL": "DEBUG"}).start()
        try:
            _cause_errors(server.url, fake, db)
        finally:
            server.stop()
    text = log.read_text(errors="replace")
    assert len(text.splitlines()) > 50, "expected a busy DEBUG log"
    assert "error" in text.lower()
    assert leaked(text) == []
    assert _mode(db) == 0o600


def test_socket_mode_serve_logs_no_secret(tmp_path):
    db, log = str(tmp_path / "socket.db"), tmp_path / "socket.log"
    with Fake() as fake, FakeSocketModeServer(app_id=fake.app_id) as sm:
        fake.socket_mode_url = sm.url
        server = ServeProcess(db, fake.url, str(log), env_extra={
            "LOG_LEVEL": "DEBUG", "SLACK_APP_TOKEN": APP_TOKEN, "SLACK_SIGNING_SECRET": None})
        server.start()
        try:
            sm.wait_for_connection(15)
            eid = sm.send_envelope("slash_commands", slash_command_payload(
                text="start socket", channel_id="C0SOCKET", user_id="U0SOCKET", response_url=fake.response_url()))
            sm.wait_for_ack(eid, 10)
            wait_until(lambda: posts(fake, "C0SOCKET"), 10, "the socket-mode consultation")
            thread = posts(fake, "C0SOCKET")[0].response["ts"]
            fake.fail_next("chat.postMessage", "500")
            eid = sm.send_envelope("events_api", event_payload(message_event("C0SOCKET", thread, "U0SOCKET",
                                                                             "a web app"), event_id="EvSock1"))
            sm.wait_for_ack(eid, 10)
            sm.send_disconnect()
            wait_until(lambda: sm.connections_opened >= 2, 15, "a reconnect")
            wait_drained(db, timeout=20)
        finally:
            server.stop()
    text = log.read_text(errors="replace")
    assert len(fake.calls_to("apps.connections.open")) >= 2
    assert leaked(text) == []


def test_oauth_serve_logs_no_secret_through_an_install(tmp_path):
    db, log = str(tmp_path / "oauth.db"), tmp_path / "oauth.log"
    with Fake() as fake:
        server = ServeProcess(db, fake.url, str(log), env_extra={
            "LOG_LEVEL": "DEBUG", "SLACK_BOT_TOKEN": None, "SLACK_CLIENT_ID": CLIENT_ID,
            "SLACK_CLIENT_SECRET": CLIENT_SECRET})
        server.start()
        base = f"http://127.0.0.1:{server.port}"
        try:
            with urllib.request.urlopen(base + "/slack/install", timeout=10) as r:
                page, cookie = r.read().decode(), r.headers.get("Set-Cookie", "")
            state = re.search(r"state=([\w-]+)", page + cookie).group(1)
            req = urllib.request.Request(f"{base}/slack/oauth_redirect?code=fake-code&state={state}",
                                         headers={"Cookie": cookie.split(";")[0]})
            with urllib.request.urlopen(req, timeout=10) as r:
                assert r.status == 200
            assert fake.calls_to("oauth.v2.access")
            # the installed workspace now works: a consultation with its token
            cid, thread = start_consultation(base + "/slack/events", fake, db, "C0OAUTH", "U0OAUTH")
            fake.fail_next("chat.postMessage", "error", error="invalid_auth")
            assert send_answer(base + "/slack/events", "C0OAUTH", thread, "U0OAUTH", "a web app", "EvOauth") == 200
            wait_drained(db, timeout=20)
        finally:
            server.stop()
    text = log.read_text(errors="replace")
    assert leaked(text) == []
    assert _mode(db) == 0o600  # it holds the installed bot tokens


def test_in_process_logging_redacts_every_secret(tmp_path):
    from bot import logs

    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    stream = io.StringIO()
    logs.setup([BOT_TOKEN, APP_TOKEN, SECRET, CLIENT_SECRET], level="DEBUG", stream=stream)
    try:
        with Fake() as fake, inprocess_bot(fake, tmp_path / "inproc.db") as bot:
            _cause_errors(bot.url, fake, bot.db)
            logging.getLogger("framework_advisor.test").error("config %s %s", bot.built.ctx.cfg,
                                                              [BOT_TOKEN, SECRET])
            try:
                raise RuntimeError(f"boom with {APP_TOKEN} and {CLIENT_SECRET}")
            except RuntimeError:
                logging.getLogger("framework_advisor.test").exception("failed")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    text = stream.getvalue()
    assert "[redacted]" in text and "boom with" in text
    assert leaked(text) == []


def test_the_database_and_its_backup_are_created_0600_whatever_the_umask(tmp_path):
    from bot.store import Store

    old = os.umask(0)
    try:
        db = tmp_path / "perm.db"
        store = Store(db)
        store.create_consultation("T1", "C1", "1.1", "U1", "x", "v")
        assert {p.name: _mode(p) for p in tmp_path.iterdir()} == {"perm.db": 0o600, "perm.db-wal": 0o600,
                                                                  "perm.db-shm": 0o600,
                                                                  "perm.db-writer.lock": 0o600}
        # an existing world-readable file is tightened
        loose = tmp_path / "loose.db"
        loose.touch(0o644)
        Store(loose)
        assert _mode(loose) == 0o600
        # backups, through the CLI, into a new file and over an existing world-readable one
        existing = tmp_path / "existing-backup.db"
        existing.touch(0o666)
        for target in (tmp_path / "sub" / "backup.db", existing):
            out = subprocess.run([sys.executable, "-m", "bot.cli", "backup", str(target), "--db", str(db)],
                                 cwd=ROOT, capture_output=True, text=True, timeout=60,
                                 env={**os.environ, "PYTHONPATH": str(ROOT)})
            assert out.returncode == 0, out.stderr
            assert _mode(target) == 0o600
    finally:
        os.umask(old)


@pytest.fixture(autouse=True)
def _no_slack_env(monkeypatch):
    for k in list(os.environ):
        if k.startswith("SLACK_"):
            monkeypatch.delenv(k)
