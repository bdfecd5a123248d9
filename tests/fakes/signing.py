"""Build and sign the HTTP requests Slack sends to an app (slash commands, events, interactions).

Each ``*_payload`` function returns the dict Slack sends (it is also the Socket Mode envelope
``payload``); each ``*_body`` function returns ``(body_bytes, content_type)`` for HTTP mode, to send
with :func:`post_signed`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

DEFAULT_TEAM = "T0FAKE001"
DEFAULT_APP = "A0FAKEAPP"
DEFAULT_USER = "U0FAKEUSR"
DEFAULT_CHANNEL = "C0FAKECHN"
DEFAULT_BOT_USER = "U0FAKEBOT"


def signed_headers(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Slack's v0 request signature headers for ``body``: HMAC-SHA256 of ``v0:{timestamp}:{body}``."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + ts.encode() + b":" + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}


def slash_command_payload(
    command: str = "/framework",
    text: str = "",
    *,
    team_id: str = DEFAULT_TEAM,
    channel_id: str = DEFAULT_CHANNEL,
    user_id: str = DEFAULT_USER,
    trigger_id: str = "1111.2222.fake",
    response_url: str = "https://hooks.slack.com/commands/T0FAKE001/1/fake",
    api_app_id: str = DEFAULT_APP,
) -> dict[str, str]:
    """The fields of a slash command invocation (all strings, as Slack form-encodes them)."""
    return {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "team_domain": "fake-workspace",
        "channel_id": channel_id,
        "channel_name": "general",
        "user_id": user_id,
        "user_name": "fake.user",
        "command": command,
        "text": text,
        "api_app_id": api_app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def slash_command_body(command: str = "/framework", text: str = "", **fields: str) -> tuple[bytes, str]:
    """A form-encoded slash command body; keyword arguments as for :func:`slash_command_payload`."""
    return urlencode(slash_command_payload(command, text, **fields)).encode(), FORM


def event_payload(
    event: dict[str, Any],
    *,
    team_id: str = DEFAULT_TEAM,
    event_id: str = "Ev0FAKE0001",
    api_app_id: str = DEFAULT_APP,
    event_time: int | None = None,
    bot_user_id: str = DEFAULT_BOT_USER,
) -> dict[str, Any]:
    """An Events API ``event_callback`` envelope around ``event``."""
    return {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()) if event_time is None else event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-fake-{event_id}",
    }


def event_body(event: dict[str, Any], **fields: Any) -> tuple[bytes, str]:
    """A JSON Events API body; keyword arguments as for :func:`event_payload`."""
    return json.dumps(event_payload(event, **fields)).encode(), JSON


def block_actions_payload(
    actions: list[dict[str, Any]],
    *,
    team_id: str = DEFAULT_TEAM,
    channel_id: str = DEFAULT_CHANNEL,
    user_id: str = DEFAULT_USER,
    message: dict[str, Any] | None = None,
    trigger_id: str = "1111.2222.fake",
    response_url: str = "https://hooks.slack.com/actions/T0FAKE001/1/fake",
    api_app_id: str = DEFAULT_APP,
) -> dict[str, Any]:
    """A ``block_actions`` interaction; ``actions`` as Slack sends them (action_id, block_id, value...).

    With ``message`` the action comes from that message (its ``ts`` becomes the container's).
    """
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user_id, "username": "fake.user", "name": "fake.user", "team_id": team_id},
        "api_app_id": api_app_id,
        "token": "legacy-verification-token",
        "trigger_id": trigger_id,
        "team": {"id": team_id, "domain": "fake-workspace"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": "general"},
        "response_url": response_url,
        "actions": [{"type": "button", "action_ts": f"{time.time():.6f}", **a} for a in actions],
        "state": {"values": {}},
    }
    if message is not None:
        payload["message"] = message
        payload["container"] = {
            "type": "message",
            "message_ts": message.get("ts"),
            "channel_id": channel_id,
            "is_ephemeral": False,
        }
    return payload


def block_actions_body(actions: list[dict[str, Any]], **fields: Any) -> tuple[bytes, str]:
    """A form-encoded ``payload=<json>`` interaction body; keyword arguments as for
    :func:`block_actions_payload`."""
    return urlencode({"payload": json.dumps(block_actions_payload(actions, **fields))}).encode(), FORM


def view_submission_payload(
    view: dict[str, Any],
    values: dict[str, Any],
    *,
    team_id: str = DEFAULT_TEAM,
    user_id: str = DEFAULT_USER,
    trigger_id: str = "1111.2222.fake",
    api_app_id: str = DEFAULT_APP,
) -> dict[str, Any]:
    """A ``view_submission`` interaction: ``view`` as views.open answered it (id, hash, callback_id,
    private_metadata, blocks...), with the inputs' ``values`` as its state (``{block_id: {action_id: ...}}``)."""
    return {
        "type": "view_submission",
        "team": {"id": team_id, "domain": "fake-workspace"},
        "user": {"id": user_id, "username": "fake.user", "name": "fake.user", "team_id": team_id},
        "api_app_id": api_app_id,
        "token": "legacy-verification-token",
        "trigger_id": trigger_id,
        "view": {**view, "state": {"values": values}},
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def view_submission_body(view: dict[str, Any], values: dict[str, Any], **fields: Any) -> tuple[bytes, str]:
    """A form-encoded ``payload=<json>`` view submission; keyword arguments as for :func:`view_submission_payload`."""
    return urlencode({"payload": json.dumps(view_submission_payload(view, values, **fields))}).encode(), FORM


def post_signed(
    url: str,
    body: bytes,
    content_type: str,
    secret: str,
    extra_headers: dict[str, str] | None = None,
    *,
    timestamp: int | None = None,
    timeout: float = 10,
) -> tuple[int, dict[str, str], bytes]:
    """POST ``body`` to ``url`` signed with ``secret``; return ``(status, headers, body)``.

    Non-2xx answers are returned, not raised.
    """
    headers = {"Content-Type": content_type, **signed_headers(secret, body, timestamp), **(extra_headers or {})}
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers.items()), error.read()
