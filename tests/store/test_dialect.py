"""The translation of the mixins' SQL for PostgreSQL (no database needed), and the store's target parsing."""

from __future__ import annotations

import pytest

from bot.store.common import is_postgres_url, redact
from bot.store.dialect import POSTGRES, SQLITE, lock_key, to_postgres


def test_placeholders_and_percent_signs() -> None:
    assert to_postgres("SELECT id FROM outbox WHERE team_id = ? AND tag >= ?") == (
        "SELECT id FROM outbox WHERE team_id = %s AND tag >= %s", False)
    # A ? or a % inside a quoted literal is text, not a placeholder; psycopg wants every % doubled.
    assert to_postgres("SELECT '?', 'a%b' || ? FROM t WHERE \"odd?name\" = ?")[0] == (
        "SELECT '?', 'a%%b' || %s FROM t WHERE \"odd?name\" = %s")
    assert to_postgres("SELECT 'it''s ?' WHERE x = ?;  ")[0] == "SELECT 'it''s ?' WHERE x = %s"


def test_insert_or_ignore_and_returning_the_new_id() -> None:
    assert to_postgres("INSERT OR IGNORE INTO outbox (team_id) VALUES (?)") == (
        "INSERT INTO outbox (team_id) VALUES (%s) ON CONFLICT DO NOTHING RETURNING id", True)
    assert to_postgres("insert or ignore into processed_events (event_id) values (?)") == (
        "INSERT INTO processed_events (event_id) values (%s) ON CONFLICT DO NOTHING", False)
    assert to_postgres("INSERT INTO decisions (team_id) VALUES (?)")[1] is True
    assert to_postgres("INSERT INTO workspaces (team_id) VALUES (?) ON CONFLICT (team_id) DO NOTHING")[1] is False
    assert to_postgres("INSERT INTO polls (team_id) VALUES (?) RETURNING id, team_id")[1] is False  # its own
    assert to_postgres("UPDATE outbox SET x = 1 RETURNING id")[1] is False


@pytest.mark.parametrize("sql", [
    "SELECT * FROM reviews WHERE channel GLOB '[CDG]*'", "PRAGMA user_version", "SELECT json_array(decided_by)",
    "SELECT strftime('%s', 'now')", "UPDATE OR REPLACE poll_answers SET user_id = ?", "SELECT ?1, ?2",
    "INSERT OR REPLACE INTO t VALUES (1)", "SELECT instr(a, b) FROM t", "SELECT name FROM sqlite_master"])
def test_sqlite_only_sql_is_refused_by_name(sql: str) -> None:
    with pytest.raises(ValueError, match="SQLite"):
        to_postgres(sql)


def test_words_inside_literals_are_not_taken_for_sql() -> None:
    assert to_postgres("SELECT 1 WHERE last_error = 'PRAGMA GLOB instr'")[0] == (
        "SELECT 1 WHERE last_error = 'PRAGMA GLOB instr'")


def test_what_the_dialects_name() -> None:
    assert (SQLITE.instr, POSTGRES.instr) == ("instr", "strpos")
    assert (SQLITE.for_update, POSTGRES.for_update) == ("", " FOR UPDATE")
    assert not SQLITE.concurrent_writers and POSTGRES.concurrent_writers
    assert lock_key(("thread", "C1", None)) == "framework-advisor:thread:C1:"


def test_targets_and_redacted_urls() -> None:
    assert is_postgres_url("postgresql://u@h/db") and is_postgres_url("postgres://h/db")
    assert not is_postgres_url(":memory:") and not is_postgres_url("/var/lib/advisor.db") and not is_postgres_url(None)
    assert redact("postgresql://advisor:s3cret@db.internal:5432/advisor?sslmode=require") == (
        "postgresql://advisor:***@db.internal:5432/advisor?sslmode=require")
    assert redact("postgresql://advisor@db/advisor") == "postgresql://advisor@db/advisor"
