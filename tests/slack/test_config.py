"""`serve` refuses a bad Slack configuration with exit status 2 and one line naming the variable."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot.slack import config
from bot.slack.config import ConfigError, from_env
from tests.slack.helpers import ROOT, clean_env

BOT = "xoxb-123-456-abc"
APP = "xapp-1-A1-2-abc"
SIGNING = "abcdef123456"


@pytest.mark.parametrize(("env", "names"), [
    ({}, ["SLACK_APP_TOKEN", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"]),
    ({"SLACK_BOT_TOKEN": BOT}, ["SLACK_SIGNING_SECRET"]),
    ({"SLACK_APP_TOKEN": APP, "SLACK_CLIENT_ID": "123.456"}, ["SLACK_APP_TOKEN", "SLACK_CLIENT_ID"]),
    ({"SLACK_BOT_TOKEN": "xoxp-user-token", "SLACK_SIGNING_SECRET": SIGNING}, ["SLACK_BOT_TOKEN"]),
    ({"SLACK_APP_TOKEN": "not-a-token", "SLACK_BOT_TOKEN": BOT}, ["SLACK_APP_TOKEN"]),
    ({"SLACK_BOT_TOKEN": BOT, "SLACK_SIGNING_SECRET": SIGNING, "SLACK_API_URL": "fake.url"}, ["SLACK_API_URL"]),
], ids=["nothing", "only-bot-token", "app-token-and-client-id", "user-token-as-bot-token", "malformed-app-token",
        "api-url-not-http"])
def test_serve_refuses_bad_configuration(env: dict, names: list[str], tmp_path) -> None:
    proc = subprocess.run([sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", "0"],
                          env=clean_env(FRAMEWORK_ADVISOR_DB=str(tmp_path / "x.db"), **env), cwd=ROOT,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("serve: ")
    for name in names:
        assert name in lines[0], (name, lines[0])
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    for secret in (BOT, APP, SIGNING):
        assert secret not in proc.stderr  # a message names variables, never their values
    assert not (tmp_path / "x.db").exists()  # refused before anything was created


def test_api_url_gets_a_trailing_slash() -> None:
    base = {"SLACK_BOT_TOKEN": BOT, "SLACK_SIGNING_SECRET": SIGNING}
    assert from_env({**base, "SLACK_API_URL": "http://127.0.0.1:9000/api"}).api_url == "http://127.0.0.1:9000/api/"
    assert from_env({**base, "SLACK_API_URL": "http://127.0.0.1:9000/api/"}).api_url == "http://127.0.0.1:9000/api/"
    assert from_env({**base, "SLACK_API_URL": " https://slack.example/api "}).api_url == "https://slack.example/api/"
    assert from_env(base).api_url == config.DEFAULT_API_URL == "https://slack.com/api/"


def test_modes_and_errors_from_env() -> None:
    assert from_env({"SLACK_APP_TOKEN": APP, "SLACK_BOT_TOKEN": BOT}).mode == "socket"
    assert from_env({"SLACK_BOT_TOKEN": BOT, "SLACK_SIGNING_SECRET": SIGNING}).mode == "http"
    oauth = from_env({"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "secret123", "SLACK_SIGNING_SECRET": SIGNING})
    assert oauth.mode == "oauth" and oauth.bot_token is None
    cfg = from_env({"SLACK_APP_TOKEN": APP, "SLACK_BOT_TOKEN": BOT, "SLACK_SIGNING_SECRET": SIGNING})
    assert BOT not in repr(cfg) and APP not in repr(cfg) and SIGNING not in repr(cfg)
    assert set(cfg.secrets()) == {BOT, APP, SIGNING}
    errors = [
        ({"SLACK_APP_TOKEN": APP}, "SLACK_BOT_TOKEN is missing for Socket Mode"),
        ({"SLACK_SIGNING_SECRET": SIGNING}, "SLACK_BOT_TOKEN is missing for HTTP mode (one workspace)"),
        ({"SLACK_CLIENT_ID": "1.2", "SLACK_SIGNING_SECRET": SIGNING},
         "SLACK_CLIENT_SECRET is missing for OAuth mode (many workspaces)"),
        ({"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "secret123", "SLACK_SIGNING_SECRET": SIGNING,
          "SLACK_BOT_TOKEN": BOT}, "SLACK_BOT_TOKEN conflicts with SLACK_CLIENT_ID/SLACK_CLIENT_SECRET"),
        ({"SLACK_CLIENT_ID": "abc", "SLACK_CLIENT_SECRET": "secret123"}, "SLACK_CLIENT_ID is malformed"),
        ({"SLACK_BOT_TOKEN": BOT, "SLACK_SIGNING_SECRET": "short"}, "SLACK_SIGNING_SECRET is malformed"),
        ({"SLACK_BOT_TOKEN": BOT, "SLACK_SIGNING_SECRET": SIGNING, "SLACK_API_URL": "fake.url"},
         "SLACK_API_URL must be an http(s) URL"),
    ]
    for env, message in errors:
        with pytest.raises(ConfigError) as raised:
            from_env(env)
        assert str(raised.value).startswith(message), (env, str(raised.value))
