"""Shared helpers for the Slack tests: a real `serve` process wired to the fake Slack Web API.

`running_bot(tmp_path)` starts `python -m bot.cli serve` on a free port with SLACK_API_URL pointing
at a FakeSlackWebAPI, waits for GET /healthz, and yields a `Bot` that sends signed requests
(slash commands, events, button clicks) and reads what the bot sent to Slack.

The outbox sends about one message per second per channel, so every test uses its own channel
(`Bot.new_channel()`) and waits for the messages it expects rather than sleeping.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import socket
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

import pytest

from bot.store import Store
from tests.fakes import (
    FakeSlackWebAPI,
    block_actions_body,
    event_body,
    post_signed,
    slash_command_body,
    view_submission_body,
)

ROOT = Path(__file__).resolve().parents[2]
SECRET = "testsigningsecret123"
BOT_TOKEN = "xoxb-test-bot-token"
TEAM = "T0FAKE001"
BOT_USER = "U0FAKEBOT"
ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"
SLACK_VARS = ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_CLIENT_ID",
              "SLACK_CLIENT_SECRET", "SLACK_API_URL")

# How a person types an answer to each question, and the button value for it.
TYPED = {"app_type": "a static site", "team_size": "just 2 of us", "project_size": "small", "duration": "a few weeks",
         "realtime": "no", "team_language": "python", "one_language": "no", "experience": "experienced",
         "hiring": "no", "needs_admin": "no", "needs_forms": "no", "database": "relational",
         "flexibility": "freedom", "ml_integration": "no", "performance_critical": "no", "serverless": "no"}
BUTTON = {"app_type": "static_site", "team_size": 2, "project_size": "small", "duration": "short", "realtime": "no",
          "team_language": "python", "one_language": "no", "experience": "experienced", "hiring": "no",
          "needs_admin": "no", "needs_forms": "no", "database": "relational", "flexibility": "freedom",
          "ml_integration": "no", "performance_critical": "no", "serverless": "no"}

# One line answering, for a web app, every question the advisor asks before the team size (since the knowledge
# change of issue 14 it is asked last), so that a test can have the team size open.
BEFORE_TEAM_SIZE = ("a web app, mostly python devs, we want freedom, a small project, no realtime, postgres, no admin, "
                    "no ml, our own servers, short term, senior devs, not hiring")
BEFORE_TEAM_SIZE_ANSWERS = {"app_type": "web_app", "team_language": "python", "flexibility": "freedom",
                            "project_size": "small", "realtime": "no", "database": "relational", "needs_admin": "no",
                            "ml_integration": "no", "serverless": "no", "duration": "short",
                            "experience": "experienced", "hiring": "no"}

_ts_lock = threading.Lock()
_last_ts = [0.0]
_ids = itertools.count(1)


def offline_context(db_path: Path | str):
    """A SlackContext on a fresh database and no Slack behind it: tests read its outbox, nothing is sent."""
    from bot.consultation import Consultations
    from bot.slack.config import SlackConfig
    from bot.slack.context import SlackContext

    store = Store(db_path)
    cfg = SlackConfig(mode="http", api_url="http://127.0.0.1:9/api/", bot_token="xoxb-offline",
                      signing_secret="s" * 32)
    return SlackContext(store=store, service=Consultations(store), cfg=cfg, worker=None)


def outbox_texts(ctx, method: str) -> list[str]:
    """The `text` of every queued call of one Web API method, oldest first."""
    rows = ctx.store.db.execute("SELECT payload FROM outbox WHERE method = ? ORDER BY id", [method]).fetchall()
    return [json.loads(r[0])["text"] for r in rows]


@functools.cache
def _advisor():
    from rules.advisor import default

    return default()


def next_question(answers: dict[str, Any]) -> str | None:
    """The question the advisor asks after `answers` (the bot runs the same knowledge base)."""
    return _advisor().recommend(dict(answers), with_changes=False)["next_question"]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def now_ts() -> str:
    """A Slack-style message ts for 'now', strictly increasing across calls."""
    with _ts_lock:
        t = max(time.time(), _last_ts[0] + 0.000001)
        _last_ts[0] = t
        return f"{t:.6f}"


def unique(prefix: str) -> str:
    """A fresh id such as C0T00007 (channels), Ev00012 (event ids)."""
    return f"{prefix}{next(_ids):05d}"


def clean_env(**extra: str) -> dict[str, str]:
    """os.environ without any Slack variable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in SLACK_VARS and k != "FRAMEWORK_ADVISOR_DB"}
    env.update(extra)
    return env


def wait_until(predicate: Callable[[], Any], timeout: float = 10, what: str = "condition") -> Any:
    """Poll `predicate` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def raw_post(url: str, body: bytes, headers: dict[str, str], timeout: float = 15) -> tuple[int, bytes]:
    """POST without signing (for the verification tests): status and body, also for error statuses."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


