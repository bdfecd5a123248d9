"""Request verification and the process's own endpoints (/healthz, /metrics) on a running `serve`."""

from __future__ import annotations

import json
import re
import socket
import time
from urllib.parse import urlsplit

from tests.fakes import event_body, signed_headers, slash_command_body
from tests.slack.helpers import SECRET, TEAM, Bot, http_get, raw_post, unique, wait_until


def _raw_post(bot: Bot, body: bytes, headers: dict) -> tuple[int, bytes]:
    return raw_post(bot.url + "/slack/events", body, headers, timeout=10)


def _no_consultation(bot: Bot, channel: str) -> bool:
    return bot.store().db.execute("SELECT COUNT(*) FROM consultations WHERE channel = ?", [channel]).fetchone()[0] == 0


def test_bad_signature_is_401(bot: Bot) -> None:
    ch = unique("C0SIG")
    body, ctype = slash_command_body(text="start forged", channel_id=ch)
    headers = {"Content-Type": ctype, **signed_headers("not-the-secret", body)}
    status, answer = _raw_post(bot, body, headers)
    assert status == 401 and b"Traceback" not in answer
    # A valid signature over a different body does not pass either.
    headers = {"Content-Type": ctype, **signed_headers(SECRET, body + b"&x=1")}
    assert _raw_post(bot, body, headers)[0] == 401
    time.sleep(0.3)
    assert _no_consultation(bot, ch) and bot.posts(ch) == []


def test_missing_headers_are_401(bot: Bot) -> None:
    body, ctype = slash_command_body(text="help")
    full = {"Content-Type": ctype, **signed_headers(SECRET, body)}
    assert _raw_post(bot, body, {"Content-Type": ctype})[0] == 401
    for drop in ("X-Slack-Signature", "X-Slack-Request-Timestamp"):
        assert _raw_post(bot, body, {k: v for k, v in full.items() if k != drop})[0] == 401, drop
    assert _raw_post(bot, body, full)[0] == 200  # the same request, complete, passes


def test_old_timestamp_is_401(bot: Bot) -> None:
    body, ctype = slash_command_body(text="help")
    old = int(time.time()) - 6 * 60
    assert _raw_post(bot, body, {"Content-Type": ctype, **signed_headers(SECRET, body, old)})[0] == 401
    recent = int(time.time()) - 60
    assert _raw_post(bot, body, {"Content-Type": ctype, **signed_headers(SECRET, body, recent)})[0] == 200


def test_non_numeric_timestamp_is_401_not_500(bot: Bot) -> None:
    body, ctype = event_body({"type": "message", "channel": "C1", "user": "U1", "text": "x", "ts": "1.1"})
    for ts in ("abc", "", "1e9", "-5", " 123", "12.5", "9" * 40):
        headers = {"Content-Type": ctype, **signed_headers(SECRET, body)}
        headers["X-Slack-Request-Timestamp"] = ts
        status, answer = _raw_post(bot, body, headers)
        assert status == 401, (ts, status, answer)
    headers = {"Content-Type": ctype, **signed_headers(SECRET, body)}
    headers["X-Slack-Signature"] = "v1=" + headers["X-Slack-Signature"][3:]
    assert _raw_post(bot, body, headers)[0] == 401


def test_unicode_digit_timestamp_is_401_not_500(bot: Bot) -> None:
    body, ctype = event_body({"type": "message", "channel": "C1", "user": "U1", "text": "x", "ts": "1.1"})
    headers = {"Content-Type": ctype, **signed_headers(SECRET, body), "X-Slack-Request-Timestamp": "\xb2"}
    assert _raw_post(bot, body, headers)[0] == 401


def test_body_over_one_mib_is_413(bot: Bot) -> None:
    body = b"text=" + b"a" * (1024 * 1024 + 10)
    headers = {"Content-Type": "application/x-www-form-urlencoded", **signed_headers(SECRET, body)}
    parts = urlsplit(bot.url)
    head = (f"POST /slack/events HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Length: {len(body)}\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode()
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head)
        try:  # the server may answer and close before reading it all
            sock.sendall(body)
        except OSError:
            pass
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert http_get(bot.url + "/healthz")[0] == 200  # still serving
    # Just under the limit is read (and refused for its signature, not its size).
    small = b"text=" + b"a" * (1024 * 1024 - 100)
    assert _raw_post(bot, small, {"Content-Type": "application/x-www-form-urlencoded",
                                  **signed_headers("wrong", small)})[0] == 401


def test_healthz_and_metrics(bot: Bot) -> None:
    status, body = http_get(bot.url + "/healthz")
    health = json.loads(body)
    assert status == 200 and health["ok"] is True and health["database"] == "sqlite"
    assert re.fullmatch(r".+:\d+", health["replica"])  # host:pid of this serve
    assert http_get(bot.url + "/nothing-here")[0] == 404

    # Something to count: a refused request and a command.
    body, ctype = slash_command_body(text="help", team_id=TEAM)
    _raw_post(bot, body, {"Content-Type": ctype, **signed_headers("wrong", body)})
    bot.command("help", channel=unique("C0MET"))

    status, metrics = http_get(bot.url + "/metrics")
    assert status == 200
    text = metrics.decode()
    for name in ("framework_advisor_requests_total", "framework_advisor_acks_total",
                 "framework_advisor_ack_seconds_bucket", "framework_advisor_consultations_started_total",
                 "framework_advisor_decisions_total", "framework_advisor_replies_sent_total"):
        assert f"\n# TYPE {name.removesuffix('_bucket').removesuffix('_total')}" in text, name
    assert re.search(r'framework_advisor_requests_total\{route="/slack/events",status="401"\} [1-9]', text)
    assert re.search(r'framework_advisor_requests_total\{route="/slack/events",status="200"\} [1-9]', text)
    assert re.search(r'framework_advisor_requests_total\{route="/healthz",status="200"\} [1-9]', text)
    assert f'framework_advisor_replica_info{{replica="{health["replica"]}",database="sqlite"}} 1.0' in text
    assert re.search(r'framework_advisor_acks_total\{kind="command"\} [1-9]', text)


def test_metrics_include_what_the_sender_process_counted(bot: Bot) -> None:
    """Starting a consultation and sending its replies happen in the outbox process: /metrics still shows them."""
    def counted(text: str, pattern: str) -> float:
        m = re.search(pattern + r" ([0-9.e+]+)", text)
        return float(m.group(1)) if m else 0.0

    before = http_get(bot.url + "/metrics")[1].decode()
    bot.start(unique("C0METS"), "metrics")
    started = r"framework_advisor_consultations_started_total"
    sent = r'framework_advisor_replies_sent_total\{method="chat.postMessage"\}'
    after = wait_until(lambda: (t := http_get(bot.url + "/metrics")[1].decode())
                       and counted(t, sent) > counted(before, sent) and t, what="the first question counted")
    assert counted(after, started) == counted(before, started) + 1
