"""Fixtures of the Slack tests (defined in tests/slack/helpers.py)."""

from tests.slack.helpers import bot  # noqa: F401
