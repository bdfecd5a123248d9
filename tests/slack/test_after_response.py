"""Jobs deferred until the response is sent (`bot.slack.context.after_response`), over a real waitress server."""

from __future__ import annotations

import http.client
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from waitress.server import create_server

from bot.slack import context
from bot.slack.context import after_response


class Recorder:
    """The order of what happened: 'job' when the deferred job ran, 'sent' when the client had the headers."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.lock = threading.Lock()
        self.job_ran = threading.Event()

    def add(self, what: str) -> None:
        with self.lock:
            self.events.append(what)


@pytest.fixture
def server():
    executor = ThreadPoolExecutor(max_workers=1)
    recorder = Recorder()
    body_for = {"/empty": b"", "/body": b'{"ok":true}'}

    def job() -> None:
        recorder.add("job")
        recorder.job_ran.set()

    def handler(environ, start_response):
        # What a bolt listener does: submit background work while the request is handled.
        context._request.jobs.append((executor, job))
        body = body_for[environ["PATH_INFO"]]
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def app(environ, start_response):
        return after_response(handler, environ, start_response)

    srv = create_server(app, host="127.0.0.1", port=0, threads=1)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    yield srv.effective_port, recorder
    srv.close()
    executor.shutdown(wait=True)


def _get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


@pytest.mark.parametrize("path", ["/empty", "/body"])
def test_the_job_runs_once_and_the_response_is_intact(server, path) -> None:
    port, recorder = server
    status, body = _get(port, path)
    assert status == 200 and body == ({"/empty": b"", "/body": b'{"ok":true}'}[path])
    assert recorder.job_ran.wait(5)
    assert recorder.events == ["job"]


@pytest.mark.parametrize(("body", "expected"), [
    # The empty write makes the server send the headers; only then is the job handed over.
    (b"", ["start_response", "write b''", "job"]),
    # A body was handed to the server already: nothing is written again.
    (b"ok", ["start_response", "job"]),
])
def test_the_headers_of_an_empty_response_are_sent_before_the_job(body, expected) -> None:
    order: list[str] = []
    executor = ThreadPoolExecutor(max_workers=1)

    def start_response(status, headers, exc_info=None):
        order.append("start_response")
        return lambda data: order.append(f"write {data!r}")

    def handler(environ, start):
        context._request.jobs.append((executor, lambda: order.append("job")))
        start("200 OK", [("Content-Length", str(len(body)))])
        return [body]

    wrapped = after_response(handler, {}, start_response)
    assert list(wrapped) == [body]
    wrapped.close()
    executor.shutdown(wait=True)
    assert order == expected
