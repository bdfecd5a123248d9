"""The SQLite schema, versioned: `MIGRATIONS[n]` brings a database from version n to n + 1.

PostgreSQL has its own list (bot/store/pg_schema.py): a change to the schema adds a step to both.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils


def _v1(db: sqlite_utils.Database) -> None:
    db.execute("""CREATE TABLE consultations (
        id INTEGER PRIMARY KEY, team_id TEXT NOT NULL, number INTEGER NOT NULL,
        channel TEXT NOT NULL, thread_ts TEXT NOT NULL, started_by TEXT NOT NULL,
        topic TEXT NOT NULL DEFAULT '', status TEXT NOT NULL DEFAULT 'open',
        knowledge_version TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
        UNIQUE (team_id, number), UNIQUE (team_id, channel, thread_ts))""")
    db.execute("CREATE INDEX consultations_open ON consultations (team_id, status, updated_at)")
    db.execute("""CREATE TABLE answers (
        id INTEGER PRIMARY KEY, consultation_id INTEGER NOT NULL REFERENCES consultations(id),
        seq INTEGER NOT NULL, kind TEXT NOT NULL, question TEXT, value TEXT, raw_text TEXT,
        user_id TEXT NOT NULL, event_id TEXT UNIQUE, created_at TEXT NOT NULL,
        UNIQUE (consultation_id, seq))""")
    db.execute("""CREATE TABLE recommendations (
        id INTEGER PRIMARY KEY, consultation_id INTEGER NOT NULL REFERENCES consultations(id),
        seq INTEGER NOT NULL, recommendation TEXT, result TEXT NOT NULL,
        knowledge_version TEXT NOT NULL, created_at TEXT NOT NULL)""")
    db.execute("CREATE INDEX recommendations_by_consultation ON recommendations (consultation_id, seq)")
    db.execute("""CREATE TABLE decisions (
        id INTEGER PRIMARY KEY, team_id TEXT NOT NULL, number INTEGER NOT NULL,
        consultation_id INTEGER REFERENCES consultations(id), channel TEXT NOT NULL,
        thread_ts TEXT, topic TEXT NOT NULL DEFAULT '', framework TEXT NOT NULL,
        status TEXT NOT NULL, decided_by TEXT NOT NULL, rationale TEXT NOT NULL DEFAULT '',
        recommendation TEXT, supersedes INTEGER REFERENCES decisions(id),
        knowledge_version TEXT NOT NULL, answers TEXT NOT NULL DEFAULT '{}',
        result TEXT NOT NULL DEFAULT '{}', created_at TEXT NOT NULL, event_id TEXT UNIQUE,
        UNIQUE (team_id, number))""")
    db.execute("CREATE INDEX decisions_history ON decisions (team_id, number DESC)")
    db.execute("CREATE INDEX decisions_topic ON decisions (team_id, channel, topic, status)")
    db.execute("""CREATE TABLE processed_events (
        event_id TEXT PRIMARY KEY, team_id TEXT, created_at TEXT NOT NULL)""")
    db.execute("""CREATE TABLE outbox (
        id INTEGER PRIMARY KEY, team_id TEXT NOT NULL, channel TEXT NOT NULL, thread_ts TEXT,
        method TEXT NOT NULL, payload TEXT NOT NULL, dedupe_key TEXT UNIQUE, tag TEXT,
        status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
        not_before REAL NOT NULL DEFAULT 0, lease_until REAL NOT NULL DEFAULT 0,
        last_error TEXT, result_ts TEXT, created_at TEXT NOT NULL, sent_at TEXT)""")
    db.execute("CREATE INDEX outbox_pending ON outbox (status, not_before)")
    db.execute("CREATE INDEX outbox_tag ON outbox (team_id, tag)")


def _v2(db: sqlite_utils.Database) -> None:
    # The claim reads the head of each channel's queue: (status, channel, id) lets it find every
    # channel's oldest pending row without reading the rows queued behind it.
    db.execute("CREATE INDEX outbox_channel_head ON outbox (status, channel, id)")


def _v3(db: sqlite_utils.Database) -> None:
    # Which Enterprise Grid organisation a workspace belongs to, and whether the app was installed
    # org-wide: the outbox sender has only the team id of a row, and the token look-up needs both.
    db.execute("""CREATE TABLE workspaces (
        team_id TEXT PRIMARY KEY, enterprise_id TEXT, is_enterprise_install INTEGER NOT NULL DEFAULT 0,
        updated_at TEXT NOT NULL)""")


def _v4(db: sqlite_utils.Database) -> None:
    # The decision lifecycle (MADR 4): who decided, was consulted and is informed (JSON lists of user
    # ids), a review date, whether the outcome is announced in the channel, a proposal's later
    # acceptance or rejection, and the supersede link in both directions.
    for column in ("decision_makers TEXT NOT NULL DEFAULT '[]'", "consulted TEXT NOT NULL DEFAULT '[]'",
                   "informed TEXT NOT NULL DEFAULT '[]'", "review_on TEXT", "announce INTEGER NOT NULL DEFAULT 0",
                   "accepted_by TEXT", "accepted_at TEXT", "rejected_by TEXT", "rejected_at TEXT",
                   "superseded_by INTEGER REFERENCES decisions(id)"):
        db.execute(f"ALTER TABLE decisions ADD COLUMN {column}")
    # Decisions recorded before: the one who recorded it decided it; the older side of a supersede
    # learns which decision replaced it.
    db.execute("UPDATE decisions SET decision_makers = json_array(decided_by)")
    db.execute("UPDATE decisions SET superseded_by = (SELECT n.id FROM decisions n WHERE n.supersedes = decisions.id"
               " ORDER BY n.number LIMIT 1) WHERE status = 'superseded'")
    # `/framework history superseded`: one status of one team, newest first, from the index.
    db.execute("CREATE INDEX decisions_by_status ON decisions (team_id, status, number)")


def _v5(db: sqlite_utils.Database) -> None:
    # Review reminders: one row per reminder of a decision (a confirmation schedules the next one).
    # The store is their source of truth; Slack's scheduled message is only the fast path.
    db.execute("""CREATE TABLE reviews (
        id INTEGER PRIMARY KEY, team_id TEXT NOT NULL, decision_number INTEGER NOT NULL,
        channel TEXT NOT NULL, thread_ts TEXT, due_at REAL NOT NULL, status TEXT NOT NULL DEFAULT 'pending',
        scheduled_id TEXT, message_ts TEXT, settled_by TEXT, settled_at TEXT,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL)""")
    db.execute("CREATE INDEX reviews_due ON reviews (status, due_at)")
    db.execute("CREATE INDEX reviews_by_decision ON reviews (team_id, decision_number)")
    # Decisions recorded before with a review date get their reminder.
    db.execute("INSERT INTO reviews (team_id, decision_number, channel, thread_ts, due_at, created_at, updated_at)"
               " SELECT team_id, number, channel, thread_ts, CAST(strftime('%s', review_on || ' 09:00:00') AS REAL),"
               " created_at, created_at FROM decisions WHERE review_on IS NOT NULL"
               " AND status IN ('accepted', 'proposed')")


def _v6(db: sqlite_utils.Database) -> None:
    # Team polls: each member answers a consultation's questions on their own; one row per member.
    db.execute("""CREATE TABLE polls (
        id INTEGER PRIMARY KEY, team_id TEXT NOT NULL, consultation_id INTEGER NOT NULL REFERENCES consultations(id),
        created_by TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'open', created_at TEXT NOT NULL)""")
    db.execute("CREATE INDEX polls_by_consultation ON polls (team_id, consultation_id)")
    db.execute("""CREATE TABLE poll_answers (
        poll_id INTEGER NOT NULL REFERENCES polls(id), user_id TEXT NOT NULL, answers TEXT NOT NULL,
        created_at TEXT NOT NULL, PRIMARY KEY (poll_id, user_id))""")


def _v7(db: sqlite_utils.Database) -> None:
    # The outbox's pace per channel: when its last chat.postMessage was claimed (epoch seconds), so
    # that several sender processes together post about once per second per channel (used when the
    # store's `post_interval_s` is set; PostgreSQL's replicas always use it).
    db.execute("CREATE TABLE channel_pace (channel TEXT PRIMARY KEY, last_post REAL NOT NULL)")
    db.execute("CREATE INDEX channel_pace_recent ON channel_pace (last_post)")


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_v1, _v2, _v3, _v4, _v5, _v6, _v7]
