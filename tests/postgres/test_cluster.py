"""Smoke tests of the private PostgreSQL server that tests/pg.py starts (no mock: a real server).

What a PostgreSQL storage backend will rest on: the server starts as an unprivileged user, psycopg connects,
committed rows are seen by other connections, and SELECT ... FOR UPDATE SKIP LOCKED lets two connections claim
different rows (the outbox claim); and the cluster leaves nothing behind.
"""

from __future__ import annotations

import os
import socket

import pytest

from tests import pg

if pg.in_ci():
    import psycopg  # CI installs it: a missing driver is an error there, not a skip
else:
    psycopg = pytest.importorskip("psycopg", reason=pg.PSYCOPG_HINT)


def _connect(url: str, **kwargs):
    return psycopg.connect(url, connect_timeout=10, **kwargs)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


# -- the server --------------------------------------------------------------------------------------
def test_the_server_runs_privately_and_unprivileged(pg_cluster: pg.Cluster, pg_url: str):
    assert pg_url == f"postgresql://postgres@127.0.0.1:{pg_cluster.port}/advisor"
    assert pg_cluster.version >= pg.MIN_VERSION
    with _connect(pg_url) as conn:
        settings = dict(conn.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('fsync', 'listen_addresses', 'data_directory', 'server_encoding')").fetchall())
        database, user = conn.execute("SELECT current_database(), current_user").fetchone()
        hba = conn.execute("SELECT type, address, auth_method FROM pg_hba_file_rules ORDER BY line_number").fetchall()
    assert (database, user) == ("advisor", "postgres")
    assert settings["fsync"] == "off"
    assert settings["listen_addresses"] == "127.0.0.1"
    assert settings["server_encoding"] == "UTF8"
    assert settings["data_directory"] == str(pg_cluster.data)
    # Trust only on loopback and the private socket.
    assert hba == [("local", None, "trust"), ("host", "127.0.0.1", "trust")]
    # Not root's: initdb refuses root, so the folder belongs to whoever runs the server.
    owner = os.stat(pg_cluster.data).st_uid
    assert owner == os.geteuid() if os.geteuid() != 0 else owner != 0


def test_the_unix_socket_in_the_folder_works_too(pg_cluster: pg.Cluster):
    if pg_cluster.socket_dir is None:
        pytest.skip(f"the folder's path is too long for a unix socket: {pg_cluster.folder}")
    with psycopg.connect(host=str(pg_cluster.socket_dir), port=pg_cluster.port, user="postgres",
                         dbname="advisor", connect_timeout=10) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_fresh_databases_are_empty_and_apart(pg_url: str):
    first, second = pg.fresh_database(pg_url), pg.fresh_database(pg_url)
    try:
        assert first != second
        with _connect(first, autocommit=True) as conn:
            conn.execute("CREATE TABLE only_here (id int)")
        with _connect(second) as conn:
            assert conn.execute("SELECT to_regclass('only_here')").fetchone() == (None,)
            assert conn.execute(
                "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
            ).fetchone() == (0,)
    finally:
        pg.drop_database(first)
        pg.drop_database(second)
    with _connect(pg_url) as conn:
        names = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
    assert not {first.rsplit("/", 1)[1], second.rsplit("/", 1)[1]} & names


# -- what a storage backend rests on ------------------------------------------------------------------
def test_two_connections_see_each_others_committed_rows(pg_database: str):
    with _connect(pg_database) as a, _connect(pg_database) as b:
        a.execute("CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)")
        a.commit()
        a.execute("INSERT INTO notes (body) VALUES ('from a')")
        # Not committed yet: b does not see it.
        assert b.execute("SELECT body FROM notes").fetchall() == []
        b.rollback()
        a.commit()
        assert b.execute("SELECT body FROM notes").fetchall() == [("from a",)]
        b.execute("INSERT INTO notes (body) VALUES ('from b')")
        b.commit()
        assert a.execute("SELECT body FROM notes ORDER BY id").fetchall() == [("from a",), ("from b",)]


def test_for_update_skip_locked_lets_two_connections_claim_different_rows(pg_database: str):
    claim = "SELECT id FROM outbox WHERE NOT done ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"
    with _connect(pg_database) as a, _connect(pg_database) as b:
        a.execute("CREATE TABLE outbox (id int PRIMARY KEY, done boolean NOT NULL DEFAULT false)")
        a.execute("INSERT INTO outbox (id) VALUES (1), (2)")
        a.commit()

        assert a.execute(claim).fetchone() == (1,)  # a holds row 1 (its transaction is open)
        assert b.execute(claim).fetchone() == (2,)  # b skips it, and does not wait
        # b cannot take row 1 while a holds it: NOWAIT says so at once.
        with pytest.raises(psycopg.errors.LockNotAvailable):
            b.execute("SELECT id FROM outbox WHERE id = 1 FOR UPDATE NOWAIT")
        b.rollback()  # b gives row 2 back, too

        # With both rows locked, a third claim finds nothing.
        assert b.execute(claim).fetchone() == (2,)
        with _connect(pg_database) as c:
            assert c.execute(claim).fetchone() is None
            c.rollback()

        a.execute("UPDATE outbox SET done = true WHERE id = 1")
        a.commit()
        b.rollback()
        assert b.execute(claim).fetchone() == (2,)  # row 1 is done, row 2 free again
        b.rollback()


# -- cleaning up --------------------------------------------------------------------------------------
def test_the_cluster_is_stopped_and_its_folder_removed_on_exit():
    try:
        with pg.private_cluster() as cluster:
            assert cluster.data.is_dir() and _port_open(cluster.port)
    except pg.ClusterUnavailable as exc:
        pg.unavailable(str(exc))
    assert not cluster.folder.exists()
    assert not _port_open(cluster.port)


def test_the_cluster_is_stopped_and_its_folder_removed_when_the_block_fails():
    class Boom(Exception):
        pass

    try:
        with pytest.raises(Boom), pg.private_cluster() as cluster:
            raise Boom
    except pg.ClusterUnavailable as exc:
        pg.unavailable(str(exc))
    assert not cluster.folder.exists()
    assert not _port_open(cluster.port)


# -- when there is no server --------------------------------------------------------------------------
def test_no_binaries_says_what_to_install(monkeypatch):
    monkeypatch.setattr(pg, "_candidate_bindirs", lambda: iter([]))
    with pytest.raises(pg.ClusterUnavailable, match="install Debian's postgresql package"):
        pg.find_binaries()


def test_unavailable_skips_outside_ci_and_fails_under_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL unavailable: no server here"):
        pg.unavailable("no server here")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="required under CI=true"):
        pg.unavailable("no server here")
