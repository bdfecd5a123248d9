"""Hostile input: property tests over `/framework` text and thread answers (10,000 generated inputs in all).

Unicode, emoji, control characters, 40 kB lines, Slack markup (`<!channel>`, `<@U123>`, `<https://x|y>`)
and SQL fragments go through the same code the listeners run (`bot.slack.commands.answer` with a context
built like bot/slack/app.py, `starting.start`, `Consultations.handle_text` + `SlackContext.send`, and the
bolt app itself via `app.dispatch`). Nothing may raise, every rendered payload must be valid Block Kit,
and no Slack markup typed by a user may come back raw (it would ping @channel or a user).
"""

from __future__ import annotations

import itertools
import json
import re
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_bolt.request import BoltRequest

from tests.fakes import signed_headers, slash_command_body
from tests.fakes.slack_web_api import MAX_TEXT as SLACK_MAX_TEXT
from tests.fakes.slack_web_api import _block_problem
from tests.reliability.helpers import BOT_TOKEN, SECRET, Fake, dump, query

TEAM, USER, CHANNEL = "T0FUZZ", "U0FUZZ", "C0FUZZ"
HOSTILE = ["<!channel>", "<!here>", "<!everyone>", "<@U123>", "<https://x|y>", "<#C123|general>", "<!subteam^S123>",
           "<!date^1^{date}|x>", "'; DROP TABLE decisions; --", "\" OR 1=1 --", "Robert'); DROP TABLE answers;--",
           "%s%s%n", "{0}{1}", "${jndi:ldap://x}", "\x00", "\u202e", "\ufeff", "\u200b", "🔥" * 5, "👨‍👩‍👧‍👦",
           "&lt;!channel&gt;", "&amp;", "<", ">", "&", "`", "```", "*bold*", "_it_", "~s~", "\n\n", "\r\n", "\t",
           "\\", "\"", "'", "\x1b[31m", "\udcff".encode("utf-8", "surrogatepass").decode("utf-8", "replace")]
WORDS = ["web app", "rest api", "30", "about 12 of us", "yes", "no", "python", "both", "large", "years",
         "django", "flask", "node", "decide", "decide flask because", "set team_size=", "set app_type=", "skip",
         "back", "restart", "why", "how", "status", "help", "cancel", "actually we are", "because", "=", "#3", "-1",
         "99999999999999999999", "1e9", "0x10", "NaN", "show", "export", "whatif", "1", "2", "team_size=40"]
SUBCOMMANDS = ["help", "history", "show", "export", "compare", "whatif", "cancel", "forget", "SHOW", "History",
               "bogus", "?", "<!channel>", "show\n", "export\t"]
# Markup only a user could have typed: the bot's own mentions use other ids.
RAW = re.compile(r"<(?:!channel|!here|!everyone|!subteam|@U123|https://x|#C123|!date\^1\^)")
BOT_MARKUP = re.compile(r"<(?:@U0FUZZ\w*|@U0SEED\w*|#C0FUZZ\w*|!date\^\d{9,}\^\{date_short_pretty\} \{time\}\|[^<>]*"
                        r"|!date\^\d{9,}\^\{date_long\}\|\d{4}-\d\d-\d\d"  # a decision's review date
                        r"|https://[a-z0-9-]+\.slack\.com/archives/C0FUZZ\w*/p\d+\|thread)>")

