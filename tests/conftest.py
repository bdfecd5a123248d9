"""Shared fixtures: the Slack fakes (defined in tests/fakes/fixtures.py) and the core knowledge/advisor."""

import pytest

from knowledge import loader as _loader
from rules import advisor as _advisor
from tests.fakes.fixtures import fake_slack, fake_socket_mode, web_client  # noqa: F401


# -- core fixtures (knowledge base and advisor) ------------------------------------------------
@pytest.fixture(scope="session")
def kb():
    """The packaged knowledge base."""
    return _loader.default()


@pytest.fixture(scope="session")
def advisor():
    """The shared advisor for the packaged knowledge base (what the CLI and the bot use)."""
    return _advisor.default()


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes seconds, but runs in `make test` all the same")
