"""A local fake of Slack's Socket Mode WebSocket endpoint.

``with FakeSocketModeServer() as server:`` runs a ``websockets`` server on ``ws://127.0.0.1:PORT`` in a
background thread with its own event loop. It speaks the protocol slack_sdk's builtin
``SocketModeClient`` (and so bolt's ``SocketModeHandler``) expects: a ``hello`` on connect,
envelopes pushed with :meth:`send_envelope`, acknowledgements recorded in :attr:`acks`, WebSocket
ping/pong answered by ``websockets`` itself, and ``disconnect`` messages on request.

Attach it to the Web API fake so apps.connections.open hands out its URL:
``FakeSlackWebAPI(socket_mode=server)`` or ``fake.socket_mode_url = server.url``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

logger = logging.getLogger(__name__)

ENVELOPE_TYPES = ("events_api", "slash_commands", "interactive")
# Interactive payloads whose ack may carry a response (errors, options, a new view).
_RESPONDING_INTERACTIONS = ("view_submission", "block_suggestion")


@dataclass
class Ack:
    """A message the client sent back for an envelope: its id, its optional payload, when it came."""

    envelope_id: str
    payload: dict[str, Any] | None
    raw: dict[str, Any]
    time: float


class FakeSocketModeServer:
    """Slack's Socket Mode server side, on loopback, for one test.

    Public state: ``url``, ``acks`` (list of :class:`Ack`), ``received`` (every text message from
    clients, parsed JSON or raw str), ``connections_opened`` (count, to observe reconnects).
    """

    def __init__(self, *, app_id: str = "A0FAKEAPP", ping_interval: float | None = 0.5):
        # Frequent server pings keep the builtin client's blocking recv() short (it holds a lock
        # for up to its 3 s socket timeout), so SocketModeHandler.close() returns promptly.
        self.app_id = app_id
        self.ping_interval = ping_interval
        self.acks: list[Ack] = []
        self.received: list[Any] = []
        self.sent: list[dict[str, Any]] = []
        self.connections_opened = 0
        self._ticket = uuid.uuid4().hex
        self._lock = threading.Condition()
        self._connections: list[ServerConnection] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Server | None = None
        self._port: int | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeSocketModeServer:
        """Start the event loop thread and bind an ephemeral port on 127.0.0.1."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="FakeSocketModeServer", daemon=True)
        self._thread.start()
        self._run(self._start(), timeout=5)
        return self

    async def _start(self) -> None:
        # compression=None: the builtin client does not negotiate permessage-deflate anyway.
        self._server = await serve(
            self._serve_connection,
            "127.0.0.1",
            0,
            compression=None,
            ping_interval=self.ping_interval,
            ping_timeout=10,
            close_timeout=1,
        )
        self._port = self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        """Close every connection (code 1001), stop the server and its thread."""
        if self._loop is None:
            return
        try:
            if self._server is not None:
                self._run(self._stop(), timeout=5)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._loop.close()
            self._loop = None
            self._thread = None
            self._server = None

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def __enter__(self) -> FakeSocketModeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``ws://127.0.0.1:PORT/link/?ticket=...&app_id=...``, shaped like the URL Slack hands out.

        The path matters: the builtin client requests ``f"{path}?{query}"``, so a URL without a path
        would send the invalid request target ``?``.
        """
        if self._port is None:
            raise RuntimeError("FakeSocketModeServer is not started")
        return f"ws://127.0.0.1:{self._port}/link/?ticket={self._ticket}&app_id={self.app_id}"

    # ------------------------------------------------------------------ test helpers

    def wait_for_connection(self, timeout: float = 5) -> None:
        """Block until a client is connected (raises TimeoutError otherwise)."""
        with self._lock:
            if not self._lock.wait_for(lambda: self._connections, timeout):
                raise TimeoutError(f"no Socket Mode client connected within {timeout}s")

    @property
    def connected(self) -> int:
        """How many clients are connected right now."""
        with self._lock:
            return len(self._connections)

    def latencies(self) -> list[float]:
        """Round-trip time of the last server ping per open connection (0.0 until a pong came back).

        A value above zero proves the client answers WebSocket pings.
        """
        with self._lock:
            return [connection.latency for connection in self._connections]

    def send_envelope(
        self,
        type: str,  # noqa: A002 - the protocol's field name
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool | None = None,
        retry_attempt: int | None = None,
        retry_reason: str | None = None,
        timeout: float = 5,
    ) -> str:
        """Push an envelope to the newest connected client; return its ``envelope_id``.

        ``accepts_response_payload`` defaults as Slack sets it: true for slash commands and for
        view_submission/block_suggestion interactions, false otherwise. Events carry
        ``retry_attempt``/``retry_reason`` (0 and "" unless given).
        """
        if type not in ENVELOPE_TYPES:
            raise ValueError(f"type must be one of {ENVELOPE_TYPES}, not {type!r}")
        if accepts_response_payload is None:
            accepts_response_payload = type == "slash_commands" or (
                type == "interactive" and payload.get("type") in _RESPONDING_INTERACTIONS
            )
        envelope: dict[str, Any] = {
            "envelope_id": str(uuid.uuid4()),
            "payload": payload,
            "type": type,
            "accepts_response_payload": accepts_response_payload,
        }
        if type == "events_api":
            envelope["retry_attempt"] = retry_attempt or 0
            envelope["retry_reason"] = retry_reason or ""
        self.send_raw(envelope, timeout=timeout)
        return envelope["envelope_id"]

    def send_raw(self, message: dict[str, Any] | str, timeout: float = 5) -> None:
        """Send any text message (dict -> JSON) to the newest connected client."""
        self.wait_for_connection(timeout)
        with self._lock:
            connection = self._connections[-1]
        text = message if isinstance(message, str) else json.dumps(message)
        self._run(connection.send(text), timeout=timeout)
        with self._lock:
            self.sent.append(message if isinstance(message, dict) else {"raw": message})

    def send_disconnect(self, reason: str = "refresh_requested", timeout: float = 5) -> None:
        """Send Slack's ``{"type": "disconnect"}``: the client should reconnect via apps.connections.open."""
        self.send_raw({"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}}, timeout)

    def close_connections(self, code: int = 1001, reason: str = "going away", timeout: float = 5) -> None:
        """Close every open connection with a close frame, as Slack does when it rotates servers."""
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            self._run(connection.close(code, reason), timeout=timeout)

    def wait_for_ack(self, envelope_id: str, timeout: float = 5) -> Ack:
        """Block until the client acknowledges ``envelope_id``; return the :class:`Ack`.

        Raises AssertionError (listing the acks seen) on timeout.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for ack in self.acks:
                    if ack.envelope_id == envelope_id:
                        return ack
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [a.envelope_id for a in self.acks]
                    raise AssertionError(f"no ack for envelope {envelope_id} within {timeout}s; acks: {seen}")
                self._lock.wait(remaining)

    # ------------------------------------------------------------------ internals

    def _run(self, coroutine: Any, timeout: float) -> Any:
        assert self._loop is not None, "FakeSocketModeServer is not started"
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    async def _serve_connection(self, connection: ServerConnection) -> None:
        with self._lock:
            self._connections.append(connection)
            self.connections_opened += 1
            count = len(self._connections)
            self._lock.notify_all()
        try:
            await connection.send(
                json.dumps(
                    {
                        "type": "hello",
                        "num_connections": count,
                        "debug_info": {
                            "host": "applink-fake",
                            "build_number": 1,
                            "approximate_connection_time": 18060,
                        },
                        "connection_info": {"app_id": self.app_id},
                    }
                )
            )
            async for text in connection:
                self._on_message(text)
        except ConnectionClosed:
            pass  # the builtin client closes its socket without a close frame
        finally:
            with self._lock:
                self._connections.remove(connection)
                self._lock.notify_all()

    def _on_message(self, text: str | bytes) -> None:
        try:
            message: Any = json.loads(text)
        except ValueError:
            message = text
        with self._lock:
            self.received.append(message)
            if isinstance(message, dict) and "envelope_id" in message:
                self.acks.append(Ack(message["envelope_id"], message.get("payload"), message, time.time()))
            self._lock.notify_all()
