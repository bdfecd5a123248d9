"""The store contract's fixtures: every test taking `store` runs once on SQLite and once on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.store import Store
from tests.store import backends


@pytest.fixture(params=backends.BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """"sqlite" or "postgres"."""
    return request.param


@pytest.fixture
def target(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    """The database this test's stores share: a SQLite file, or a PostgreSQL URL."""
    return backends.target(request, backend, tmp_path)


@pytest.fixture
def open_store(target: str) -> Iterator[Callable[..., Store]]:
    """Open another Store on the test's database (another replica), closed at the end."""
    opened: list[Store] = []

    def open_(**kwargs) -> Store:
        s = Store(target, **kwargs)
        opened.append(s)
        return s

    yield open_
    for s in opened:
        s.close()


@pytest.fixture
def store(open_store: Callable[..., Store]) -> Store:
    """A Store on the test's database."""
    return open_store()
