"""The outbox worker: sends the replies queued in SQLite to Slack, once each, in order, rate-limited.

`chat.postMessage` has no idempotency key, so every reply is first stored (the outbox table) and
then sent by this worker:
- a 429 puts the row back with Retry-After as its `not_before` (never a sleep while holding a
  lease: the other rows of that channel wait behind it, every other channel keeps flowing);
  connection errors where the request never reached Slack are retried by slack_sdk;
- after a 5xx or a timeout the row is retried later, and before posting again the worker looks
  for the message in the thread (`conversations.replies` with metadata): each posted message
  carries its outbox id in `metadata`, so a post that did land is not posted twice;
- about one message per second per channel (Slack's chat.postMessage limit); the rest waits,
  queued, never dropped; each channel's messages keep their order.
Rows are leased, so several processes, and several sender threads in one process, share one
outbox: a channel with a leased row is skipped by every other sender until that row is done.

A row whose method starts with `job:` is not a Web API call but work that makes several (the
`/framework start` sequence: join, root message, first question). It runs here, in the sender,
and not in the process that acknowledges Slack's requests (see `commands.jobs`).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import metrics
from bot.store import Store, StoreBusy

log = logging.getLogger("framework_advisor.outbox")

METADATA_EVENT = "framework_advisor_reply"
JOB_PREFIX = "job:"
LEASE_S = 30.0
MAX_ATTEMPTS = 12
# Errors we do not know: a few tries (it may be transient), not twelve over minutes while the rest
# of the channel waits behind the row.
MAX_UNKNOWN_ATTEMPTS = 3
CLAIM = 8
# Less than this left of a row's lease and it is not posted: another sender may claim it soon.
LEASE_MARGIN_S = 5.0
# Errors that another try cannot fix (Slack's documented errors of chat.postMessage, chat.update,
# chat.postEphemeral, views.publish and the common errors of every method).
PERMANENT = {"channel_not_found", "not_in_channel", "is_archived", "invalid_blocks", "invalid_blocks_format",
             "msg_too_long", "no_text", "invalid_arguments", "invalid_array_arg", "invalid_form_data",
             "invalid_charset", "invalid_json", "json_not_object", "invalid_attachments", "invalid_metadata_format",
             "invalid_metadata_schema", "metadata_too_large", "message_not_found", "cant_update_message",
             "already_reacted", "too_many_reactions", "invalid_name",
             "edit_window_closed", "account_inactive", "invalid_auth", "token_revoked", "token_expired",
             "not_authed", "not_allowed_token_type", "no_permission", "org_login_required", "restricted_action",
             "restricted_action_read_only_channel", "restricted_action_thread_only_channel",
             "restricted_action_non_threadable_channel", "restricted_too_many_mentions", "user_not_found",
             "user_not_in_channel", "missing_scope", "messages_tab_disabled", "team_access_not_granted",
             "ekm_access_denied", "access_denied", "channel_is_archived", "duplicate_channel_not_found",
             "duplicate_message_not_found", "as_user_not_supported", "slack_connect_file_link_sharing_blocked",
             "team_not_found", "enterprise_is_restricted", "method_deprecated", "deprecated_endpoint",
             "two_factor_setup_required", "app_missing_action_url", "not_in_thread",
             "thread_reply_not_allowed", "invalid_view", "not_found", "hash_conflict", "view_too_large"}
# Permanent errors that close a channel to the bot: the consultation's starter is told elsewhere.
CHANNEL_CLOSED = {"is_archived", "channel_is_archived", "not_in_channel", "channel_not_found",
                  "restricted_action", "restricted_action_read_only_channel", "restricted_action_thread_only_channel",
                  "restricted_action_non_threadable_channel", "team_access_not_granted", "ekm_access_denied"}
# Errors that say "later": retried with backoff up to MAX_ATTEMPTS.
TRANSIENT = {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited",
             "team_added_to_org", "message_limit_exceeded"}


class OutboxWorker:
    """Background sender threads draining the outbox.

    Several senders, because a sender spends most of a call waiting: for Slack, and, while the
    request threads keep the interpreter busy, for its turn to run again. One sender then posts
    far fewer messages per second than it could; a 429's Retry-After also pauses only one sender.
    """

    def __init__(self, store: Store, client_for: Callable[[str], WebClient | None], *,
                 channel_interval: float = 1.0, poll_interval: float = 0.2, senders: int = 4,
                 jobs: dict[str, Callable[[WebClient, dict], None]] | None = None):
        self.store = store
        self.client_for = client_for
        # `job:` method -> handler(client, row); a handler reports its own failures to the user.
        self.jobs = jobs or {}
        self.channel_interval = channel_interval
        self.poll_interval = poll_interval
        self.senders = senders
        # wake() rouses one idle sender (not all of them: each would claim, and all but one find
        # nothing); `_gen` counts wakes, so a wake during a pass is not slept through.
        self._cond = threading.Condition()
        self._gen = 0
        self._stop = threading.Event()
        self._last_sent: dict[str, float] = {}
        self._claim_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        # (row id, ts) of messages posted whose rows could not be marked sent (a busy database).
        self._unmarked: list[tuple[int, str | None]] = []
        self._unmarked_lock = threading.Lock()

    def start(self) -> None:
        """Start the sender threads."""
        self._threads = [threading.Thread(target=self._loop, name=f"outbox-{i}", daemon=True)
                         for i in range(self.senders)]
        for t in self._threads:
            t.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the senders (pending rows stay in the database for the next start)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))

    def wake(self) -> None:
        """New rows were queued: send them now rather than at the next poll."""
        with self._cond:
            self._gen += 1
            self._cond.notify()

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                gen = self._gen
            try:
                sent = self.run_once()
            except StoreBusy as e:  # another writer holds the database: not a bug, the next pass tries again
                log.warning("outbox pass waited out: %s", e)
                sent = 0
            except Exception:  # noqa: BLE001 - the worker must survive anything and try again
                log.exception("outbox pass failed")
                sent = 0
            if not sent:
                with self._cond:
                    if self._gen == gen and not self._stop.is_set():
                        self._cond.wait(self.poll_interval)

    def run_once(self) -> int:
        """Send what is due now; returns how many rows were handled."""
        if self._unmarked:
            # Posted in an earlier pass while the database could not be written: mark them first, so
            # their leases stop holding their channels (the check before re-posting would find them too).
            with self._unmarked_lock:
                pending, self._unmarked = self._unmarked, []
            try:
                self.store.outbox_done_many(pending)
            except BaseException:
                with self._unmarked_lock:
                    self._unmarked += pending
                raise
        # Which channels are busy and what this sender takes are decided together, and a post is
        # booked for its channel at once: otherwise two senders could post to one channel within
        # the same second (one reading the time of the last post before the other records it).
        with self._claim_lock:
            now_s = time.time()
            busy = frozenset(ch for ch, t in self._last_sent.items() if now_s - t < self.channel_interval)
            # A few rows per pass, so the other senders get the rest.
            rows = self.store.outbox_claim(now_s, LEASE_S, limit=CLAIM, skip_channels=busy)
            for row in rows:
                if row["method"] == "chat.postMessage":
                    self._last_sent[row["channel"]] = now_s
        if len(rows) == CLAIM:
            self.wake()  # there may be more: another sender takes them meanwhile
        # The rows sent are marked done together at the end of the pass (one write instead of one
        # per row). Until then their leases keep every other sender off their channels, and after
        # a crash in between, the check before re-posting finds the messages that did land.
        sent: list[tuple[int, str | None]] = []
        try:
            for row in rows:
                done = self._send(row)
                if done is not None:
                    sent.append(done)
        finally:
            try:
                self.store.outbox_done_many(sent)
            except (StoreBusy, sqlite3.OperationalError) as e:
                log.warning("%s sent rows not marked yet (%s); marked on the next pass", len(sent), e)
                with self._unmarked_lock:
                    self._unmarked += sent
        return len(rows)

    # -- one row ----------------------------------------------------------------------------------
    def _send(self, row: dict) -> tuple[int, str | None] | None:
        """Send one row: (its id, the message ts) when Slack took it; None when it was put back or failed."""
        client = self.client_for(row["team_id"])
        if client is None:
            self.store.outbox_fail(row["id"], "no token for this workspace")
            return None
        method, payload = row["method"], dict(row["payload"])
        if time.time() > row.get("lease_until", float("inf")) - LEASE_MARGIN_S:
            # This pass took long (a slow Slack): the lease is about to run out, and another sender
            # may claim the row and send it. Leave it to that claim, which checks for an earlier post.
            return None
        if method.startswith(JOB_PREFIX):
            return self._job(client, row)
        try:
            if method == "chat.postMessage":
                ts = post_once(client, row, payload)
            elif method == "chat.update" and "ts" in payload:
                # A message we know the ts of (a consultation's root post): updated as it is.
                ts = client.chat_update(channel=row["channel"], **payload).get("ts")
            elif method == "chat.update":
                ref = self.store.outbox_row(payload.pop("ref"))
                if ref is None or ref["status"] in ("failed", "dropped"):
                    self.store.outbox_fail(row["id"], "the message to update was never posted")
                    return None
                if not ref["result_ts"]:
                    self.store.outbox_retry(row["id"], time.time() + 0.5, "waiting for the message to update")
                    return None
                ts = client.chat_update(channel=row["channel"], ts=ref["result_ts"], **payload).get("ts")
            else:
                resp = client.api_call(method, json=payload)
                ts = resp.get("ts") if isinstance(resp.data, dict) else None
        except SlackApiError as e:
            self._failed(row, e)
            return None
        except Exception as e:  # noqa: BLE001 - connection errors and timeouts after the retry handlers
            metrics.SLACK_ERRORS.labels(method=method, error=type(e).__name__).inc()
            self._later(row, f"{type(e).__name__}: {e}")
            return None
        if method == "chat.postMessage":  # the per-channel posting limit; updates and views have their own
            self._last_sent[row["channel"]] = time.time()
        metrics.REPLIES.labels(method=method).inc()
        # Debug: at load every reply and every edit would be a line (errors and retries are logged above).
        log.debug("sent", extra={"team": row["team_id"], "channel": row["channel"], "method": method,
                                 "status": "ok"})
        return row["id"], ts

    def _job(self, client: WebClient, row: dict) -> tuple[int, str | None] | None:
        handler = self.jobs.get(row["method"])
        if handler is None:  # queued by a newer version than this sender: leave it for one that knows it
            self._later(row, f"no handler for {row['method']}")
            return None
        try:
            handler(client, row)
        except SlackApiError as e:  # a handler raises only what the outbox should retry (a 429)
            self._failed(row, e)
            return None
        except Exception as e:  # noqa: BLE001 - handlers tell the user themselves; this is a bug
            log.exception("outbox job %s failed", row["id"])
            self.store.outbox_fail(row["id"], f"{type(e).__name__}: {e}")
            return None
        return row["id"], None

    def _failed(self, row: dict, e: SlackApiError) -> None:
        error = str(e.response.get("error", "")) if e.response is not None else ""
        status = e.response.status_code if e.response is not None else 0
        metrics.SLACK_ERRORS.labels(method=row["method"], error=error or str(status)).inc()
        if status == 429:
            # Slack's limit is per channel for posts (per method and workspace for the others): the
            # row waits in the database, not in a sleeping sender, so every other channel flows on.
            headers = e.response.headers or {}
            try:
                retry_after = float(headers.get("Retry-After", headers.get("retry-after", 1)))
            except (TypeError, ValueError):
                retry_after = 1.0
            self.store.outbox_retry(row["id"], time.time() + max(1.0, retry_after), "ratelimited")
        elif status >= 500 or error in TRANSIENT:
            self._later(row, f"HTTP {status} {error}")
        elif error in PERMANENT or status in (400, 401, 403, 404):
            log.warning("outbox row %s refused by Slack: %s", row["id"], error or status)
            self.store.outbox_fail(row["id"], error or f"HTTP {status}")
            if error in CHANNEL_CLOSED:
                self._tell_starter(row, error)
        else:
            self._later(row, error or f"HTTP {status}", max_attempts=MAX_UNKNOWN_ATTEMPTS)

    def _tell_starter(self, row: dict, error: str) -> None:
        """A consultation's thread can no longer be posted to: tell its starter in the app's messages tab.

        Posting to a user id reaches their messages tab with the app (chat:write, no im:write). Once
        per consultation and error, so a thread's remaining replies do not each send a message.
        """
        if row["method"] != "chat.postMessage" or not row["thread_ts"] or not row["channel"].startswith(("C", "G")):
            return
        c = self.store.consultation_by_thread(row["team_id"], row["channel"], row["thread_ts"])
        if c is None:
            return
        topic = f" ({c.topic})" if c.topic else ""
        text = (f"I could not post in the thread of your consultation{topic} in <#{row['channel']}> any more "
                f"(Slack said `{error}`). The answers given so far are saved; `/framework start` in another "
                "channel starts afresh, and `/framework history` lists the team's decisions.")
        self.store.outbox_enqueue(row["team_id"], c.started_by, "chat.postMessage", {"text": text},
                                  dedupe_key=f"undeliverable:{c.id}:{error}")
        self.wake()

    def _later(self, row: dict, error: str, max_attempts: int = MAX_ATTEMPTS) -> None:
        if row["attempts"] + 1 >= max_attempts:
            log.error("outbox row %s given up after %s attempts: %s", row["id"], row["attempts"], error)
            self.store.outbox_fail(row["id"], error)
            return
        metrics.SLACK_RETRIES.labels(method=row["method"]).inc()
        delay = min(30.0, 0.5 * 2 ** (row["attempts"] - 1))
        self.store.outbox_retry(row["id"], time.time() + delay, error)


def post_once(client: WebClient, row: dict, payload: dict) -> str | None:
    """chat.postMessage for an outbox row, tagged with its id; on a retry, first look for an earlier landing.

    `row["attempts"]` is the count before this claim: any earlier try (a 5xx, a timeout, a reset,
    a crash while leased) may have landed. Returns the message ts.
    """
    if row["attempts"] >= 1:
        found = _already_posted(client, row)
        if found:
            return found
    payload["metadata"] = {"event_type": METADATA_EVENT, "event_payload": {"outbox_id": row["id"]}}
    resp = client.chat_postMessage(channel=row["channel"], thread_ts=row["thread_ts"], **payload)
    return resp.get("ts")


def _already_posted(client: WebClient, row: dict) -> str | None:
    """The ts of this row's message if an earlier try did land (found by its metadata)."""
    try:
        if row["thread_ts"]:
            resp = client.conversations_replies(channel=row["channel"], ts=row["thread_ts"],
                                                include_all_metadata=True, limit=200)
        else:
            resp = client.conversations_history(channel=row["channel"], include_all_metadata=True, limit=100)
    except Exception:  # noqa: BLE001 - if we cannot check, posting again is the lesser harm
        return None
    for m in resp.get("messages", []) or []:
        meta = m.get("metadata") or {}
        if meta.get("event_type") == METADATA_EVENT and (meta.get("event_payload") or {}).get(
                "outbox_id") == row["id"]:
            return m.get("ts")
    return None
