"""The ack-latency baseline: a bare bolt App whose `/framework` handler only acks.

Served exactly like `framework-advisor serve` serves ours: waitress with serve's request threads and
interpreter switch interval (bot.slack.server.THREADS, SWITCH_INTERVAL_S) through bolt's WSGI
SlackRequestHandler, with the same client (token + SLACK_API_URL) so bolt's auth.test happens the same
way. `--mode before` is bolt's fastest mode (process_before_response=True, ours); `--mode default` is
bolt's default (the ack is awaited by polling every 10 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from waitress.server import create_server

from bot.slack.server import SWITCH_INTERVAL_S, THREADS


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--mode", choices=["before", "default"], default="before")
    args = ap.parse_args()
    client = WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"], timeout=10)
    app = App(signing_secret=os.environ["SLACK_SIGNING_SECRET"], client=client,
              process_before_response=args.mode == "before")

    @app.command("/framework")
    def framework(ack) -> None:
        ack()

    handler = SlackRequestHandler(app)

    def wsgi(environ, start_response):
        if environ.get("PATH_INFO") == "/healthz":
            body = json.dumps({"ok": True}).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        return handler(environ, start_response)

    sys.setswitchinterval(SWITCH_INTERVAL_S)
    server = create_server(wsgi, host="127.0.0.1", port=args.port, threads=THREADS, ident="baseline")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    threading.Thread(target=server.run, daemon=True).start()
    while not stop.wait(1.0):
        pass
    server.close()


if __name__ == "__main__":
    main()
