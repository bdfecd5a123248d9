"""Build the bolt App for a configuration: client, OAuth, listeners, outbox worker.

The App runs with `process_before_response=True`: bolt's default mode acknowledges from a
thread pool it polls every 10 ms, and, for events, acknowledges before the listener has stored
anything. Here a listener's return is the ack: commands and clicks ack first and do slow work
in lazy listeners; thread answers are committed before their ack.
"""

from __future__ import annotations

import logging
import socket
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from slack_bolt import App
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler
from slack_sdk.oauth.installation_store import InstallationStore
from slack_sdk.oauth.installation_store.sqlite3 import SQLite3InstallationStore
from slack_sdk.oauth.state_store.sqlite3 import SQLite3OAuthStateStore

from bot.consultation import Consultations
from bot.slack import actions, commands, dialogs, events, poll, reviews, starting
from bot.slack.config import SlackConfig
from bot.slack.context import SlackContext
from bot.slack.keepalive import KeepAliveWebClient
from bot.slack.outbox import OutboxWorker
from bot.store import Store, StoreBusy, is_postgres_url

log = logging.getLogger("framework_advisor.app")

# Only what the code calls or receives (no channels:read / groups:read: nothing reads channel metadata).
BOT_SCOPES = ["commands", "chat:write", "channels:join", "channels:history", "groups:history", "im:history",
              "mpim:history", "app_mentions:read", "reactions:write", "files:write"]


class NotSentRetryHandler(ConnectionErrorRetryHandler):
    """slack_sdk's connection-error retry, limited to errors where the request never reached Slack.

    chat.postMessage has no idempotency key: after a reset or a timeout Slack may have stored the
    message, so those go back to the outbox, which looks for the message before posting again.
    A refused connection or a failed DNS lookup is safe to retry at once.
    """

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:
        reason = getattr(error, "reason", error)
        return isinstance(reason, ConnectionRefusedError | socket.gaierror) and response is None


def web_client(cfg: SlackConfig, token: str | None = None) -> WebClient:
    """A Web API client for our base URL that retries only connections never made.

    No rate-limit retry handler: it sleeps for Retry-After inside the caller, which in the outbox
    held a lease (another sender claimed the row and posted it, then the sleeper posted it again)
    and in a request would outlast Slack's 3 s. A 429 raises; the outbox waits in the database.
    It keeps its connections open between calls (see `keepalive`).
    """
    return KeepAliveWebClient(token=token, base_url=cfg.api_url, timeout=10,
                              retry_handlers=[NotSentRetryHandler(max_retry_count=2)])


def client_lookup(cfg: SlackConfig, installation_store: InstallationStore | None = None,
                  client: WebClient | None = None, ctx_store: Store | None = None) -> Callable[[str], WebClient | None]:
    """team id -> the Web API client to send with (None when the workspace has no token).

    OAuth looks the token up on every send (a cheap SQLite read), so an uninstalled workspace
    stops at once; the other modes have one token.
    """
    if cfg.mode != "oauth":
        single = client or web_client(cfg, cfg.bot_token)
        return lambda team_id: single
    store = installation_store

    def lookup(team_id: str) -> WebClient | None:
        # In an Enterprise Grid organisation the installation is stored under the enterprise id too
        # (and, installed org-wide, under it alone): find_bot(enterprise_id=None) would find nothing.
        enterprise_id, org_wide = (ctx_store.workspace(team_id) if ctx_store is not None else None) or (None, False)
        bot = store.find_bot(enterprise_id=enterprise_id, team_id=None if org_wide else team_id,  # type: ignore[union-attr]
                             is_enterprise_install=org_wide)
        if bot is None or not bot.bot_token:
            return None
        return web_client(cfg, bot.bot_token)

    return lookup


def jobs(ctx: SlackContext) -> dict:
    """Every outbox job of the app, which the senders run: starting a consultation, uploading a decision
    record, scheduling and delivering review reminders."""
    return {**starting.jobs(ctx), **commands.jobs(ctx), **reviews.jobs(ctx)}


def _sqlalchemy_engine(url: str):
    """A SQLAlchemy engine on the store's PostgreSQL database, through psycopg 3 (the store's driver)."""
    from sqlalchemy import create_engine

    return create_engine(url.replace("postgres://", "postgresql://", 1).replace("postgresql://",
                                                                              "postgresql+psycopg://", 1),
                         pool_pre_ping=True)


