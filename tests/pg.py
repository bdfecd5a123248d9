"""A real, private PostgreSQL server for the tests (no mock).

``private_cluster()`` runs the distribution's own ``initdb`` and ``pg_ctl`` (Debian's ``postgresql``
package: /usr/lib/postgresql/<version>/bin) on a temporary folder and a free port on 127.0.0.1, with
fsync off, and yields the URL of its ``advisor`` database; whatever happens inside, the server is stopped
and the folder removed afterwards. ``initdb`` refuses to run as root, and the tests run as root here
and in CI, so as root both programs run as an unprivileged user (``nobody``) that owns the folder.

``fresh_database(url)`` creates a new, empty database on the same server (CREATE DATABASE ... TEMPLATE
template0, a few milliseconds) and returns its URL: one per test keeps a contract suite's tests apart.

The pytest fixtures ``pg_url`` (one cluster per session, started when a test first asks for it) and
``pg_database`` (a fresh database per test) are at the bottom; tests/conftest.py imports them. Where
PostgreSQL cannot be found or started they skip, saying why; with CI=true they fail instead, since CI
installs the server (.ci/run).

psycopg is imported only where a database is touched, so importing this module needs nothing but the
standard library and pytest.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

SUPERUSER = "postgres"
DATABASE = "advisor"
# The oldest server the tests accept: DROP DATABASE ... WITH (FORCE) is PostgreSQL 13's.
MIN_VERSION = 13
# Who runs the server when the tests run as root: the first of these that exists.
UNPRIVILEGED_USERS = ("nobody", "postgres")
# A unix socket path may be at most 107 bytes long; past that the server listens on TCP only.
_SOCKET_PATH_MAX = 100
# Seconds to wait for the server to start or stop.
_PG_CTL_TIMEOUT = 60

# Settings for a throwaway server: no durability, little memory, loopback only.
_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "shared_buffers": "32MB",
    "max_connections": "100",
    "listen_addresses": "'127.0.0.1'",
    "log_min_messages": "warning",
    "logging_collector": "off",
    "timezone": "'UTC'",
    "log_timezone": "'UTC'",
}
_HBA = """\
# Written by tests/pg.py: trust on loopback and the private unix socket, nothing else.
local   all   all                 trust
host    all   all   127.0.0.1/32  trust
"""

INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH nor in /usr/lib/postgresql/*/bin: "
    "install Debian's postgresql package (apt-get install postgresql), or set PG_BINDIR"
)
PSYCOPG_HINT = "psycopg is not installed: pip install -e '.[postgres]' (the dev extra includes it)"


class ClusterUnavailable(RuntimeError):
    """PostgreSQL cannot be found or started here; the message says why and what to do."""


# -- finding the binaries --------------------------------------------------------------------------
@dataclass(frozen=True)
class Binaries:
    bindir: Path
    version: int

    @property
    def initdb(self) -> str:
        return str(self.bindir / "initdb")

    @property
    def pg_ctl(self) -> str:
        return str(self.bindir / "pg_ctl")


def _candidate_bindirs() -> Iterator[Path]:
    if os.environ.get("PG_BINDIR"):
        yield Path(os.environ["PG_BINDIR"])
    found = shutil.which("initdb")
    if found:
        # /usr/local/bin/initdb may be a link into /usr/lib/postgresql/15/bin: use the real folder,
        # where pg_ctl and postgres are too.
        yield Path(os.path.realpath(found)).parent
    # Debian's layout, newest version first.
    def version_of(path: str) -> int:
        match = re.search(r"/(\d+)/bin$", path)
        return int(match.group(1)) if match else 0

    for path in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version_of, reverse=True):
        yield Path(path)


def _version(initdb: Path) -> int | None:
    try:
        out = subprocess.run([str(initdb), "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\(PostgreSQL\)\s+(\d+)", out)
    return int(match.group(1)) if match else None


def find_binaries() -> Binaries:
    """The first folder holding initdb, pg_ctl and postgres of a supported version; else ClusterUnavailable."""
    too_old = []
    for bindir in _candidate_bindirs():
        if not all(os.access(bindir / name, os.X_OK) for name in ("initdb", "pg_ctl", "postgres")):
            continue
        version = _version(bindir / "initdb")
        if version is None:
            continue
        if version < MIN_VERSION:
            too_old.append(f"{bindir} ({version})")
            continue
        return Binaries(bindir, version)
    if too_old:
        raise ClusterUnavailable(f"PostgreSQL {MIN_VERSION} or later is needed; found only {', '.join(too_old)}")
    raise ClusterUnavailable(INSTALL_HINT)


# -- running as an unprivileged user -----------------------------------------------------------------
@dataclass(frozen=True)
class RunAs:
    """Who initdb and pg_ctl run as: ``None`` ids mean the current user (not root)."""

    name: str
    uid: int | None = None
    gid: int | None = None

    def kwargs(self) -> dict:
        if self.uid is None:
            return {}
        # subprocess switches the child's groups, gid and uid (setgroups, setregid, setreuid) before exec.
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def unprivileged_user() -> RunAs:
    """The current user, or when that is root, the first of UNPRIVILEGED_USERS (or PG_TEST_USER) that exists."""
    if os.geteuid() != 0:
        return RunAs(pwd.getpwuid(os.geteuid()).pw_name)
    names = [os.environ["PG_TEST_USER"]] if os.environ.get("PG_TEST_USER") else list(UNPRIVILEGED_USERS)
    for name in names:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid != 0:
            return RunAs(name, entry.pw_uid, entry.pw_gid)
    raise ClusterUnavailable(
        f"running as root, and none of the users {', '.join(names)} exists to run PostgreSQL as "
        "(initdb refuses root): create one, or name one in PG_TEST_USER")


def _reachable_by_others(path: Path) -> bool:
    """Whether every folder above ``path`` lets other users through (so ``nobody`` can reach a folder in it)."""
    for folder in [path, *path.parents]:
        try:
            if not folder.stat().st_mode & 0o001:
                return False
        except OSError:
            return False
    return True


def _make_folder(run_as: RunAs) -> Path:
    base = Path(tempfile.gettempdir()).resolve()
    if run_as.uid is not None and not _reachable_by_others(base):
        base = Path("/tmp")  # TMPDIR is private to root: nobody could not reach a folder in it.
    folder = Path(tempfile.mkdtemp(prefix="advisor-pg-", dir=base))
    if run_as.uid is not None:
        os.chown(folder, run_as.uid, run_as.gid)
    return folder


def _env() -> dict[str, str]:
    """The environment for initdb/pg_ctl: ours less libpq's and the server's PG* variables, in the C locale."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env.update(LC_ALL="C", LANG="C")
    return env


