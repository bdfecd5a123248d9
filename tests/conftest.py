"""Shared fixtures: the Slack fakes (defined in tests/fakes/fixtures.py) and the core knowledge/advisor."""

import pytest

from knowledge import loader as _loader
from rules import advisor as _advisor
from tests.fakes.fixtures import fake_slack, fake_socket_mode, web_client  # noqa: F401
from tests.pg import pg_cluster, pg_database, pg_url  # noqa: F401  (a real PostgreSQL: tests/pg.py)


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


def pytest_terminal_summary(terminalreporter):
    """Say when the fake Slack ran without Slack's published Web API description (a clone without ../shared)."""
    from tests.fakes.spec import SPEC_DIR, SPEC_FILE

    if not (SPEC_DIR / SPEC_FILE).is_file():
        terminalreporter.write_line(
            f"note: {SPEC_DIR / SPEC_FILE} is absent: the fake Slack did not check calls against Slack's published "
            "Web API description (unknown methods and parameters); every other check ran.", yellow=True)
