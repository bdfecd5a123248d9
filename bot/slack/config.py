"""Which Slack mode to run, from the environment; a bad mix is refused with one line naming it."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

DEFAULT_API_URL = "https://slack.com/api/"

_SHAPES = {
    "SLACK_BOT_TOKEN": re.compile(r"^xoxb-[A-Za-z0-9-]+$"),
    "SLACK_APP_TOKEN": re.compile(r"^xapp-[A-Za-z0-9-]+$"),
    "SLACK_SIGNING_SECRET": re.compile(r"^[A-Za-z0-9]{8,}$"),
    "SLACK_CLIENT_ID": re.compile(r"^[0-9]+\.[0-9]+$"),
    "SLACK_CLIENT_SECRET": re.compile(r"^[A-Za-z0-9]{8,}$"),
}

MODES = {
    "socket": ("SLACK_APP_TOKEN", "SLACK_BOT_TOKEN"),
    "http": ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"),
    "oauth": ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "SLACK_SIGNING_SECRET"),
}


class ConfigError(ValueError):
    """The Slack variables do not describe exactly one mode (the message names the problem)."""


@dataclass(frozen=True)
class SlackConfig:
    """The chosen mode and its credentials. `repr` never shows a secret."""

    mode: Literal["socket", "http", "oauth"]
    api_url: str
    bot_token: str | None = None
    app_token: str | None = None
    signing_secret: str | None = None
    client_id: str | None = None
    client_secret: str | None = None

    def __repr__(self) -> str:
        return f"SlackConfig(mode={self.mode!r}, api_url={self.api_url!r})"

    def env(self) -> dict[str, str]:
        """The environment variables that describe this configuration (for a child process)."""
        pairs = {"SLACK_API_URL": self.api_url, "SLACK_BOT_TOKEN": self.bot_token, "SLACK_APP_TOKEN": self.app_token,
                 "SLACK_SIGNING_SECRET": self.signing_secret, "SLACK_CLIENT_ID": self.client_id,
                 "SLACK_CLIENT_SECRET": self.client_secret}
        return {k: v or "" for k, v in pairs.items()}

    def secrets(self) -> list[str]:
        """Every secret value, for log redaction."""
        return [s for s in (self.bot_token, self.app_token, self.signing_secret, self.client_secret) if s]


def api_url_from(env: Mapping[str, str]) -> str:
    """SLACK_API_URL with a trailing slash, or Slack's own."""
    url = (env.get("SLACK_API_URL") or DEFAULT_API_URL).strip()
    if not re.match(r"^https?://[^\s/]+", url):
        raise ConfigError(f"SLACK_API_URL must be an http(s) URL such as http://127.0.0.1:9000/api/, got {url!r}")
    return url if url.endswith("/") else url + "/"


def from_env(env: Mapping[str, str] | None = None) -> SlackConfig:
    """The Slack configuration, or ConfigError naming the missing, malformed or conflicting variable."""
    env = os.environ if env is None else env
    present = {k for k in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_CLIENT_ID",
                           "SLACK_CLIENT_SECRET") if env.get(k, "").strip()}
    for name in sorted(present):
        if not _SHAPES[name].match(env[name].strip()):
            raise ConfigError(f"{name} is malformed (expected {_describe(name)})")
    if not present:
        raise ConfigError("no Slack credentials: set SLACK_APP_TOKEN + SLACK_BOT_TOKEN (Socket Mode), "
                          "SLACK_BOT_TOKEN + SLACK_SIGNING_SECRET (HTTP) or SLACK_CLIENT_ID + SLACK_CLIENT_SECRET "
                          "+ SLACK_SIGNING_SECRET (OAuth)")
    if "SLACK_APP_TOKEN" in present:
        mode = "socket"
        if present & {"SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET"}:
            raise ConfigError("SLACK_APP_TOKEN (Socket Mode) conflicts with SLACK_CLIENT_ID/SLACK_CLIENT_SECRET "
                              "(OAuth over HTTP): set one mode")
    elif present & {"SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET"}:
        mode = "oauth"
        if "SLACK_BOT_TOKEN" in present:
            raise ConfigError("SLACK_BOT_TOKEN conflicts with SLACK_CLIENT_ID/SLACK_CLIENT_SECRET: OAuth mode "
                              "looks tokens up per workspace; unset SLACK_BOT_TOKEN")
    else:
        mode = "http"
    for name in MODES[mode]:
        if name not in present:
            raise ConfigError(f"{name} is missing for {_mode_name(mode)}")
    get = lambda k: env.get(k, "").strip() or None  # noqa: E731
    return SlackConfig(mode=mode, api_url=api_url_from(env), bot_token=get("SLACK_BOT_TOKEN"),  # type: ignore[arg-type]
                       app_token=get("SLACK_APP_TOKEN"), signing_secret=get("SLACK_SIGNING_SECRET"),
                       client_id=get("SLACK_CLIENT_ID"), client_secret=get("SLACK_CLIENT_SECRET"))


def _mode_name(mode: str) -> str:
    return {"socket": "Socket Mode", "http": "HTTP mode (one workspace)", "oauth": "OAuth mode (many workspaces)"}[mode]


def _describe(name: str) -> str:
    return {"SLACK_BOT_TOKEN": "xoxb-...", "SLACK_APP_TOKEN": "xapp-...",
            "SLACK_SIGNING_SECRET": "the app's signing secret, letters and digits",
            "SLACK_CLIENT_ID": "digits.digits", "SLACK_CLIENT_SECRET": "letters and digits"}[name]
