"""`framework-advisor serve`: one process, Socket Mode or HTTP, with /healthz and /metrics.

HTTP is served by waitress (a production WSGI server: a thread pool, and a request-body limit
that answers 413) through bolt's WSGI adapter; bolt's own `app.start()` is a single-threaded
development server with no body limit. In Socket Mode the same small WSGI app serves only
/healthz and /metrics.
"""

from __future__ import annotations

import io
import json
import logging
import signal
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable

from slack_sdk.signature import SignatureVerifier

from bot import logs, metrics
from bot.slack.context import after_response
from bot.slack.outbox_process import OutboxProcess
from bot.store import Store, is_postgres_url

log = logging.getLogger("framework_advisor.server")

MAX_BODY = 1024 * 1024
IDLE_SWEEP_S = 3600
SWITCH_INTERVAL_S = 0.001
# Request threads. Listeners only touch SQLite and the engine (Slack calls run on the context's
# executor), so more threads add no parallelism under one interpreter lock, only contention: in the
# thread-answer benchmark, 3 threads served 192-200 answers/s where 8 served 180-193, with less
# CPU per answer (3.4-3.8 ms against 3.7-4.1).
THREADS = 3


def _respond(start_response, status: str, body: bytes, ctype: str = "text/plain; charset=utf-8") -> list[bytes]:
    start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(body)))])
    return [body]


def wsgi_app(store: Store, slack_handler: Callable | None, signing_secret: str | None = None) -> Callable:
    """The process's WSGI app: health, metrics, and (HTTP mode) the Slack endpoints.

    Slack requests are verified here, before bolt sees them: bolt parses the body before it
    checks the signature, so a forged request with a malformed body would get a 500 and a
    logged traceback instead of a 401.
    """
    # Which database and which replica: /healthz and /metrics say so when several replicas share one.
    database = "postgresql" if is_postgres_url(store.path) else "sqlite"
    replica = metrics.replica_id()
    slack_paths = {"/slack/events", "/slack/install", "/slack/oauth_redirect"}
    if slack_handler is not None and not signing_secret:
        # bolt trusts this check (app.build(verified_upstream=True)): never serve Slack unverified.
        raise ValueError("serving Slack over HTTP needs the signing secret")
    verifier = SignatureVerifier(signing_secret) if signing_secret else None

    def app(environ, start_response) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        started = time.perf_counter()
        if path == "/healthz" and method in ("GET", "HEAD"):
            ok = store.healthy()  # proves a write could be made now (rolled back), 503 if not
            metrics.request("/healthz", "200" if ok else "503").inc()
            body = {"ok": ok, "database": database, "replica": replica}
            return _respond(start_response, "200 OK" if ok else "503 Service Unavailable",
                            json.dumps(body).encode(), "application/json")
        if path == "/metrics" and method == "GET":
            return _respond(start_response, "200 OK", metrics.render(replica, database), "text/plain; version=0.0.4")
        if slack_handler is not None and path in slack_paths:
            if path == "/slack/events" and method == "POST":
                refusal = _refuse(environ, verifier)
                if refusal is not None:
                    metrics.request(path, refusal.split()[0]).inc()
                    return _respond(start_response, refusal, refusal.encode())
            out = after_response(slack_handler, environ, start_response)
            code = out.status.split()[0] if out.status else "500"
            metrics.request(path, code).inc()
            metrics.HTTP_ACK_LATENCY.observe(time.perf_counter() - started)
            return out
        metrics.request("other", "404").inc()
        return _respond(start_response, "404 Not Found", b"not found")

    return app


def _refuse(environ, verifier: SignatureVerifier | None) -> str | None:
    """Why a POST to /slack/events is refused (a status line), or None to pass it to bolt.

    Reads the body (waitress has already bounded it to 1 MiB) and puts it back for bolt.
    """
    ts = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
    sig = environ.get("HTTP_X_SLACK_SIGNATURE", "")
    if not (ts.isascii() and ts.isdigit() and len(ts) <= 12 and sig.startswith("v0=")):
        return "401 Unauthorized"
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return "400 Bad Request"
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "401 Unauthorized"  # Slack signs UTF-8 text: such a body cannot carry a valid signature
    if verifier is not None and not verifier.is_valid(body=text, timestamp=ts, signature=sig):
        return "401 Unauthorized"
    if not _readable(body, environ.get("CONTENT_TYPE", "")):
        return "400 Bad Request"
    return None


def _readable(body: bytes, content_type: str) -> bool:
    """Whether bolt can parse the body: a JSON object, or a form (whose `payload`, if any, is a JSON object)."""
    try:
        text = body.decode("utf-8")
        if "application/json" in content_type:
            return isinstance(json.loads(text), dict)
        if not (text.startswith("payload=") or "&payload=" in text):
            return True  # a slash command: bolt's form parsing takes anything (and there is no JSON in it)
        form = urllib.parse.parse_qs(text, strict_parsing=True)
        if "payload" in form:
            return isinstance(json.loads(form["payload"][0]), dict)
        return True
    except (UnicodeDecodeError, ValueError):
        return False


