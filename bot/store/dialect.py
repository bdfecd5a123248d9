"""The two SQL dialects of the store, and the translation of the mixins' SQL for PostgreSQL.

The mixins write one SQL text for both backends: the subset SQLite and PostgreSQL share, with
SQLite's `?` placeholders. On PostgreSQL `to_postgres` rewrites it, once per distinct text:
- `?` becomes `%s` (psycopg's placeholder), and a literal `%` becomes `%%`;
- `INSERT OR IGNORE INTO ...` becomes `INSERT INTO ... ON CONFLICT DO NOTHING`;
- an INSERT into a table whose rows have an `id` gets `RETURNING id`, which gives the cursor its
  `lastrowid` (psycopg has none).
What the two cannot share is named by the `Dialect` (e.g. `strpos` for SQLite's `instr`), or
written per backend where it truly differs (the schema, the outbox claim). SQLite-only SQL that
reaches PostgreSQL (GLOB, PRAGMA, json_*(), strftime(), `?NNN`, OR REPLACE) is refused with a
`ValueError` naming it, so a query written for SQLite alone fails the PostgreSQL contract tests
instead of failing in production.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Dialect:
    """What one backend's SQL says differently, for the queries the mixins share."""

    name: str
    for_update: str
    """Appended to a SELECT of rows about to be changed: row locks where writers run concurrently."""
    instr: str
    """The function giving the 1-based position of a substring in a text (0 when absent)."""
    concurrent_writers: bool
    """Whether writers run at the same time (PostgreSQL) or one after another (SQLite's write lock)."""
    epoch_now: str
    """The database's clock in epoch seconds (the outbox's pace: one clock for every replica)."""


SQLITE = Dialect("sqlite", for_update="", instr="instr", concurrent_writers=False,
                 epoch_now="((julianday('now') - 2440587.5) * 86400.0)")
POSTGRES = Dialect("postgresql", for_update=" FOR UPDATE", instr="strpos", concurrent_writers=True,
                   epoch_now="extract(epoch FROM clock_timestamp())::float8")

ID_TABLES = frozenset({"consultations", "answers", "recommendations", "decisions", "outbox", "reviews", "polls"})
"""The tables whose rows have an `id` (an INSERT into one returns it on PostgreSQL)."""

_SQLITE_ONLY = re.compile(r"\b(GLOB|PRAGMA|json_\w+|strftime|instr|INSERT\s+OR\s+REPLACE|UPDATE\s+OR|REPLACE\s+INTO"
                          r"|user_version|sqlite_\w+)\b", re.IGNORECASE)
_OR_IGNORE = re.compile(r"^\s*INSERT\s+OR\s+IGNORE\s+INTO\b", re.IGNORECASE)
_INSERT_INTO = re.compile(r"^\s*INSERT\s+INTO\s+(\w+)", re.IGNORECASE)
_RETURNING = re.compile(r"\bRETURNING\b", re.IGNORECASE)


def _placeholders(sql: str) -> tuple[str, str]:
    """(the text with `?` as `%s` and `%` as `%%`, the text with its quoted parts blanked for keyword checks)."""
    out: list[str] = []
    code: list[str] = []
    quote = ""
    i = 0
    while i < len(sql):
        ch = sql[i]
        if quote:
            if ch == quote:
                quote = ""
            out.append("%%" if ch == "%" else ch)
            code.append(ch if not quote else " ")
        elif ch in "'\"":
            quote = ch
            out.append(ch)
            code.append(ch)
        elif ch == "?":
            if i + 1 < len(sql) and sql[i + 1].isdigit():
                raise ValueError(f"numbered placeholders (?NNN) are SQLite's only: {sql!r}")
            out.append("%s")
            code.append("?")
        elif ch == "%":
            out.append("%%")
            code.append("%")
        else:
            out.append(ch)
            code.append(ch)
        i += 1
    return "".join(out), "".join(code)


@lru_cache(maxsize=4096)
def to_postgres(sql: str) -> tuple[str, bool]:
    """The mixins' SQL as PostgreSQL runs it, and whether it returns the new row's id (see the module)."""
    text, code = _placeholders(sql.strip().rstrip(";"))
    found = _SQLITE_ONLY.search(code)
    if found:
        raise ValueError(f"SQLite-only SQL ({found.group(0)}) cannot run on PostgreSQL: {sql!r}")
    if _OR_IGNORE.match(text):
        text = _OR_IGNORE.sub("INSERT INTO", text, count=1) + " ON CONFLICT DO NOTHING"
    insert = _INSERT_INTO.match(text)
    returns_id = bool(insert and insert.group(1).lower() in ID_TABLES and not _RETURNING.search(code))
    if returns_id:
        text += " RETURNING id"
    return text, returns_id


def lock_key(key: tuple) -> str:
    """The text a PostgreSQL advisory lock is hashed from: the app's name, then the key's parts."""
    return "framework-advisor:" + ":".join("" if k is None else str(k) for k in key)