fragment = st.one_of(st.sampled_from(HOSTILE), st.sampled_from(WORDS), st.text(max_size=25))
line = st.lists(fragment, max_size=8).map(" ".join)
long_line = st.tuples(st.sampled_from(HOSTILE + ["a", "é", "web app "]), st.integers(3990, 40_000)).map(
    lambda t: (t[0] * (t[1] // max(1, len(t[0])) + 1))[: t[1]])
FUZZ = settings(deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=list(HealthCheck))
COUNT = {"commands": 0, "start": 0, "thread": 0, "long": 0, "dispatch": 0}


def assert_clean(obj, where: str) -> None:
    """No raw user markup; every <...> token is one the bot itself writes."""
    text = obj if isinstance(obj, str) else dump(obj)
    raw = RAW.search(text)
    assert raw is None, f"{where}: raw markup {raw.group(0)!r} in {text[max(0, raw.start() - 80): raw.end() + 40]!r}"
    for token in re.findall(r"<[^<>]*>", text):
        assert BOT_MARKUP.fullmatch(token), f"{where}: unexpected markup {token!r}"


def assert_valid_message(payload: dict, where: str) -> None:
    assert len(payload.get("text", "")) <= SLACK_MAX_TEXT, where
    blocks = payload.get("blocks") or []
    assert len(blocks) <= 50, where
    for b in blocks:
        problem = _block_problem(b)
        assert problem is None, f"{where}: {problem}"


_TS = itertools.count(1)


class StubClient:
    """The slice of WebClient that `starting.start` uses (every message gets a new ts, like Slack's)."""

    def __init__(self):
        self.posted = []

    def conversations_join(self, channel):
        return {"ok": True}

    def chat_postMessage(self, **kwargs):  # noqa: N802 - slack_sdk's name
        self.posted.append(kwargs)
        return {"ok": True, "ts": f"1700000001.{next(_TS):06d}"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A context built like bot/slack/app.py over a fresh store, with hostile decisions to show and export."""
    from bot.consultation import Consultations
    from bot.slack.config import SlackConfig
    from bot.slack.context import SlackContext
    from bot.store import Store

    store = Store(tmp_path_factory.mktemp("fuzz") / "fuzz.db")
    service = Consultations(store)
    cfg = SlackConfig(mode="http", api_url="http://127.0.0.1:9/api/", bot_token=BOT_TOKEN, signing_secret=SECRET)
    ctx = SlackContext(store=store, service=service, cfg=cfg, worker=None)
    for n, topic in enumerate(["<!channel> billing <@U123>", "'; DROP TABLE decisions; --", "<https://x|y> 🔥"]):
        c, _ = service.start(TEAM, f"{CHANNEL}{n}", f"1.{n}", f"U0SEED{n}", topic)
        for text in ["a web app", "about 30 of us <!here>", "large", "years", "no"]:
            service.handle_text(TEAM, c.id, f"U0SEED{n}", text)
        service.decide(TEAM, c.id, f"U0SEED{n}", "django", f"because <!channel> {topic} <@U123>")
    state = {"cid": None, "n": 0}
    yield ctx, state
    assert query(store.path, "PRAGMA integrity_check") == [("ok",)]
    assert query(store.path, "SELECT COUNT(*) FROM decisions")[0][0] >= 3  # no table was dropped
    print(f"\nhostile input: {sum(COUNT.values())} generated inputs {COUNT}: 0 unhandled exceptions, "
          "0 raw user markup echoed")


def _outbox_since(ctx, last_id: int) -> list[tuple[int, str, str]]:
    return ctx.store.db.execute("SELECT id, method, payload FROM outbox WHERE id > ? ORDER BY id",
                                [last_id]).fetchall()


def _check_outbox(ctx, last_id: int, where: str) -> int:
    for oid, method, payload in _outbox_since(ctx, last_id):
        data = json.loads(payload)
        assert_clean(data, f"{where} ({method})")
        if method != "views.publish":
            assert_valid_message(data, where)
        last_id = oid
    return last_id


@settings(FUZZ, max_examples=4200)
@given(sub=st.sampled_from(SUBCOMMANDS), rest=st.one_of(line, st.sampled_from(WORDS)))
def test_slash_command_text(world, sub, rest):
    from bot.render import blocks
    from bot.slack import commands

    ctx, _ = world
    COUNT["commands"] += 1
    text = f"{sub} {rest}"
    command = {"team_id": TEAM, "user_id": USER, "channel_id": CHANNEL, "text": text, "team_domain": "fuzz-team"}
    name, tail = commands.split(text)
    if name in ("", "start"):
        return
    before = ctx.store.db.execute("SELECT COALESCE(MAX(id), 0) FROM outbox").fetchone()[0]
    reply = commands.answer(ctx, command, name, tail)  # what ack_framework sends, built the same way
    payload = {"text": reply[:39000], "blocks": None if "```" in reply else blocks.text_reply_blocks(reply)}
    assert_clean(payload, f"/framework {text!r}")
    if payload["blocks"]:
        assert_valid_message(payload, f"/framework {text!r}")
    _check_outbox(ctx, before, f"/framework {text!r}")


@settings(FUZZ, max_examples=300)
@given(topic=st.one_of(line, long_line.map(lambda t: t[:4000])))
def test_slash_command_start_topic(world, topic):
    from bot.slack import starting

    ctx, _ = world
    COUNT["start"] += 1
    client, responses = StubClient(), []
    before = ctx.store.db.execute("SELECT COALESCE(MAX(id), 0) FROM outbox").fetchone()[0]
    command = {"team_id": TEAM, "user_id": USER, "channel_id": CHANNEL + "S", "text": f"start {topic}"}
    starting.start(ctx, client, lambda **kw: responses.append(kw), command, starting.split(f"start {topic}")[1])
    for posted in client.posted + responses:
        assert_clean(posted, f"start {topic[:80]!r}")
        assert len(posted.get("text", "")) <= SLACK_MAX_TEXT
    _check_outbox(ctx, before, f"start {topic[:80]!r}")


def test_a_very_long_topic_still_starts_a_consultation(world):
    from bot.slack import starting

    ctx, _ = world
    client = StubClient()
    topic = "<" * 10_000
    command = {"team_id": TEAM, "user_id": USER, "channel_id": CHANNEL + "L", "text": f"start {topic}"}
    starting.start(ctx, client, lambda **kw: None, command, topic)
    assert len(client.posted[0]["text"]) <= SLACK_MAX_TEXT


def _consultation(ctx, state) -> int:
    """The consultation being fuzzed; a fresh one every 40 inputs or once it is no longer open."""
    service = ctx.service
    cid = state["cid"]
    if cid is None or state["n"] % 40 == 0 or service.store.get_consultation(TEAM, cid).status != "open":
        c, reply = service.start(TEAM, CHANNEL, f"{time.time():.6f}", USER, "fuzz")
        ctx.send(TEAM, CHANNEL, c.thread_ts, [reply], key=f"fuzzstart:{c.id}")
        state["cid"] = cid = c.id
    state["n"] += 1
    return cid


@settings(FUZZ, max_examples=4500)
@given(text=line)
def test_thread_answers(world, text):
    ctx, state = world
    COUNT["thread"] += 1
    _thread_answer(ctx, state, text)


@settings(FUZZ, max_examples=500)
@given(text=long_line)
def test_long_thread_answers(world, text):
    ctx, state = world
    COUNT["long"] += 1
    stored = ctx.store.db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
    replies = _thread_answer(ctx, state, text)
    if len(text) > 4000:
        assert [r.kind for r in replies] == ["clarify"] and "too long" in replies[0].text
        assert ctx.store.db.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == stored


def _thread_answer(ctx, state, text):
    cid = _consultation(ctx, state)
    c = ctx.store.get_consultation(TEAM, cid)
    before = ctx.store.db.execute("SELECT COALESCE(MAX(id), 0) FROM outbox").fetchone()[0]
    n = state["n"]
    replies = ctx.service.handle_text(TEAM, cid, USER, text, event_id=f"EvFuzz{n}",
                                      message_time="2100-01-01T00:00:00.000000+00:00")
    ctx.send(TEAM, CHANNEL, c.thread_ts, replies, key=f"ev:EvFuzz{n}")
    _check_outbox(ctx, before, f"thread answer {text[:80]!r}")
    return replies


@pytest.fixture(scope="module")
def bolt_app(world):
    """The real bolt app (build()) over the same store, for requests dispatched in-process."""
    from bot.slack.app import build
    from bot.slack.config import SlackConfig

    ctx, _ = world
    with Fake() as fake:
        cfg = SlackConfig(mode="http", api_url=fake.url, bot_token=BOT_TOKEN, signing_secret=SECRET)
        yield build(cfg, ctx.store, ctx.service).app


@settings(FUZZ, max_examples=500)
@given(sub=st.sampled_from(SUBCOMMANDS), rest=line)
def test_slash_command_through_bolt(bolt_app, sub, rest):
    COUNT["dispatch"] += 1
    body, ct = slash_command_body(text=f"{sub} {rest}", team_id=TEAM, user_id=USER, channel_id=CHANNEL)
    headers = {"content-type": [ct], **{k.lower(): [v] for k, v in signed_headers(SECRET, body).items()}}
    response = bolt_app.dispatch(BoltRequest(body=body.decode(), headers=headers))
    assert response.status == 200, response.body
    ack = json.loads(response.body)
    assert "Sorry, something went wrong" not in ack.get("text", "")
    assert_clean(ack, f"/framework {sub} {rest!r}")