def serve(host: str = "0.0.0.0", port: int = 3000, db: str | None = None) -> None:
    """Run the bot until SIGTERM/SIGINT. A bad Slack configuration exits 2 with one line."""
    from bot.slack import config

    try:
        cfg = config.from_env()
    except config.ConfigError as e:
        print(f"serve: {e}", file=sys.stderr)
        sys.exit(2)
    logs.setup(cfg.secrets())
    # waitress warns "Task queue depth is N" for every request that waits for a thread: under load
    # that was one warning per request (3,000 in a 30 s benchmark), costing CPU and burying real ones.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    # A thread back from I/O (an ack to write, a reply just sent) waits for the interpreter until
    # the running thread's switch interval ends: 5 ms by default, 1 ms here (see the benchmarks).
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    try:
        store = Store(db)
    except Exception as e:  # noqa: BLE001 - an unusable database path is a configuration error
        print(f"serve: cannot open the database: {e}", file=sys.stderr)
        sys.exit(2)
    # Handlers first: a SIGTERM while starting (once /healthz answers, or the sender process is
    # up) then stops serve cleanly instead of killing it half-started.
    stop = threading.Event()

    def on_signal(signum, frame) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    running = start(cfg, store, host, port)
    log.info("serving", extra={"kind": cfg.mode, "status": f"{host}:{running.port}"})
    while not stop.wait(1.0):
        pass
    running.shutdown()


class Running:
    """A started bot: its HTTP server, outbox worker and (Socket Mode) connection."""

    def __init__(self, server, worker, socket_handler=None, built=None):
        self.server = server
        self.worker = worker
        self.socket_handler = socket_handler
        self.built = built
        self.port = server.effective_port

    def shutdown(self) -> None:
        """Stop accepting, stop the worker, close the Socket Mode connection."""
        if self.socket_handler is not None:
            try:
                self.socket_handler.close()
            except Exception:  # noqa: BLE001
                pass
        self.server.close()
        if self.built is not None:
            self.built.ctx.executor.shutdown(wait=True, cancel_futures=False)
        self.worker.stop()


def start(cfg, store: Store, host: str, port: int, *, outbox_process: bool = True) -> Running:
    """Start everything in background threads and return a handle (used by serve and by tests).

    The outbox senders run in a process of their own (`outbox_process`), or, for tests that reach
    into the sender's Web API client, in threads of this one; an in-memory database has no file
    to share, so it always keeps them here.
    """
    from slack_bolt.adapter.wsgi import SlackRequestHandler
    from waitress.server import create_server

    from bot.slack.app import build, web_client

    # In HTTP mode every Slack request passes wsgi_app's signature check before bolt sees it.
    built = build(cfg, store, verified_upstream=cfg.mode != "socket")
    handler = None
    socket_handler = None
    if cfg.mode == "socket":
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        socket_handler = SocketModeHandler(built.app, cfg.app_token, web_client=web_client(cfg, cfg.app_token))
        socket_handler.connect()
    else:
        handler = SlackRequestHandler(built.app)
    server = create_server(wsgi_app(store, handler, cfg.signing_secret), host=host, port=port, threads=THREADS,
                           max_request_body_size=MAX_BODY, ident="framework-advisor")
    threading.Thread(target=server.run, name="http", daemon=True).start()
    worker = built.worker
    if outbox_process and store.path != ":memory:":
        # The senders get a process (and an interpreter) of their own: see bot/slack/outbox_process.py.
        worker = OutboxProcess(cfg, store.path)
        built.ctx.worker = worker
    worker.start()
    threading.Thread(target=_idle_sweeper, args=(built,), name="idle", daemon=True).start()
    threading.Thread(target=_review_sweeper, args=(built,), name="reviews", daemon=True).start()
    return Running(server, worker, socket_handler, built)


# At most this many "closed after 7 days" notes per channel per sweep: the rest close silently. A
# channel with 10,000 stale consultations would otherwise queue 10,000 notes, posted at one per
# second, and hold up that channel's new consultations for hours behind them.
IDLE_NOTES_PER_CHANNEL = 3


def idle_notes(closed: list, per_channel: int = IDLE_NOTES_PER_CHANNEL) -> list:
    """The closed consultations that get a note: the most recently started few of each channel."""
    by_channel: dict[tuple[str, str], list] = {}
    for c in sorted(closed, key=lambda c: c.id, reverse=True):  # updated_at is the closing time for all
        group = by_channel.setdefault((c.team_id, c.channel), [])
        if len(group) < per_channel:
            group.append(c)
    return [c for group in by_channel.values() for c in group]


def _idle_sweeper(built) -> None:
    """Close consultations idle for 7 days, with a note in the threads of the latest few per channel (hourly)."""
    from bot.models import Reply

    while True:
        try:
            closed = built.ctx.service.close_idle()
            noted = idle_notes(closed)
            if len(noted) < len(closed):
                log.info("idle sweep closed %s consultations, %s without a note", len(closed),
                         len(closed) - len(noted))
            for c in noted:
                built.ctx.send(c.team_id, c.channel, c.thread_ts,
                               [Reply(kind="closed", text="This consultation was closed after 7 days without "
                                                          "activity. Start a new one with `/framework start`.")],
                               key=f"idle:{c.id}")
        except Exception:  # noqa: BLE001 - try again next hour
            log.exception("idle sweep failed")
        time.sleep(IDLE_SWEEP_S)


def _review_sweeper(built) -> None:
    """Queue the review reminders that are due to be scheduled or delivered (every minute)."""
    from bot.slack import reviews

    while True:
        try:
            reviews.sweep(built.ctx)
        except Exception:  # noqa: BLE001 - try again next minute
            log.exception("review sweep failed")
        time.sleep(reviews.SWEEP_S)
