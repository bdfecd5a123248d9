"""Request verification on /slack/events: forged, unsigned, stale or malformed requests are refused with 401
and change nothing; a body over 1 MiB is refused with 413; an answer over 4,000 characters gets a polite
reply and is not stored. The bot runs in-process (waitress + bolt) against the fake.
"""

from __future__ import annotations

import time

import pytest

from tests.fakes import event_body, signed_headers, slash_command_body
from tests.fakes.signing import block_actions_body
from tests.reliability.helpers import (
    SECRET,
    Fake,
    inprocess_bot,
    message_event,
    post_oversized,
    posts,
    query,
    raw_post,
    send_answer,
    snapshot,
    start_consultation,
    wait_drained,
)


@pytest.fixture(scope="module")
def bot(tmp_path_factory):
    with Fake() as fake, inprocess_bot(fake, tmp_path_factory.mktemp("verify") / "verify.db") as running:
        running.fake = fake
        running.cid, running.thread = start_consultation(running.url, fake, running.db, "C0VERIFY", "U0VERIFY")
        wait_drained(running.db)
        yield running


def _bodies(bot) -> dict[str, tuple[bytes, str]]:
    """One request of each kind that would change something if it were accepted."""
    event = message_event("C0VERIFY", bot.thread, "U0VERIFY", "a web app")
    click = {"action_id": "fa_answer_0", "block_id": "fa_q_app_type", "type": "button",
             "value": f'{{"c":{bot.cid},"q":"app_type","v":"web_app"}}', "action_ts": "1.1"}
    return {"event": event_body(event, event_id="EvForged"),
            "command": slash_command_body(text="start forged", channel_id="C0FORGED", user_id="U0FORGER",
                                          response_url=bot.fake.response_url()),
            "forget": slash_command_body(text="forget me", user_id="U0VERIFY"),
            "click": block_actions_body([click], channel_id="C0VERIFY", user_id="U0VERIFY",
                                        message={"ts": "1.1", "type": "message", "text": ""})}


def _headers(case: str, body: bytes, content_type: str) -> dict[str, str]:
    now = int(time.time())
    good = signed_headers(SECRET, body, now)
    h = {"Content-Type": content_type}
    if case == "bad signature":
        h.update(signed_headers("not-the-signing-secret", body, now))
    elif case == "signature of another body":
        h.update(signed_headers(SECRET, body + b" ", now))
    elif case == "missing signature":
        h["X-Slack-Request-Timestamp"] = good["X-Slack-Request-Timestamp"]
    elif case == "missing timestamp":
        h["X-Slack-Signature"] = good["X-Slack-Signature"]
    elif case == "missing both":
        pass
    elif case == "timestamp 6 minutes old":
        h.update(signed_headers(SECRET, body, now - 360))
    elif case == "timestamp 6 minutes ahead":
        h.update(signed_headers(SECRET, body, now + 360))
    elif case == "non-numeric timestamp":
        sig = signed_headers(SECRET, body, now)["X-Slack-Signature"]
        h.update({"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": sig})
    elif case == "float timestamp":
        h.update({"X-Slack-Request-Timestamp": f"{now}.5", "X-Slack-Signature": good["X-Slack-Signature"]})
    elif case == "empty signature":
        h.update({"X-Slack-Request-Timestamp": str(now), "X-Slack-Signature": ""})
    elif case == "v1 signature":
        h.update({"X-Slack-Request-Timestamp": str(now), "X-Slack-Signature": "v1=" + good["X-Slack-Signature"][3:]})
    return h


CASES = ["bad signature", "signature of another body", "missing signature", "missing timestamp", "missing both",
         "timestamp 6 minutes old", "timestamp 6 minutes ahead", "non-numeric timestamp", "float timestamp",
         "empty signature", "v1 signature"]


@pytest.mark.parametrize("case", CASES)
def test_unverifiable_requests_get_401_and_change_nothing(bot, case):
    before = snapshot(bot.db)
    calls = len(bot.fake.calls)
    for kind, (body, ct) in _bodies(bot).items():
        status, _ = raw_post(bot.url, body, _headers(case, body, ct))
        assert status == 401, f"{case} / {kind}: HTTP {status}"
    time.sleep(0.3)  # a lazy listener, had one started, would have written by now
    assert snapshot(bot.db) == before
    assert len(bot.fake.calls) == calls, [c.method for c in bot.fake.calls[calls:]]


