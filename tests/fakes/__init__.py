"""Test doubles for Slack: a fake Web API, a fake Socket Mode server and request-signing helpers."""

from .signing import (
    block_actions_body,
    block_actions_payload,
    event_body,
    event_payload,
    post_signed,
    signed_headers,
    slash_command_body,
    slash_command_payload,
    view_submission_body,
    view_submission_payload,
)
from .slack_web_api import Call, FakeSlackWebAPI
from .socket_mode import Ack, FakeSocketModeServer

__all__ = [
    "Ack",
    "Call",
    "FakeSlackWebAPI",
    "FakeSocketModeServer",
    "block_actions_body",
    "block_actions_payload",
    "event_body",
    "event_payload",
    "post_signed",
    "signed_headers",
    "slash_command_body",
    "slash_command_payload",
    "view_submission_body",
    "view_submission_payload",
]
