"""A local fake of the Slack Web API, for running the real bolt app and slack_sdk clients in tests.

``with FakeSlackWebAPI() as fake:`` serves ``fake.url`` (``http://127.0.0.1:PORT/api/``) on an ephemeral
port. Point ``WebClient(base_url=fake.url)`` (or ``SLACK_API_URL``) at it. It records every call, keeps
the messages it was sent per channel, answers with Slack-shaped JSON, holds calls to the published
OpenAPI contract (required/unknown parameters, unknown methods) and validates Block Kit payloads with
slack_sdk.models. ``fail_next`` injects rate limits, 500s, dropped connections and slow answers.
"""

from __future__ import annotations

import base64
import copy
import functools
import itertools
import json
import logging
import math
import re
import socket
import struct
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from .spec import EXTRA_REQUIRED, load_spec, method_spec

logger = logging.getLogger(__name__)

MAX_TEXT = 40_000  # chat.postMessage: longer text is refused with msg_too_long
SCHEDULE_LIMIT_S = 120 * 86400  # chat.scheduleMessage: post_at at most 120 days ahead (time_too_far)
TRIGGER_TTL_S = 3.0  # a trigger_id opens a view within 3 s of the interaction, once
TRIGGER_PREFIX = "fake-trigger."
MAX_MESSAGE_BLOCKS = 50  # Slack's per-message block limit (views allow 100; View.validate_json checks)
FAULT_KINDS = ("429", "500", "reset", "slow", "error")
# Fields slack_sdk sends JSON-encoded inside form bodies.
JSON_FIELDS = ("blocks", "attachments", "metadata", "view", "files")
# Methods Slack serves without a token (client credentials go in Basic auth or the body).
NO_TOKEN_METHODS = frozenset({"oauth.v2.access", "oauth.access", "oauth.v2.exchange", "api.test"})