def test_a_correctly_signed_request_is_accepted(bot):
    """The control for the cases above: a properly signed request does get through."""
    body, ct = slash_command_body(text="help", channel_id="C0VERIFY", user_id="U0VERIFY")
    status, text = raw_post(bot.url, *_signed(body, ct))
    assert status == 200 and b"Framework Advisor" in text


def _signed(body: bytes, ct: str) -> tuple[bytes, dict]:
    return body, {"Content-Type": ct, **signed_headers(SECRET, body)}


def test_a_body_over_1_mib_gets_413(bot):
    before = snapshot(bot.db)
    event = message_event("C0VERIFY", bot.thread, "U0VERIFY", "x" * (1024 * 1024))
    body, ct = event_body(event, event_id="EvHuge")
    assert len(body) > 1024 * 1024
    assert post_oversized(bot.url, *_signed(body, ct)) == 413
    just_over = b"payload=" + b"a" * (1024 * 1024 - 7)
    assert len(just_over) == 1024 * 1024 + 1
    assert post_oversized(bot.url, *_signed(just_over, "application/x-www-form-urlencoded")) == 413
    # and an unsigned one is refused the same way, before anything reads it
    assert post_oversized(bot.url, just_over, {"Content-Type": "application/x-www-form-urlencoded"}) == 413
    assert snapshot(bot.db) == before


def test_an_answer_over_4000_characters_gets_a_polite_reply_and_is_not_stored(bot):
    answers = query(bot.db, "SELECT COUNT(*) FROM answers")
    n = len(posts(bot.fake, "C0VERIFY", bot.thread))
    long_answer = "web app " * 501  # 4,008 characters that would otherwise parse as an answer
    assert send_answer(bot.url, "C0VERIFY", bot.thread, "U0VERIFY", long_answer, "EvTooLong") == 200
    wait_drained(bot.db)
    replies = posts(bot.fake, "C0VERIFY", bot.thread)[n:]
    assert len(replies) == 1 and "too long" in replies[0].params["text"]
    assert query(bot.db, "SELECT COUNT(*) FROM answers") == answers
    assert query(bot.db, "SELECT COUNT(*) FROM answers WHERE raw_text LIKE 'web app web app%'") == [(0,)]
    # 4,000 characters exactly is still read as an answer
    assert send_answer(bot.url, "C0VERIFY", bot.thread, "U0VERIFY", ("a web app" + " " * 4000)[:4000],
                       "EvJustFits") == 200
    assert query(bot.db, "SELECT COUNT(*) FROM answers") == [(answers[0][0] + 1,)]


MALFORMED = [(b'{"type": "event_callback"', "application/json"), (b"[1, 2]", "application/json"),
             (b'"text"', "application/json"), (b"\xff\xfe", "application/json"),
             (b"payload=%7Bnot+json", "application/x-www-form-urlencoded"),
             (b"payload=%5B1%5D", "application/x-www-form-urlencoded"),
             (b"%%%&&==not a form", "application/x-www-form-urlencoded")]


@pytest.mark.parametrize("body,content_type", MALFORMED, ids=[b[:12].decode("latin-1") for b, _ in MALFORMED])
def test_forged_request_with_a_malformed_body_gets_401(bot, body, content_type):
    headers = {"Content-Type": content_type, "X-Slack-Signature": "v0=" + "0" * 64,
               "X-Slack-Request-Timestamp": str(int(time.time()))}
    assert raw_post(bot.url, body, headers)[0] == 401


@pytest.mark.parametrize("body,content_type", MALFORMED, ids=[b[:12].decode("latin-1") for b, _ in MALFORMED])
def test_signed_request_with_a_malformed_body_gets_a_4xx(bot, body, content_type):
    assert 400 <= raw_post(bot.url, *_signed(body, content_type))[0] < 500
