"""A slack_sdk WebClient that keeps its HTTP connections open between calls.

slack_sdk's urllib transport opens a new connection for every call (and, to slack.com, a new TLS
handshake). The outbox sends a reply and an edit per thread answer, so that set-up was a large
part of the sender's CPU (measured: 0.36-0.41 ms of client CPU per call on loopback, 0.23-0.26
with the connection kept). Only the transport changes: the request slack_sdk builds, its retry
handlers and its response parsing are all slack_sdk's own.

- One connection per thread and host: http.client connections are not thread-safe.
- A kept connection the server has closed meanwhile is noticed before it is reused (it reads as
  readable, at end of file) and replaced, so an idle close never costs a call.
- Nothing is retried here. A failure on the wire reaches slack_sdk's retry handlers and then the
  outbox, exactly as with the stock transport (chat.postMessage is not idempotent).
- With a proxy configured, the stock urllib transport is used.
"""

from __future__ import annotations

import http.client
import io
import select
import threading
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlsplit
from urllib.request import Request

from slack_sdk import WebClient

_local = threading.local()


def _connections() -> dict[tuple[str, str], http.client.HTTPConnection]:
    conns = getattr(_local, "conns", None)
    if conns is None:
        conns = _local.conns = {}
    return conns


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """True when the peer closed this idle connection (or sent something unasked)."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class KeepAliveWebClient(WebClient):
    """WebClient whose calls reuse one HTTP/1.1 connection per thread and host."""

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        parts = urlsplit(url)
        if self.proxy is not None or parts.scheme not in ("http", "https"):
            return super()._perform_urllib_http_request_internal(url, req)
        conns = _connections()
        key = (parts.scheme, parts.netloc)
        conn = conns.get(key)
        if conn is not None and _dropped(conn):
            conn.close()
            conn = None
        if conn is None:
            if parts.scheme == "https":
                conn = http.client.HTTPSConnection(parts.netloc, timeout=self.timeout, context=self.ssl)
            else:
                conn = http.client.HTTPConnection(parts.netloc, timeout=self.timeout)
            conns[key] = conn
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            conn.request(req.get_method(), target, body=req.data, headers=dict(req.header_items()))
            resp = conn.getresponse()
            body = resp.read()
        except BaseException:
            # Half a request or response may be on the wire: this connection is done for.
            conn.close()
            conns.pop(key, None)
            raise
        if resp.will_close:
            conn.close()
            conns.pop(key, None)
        if resp.status >= 400:
            # What urllib raises, so slack_sdk's retry handlers and error handling see the same thing.
            raise HTTPError(url, resp.status, resp.reason, resp.headers, io.BytesIO(body))
        if resp.headers.get_content_type() == "application/gzip":
            return {"status": resp.status, "headers": resp.headers, "body": body}
        charset = resp.headers.get_content_charset() or "utf-8"
        return {"status": resp.status, "headers": resp.headers, "body": body.decode(charset)}