def installations(cfg: SlackConfig, store: Store) -> InstallationStore | None:
    """The OAuth installations (bot tokens per workspace), in the store's database; None in the other modes.

    SQLite: slack_sdk's SQLite3InstallationStore in the same file. PostgreSQL: slack_sdk's
    SQLAlchemyInstallationStore on the same database, so every replica sees every installation.
    """
    if cfg.mode != "oauth":
        return None
    if is_postgres_url(store.path):
        from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore

        pg = SQLAlchemyInstallationStore(client_id=cfg.client_id, engine=_sqlalchemy_engine(store.path))
        pg.create_tables()  # CREATE TABLE IF NOT EXISTS: every replica may run it
        return pg
    return SQLite3InstallationStore(database=store.path, client_id=cfg.client_id)


def oauth_states(store: Store):
    """Where the OAuth flow keeps its one-time states (10 minutes), beside the installations."""
    if is_postgres_url(store.path):
        from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

        states = SQLAlchemyOAuthStateStore(expiration_seconds=600, engine=_sqlalchemy_engine(store.path))
        states.create_tables()
        return states
    return SQLite3OAuthStateStore(database=store.path, expiration_seconds=600)


def sender(cfg: SlackConfig, store: Store, service: Consultations | None = None, *,
           installation_store: InstallationStore | None = None, client: WebClient | None = None,
           channel_interval: float = 1.0) -> tuple[OutboxWorker, SlackContext]:
    """The outbox senders with every job, and the context they share with the listeners: what `serve`
    runs in threads (via `build`) and the sender process runs alone (bot/slack/outbox_process.py)."""
    worker = OutboxWorker(store, client_lookup(cfg, installation_store, client, store),
                          channel_interval=channel_interval)
    ctx = SlackContext(store=store, service=service or Consultations(store), cfg=cfg, worker=worker)
    worker.jobs = jobs(ctx)
    return worker, ctx


@dataclass
class Built:
    """The app and what runs beside it."""

    app: App
    ctx: SlackContext
    worker: OutboxWorker
    installation_store: InstallationStore | None = None


def build(cfg: SlackConfig, store: Store, service: Consultations | None = None, *,
          channel_interval: float = 1.0, verified_upstream: bool = False) -> Built:
    """A bolt App wired to the store, the consultation service and an (unstarted) outbox worker.

    `verified_upstream`: every request reaches bolt through `bot.slack.server.wsgi_app`, which has
    already checked its signature and timestamp with the same secret, so bolt does not check them
    a second time (one HMAC per request fewer). Left False, bolt verifies as usual.
    """
    verify = not verified_upstream
    service = service or Consultations(store)
    installation_store = None
    if cfg.mode == "oauth":
        installation_store = installations(cfg, store)
        state_store = oauth_states(store)
        app = App(signing_secret=cfg.signing_secret, client=web_client(cfg), process_before_response=True,
                  installation_store=installation_store, request_verification_enabled=verify,
                  oauth_settings=OAuthSettings(client_id=cfg.client_id, client_secret=cfg.client_secret,
                                               scopes=BOT_SCOPES, installation_store=installation_store,
                                               state_store=state_store, install_path="/slack/install",
                                               redirect_uri_path="/slack/oauth_redirect"))
        app.enable_token_revocation_listeners()
    elif cfg.mode == "socket":
        app = App(client=web_client(cfg, cfg.bot_token), process_before_response=True,
                  request_verification_enabled=False)
    else:
        app = App(signing_secret=cfg.signing_secret, client=web_client(cfg, cfg.bot_token),
                  process_before_response=True, request_verification_enabled=verify)

    worker, ctx = sender(cfg, store, service, installation_store=installation_store, client=app.client,
                         channel_interval=channel_interval)
    seen: set[tuple] = set()

    @app.middleware
    def remember_workspace(context, next) -> None:  # noqa: A002 - bolt's name
        # Grid payloads carry the enterprise id; the sender needs it to find the token. One write per
        # workspace per process; nothing at all outside Grid.
        enterprise_id, team = context.enterprise_id, context.team_id
        if enterprise_id and team and (team, enterprise_id, context.is_enterprise_install) not in seen:
            try:
                store.remember_workspace(team, enterprise_id, bool(context.is_enterprise_install))
                seen.add((team, enterprise_id, context.is_enterprise_install))
            except Exception:  # noqa: BLE001 - the request itself must still be handled
                log.warning("could not record the workspace's organisation", exc_info=True)
        next()

    @app.error
    def on_error(error, body) -> None:  # never a stack trace in Slack; log it without the payload
        if isinstance(error, StoreBusy | sqlite3.OperationalError):
            # A storage fault, not a bug: the request gets a 500, which Slack retries.
            log.warning("request not handled, storage: %s", error)
            return
        log.error("listener error: %s", type(error).__name__, exc_info=error)

    commands.register(app, ctx)
    events.register(app, ctx)
    actions.register(app, ctx)
    dialogs.register(app, ctx)
    reviews.register(app, ctx)
    poll.register(app, ctx)
    return Built(app=app, ctx=ctx, worker=worker, installation_store=installation_store)