def http_get(url: str) -> tuple[int, bytes]:
    """GET a URL; (status, body) also for error statuses."""
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.read()


# -- reading what the bot sent -------------------------------------------------------------------

def block_texts(blocks: Any) -> list[str]:
    """Every text string inside Block Kit blocks (sections, headers, contexts, buttons...)."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "text" and isinstance(v, str):
                    out.append(v)
                else:
                    walk(v)
        elif isinstance(node, list):
            for x in node:
                walk(x)

    walk(blocks)
    return out


def action_ids(blocks: Any) -> list[str]:
    """The action_id of every element in the blocks' actions blocks."""
    return [e.get("action_id") for b in blocks or [] if b.get("type") == "actions" for e in b.get("elements", [])]


def question_of(params: dict) -> str | None:
    """The question id a posted message asks (its actions block is `fa_q_<id>`), or None."""
    blocks = params.get("blocks")
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    for b in blocks or []:
        if b.get("type") == "actions" and str(b.get("block_id", "")).startswith("fa_q_"):
            return b["block_id"].removeprefix("fa_q_")
    return None


def button_value(params: dict, action_id: str) -> dict:
    """The decoded JSON value of a button in a posted message."""
    for b in params.get("blocks") or []:
        for e in b.get("elements", []) if b.get("type") == "actions" else []:
            if e.get("action_id") == action_id:
                return json.loads(e["value"])
    raise AssertionError(f"no button {action_id} in {action_ids(params.get('blocks'))}")


def button_for(params: dict, value: Any) -> tuple[str, dict]:
    """(action_id, value dict) of the answer button whose value is `value`."""
    for b in params.get("blocks") or []:
        for e in b.get("elements", []) if b.get("type") == "actions" else []:
            v = json.loads(e["value"])
            if e["action_id"].startswith("fa_answer_") and v.get("v") == value:
                return e["action_id"], v
    raise AssertionError(f"no answer button with value {value!r}")


def dialog_state(view: dict, **fields: Any) -> dict:
    """A submitted view's `state.values` ({block_id: {action_id: state}}): each input's initial value,
    or `fields[block_id]`, given as Slack reports that element's state (a value, ids, a date...)."""
    values: dict[str, Any] = {}
    for block in view.get("blocks", []):
        if block.get("type") != "input":
            continue
        element, bid = block["element"], block["block_id"]
        kind = element["type"]
        given = fields.get(bid)
        if kind == "plain_text_input":
            state = {"value": given if bid in fields else element.get("initial_value")}
        elif kind in ("static_select", "radio_buttons"):
            options = {o["value"]: o for o in element.get("options", [])}
            state = {"selected_option": options.get(given) if bid in fields else element.get("initial_option")}
        elif kind == "multi_users_select":
            state = {"selected_users": list(given if bid in fields else element.get("initial_users", []))}
        elif kind == "datepicker":
            state = {"selected_date": given if bid in fields else element.get("initial_date")}
        elif kind == "checkboxes":
            options = {o["value"]: o for o in element.get("options", [])}
            chosen = [options[v] for v in given] if bid in fields else element.get("initial_options", [])
            state = {"selected_options": chosen}
        else:
            raise AssertionError(f"no state for {kind}")
        values[bid] = {element["action_id"]: {"type": kind, **state}}
    return values


@dataclass
class Post:
    """A chat.postMessage the bot made, and the ts Slack gave it."""

    params: dict
    ts: str

    @property
    def text(self) -> str:
        return self.params.get("text", "")

    @property
    def blocks(self) -> list[dict]:
        return self.params.get("blocks") or []

    @property
    def question(self) -> str | None:
        return question_of(self.params)

    @property
    def thread_ts(self) -> str | None:
        return self.params.get("thread_ts")


def posts_in(fake: FakeSlackWebAPI, channel: str) -> list[Post]:
    """The chat.postMessage calls to `channel` that Slack accepted, oldest first."""
    return [Post(c.params | {"blocks": c.param("blocks")} if c.params.get("blocks") else dict(c.params),
                 c.response["ts"])
            for c in fake.calls_to("chat.postMessage")
            if c.params.get("channel") == channel and c.response and c.response.get("ok")]


def wait_posts_in(fake: FakeSlackWebAPI, channel: str, count: int, timeout: float = 15) -> list[Post]:
    """Block until `channel` has `count` accepted posts; return them all."""
    return wait_until(lambda: (p := posts_in(fake, channel)) and len(p) >= count and p, timeout,
                      f"{count} post(s) in {channel} (have {[x.text[:60] for x in posts_in(fake, channel)]})")


# -- the bot under test ----------------------------------------------------------------------------