def _run(argv: list[str], run_as: RunAs, cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            argv, cwd=cwd, env=_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=timeout, **run_as.kwargs())
    except PermissionError as exc:  # no CAP_SETUID, or the binary is not executable for that user
        raise ClusterUnavailable(f"cannot run {argv[0]} as {run_as.name}: {exc}") from exc
    except subprocess.TimeoutExpired as exc:
        raise ClusterUnavailable(f"{' '.join(argv[:2])} did not finish within {timeout} s") from exc


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the cluster ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cluster:
    """A running private server: ``url`` is its ``advisor`` database, as the superuser."""

    url: str
    port: int
    folder: Path
    data: Path
    socket_dir: Path | None
    version: int
    run_as: str
    started_in: float  # seconds from initdb to the database being there

    def database_url(self, name: str) -> str:
        return with_database(self.url, name)


def with_database(url: str, name: str) -> str:
    """``url`` naming database ``name`` instead."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _stop(binaries: Binaries, run_as: RunAs, folder: Path, data: Path) -> None:
    """Stop the server however it can be: pg_ctl's fast shutdown, then signals to the postmaster."""
    if not (data / "postmaster.pid").exists():
        return
    with contextlib.suppress(ClusterUnavailable):
        result = _run([binaries.pg_ctl, "stop", "-D", str(data), "-m", "fast", "-w", "-t", "30"],
                      run_as, folder, timeout=40)
        if result.returncode == 0:
            return
    # pg_ctl could not stop it: tell the postmaster directly (root may signal any process).
    try:
        pid = int((data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    for sig, wait in ((signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)


@contextlib.contextmanager
def private_cluster(database: str = DATABASE) -> Iterator[Cluster]:
    """Start a private PostgreSQL server and yield it (``.url`` is what a test connects to).

    Raises ClusterUnavailable, saying why, when there is no server to run or it will not start. The server
    is stopped and its folder removed on the way out, however the block ends.
    """
    binaries = find_binaries()
    run_as = unprivileged_user()
    started = time.monotonic()
    folder = _make_folder(run_as)
    data = folder / "data"
    log = folder / "server.log"
    try:
        result = _run(
            [binaries.initdb, "-D", str(data), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8",
             "--locale=C", "--no-sync", "--no-instructions"],
            run_as, folder, timeout=120)
        if result.returncode != 0:
            raise ClusterUnavailable(
                f"initdb failed (exit {result.returncode}) as {run_as.name}:\n{result.stdout}{result.stderr}")
        socket_dir = folder if len(str(folder / ".s.PGSQL.65535")) <= _SOCKET_PATH_MAX else None
        settings = dict(_SETTINGS, unix_socket_directories=f"'{socket_dir}'" if socket_dir else "''")
        with open(data / "postgresql.conf", "a") as conf:
            conf.write("\n# tests/pg.py\n" + "".join(f"{key} = {value}\n" for key, value in settings.items()))
        (data / "pg_hba.conf").write_text(_HBA)

        # The port is free when picked, but another process may take it before the server binds: try again.
        for attempt in range(3):
            port = _free_port()
            result = _run(
                [binaries.pg_ctl, "start", "-D", str(data), "-l", str(log), "-w", "-t", str(_PG_CTL_TIMEOUT),
                 "-o", f"-p {port}"],
                run_as, folder, timeout=_PG_CTL_TIMEOUT + 10)
            if result.returncode == 0:
                break
            if "could not bind" not in _tail(log) or attempt == 2:
                raise ClusterUnavailable(
                    f"pg_ctl start failed (exit {result.returncode}):\n{result.stdout}{result.stderr}\n"
                    f"server log:\n{_tail(log)}")

        url = f"postgresql://{SUPERUSER}@127.0.0.1:{port}/{database}"
        _create_database(with_database(url, "postgres"), database)
        yield Cluster(url=url, port=port, folder=folder, data=data, socket_dir=socket_dir,
                      version=binaries.version, run_as=run_as.name, started_in=time.monotonic() - started)
    finally:
        try:
            _stop(binaries, run_as, folder, data)
        finally:
            shutil.rmtree(folder, ignore_errors=True)


# -- databases -----------------------------------------------------------------------------------------
def _psycopg():
    try:
        import psycopg
    except ImportError as exc:
        raise ClusterUnavailable(PSYCOPG_HINT) from exc
    return psycopg


def _create_database(admin_url: str, name: str) -> None:
    psycopg = _psycopg()
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        # From PostgreSQL 15 on, copying template0's files is about 3 times faster than the default WAL_LOG
        # (its checkpoint costs little with fsync off).
        strategy = " STRATEGY FILE_COPY" if conn.info.server_version >= 150000 else ""
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'" + strategy)
                     .format(sql.Identifier(name)))


def fresh_database(url: str, name: str | None = None) -> str:
    """Create a new, empty database on ``url``'s server and return its URL (``name`` or a unique one)."""
    name = name or f"t_{uuid.uuid4().hex[:16]}"
    _create_database(with_database(url, "postgres"), name)
    return with_database(url, name)


def drop_database(url: str) -> None:
    """Drop the database ``url`` names, closing whatever connections are still open to it."""
    psycopg = _psycopg()
    from psycopg import sql

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(with_database(url, "postgres"), autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# -- pytest fixtures (imported by tests/conftest.py) ----------------------------------------------
def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def unavailable(reason: str) -> None:
    """Skip the test, saying why; under CI=true fail it instead, since CI installs PostgreSQL."""
    if in_ci():
        pytest.fail(f"PostgreSQL is required under CI=true (.ci/run installs it) but {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL unavailable: {reason}")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """One private PostgreSQL server for the whole session, started when a test first asks for it."""
    stack = contextlib.ExitStack()
    try:
        _psycopg()
        cluster = stack.enter_context(private_cluster())
    except ClusterUnavailable as exc:
        unavailable(str(exc))
    with stack:
        yield cluster


@pytest.fixture(scope="session")
def pg_url(pg_cluster: Cluster) -> str:
    """The URL of the session's PostgreSQL database ``advisor`` (postgresql://postgres@127.0.0.1:PORT/advisor)."""
    return pg_cluster.url


@pytest.fixture
def pg_database(pg_url: str) -> Iterator[str]:
    """The URL of a new, empty database for this test alone; dropped afterwards."""
    url = fresh_database(pg_url)
    try:
        yield url
    finally:
        drop_database(url)
