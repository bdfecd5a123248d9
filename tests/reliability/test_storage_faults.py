"""Storage faults on real SQLite files: a file that was not writable, a stuck writer, a newer or corrupt database.

How the read-only file is simulated: as root, permission bits are ignored, so the database file is
made immutable with `chattr +i` (ext4 and most local file systems; the test is skipped where it is
not supported). Then open(O_RDWR) fails with EPERM and SQLite, as it does for any file it cannot
write, silently opens it read-only (even with `mode=rw`), which is exactly the production fault
(a volume briefly read-only, a file with the wrong owner). Not root: `chmod 0400`.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.slack.server import wsgi_app
from bot.store import MIGRATIONS, WRITE_WAIT_S, Store, StoreBusy, StoreError

KV = "kv-test"


def _start(store: Store, n: int) -> int:
    return store.create_consultation("T1", "C1", f"thread-{n}", "U1", "api", KV).id


@contextmanager
def _read_only(path: Path) -> Iterator[None]:
    """The file cannot be opened for writing, even by root, until the block ends."""
    if os.geteuid() == 0:
        if shutil.which("chattr") is None:
            pytest.skip("no chattr: cannot make a file read-only for root")
        if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
            pytest.skip("chattr +i is not supported on this file system")
        undo = ["chattr", "-i", str(path)]
    else:
        os.chmod(path, 0o400)
        undo = None
    try:
        with pytest.raises(PermissionError):  # the fault is real
            os.close(os.open(path, os.O_RDWR))
        yield
    finally:
        if undo:
            subprocess.run(undo, check=True)
        else:
            os.chmod(path, 0o600)


def test_connection_opened_while_read_only_recovers_without_restart(tmp_path: Path) -> None:
    path = tmp_path / "advisor.db"
    store = Store(path)
    _start(store, 0)
    worker = ThreadPoolExecutor(1)  # one thread: its connection is opened during the fault
    try:
        with _read_only(path):
            for n in (1, 2):  # and stays failing while the fault lasts
                with pytest.raises(sqlite3.OperationalError):
                    worker.submit(_start, store, n).result()
        # the fault cleared: the same thread of the same Store writes again, no restart
        assert worker.submit(_start, store, 3).result()
        assert store.consultation_by_thread("T1", "C1", "thread-3") is not None
        assert store.consultation_by_thread("T1", "C1", "thread-1") is None
    finally:
        worker.shutdown()
        store.close()


def test_healthy_is_false_while_the_file_cannot_be_written(tmp_path: Path) -> None:
    path = tmp_path / "advisor.db"
    store = Store(path)
    worker = ThreadPoolExecutor(1)
    try:
        with _read_only(path):
            assert worker.submit(store.ping).result()  # reads work on the read-only connection
            assert worker.submit(store.healthy).result() is False  # BEGIN IMMEDIATE alone would pass
        assert worker.submit(store.healthy).result() is True
        assert worker.submit(_start, store, 1).result()
    finally:
        worker.shutdown()
        store.close()


def test_healthz_proves_a_write(tmp_path: Path) -> None:
    store = Store(tmp_path / "advisor.db")
    app = wsgi_app(store, None)

    def healthz() -> str:
        seen = []
        app({"PATH_INFO": "/healthz", "REQUEST_METHOD": "GET"}, lambda status, headers: seen.append(status))
        return seen[0]

    assert store.healthy() and healthz() == "200 OK"
    other = sqlite3.connect(store.path, isolation_level=None)  # another writer, outside our lock file
    other.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        assert store.healthy() is False
        assert time.monotonic() - started < 1.5  # a short wait, not the write wait
        assert healthz() == "503 Service Unavailable"
        assert store.ping()  # reads still answer: ping alone would say 200
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert store.healthy() and healthz() == "200 OK"


@contextmanager
def _other_process_holds_lock(store: Store, seconds: float) -> Iterator[None]:
    """A process that takes the writers' lock file (as another `serve` would) and keeps it."""
    code = ("import fcntl, os, sys, time\n"
            "fd = os.open(sys.argv[1], os.O_RDWR)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('locked', flush=True)\n"
            "time.sleep(float(sys.argv[2]))\n")
    proc = subprocess.Popen([sys.executable, "-c", code, f"{store.path}-writer.lock", str(seconds)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        yield
    finally:
        proc.kill()
        proc.wait()


def test_write_behind_a_stuck_process_is_busy_within_the_bound(tmp_path: Path) -> None:
    store = Store(tmp_path / "advisor.db")
    with _other_process_holds_lock(store, 10):
        started = time.monotonic()
        with pytest.raises(StoreBusy, match="busy"):
            _start(store, 1)
        waited = time.monotonic() - started
        assert WRITE_WAIT_S - 0.1 <= waited < 3.0
        assert store.healthy() is False
    assert _start(store, 2)  # the lock is free again: writes go through
    assert store.healthy()


def test_write_behind_sqlite_lock_is_busy_within_the_bound(tmp_path: Path) -> None:
    """A writer that does not use the lock file (the sqlite3 shell, a backup tool): SQLite's busy timeout."""
    store = Store(tmp_path / "advisor.db")
    other = sqlite3.connect(store.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        with pytest.raises(StoreBusy):
            _start(store, 1)
        assert time.monotonic() - started < 3.0
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert _start(store, 2)


def test_write_behind_a_stuck_thread_is_busy_and_the_wait_is_configurable(tmp_path: Path) -> None:
    store = Store(tmp_path / "advisor.db", write_wait_s=0.3)
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store.write():
            inside.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert inside.wait(5)
        started = time.monotonic()
        with pytest.raises(StoreBusy):
            _start(store, 1)
        assert time.monotonic() - started < 1.0
    finally:
        release.set()
        holder.join()
    assert _start(store, 2)


def test_database_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "advisor.db"
    Store(path).close()
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 3}")
    raw.close()
    with pytest.raises(StoreError) as refused:
        Store(path)
    message = str(refused.value)
    assert "\n" not in message
    assert f"schema version {len(MIGRATIONS) + 3}" in message
    assert f"newer than this release knows ({len(MIGRATIONS)}); upgrade framework-advisor" in message


@pytest.mark.parametrize("where", ["middle", "header"])
def test_corrupt_database_is_refused_at_start(tmp_path: Path, where: str) -> None:
    path = tmp_path / "advisor.db"
    store = Store(path)
    with store.write() as db:  # enough rows for a few hundred pages
        db.conn.executemany("INSERT INTO processed_events (event_id, team_id, created_at) VALUES (?, 'T1', ?)",
                            [(f"Ev{i:08d}-{'x' * 60}", f"2025-01-01T00:00:{i % 60:02d}") for i in range(20000)])
    store.close()
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every page in the main file
    page_size = raw.execute("PRAGMA page_size").fetchone()[0]
    pages = raw.execute("PRAGMA page_count").fetchone()[0]
    raw.close()
    assert pages > 100
    garbage = random.Random(12).randbytes(8 * page_size)
    with open(path, "r+b") as f:
        f.seek(0 if where == "header" else (pages // 2) * page_size)
        f.write(garbage)
    with pytest.raises(StoreError, match="is corrupt") as refused:
        Store(path)
    assert "\n" not in str(refused.value)


@contextmanager
def _small_disk(tmp_path: Path, size: str = "2m") -> Iterator[Path]:
    """A real file system of `size` (tmpfs, mounted as root), removed afterwards; skipped where mount is refused."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small file system here (needs root and mount)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(directory: Path) -> Path:
    """Fill the disk to the last block; returns the filler, whose removal frees the space again."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)  # unbuffered: nothing left to flush at close
    try:
        for chunk in (65536, 4096, 512):
            try:
                while os.write(fd, b"\0" * chunk):
                    pass
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_fails_writes_cleanly_and_recovers_when_space_is_freed(tmp_path: Path) -> None:
    with _small_disk(tmp_path) as disk:
        store = Store(disk / "advisor.db")
        cid = _start(store, 0)
        app = wsgi_app(store, None)

        def healthz() -> str:
            seen = []
            app({"PATH_INFO": "/healthz", "REQUEST_METHOD": "GET"}, lambda status, headers: seen.append(status))
            return seen[0]

        filler = _fill(disk)
        stored = 0
        try:
            for n in range(200):  # enough text to need new pages the disk no longer has
                started = time.monotonic()
                try:
                    store.append("T1", cid, "answer", "U1", question="team_size", value=n, raw_text="x" * 3000,
                                 event_id=f"ev-{n}")
                    stored += 1
                except (sqlite3.OperationalError, StoreError):
                    pass  # refused, not half-written: checked below
                assert time.monotonic() - started < 3  # within Slack's limit
            assert stored < 200, "the disk never filled"
            assert healthz() == "503 Service Unavailable"  # honest while writes fail
            assert store.ping()  # reads still answer
        finally:
            filler.unlink()
        # space is back: the same Store writes again, and every write it acknowledged is there once
        store.append("T1", cid, "answer", "U1", question="team_size", value=999, event_id="ev-after")
        log = store.log("T1", cid)
        assert [e.event_id for e in log].count("ev-after") == 1
        assert len(log) == stored + 1 and len({e.event_id for e in log}) == len(log)
        assert healthz() == "200 OK"
        store.close()