@dataclass
class Call:
    """One request the fake received: the Web API method (or ``upload`` / ``response_url``), its
    parameters as sent (query string merged with the body), the request headers, and when."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    time: float
    response: dict[str, Any] | None = None
    fault: str | None = None  # the injected fault this call met, if any

    def param(self, name: str, default: Any = None) -> Any:
        """A parameter with JSON-encoded form values (``blocks``, ``metadata``, ``view``...) decoded."""
        value = self.params.get(name, default)
        if name in JSON_FIELDS and isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value


@dataclass
class _Fault:
    kind: str
    retry_after: int = 1
    delay: float = 1.0
    error: str = "internal_error"


@dataclass
class _Request:
    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    token: str | None


class SlackError(Exception):
    """Raised inside a method handler to answer ``{"ok": false, "error": ...}``."""

    def __init__(self, error: str, messages: list[str] | None = None, **extra: Any):
        super().__init__(error)
        self.body: dict[str, Any] = {"ok": False, "error": error, **extra}
        if messages:
            self.body["response_metadata"] = {"messages": messages}


def _truthy(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True")


def _decode(value: Any) -> Any:
    """Form bodies carry JSON fields as strings; JSON bodies carry them as objects."""
    if isinstance(value, str | bytes):
        return json.loads(value)
    return value


class FakeSlackWebAPI:
    """A threaded HTTP server on 127.0.0.1 that answers like the Slack Web API.

    Use as a context manager. Public state (read it in assertions, configure it before the calls):
    ``calls``, ``unknown_params``, ``spec_loaded``, ``unjoinable`` (channel -> error for
    conversations.join), ``not_in_channel`` (channels whose posts answer ``not_in_channel`` until
    joined), ``private`` (``C...`` channels that are private: the bot can post where it is a member
    and ``conversations.join`` answers ``method_not_supported_for_channel_type``, as in real Slack),
    ``users`` / ``channels`` (overrides for users.info / conversations.info),
    ``oauth_response``, ``socket_mode_url``, ``uploads`` (file_id -> bytes), ``home_views``.
    """

    def __init__(
        self,
        *,
        socket_mode: Any = None,
        team_id: str = "T0FAKE001",
        team_name: str = "Fake Workspace",
        bot_user_id: str = "U0FAKEBOT",
        bot_id: str = "B0FAKEBOT",
        app_id: str = "A0FAKEAPP",
        bot_name: str = "Framework Advisor",
        validate_spec: bool = True,
    ):
        self.team_id = team_id
        self.team_name = team_name
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.bot_name = bot_name
        self._socket_mode = socket_mode
        self._socket_mode_url: str | None = None
        self._spec = load_spec() if validate_spec else None
        self.spec_loaded = self._spec is not None

        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self.calls: list[Call] = []
        self.unknown_params: list[tuple[str, str]] = []
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.unjoinable: dict[str, str] = {}
        self.not_in_channel: set[str] = set()
        self.private: set[str] = set()
        # channel -> time until which chat.postMessage there answers 429 (see `ratelimit_channel`).
        self._limited_until: dict[str, float] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, bytes] = {}
        self.home_views: dict[str, dict[str, Any]] = {}
        # trigger_id -> when it was issued (`trigger_id()`), and the ones already exchanged for a view.
        self._triggers: dict[str, float] = {}
        self._used_triggers: set[str] = set()
        self.opened_views: list[dict[str, Any]] = []
        # chat.scheduleMessage: id -> what to post and when; `clock` is the fake's idea of now (tests
        # move it to reach a review date months away), `deliver_scheduled` posts what is due.
        self.scheduled: dict[str, dict[str, Any]] = {}
        self.clock: Callable[[], float] = time.time
        self.oauth_response: dict[str, Any] = {
            "ok": True,
            "app_id": app_id,
            "authed_user": {"id": "U0INSTALLER"},
            "scope": "app_mentions:read,channels:history,channels:join,chat:write,commands",
            "token_type": "bot",
            "access_token": "xoxb-fake-installed-token",
            "bot_user_id": bot_user_id,
            "team": {"id": team_id, "name": team_name},
            "enterprise": None,
            "is_enterprise_install": False,
        }
        self._faults: dict[str, deque[_Fault]] = {}
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeSlackWebAPI:
        """Bind an ephemeral port on 127.0.0.1 and serve in a daemon thread."""
        handler = type("_BoundHandler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True  # a handler stuck in a "slow" fault must not block stop()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="FakeSlackWebAPI", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeSlackWebAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        if self._server is None:
            raise RuntimeError("FakeSlackWebAPI is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        """The Web API base URL to give slack_sdk / SLACK_API_URL: ``http://127.0.0.1:PORT/api/``."""
        return f"{self.base_url}/api/"

    @property
    def socket_mode_url(self) -> str | None:
        """What apps.connections.open answers: the attached FakeSocketModeServer's URL, or one set here."""
        if self._socket_mode_url is not None:
            return self._socket_mode_url
        return self._socket_mode.url if self._socket_mode is not None else None

    @socket_mode_url.setter
    def socket_mode_url(self, value: str | None) -> None:
        self._socket_mode_url = value

    # ------------------------------------------------------------------ test helpers

    def calls_to(self, method: str) -> list[Call]:
        """The calls received so far for ``method`` (e.g. ``"chat.postMessage"``), oldest first."""
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 5) -> list[Call]:
        """Block until ``count`` calls to ``method`` have been answered; return them all.

        Raises AssertionError (listing the methods that were called) on timeout.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [c for c in self.calls if c.method == method]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [c.method for c in self.calls]
                    raise AssertionError(
                        f"expected {count} call(s) to {method} within {timeout}s, got {len(found)}; calls: {seen}"
                    )
                self._changed.wait(remaining)

    def fail_next(
        self,
        method: str,
        kind: str,
        times: int = 1,
        retry_after: int = 1,
        delay: float = 1.0,
        error: str = "internal_error",
    ) -> None:
        """Make the next ``times`` calls to ``method`` meet a fault.

        kind: ``"429"`` (HTTP 429, ``Retry-After: retry_after``, ``ratelimited``), ``"500"``, ``"reset"``
        (the connection is dropped with a TCP RST, no response), ``"slow"`` (carried out at once, the
        answer sent ``delay`` seconds later) or ``"error"`` (HTTP 200 ``{"ok": false, "error": error}``).
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {FAULT_KINDS}, not {kind!r}")
        with self._lock:
            queue = self._faults.setdefault(method, deque())
            queue.extend(_Fault(kind, retry_after, delay, error) for _ in range(times))

    def user_message(self, channel: str, ts: str, user: str, text: str, thread_ts: str | None = None) -> None:
        """Record a message a person typed (tests send its event too), so reactions can find it."""
        with self._lock:
            message = {"type": "message", "user": user, "text": text, "ts": ts}
            if thread_ts:
                message["thread_ts"] = thread_ts
            self.messages.setdefault(channel, []).append(message)

    def reactions(self, channel: str, ts: str) -> list[str]:
        """The emoji names the bot added to a message (reactions.add)."""
        with self._lock:
            message = self._find(channel, ts)
            return [r["name"] for r in (message or {}).get("reactions", [])]

    def trigger_id(self) -> str:
        """A fresh trigger_id, as Slack puts in an interaction payload: views.open takes it within
        ``TRIGGER_TTL_S`` seconds, once (``expired_trigger_id``, ``exchanged_trigger_id``). Trigger ids
        the fake did not issue are taken as before (tests that predate this check)."""
        with self._lock:
            trigger = f"{TRIGGER_PREFIX}{next(self._ids)}.{uuid.uuid4().hex[:12]}"
            self._triggers[trigger] = time.monotonic()
            return trigger

    def _exchange_trigger(self, trigger: str) -> None:
        if not trigger.startswith(TRIGGER_PREFIX):
            return
        issued = self._triggers.get(trigger)
        if issued is None:
            raise SlackError("invalid_trigger_id")
        if trigger in self._used_triggers:
            raise SlackError("exchanged_trigger_id")
        if time.monotonic() - issued > TRIGGER_TTL_S:
            raise SlackError("expired_trigger_id")
        self._used_triggers.add(trigger)

    def ratelimit_channel(self, channel: str, seconds: float) -> None:
        """For ``seconds`` from now, chat.postMessage to ``channel`` answers HTTP 429 ``ratelimited``
        with ``Retry-After`` (the time left, rounded up), as Slack's per-channel posting limit does;
        other channels are not affected."""
        with self._lock:
            self._limited_until[channel] = time.time() + seconds

    def _channel_retry_after(self, method: str, params: dict[str, Any]) -> int | None:
        if method != "chat.postMessage":
            return None
        with self._lock:
            until = self._limited_until.get(str(params.get("channel")), 0.0)
        left = until - time.time()
        return max(1, math.ceil(left)) if left > 0 else None

    def add_message(
        self,
        channel: str,
        text: str = "",
        *,
        user: str = "U0FAKEUSR",
        ts: str | None = None,
        thread_ts: str | None = None,
        **fields: Any,
    ) -> str:
        """Seed a message someone else posted (e.g. the user message an event refers to); return its ts."""
        with self._lock:
            message: dict[str, Any] = {"type": "message", "user": user, "text": text, "ts": ts or self._next_ts()}
            message["team"] = self.team_id
            message.update(fields)
            self._store(channel, message, thread_ts)
            return message["ts"]

    def channel_messages(self, channel: str) -> list[dict[str, Any]]:
        """Every stored message of ``channel`` (threads included), oldest first, as copies."""
        with self._lock:
            return copy.deepcopy(self.messages.get(channel, []))

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """The stored thread rooted at (or containing) ``ts``: parent first, then replies."""
        with self._lock:
            return copy.deepcopy(self._thread_of(channel, ts) or [])

    def response_url(self, kind: str = "commands") -> str:
        """A fresh ``response_url`` served by this fake; posts to it are recorded as ``response_url`` calls."""
        return f"{self.base_url}/{kind}/{self.team_id}/{next(self._ids)}/{uuid.uuid4().hex[:24]}"

    # ------------------------------------------------------------------ request pipeline

    def _next_ts(self) -> str:
        micros = 1_700_000_000_000_000 + next(self._ts) * 100
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}0FAKE{next(self._ids):05d}"

    def _take_fault(self, method: str) -> _Fault | None:
        with self._lock:
            queue = self._faults.get(method)
            return queue.popleft() if queue else None

    def _record(self, call: Call) -> None:
        with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    def _answer(self, request: _Request) -> dict[str, Any]:
        """Check the call against Slack's contract, then run the method's handler."""
        method = request.method
        with self._lock:
            try:
                required = self._check_contract(request)
                if method not in NO_TOKEN_METHODS and not request.token:
                    raise SlackError("not_authed")
                missing = sorted(name for name in required - {"token"} if request.params.get(name) in (None, ""))
                if missing:
                    raise SlackError(
                        "invalid_arguments", [f"[ERROR] missing required field: {name}" for name in missing]
                    )
                handler = _METHODS.get(method)
                return handler(self, request) if handler else {"ok": True}
            except SlackError as error:
                return error.body

    def _check_contract(self, request: _Request) -> frozenset[str]:
        """Raise unknown_method, record unknown parameters; return the required parameter names."""
        method = request.method
        contract = method_spec(self._spec, method)
        if contract is None:
            if self._spec is not None:
                raise SlackError("unknown_method", req_method=method)
            return EXTRA_REQUIRED.get(method, frozenset())  # no spec: only the explicit rules apply
        for name in request.params:
            if name not in contract.params:
                self.unknown_params.append((method, name))
        return contract.required

    # ------------------------------------------------------------------ Block Kit validation

    def _validate_blocks(self, raw: Any, limit: int = MAX_MESSAGE_BLOCKS) -> list[dict[str, Any]]:
        try:
            blocks = _decode(raw)
        except ValueError as error:
            raise SlackError("invalid_blocks_format", [f"[ERROR] blocks is not valid JSON: {error}"]) from None
        if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
            raise SlackError("invalid_blocks_format", ["[ERROR] blocks must be an array of objects"])
        if len(blocks) > limit:
            raise SlackError("invalid_blocks", [f"[ERROR] no more than {limit} items allowed [json-pointer:/blocks]"])
        for index, block in enumerate(blocks):
            problem = _cached_block_problem(json.dumps(block, sort_keys=True))
            if problem:
                raise SlackError("invalid_blocks", [f"[ERROR] {problem} [json-pointer:/blocks/{index}]"])
        return blocks

    def _validate_view(self, raw: Any) -> dict[str, Any]:
        try:
            view = _decode(raw)
        except ValueError as error:
            raise SlackError("invalid_arguments", [f"[ERROR] view is not valid JSON: {error}"]) from None
        if not isinstance(view, dict) or view.get("type") not in ("home", "modal"):
            raise SlackError("invalid_arguments", ["[ERROR] view must be an object with type home or modal"])
        if view["type"] == "modal" and not view.get("title"):
            raise SlackError("invalid_arguments", ["[ERROR] missing required field: title [json-pointer:/view]"])
        self._validate_blocks(view.get("blocks", []), limit=100)
        try:
            View(**view).validate_json()
        except (SlackObjectFormationError, TypeError) as error:
            raise SlackError("invalid_blocks", [f"[ERROR] {error} [json-pointer:/view]"]) from None
        return view

    def _message_content(self, params: dict[str, Any]) -> dict[str, Any]:
        """The text/blocks/attachments/metadata of a chat.* call, validated like Slack does."""
        content: dict[str, Any] = {}
        text = params.get("text")
        if text not in (None, ""):
            if len(str(text)) > MAX_TEXT:
                raise SlackError("msg_too_long")
            content["text"] = str(text)
        if params.get("blocks") not in (None, ""):
            blocks = copy.deepcopy(self._validate_blocks(params["blocks"]))
            for block in blocks:
                block.setdefault("block_id", uuid.uuid4().hex[:5])  # Slack assigns ids to blocks lacking one
            content["blocks"] = blocks
        if params.get("attachments") not in (None, ""):
            try:
                content["attachments"] = _decode(params["attachments"])
            except ValueError:
                raise SlackError("invalid_attachments") from None
        if params.get("metadata") not in (None, ""):
            try:
                metadata = _decode(params["metadata"])
            except ValueError:
                raise SlackError("invalid_metadata_format") from None
            if not isinstance(metadata, dict) or "event_type" not in metadata:
                raise SlackError("invalid_metadata_format")
            content["metadata"] = metadata
        return content

    # ------------------------------------------------------------------ message store

    def _store(self, channel: str, message: dict[str, Any], thread_ts: str | None) -> None:
        if thread_ts:
            message["thread_ts"] = thread_ts
            parent = self._find(channel, thread_ts)
            if parent is not None and parent["ts"] == thread_ts:
                message.setdefault("parent_user_id", parent.get("user"))
                parent["thread_ts"] = thread_ts
                parent["reply_count"] = parent.get("reply_count", 0) + 1
                users = parent.setdefault("reply_users", [])
                if message.get("user") not in users:
                    users.append(message.get("user"))
                parent["reply_users_count"] = len(users)
                parent["latest_reply"] = message["ts"]
        self.messages.setdefault(channel, []).append(message)

    def _find(self, channel: str, ts: str) -> dict[str, Any] | None:
        return next((m for m in self.messages.get(channel, []) if m["ts"] == ts), None)

    def _thread_of(self, channel: str, ts: str) -> list[dict[str, Any]] | None:
        message = self._find(channel, ts)
        if message is None:
            return None
        root = message.get("thread_ts") or message["ts"]
        parent = self._find(channel, root)
        replies = [m for m in self.messages.get(channel, []) if m.get("thread_ts") == root and m["ts"] != root]
        return ([parent] if parent else []) + sorted(replies, key=lambda m: m["ts"])

    def _bot_message(self, content: dict[str, Any]) -> dict[str, Any]:
        message = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "text": content.get("text", ""),
            "ts": self._next_ts(),
            "bot_profile": {"id": self.bot_id, "app_id": self.app_id, "name": self.bot_name},
        }
        message.update({k: v for k, v in content.items() if k != "text"})
        return message

    @staticmethod
    def _visible(message: dict[str, Any], include_metadata: bool) -> dict[str, Any]:
        shown = copy.deepcopy(message)
        if not include_metadata:
            shown.pop("metadata", None)  # Slack returns metadata only with include_all_metadata
        return shown

    def _page(self, messages: list[dict[str, Any]], params: dict[str, Any], include_metadata: bool) -> dict:
        start = int(params.get("cursor") or 0)
        limit = int(params.get("limit") or 100)
        page = messages[start : start + limit]
        more = start + limit < len(messages)
        return {
            "ok": True,
            "messages": [self._visible(m, include_metadata) for m in page],
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    # ------------------------------------------------------------------ method handlers

    def _auth_test(self, request: _Request) -> dict[str, Any]:
        body = {
            "ok": True,
            "url": "https://fake-workspace.slack.com/",
            "team": self.team_name,
            "team_id": self.team_id,
            "is_enterprise_install": False,
        }
        if str(request.token).startswith("xoxp-"):
            return {**body, "user": "installer", "user_id": "U0INSTALLER"}
        return {**body, "user": "framework_advisor", "user_id": self.bot_user_id, "bot_id": self.bot_id}

    def _chat_post_message(self, request: _Request) -> dict[str, Any]:
        params = request.params
        channel = str(params["channel"])
        content = self._message_content(params)
        if not ({"text", "blocks", "attachments"} & content.keys() or params.get("markdown_text")):
            raise SlackError("no_text")
        if channel in self.not_in_channel:
            raise SlackError("not_in_channel")
        message = self._bot_message(content)
        self._store(channel, message, params.get("thread_ts") or None)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": copy.deepcopy(message)}

    def _chat_schedule_message(self, request: _Request) -> dict[str, Any]:
        params = request.params
        channel = str(params["channel"])
        content = self._message_content(params)
        if not {"text", "blocks", "attachments"} & content.keys():
            raise SlackError("no_text")
        try:
            post_at = int(params["post_at"])
        except (KeyError, TypeError, ValueError):
            raise SlackError("invalid_time") from None
        now = self.clock()
        if post_at <= now:
            raise SlackError("time_in_past")
        if post_at > now + SCHEDULE_LIMIT_S:
            raise SlackError("time_too_far")
        if channel in self.not_in_channel:
            raise SlackError("not_in_channel")
        sid = f"Q{next(self._ids):08d}"
        self.scheduled[sid] = {"channel": channel, "thread_ts": params.get("thread_ts") or None, "post_at": post_at,
                               "content": content, "date_created": int(now)}
        return {"ok": True, "channel": channel, "scheduled_message_id": sid, "post_at": post_at,
                "message": {"type": "delayed_message", "text": content.get("text", ""), "bot_id": self.bot_id,
                            "user": self.bot_user_id, **({"blocks": content["blocks"]} if "blocks" in content else {})}}

    def _chat_delete_scheduled_message(self, request: _Request) -> dict[str, Any]:
        sid = str(request.params["scheduled_message_id"])
        entry = self.scheduled.get(sid)
        if entry is None or entry["channel"] != str(request.params["channel"]):
            raise SlackError("invalid_scheduled_message_id")
        del self.scheduled[sid]
        return {"ok": True}

    def _chat_scheduled_messages_list(self, request: _Request) -> dict[str, Any]:
        channel = request.params.get("channel")
        items = [{"id": sid, "channel_id": e["channel"], "post_at": e["post_at"], "date_created": e["date_created"],
                  "text": e["content"].get("text", "")}
                 for sid, e in sorted(self.scheduled.items()) if channel in (None, "", e["channel"])]
        return {"ok": True, "scheduled_messages": items, "response_metadata": {"next_cursor": ""}}

    def deliver_scheduled(self, now: float | None = None) -> int:
        """Post the scheduled messages whose time has come (as Slack does at post_at); returns how many."""
        now = self.clock() if now is None else now
        with self._lock:
            due = [sid for sid, e in sorted(self.scheduled.items()) if e["post_at"] <= now]
            for sid in due:
                e = self.scheduled.pop(sid)
                self._store(e["channel"], self._bot_message(copy.deepcopy(e["content"])), e["thread_ts"])
            self._changed.notify_all()
        return len(due)

    def cancel_scheduled(self, sid: str | None = None) -> int:
        """Drop scheduled messages as a workspace admin or a lost schedule would (all when `sid` is None)."""
        with self._lock:
            gone = [k for k in self.scheduled if sid in (None, k)]
            for k in gone:
                del self.scheduled[k]
        return len(gone)

    def _chat_update(self, request: _Request) -> dict[str, Any]:
        params = request.params
        channel, ts = str(params["channel"]), str(params["ts"])
        content = self._message_content(params)
        message = self._find(channel, ts)
        if message is None:
            raise SlackError("message_not_found")
        if message.get("user") != self.bot_user_id:
            raise SlackError("cant_update_message")
        if not {"text", "blocks", "attachments"} & content.keys():
            raise SlackError("no_text")
        # Omitted blocks/metadata are kept (Slack: "include an empty array to remove blocks").
        message.update(content)
        if content.get("blocks") == []:
            message.pop("blocks")
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": message.get("text", ""),
            "message": copy.deepcopy(message),
        }

    def _chat_post_ephemeral(self, request: _Request) -> dict[str, Any]:
        content = self._message_content(request.params)
        if not {"text", "blocks", "attachments"} & content.keys():
            raise SlackError("no_text")
        if str(request.params["channel"]) in self.not_in_channel:
            raise SlackError("not_in_channel")
        return {"ok": True, "message_ts": self._next_ts()}

    def _reactions_add(self, request: _Request) -> dict[str, Any]:
        params = request.params
        channel, ts, name = str(params["channel"]), str(params["timestamp"]), str(params["name"])
        if not re.fullmatch(r"[a-z0-9_+\-']+", name):
            raise SlackError("invalid_name")
        message = self._find(channel, ts)
        if message is None:
            raise SlackError("message_not_found")
        reactions = message.setdefault("reactions", [])
        if any(r["name"] == name and self.bot_user_id in r["users"] for r in reactions):
            raise SlackError("already_reacted")
        reactions.append({"name": name, "users": [self.bot_user_id], "count": 1})
        return {"ok": True}

    def _chat_delete(self, request: _Request) -> dict[str, Any]:
        channel, ts = str(request.params["channel"]), str(request.params["ts"])
        message = self._find(channel, ts)
        if message is None:
            raise SlackError("message_not_found")
        self.messages[channel].remove(message)
        return {"ok": True, "channel": channel, "ts": ts}

    def _conversations_replies(self, request: _Request) -> dict[str, Any]:
        params = request.params
        thread = self._thread_of(str(params["channel"]), str(params["ts"]))
        if thread is None:
            raise SlackError("thread_not_found")
        return self._page(thread, params, _truthy(params.get("include_all_metadata")))

    def _conversations_history(self, request: _Request) -> dict[str, Any]:
        params = request.params
        channel = str(params["channel"])
        top_level = [m for m in self.messages.get(channel, []) if m.get("thread_ts") in (None, m["ts"])]
        top_level.sort(key=lambda m: m["ts"], reverse=True)  # history is newest first
        return self._page(top_level, params, _truthy(params.get("include_all_metadata")))

    def _conversations_join(self, request: _Request) -> dict[str, Any]:
        channel = str(request.params["channel"])
        if channel in self.unjoinable:
            raise SlackError(self.unjoinable[channel] or "method_not_supported_for_channel_type")
        if channel in self.private or channel.startswith("G"):
            raise SlackError("method_not_supported_for_channel_type")
        self.not_in_channel.discard(channel)
        return {"ok": True, "channel": self._channel_info(channel), "warning": "already_in_channel"}

    def _channel_info(self, channel: str) -> dict[str, Any]:
        info = {
            "id": channel,
            "name": f"channel-{channel.lower()}",
            "is_channel": channel.startswith("C"),
            "is_group": channel.startswith("G"),
            "is_im": channel.startswith("D"),
            "is_private": channel.startswith("G") or channel in self.private,
            "is_archived": False,
            "is_member": channel not in self.not_in_channel,
            "context_team_id": self.team_id,
            "created": 1_690_000_000,
        }
        info.update(self.channels.get(channel, {}))
        return info

    def _conversations_info(self, request: _Request) -> dict[str, Any]:
        return {"ok": True, "channel": self._channel_info(str(request.params["channel"]))}

    def _users_info(self, request: _Request) -> dict[str, Any]:
        user_id = str(request.params["user"])
        user = {
            "id": user_id,
            "team_id": self.team_id,
            "name": f"user-{user_id.lower()}",
            "real_name": f"User {user_id}",
            "deleted": False,
            "is_bot": user_id == self.bot_user_id,
            "tz": "Europe/London",
            "tz_offset": 0,
            "profile": {"display_name": f"user-{user_id.lower()}", "real_name": f"User {user_id}"},
        }
        user.update(self.users.get(user_id, {}))
        return {"ok": True, "user": user}

    def _view(self, view: dict[str, Any]) -> dict[str, Any]:
        shown = {
            "id": self._next_id("V"),
            "team_id": self.team_id,
            "app_id": self.app_id,
            "bot_id": self.bot_id,
            "private_metadata": "",
            "callback_id": "",
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{uuid.uuid4().hex[:8]}",
            "external_id": "",
            **copy.deepcopy(view),
        }
        shown["root_view_id"] = shown["id"]
        return shown

    def _views_publish(self, request: _Request) -> dict[str, Any]:
        view = self._view(self._validate_view(request.params["view"]))
        self.home_views[str(request.params["user_id"])] = view
        return {"ok": True, "view": view}

    def _views_open(self, request: _Request) -> dict[str, Any]:
        view = self._view(self._validate_view(request.params["view"]))
        self._exchange_trigger(str(request.params["trigger_id"]))
        self.opened_views.append(view)
        return {"ok": True, "view": view}

    def _files_get_upload_url(self, request: _Request) -> dict[str, Any]:
        try:
            int(request.params["length"])
        except (TypeError, ValueError):
            raise SlackError("invalid_arguments", ["[ERROR] length must be an integer"]) from None
        file_id = self._next_id("F")
        return {"ok": True, "upload_url": f"{self.base_url}/upload/v1/{file_id}", "file_id": file_id}

    def _files_complete_upload(self, request: _Request) -> dict[str, Any]:
        try:
            files = _decode(request.params["files"])
        except ValueError:
            raise SlackError("invalid_arguments", ["[ERROR] files must be a JSON array"]) from None
        done = []
        for entry in files:
            file_id = entry.get("id")
            if file_id not in self.uploads:
                raise SlackError("file_not_found")
            done.append(
                {
                    "id": file_id,
                    "title": entry.get("title", ""),
                    "size": len(self.uploads[file_id]),
                    "user": self.bot_user_id,
                    "url_private": f"https://files.slack.com/files-pri/{self.team_id}-{file_id}/file",
                }
            )
        return {"ok": True, "files": done}

    def _oauth_v2_access(self, request: _Request) -> dict[str, Any]:
        return copy.deepcopy(self.oauth_response)

    def _apps_connections_open(self, request: _Request) -> dict[str, Any]:
        if not str(request.token).startswith("xapp-"):
            raise SlackError("not_allowed_token_type")  # Socket Mode needs the app-level token
        url = self.socket_mode_url
        if url is None:
            # Not a Slack error: the test forgot to attach a FakeSocketModeServer.
            raise SlackError("fake_has_no_socket_mode_server")
        return {"ok": True, "url": url}

    # ------------------------------------------------------------------ non-API endpoints

    def _handle_upload(self, file_id: str, data: bytes) -> tuple[int, bytes]:
        with self._lock:
            self.uploads[file_id] = data
        return 200, f"OK - {len(data)}".encode()

    def _handle_response_url(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            try:
                if body.get("blocks") not in (None, ""):
                    self._validate_blocks(body["blocks"])
                if len(str(body.get("text", ""))) > MAX_TEXT:
                    raise SlackError("msg_too_long")
            except SlackError as error:
                return error.body
        return {"ok": True}


@functools.lru_cache(maxsize=4096)
def _cached_block_problem(block_json: str) -> str | None:
    """`_block_problem` per distinct block: many blocks repeat (a question, its context line, a
    header), and parsing them through slack_sdk's models is most of this fake's CPU under load."""
    return _block_problem(json.loads(block_json))


def _block_problem(block: dict[str, Any]) -> str | None:
    """Why slack_sdk's models cannot take this block, or None if they can."""
    try:
        parsed = Block.parse(block)
    except (SlackObjectFormationError, TypeError, KeyError, AttributeError) as error:
        return f"unreadable block: {error}"
    if parsed is None:
        return f"unsupported type: {block.get('type')!r}"
    try:
        parsed.validate_json()
    except SlackObjectFormationError as error:
        return str(error)
    # Block.parse silently drops elements it cannot read; Slack would refuse them.
    out = parsed.to_dict()
    for key in ("accessory", "element"):
        if key in block and key not in out:
            return f"unsupported {key} type: {block[key].get('type')!r}"
    if block.get("type") in ("actions", "context") and isinstance(block.get("elements"), list):
        if len([e for e in out.get("elements", []) if e]) != len(block["elements"]):
            return "unsupported element type in elements"
    return None


_METHODS = {
    "auth.test": FakeSlackWebAPI._auth_test,
    "chat.postMessage": FakeSlackWebAPI._chat_post_message,
    "chat.update": FakeSlackWebAPI._chat_update,
    "chat.postEphemeral": FakeSlackWebAPI._chat_post_ephemeral,
    "chat.delete": FakeSlackWebAPI._chat_delete,
    "chat.scheduleMessage": FakeSlackWebAPI._chat_schedule_message,
    "chat.deleteScheduledMessage": FakeSlackWebAPI._chat_delete_scheduled_message,
    "chat.scheduledMessages.list": FakeSlackWebAPI._chat_scheduled_messages_list,
    "reactions.add": FakeSlackWebAPI._reactions_add,
    "conversations.replies": FakeSlackWebAPI._conversations_replies,
    "conversations.history": FakeSlackWebAPI._conversations_history,
    "conversations.join": FakeSlackWebAPI._conversations_join,
    "conversations.info": FakeSlackWebAPI._conversations_info,
    "users.info": FakeSlackWebAPI._users_info,
    "views.publish": FakeSlackWebAPI._views_publish,
    "views.open": FakeSlackWebAPI._views_open,
    "files.getUploadURLExternal": FakeSlackWebAPI._files_get_upload_url,
    "files.completeUploadExternal": FakeSlackWebAPI._files_complete_upload,
    "oauth.v2.access": FakeSlackWebAPI._oauth_v2_access,
    "apps.connections.open": FakeSlackWebAPI._apps_connections_open,
}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeSlackWebAPI  # set on the per-server subclass
    protocol_version = "HTTP/1.1"
    # Buffered: the status line, headers and body leave in one write (flushed after each request),
    # not one small write each, as Slack's servers would send them.
    wbufsize = 64 * 1024

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        split = urlsplit(self.path)
        body = self._read_body()
        headers = dict(self.headers.items())
        fake = self.fake
        if split.path.startswith("/upload/v1/"):
            file_id = split.path.rsplit("/", 1)[-1]
            call = Call("upload", {"file_id": file_id, "size": len(body)}, headers, time.time())
            status, answer = fake._handle_upload(file_id, body)
            fake._record(call)
            self._send(status, answer, "text/plain; charset=utf-8")
            return
        if split.path.startswith(("/commands/", "/actions/")):
            try:
                payload = json.loads(body or b"{}")
            except ValueError:
                payload = {"_raw": body.decode("utf-8", "replace")}
            call = Call("response_url", payload, headers, time.time())
            call.response = fake._handle_response_url(payload)
            fake._record(call)
            self._send_json(200 if call.response["ok"] else 400, call.response)
            return
        if not split.path.startswith("/api/"):
            self._send_json(404, {"ok": False, "error": "not_found"})
            return

        method = split.path[len("/api/") :].strip("/")
        params = _parse_params(split.query, body, self.headers.get("Content-Type", ""))
        token = _token(self.headers.get("Authorization"), params)
        call = Call(method, params, headers, time.time())
        retry_after = fake._channel_retry_after(method, params)
        if retry_after is not None:
            call.fault = "429"
            call.response = {"ok": False, "error": "ratelimited"}
            fake._record(call)
            self._send_json(429, call.response, {"Retry-After": str(retry_after)})
            return
        fault = fake._take_fault(method)
        if fault is not None:
            call.fault = fault.kind
            if self._apply_fault(fault, call):
                return
        call.response = fake._answer(_Request(method, params, headers, token))
        fake._record(call)
        if fault is not None and fault.kind == "slow":
            # As Slack does when it is slow: the work is done (a message stored), the answer comes late.
            time.sleep(fault.delay)
        self._send_json(200, call.response)

    def _apply_fault(self, fault: _Fault, call: Call) -> bool:
        """Act out an injected fault; True when it replaced the normal answer."""
        fake = self.fake
        if fault.kind == "slow":
            return False  # answered normally, late (after the answer is computed)
        if fault.kind == "reset":
            fake._record(call)
            # SO_LINGER 0 makes close() send a RST: the client sees "connection reset by peer".
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return True
        if fault.kind == "429":
            call.response = {"ok": False, "error": "ratelimited"}
            fake._record(call)
            self._send_json(429, call.response, {"Retry-After": str(fault.retry_after)})
            return True
        if fault.kind == "500":
            call.response = {"ok": False, "error": "internal_error"}
            fake._record(call)
            self._send_json(500, call.response)
            return True
        call.response = {"ok": False, "error": fault.error}
        fake._record(call)
        self._send_json(200, call.response)
        return True

    def _send_json(self, status: int, body: dict[str, Any], extra: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(body).encode("utf-8"), "application/json; charset=utf-8", extra)

    def _send(self, status: int, data: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def _parse_params(query: str, body: bytes, content_type: str) -> dict[str, Any]:
    """Merge query-string and body parameters the way Slack reads them (body wins)."""
    params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    if not body:
        return params
    ctype = content_type.split(";")[0].strip().lower()
    if ctype == "application/json":
        parsed = json.loads(body)
        if isinstance(parsed, dict):
            params.update(parsed)
    elif ctype == "multipart/form-data":
        message = BytesParser().parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            data = part.get_payload(decode=True) or b""
            if part.get_filename():
                params[name] = data  # file content stays bytes
            else:
                params[name] = data.decode("utf-8")
    else:
        text = body.decode("utf-8")
        params.update({k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()})
    return params


def _token(authorization: str | None, params: dict[str, Any]) -> str | None:
    """The token of a call: ``Authorization: Bearer`` or a ``token`` parameter (Basic auth is no token)."""
    if authorization and authorization.startswith("Bearer "):
        return authorization[len("Bearer ") :].strip() or None
    token = params.get("token")
    return str(token) if token else None


def basic_auth_credentials(call: Call) -> tuple[str, str] | None:
    """The ``(client_id, client_secret)`` a call sent with HTTP Basic auth (oauth.v2.access), if any."""
    value = call.headers.get("Authorization", "")
    if not value.startswith("Basic "):
        return None
    client_id, _, secret = base64.b64decode(value[len("Basic ") :]).decode("utf-8").partition(":")
    return client_id, secret
