"""The store's two backends for the tests: a SQLite file, or a fresh PostgreSQL database (tests/pg.py).

`target(request, backend, tmp_path)` is what `Store()` opens; every Store a test opens on it shares
one database, as replicas do. Without PostgreSQL the postgres tests skip, saying why (pg_database).
"""

from __future__ import annotations

from pathlib import Path

import pytest

BACKENDS = ("sqlite", "postgres")


def target(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    """The database of one test: a SQLite file in its tmp_path, or a new PostgreSQL database's URL."""
    if backend == "sqlite":
        return str(tmp_path / "data" / "advisor.db")
    return request.getfixturevalue("pg_database")