@dataclass
class Bot:
    """A running `serve` and the fake Slack it talks to."""

    url: str
    fake: FakeSlackWebAPI
    db: Path
    proc: subprocess.Popen
    log: Path
    acks: list[dict] = field(default_factory=list)
    # Log lines containing one of these may report an error (a test that provokes a known bug).
    allowed_log_errors: list[str] = field(default_factory=list)

    # requests -----------------------------------------------------------------------------------
    def post(self, body: bytes, ctype: str, **kw: Any) -> tuple[int, dict, bytes]:
        return post_signed(self.url + "/slack/events", body, ctype, SECRET, **kw)

    def command(self, text: str, *, channel: str, user: str = ALICE, team: str = TEAM,
                response_url: str | None = None) -> tuple[int, dict | None]:
        """/framework <text>; returns the HTTP status and the ack body (None when empty)."""
        body, ctype = slash_command_body(text=text, channel_id=channel, user_id=user, team_id=team,
                                         response_url=response_url or self.fake.response_url())
        status, _, raw = self.post(body, ctype)
        ack = json.loads(raw) if raw.strip() else None
        if ack is not None:
            self.acks.append(ack)
        return status, ack

    def event(self, event: dict, *, team: str = TEAM, event_id: str | None = None,
              headers: dict | None = None) -> int:
        body, ctype = event_body(event, team_id=team, event_id=event_id or unique("Ev"))
        return self.post(body, ctype, extra_headers=headers)[0]

    def say(self, channel: str, thread_ts: str | None, text: str, *, user: str = ALICE, team: str = TEAM,
            ts: str | None = None, event_id: str | None = None, **extra: Any) -> int:
        """A message typed in a channel (a thread reply when thread_ts is given)."""
        ts = ts or now_ts()
        self.fake.user_message(channel, ts, user, text, thread_ts)
        event = {"type": "message", "channel": channel, "user": user, "text": text, "ts": ts,
                 "channel_type": "channel", "event_ts": ts, "team": team, **extra}
        if thread_ts:
            event["thread_ts"] = thread_ts
        return self.event(event, team=team, event_id=event_id)

    def click(self, post: Post | dict, action_id: str, value: dict | None = None, *, channel: str,
              user: str = ALICE, team: str = TEAM, action_ts: str | None = None) -> int:
        """Click a button of a message the bot posted (value defaults to the button's own)."""
        params = post.params if isinstance(post, Post) else post
        ts = post.ts if isinstance(post, Post) else post["ts"]
        value = value if value is not None else button_value(params, action_id)
        body, ctype = self.click_body(action_id, value, channel=channel, user=user, team=team, message_ts=ts,
                                      thread_ts=params.get("thread_ts"), action_ts=action_ts)
        return self.post(body, ctype)[0]

    def click_body(self, action_id: str, value: dict, *, channel: str, user: str, team: str,
                   message_ts: str, thread_ts: str | None = None, action_ts: str | None = None) -> tuple[bytes, str]:
        message = {"type": "message", "ts": message_ts, "user": BOT_USER, "bot_id": "B0FAKEBOT", "text": ""}
        if thread_ts:
            message["thread_ts"] = thread_ts
        action = {"action_id": action_id, "block_id": "b", "value": json.dumps(value),
                  "text": {"type": "plain_text", "text": "x"}, "action_ts": action_ts or now_ts()}
        return block_actions_body([action], channel_id=channel, user_id=user, team_id=team, message=message,
                                  response_url=self.fake.response_url("actions"), trigger_id=self.fake.trigger_id())

    def submit(self, view: dict, *, user: str = ALICE, team: str = TEAM, **fields: Any) -> tuple[int, dict | None]:
        """Submit a dialog the bot opened (as views.open answered it) with its initial values, `fields`
        overriding some (by block id); returns the HTTP status and the ack body (None when empty)."""
        body, ctype = view_submission_body(view, dialog_state(view, **fields), user_id=user, team_id=team,
                                           trigger_id=self.fake.trigger_id())
        status, _, raw = self.post(body, ctype)
        return status, json.loads(raw) if raw.strip() else None

    def opened_views(self, callback_id: str | None = None) -> list[dict]:
        """The views the bot opened (views.open that Slack accepted), oldest first."""
        return [c.response["view"] for c in self.fake.calls_to("views.open") if c.response and c.response.get("ok")
                and (callback_id is None or c.response["view"].get("callback_id") == callback_id)]

    # what the bot sent --------------------------------------------------------------------------
    def posts(self, channel: str) -> list[Post]:
        """The chat.postMessage calls to `channel` that Slack accepted, oldest first."""
        return posts_in(self.fake, channel)

    def wait_posts(self, channel: str, count: int, timeout: float = 15) -> list[Post]:
        """Block until `channel` has `count` accepted posts; return them all."""
        return wait_posts_in(self.fake, channel, count, timeout)

    def next_post(self, channel: str, after: int, timeout: float = 15) -> Post:
        """The post number `after` (0-based) in `channel`, once it arrives."""
        return self.wait_posts(channel, after + 1, timeout)[after]

    def updates(self, channel: str) -> list:
        return [c for c in self.fake.calls_to("chat.update") if c.params.get("channel") == channel]

    def ephemerals(self, channel: str) -> list:
        return [c for c in self.fake.calls_to("chat.postEphemeral") if c.params.get("channel") == channel]

    def store(self) -> Store:
        return Store(self.db)

    # flows --------------------------------------------------------------------------------------
    def start(self, channel: str, topic: str = "", user: str = ALICE, team: str = TEAM) -> tuple[Post, Post]:
        """/framework start <topic>: wait for the root message and the first question."""
        n = len(self.posts(channel))
        status, ack = self.command(f"start {topic}".strip(), channel=channel, user=user, team=team)
        assert status == 200 and ack is None, (status, ack)
        root, first = self.wait_posts(channel, n + 2)[n:n + 2]
        return root, first

    def consultation_id(self, channel: str, root_ts: str, team: str = TEAM) -> int:
        c = self.store().consultation_by_thread(team, channel, root_ts)
        assert c is not None
        return c.id


