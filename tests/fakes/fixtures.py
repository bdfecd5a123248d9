"""pytest fixtures and helpers over the Slack fakes (imported by tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from slack_sdk import WebClient

from .slack_web_api import FakeSlackWebAPI
from .socket_mode import FakeSocketModeServer
from .spec import SPEC_DIR, load_spec

BOT_TOKEN = "xoxb-fake-bot-token"
APP_TOKEN = "xapp-1-A0FAKEAPP-1-fake"

requires_spec = pytest.mark.skipif(
    load_spec() is None,
    reason=f"Slack's OpenAPI spec is not at {SPEC_DIR} (../shared/slack-api-specs from the repo root)",
)


@pytest.fixture
def fake_slack() -> Iterator[FakeSlackWebAPI]:
    """A started FakeSlackWebAPI; its ``url`` is the ``base_url`` / SLACK_API_URL to use."""
    with FakeSlackWebAPI() as fake:
        yield fake


@pytest.fixture
def fake_socket_mode(fake_slack: FakeSlackWebAPI) -> Iterator[FakeSocketModeServer]:
    """A started FakeSocketModeServer that ``fake_slack``'s apps.connections.open hands out."""
    with FakeSocketModeServer(app_id=fake_slack.app_id) as server:
        fake_slack.socket_mode_url = server.url
        yield server
        fake_slack.socket_mode_url = None


@pytest.fixture
def web_client(fake_slack: FakeSlackWebAPI) -> WebClient:
    """A slack_sdk WebClient with a bot token, talking to ``fake_slack``."""
    return WebClient(base_url=fake_slack.url, token=BOT_TOKEN)


@contextmanager
def connected_handler(app, app_token: str = APP_TOKEN, **handler_kwargs) -> Iterator[object]:
    """Connect bolt's builtin SocketModeHandler for ``app``; close it on exit.

    Close it before the fake servers stop: a handler still running when the Socket Mode server
    goes away would try to reconnect.
    """
    from slack_bolt.adapter.socket_mode import SocketModeHandler  # bolt only where a test needs it

    handler = SocketModeHandler(app, app_token=app_token, **handler_kwargs)
    handler.connect()
    try:
        yield handler
    finally:
        handler.close()
