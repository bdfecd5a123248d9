"""KeepAliveWebClient: one connection for many calls, and the same outcomes as slack_sdk's own transport."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.slack.keepalive import KeepAliveWebClient
from tests.fakes import FakeSlackWebAPI


class _Counting(BaseHTTPRequestHandler):
    """Answers {"ok": true}; records the client port of every request; can close after answering."""

    protocol_version = "HTTP/1.1"
    ports: list[int]
    close_after: bool = False

    def log_message(self, format, *args) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.ports.append(self.client_address[1])
        data = json.dumps({"ok": True, "ts": "1.000001"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()
        if self.close_after:
            # An idle-timeout close: no "Connection: close" header, the socket just goes away.
            self.close_connection = True


@pytest.fixture
def counting() -> Iterator[type[_Counting]]:
    handler = type("H", (_Counting,), {"ports": [], "close_after": False, "closed": threading.Semaphore(0)})

    class Server(ThreadingHTTPServer):
        def shutdown_request(self, request) -> None:
            super().shutdown_request(request)
            handler.closed.release()

    server = Server(("127.0.0.1", 0), handler)
    handler.url = f"http://127.0.0.1:{server.server_address[1]}/api/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield handler
    server.shutdown()
    server.server_close()


def test_calls_reuse_one_connection(counting) -> None:
    client = KeepAliveWebClient(token="xoxb-1", base_url=counting.url)
    for i in range(20):
        assert client.chat_postMessage(channel="C1", text=f"m{i}")["ok"]
    assert len(counting.ports) == 20
    assert len(set(counting.ports)) == 1


def test_stock_client_opens_one_connection_per_call(counting) -> None:
    """The baseline the keep-alive client improves on (and proof the port count can tell them apart)."""
    client = WebClient(token="xoxb-1", base_url=counting.url)
    for i in range(5):
        client.chat_postMessage(channel="C1", text=f"m{i}")
    assert len(set(counting.ports)) == 5


def test_a_connection_the_server_closed_is_replaced_without_an_error(counting) -> None:
    counting.close_after = True
    client = KeepAliveWebClient(token="xoxb-1", base_url=counting.url)
    for i in range(5):
        assert client.chat_postMessage(channel="C1", text=f"m{i}")["ok"]
        assert counting.closed.acquire(timeout=5)  # the server has closed it before the next call
    assert len(set(counting.ports)) == 5


def test_each_thread_has_its_own_connection(counting) -> None:
    client = KeepAliveWebClient(token="xoxb-1", base_url=counting.url)
    errors: list[BaseException] = []

    def calls() -> None:
        try:
            for i in range(10):
                client.chat_postMessage(channel="C1", text=f"m{i}")
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=calls) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(counting.ports) == 40
    assert len(set(counting.ports)) == 4


def _outcome(client: WebClient, fake: FakeSlackWebAPI, kind: str):
    fake.fail_next("chat.postMessage", kind, retry_after=0)
    try:
        resp = client.chat_postMessage(channel="C1", text="hello")
        return ("ok", resp.status_code, resp["ok"])
    except SlackApiError as e:
        return ("SlackApiError", e.response.status_code, e.response.get("error"),
                e.response.headers.get("Retry-After"))
    except Exception as e:  # noqa: BLE001 - the type is the outcome compared
        return ("raised", isinstance(e, OSError) or isinstance(getattr(e, "reason", None), OSError))


@pytest.mark.parametrize("kind", ["429", "500", "error", "reset"])
def test_faults_end_as_they_do_with_slack_sdks_own_transport(fake_slack: FakeSlackWebAPI, kind: str) -> None:
    stock = WebClient(token="xoxb-1", base_url=fake_slack.url)
    ours = KeepAliveWebClient(token="xoxb-1", base_url=fake_slack.url)
    ours.chat_postMessage(channel="C1", text="warm")  # the fault meets a kept connection
    assert _outcome(ours, fake_slack, kind) == _outcome(stock, fake_slack, kind)
    assert ours.chat_postMessage(channel="C1", text="after")["ok"]  # and the next call works


def test_rate_limit_retry_handler_still_retries(fake_slack: FakeSlackWebAPI) -> None:
    client = KeepAliveWebClient(token="xoxb-1", base_url=fake_slack.url,
                                retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)])
    fake_slack.fail_next("chat.postMessage", "429", retry_after=0)
    assert client.chat_postMessage(channel="C1", text="hello")["ok"]
    assert len(fake_slack.calls_to("chat.postMessage")) == 2


def test_a_refused_connection_is_still_retried_by_not_sent_retry_handler() -> None:
    """Our transport raises the bare ConnectionRefusedError (urllib wraps it); the handler must still see it."""
    import socket

    from bot.slack.app import NotSentRetryHandler

    decisions: list[bool] = []

    class Spy(NotSentRetryHandler):
        def _can_retry(self, **kw) -> bool:
            decisions.append(super()._can_retry(**kw))
            return decisions[-1]

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = KeepAliveWebClient(token="xoxb-1", base_url=f"http://127.0.0.1:{port}/api/",
                                retry_handlers=[Spy(max_retry_count=2)])
    with pytest.raises(ConnectionRefusedError):
        client.chat_postMessage(channel="C1", text="hello")
    assert decisions == [True, True]
