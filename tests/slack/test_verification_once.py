"""The signature is checked once, in `serve`'s front (wsgi_app); bolt checks it only when nothing in front did."""

from __future__ import annotations

import pytest
from slack_bolt.request import BoltRequest

from bot.slack.app import build
from bot.slack.config import SlackConfig
from bot.slack.server import wsgi_app
from bot.store import Store
from tests.fakes import signed_headers, slash_command_body
from tests.fakes.slack_web_api import FakeSlackWebAPI

SECRET = "verification-once-secret-0123456"


@pytest.fixture(scope="module")
def fake():
    with FakeSlackWebAPI() as f:
        yield f


def _cfg(fake) -> SlackConfig:
    return SlackConfig(mode="http", api_url=fake.url, bot_token="xoxb-once", signing_secret=SECRET)


def _forged() -> BoltRequest:
    body, ctype = slash_command_body(text="help")
    headers = {"content-type": [ctype], **{k.lower(): [v] for k, v in signed_headers("not-it", body).items()}}
    return BoltRequest(body=body.decode(), headers=headers)


def test_bolt_verifies_when_nothing_in_front_did(fake, tmp_path) -> None:
    app = build(_cfg(fake), Store(tmp_path / "a.db")).app
    assert app.dispatch(_forged()).status == 401


def test_bolt_trusts_the_front_only_when_told(fake, tmp_path) -> None:
    # The same forged request passes bolt when it was told the front verified: so the front must.
    app = build(_cfg(fake), Store(tmp_path / "b.db"), verified_upstream=True).app
    assert app.dispatch(_forged()).status == 200


def test_the_front_refuses_to_serve_slack_without_a_secret(tmp_path) -> None:
    with pytest.raises(ValueError, match="signing secret"):
        wsgi_app(Store(tmp_path / "c.db"), slack_handler=lambda environ, start_response: [], signing_secret=None)