@contextmanager
def running_bot(tmp_path: Path, *, fake: FakeSlackWebAPI | None = None) -> Iterator[Bot]:
    """Start `serve` as a subprocess against a fake Slack; stop both afterwards."""
    own = fake is None
    fake = fake or FakeSlackWebAPI().start()
    port = free_port()
    db = tmp_path / "bot.db"
    log = tmp_path / "serve.log"
    env = clean_env(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=fake.url,
                    FRAMEWORK_ADVISOR_DB=str(db), PYTHONUNBUFFERED="1")
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                                env=env, cwd=ROOT, stdout=err, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                pytest.fail(f"serve exited with {proc.returncode}: {log.read_text()[-2000:]}")
            try:
                if http_get(url + "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"serve did not answer /healthz: {log.read_text()[-2000:]}")
            time.sleep(0.05)
        yield Bot(url=url, fake=fake, db=db, proc=proc, log=log)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if own:
            fake.stop()


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    """One `serve` process and fake Slack per test module (tests use their own channels)."""
    with running_bot(tmp_path_factory.mktemp("serve")) as b:
        yield b
        # Whatever the module did, the bot never spoke outside Slack's contract.
        assert_contract(b)
        assert_quiet_log(b)


# -- checks over everything the bot sent -------------------------------------------------------------

# The start job posts first and joins only when Slack says not_in_channel (private channels refuse a join).
EXPECTED_ERRORS = {("conversations.join", "method_not_supported_for_channel_type"),
                   ("chat.postMessage", "not_in_channel"),
                   ("chat.postMessage", "ratelimited"),
                   ("chat.postMessage", "restricted_action_read_only_channel")}  # a test makes a channel read-only


def assert_contract(bot: Bot) -> None:
    """No unknown parameters, no refused calls, a text fallback on every message."""
    fake = bot.fake
    assert fake.unknown_params == [], fake.unknown_params
    refused = [(c.method, (c.response or {}).get("error")) for c in fake.calls
               if c.response is not None and not c.response.get("ok")]
    assert [r for r in refused if r not in EXPECTED_ERRORS] == [], refused
    for c in fake.calls_to("chat.postMessage") + fake.calls_to("chat.update") + fake.calls_to("chat.postEphemeral"):
        assert str(c.params.get("text", "")).strip(), f"{c.method} without a text fallback: {c.params}"
    for ack in bot.acks:
        assert str(ack.get("text", "")).strip(), ack


def assert_quiet_log(bot: Bot) -> None:
    """The serve log has no traceback and no error line (apart from the ones a test said it provokes)."""
    bad = [line for line in bot.log.read_text().splitlines()
           if ("Traceback" in line or '"level": "error"' in line)
           and not any(a in line for a in bot.allowed_log_errors)]
    assert bad == [], "\n".join(bad)[-3000:]


def everything_sent(bot: Bot, channel: str | None = None) -> list[str]:
    """Every text and block text the bot sent (posts, updates, ephemerals, response_url, views, acks)."""
    out: list[str] = []
    for c in bot.fake.calls:
        if c.method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            if channel and c.params.get("channel") != channel:
                continue
            out.append(str(c.params.get("text", "")))
            out += block_texts(c.param("blocks"))
        elif c.method == "response_url":
            out.append(str(c.params.get("text", "")))
            out += block_texts(c.params.get("blocks"))
        elif c.method == "views.publish":
            out += block_texts(c.param("view"))
    for ack in bot.acks:
        out.append(str(ack.get("text", "")))
        out += block_texts(ack.get("blocks"))
    return out
