"""Shared fixtures: the Slack fakes (defined in tests/fakes/fixtures.py)."""

from tests.fakes.fixtures import fake_slack, fake_socket_mode, web_client  # noqa: F401
