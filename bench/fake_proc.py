"""The fake Slack Web API (tests/fakes) in a process of its own, driven by one-line commands on stdin.

Prints `{"url": ...}` once started, then answers each command with one JSON line:
  count METHOD   -> {"count": n}
  dump PATH      -> writes the recorded calls as JSON to PATH (method, channel, thread_ts, time, ts,
                    outbox_id from the message metadata), {"n": n}
  reset          -> forgets recorded calls and stored messages, {"ok": true}
  quit           -> stops
"""

from __future__ import annotations

import json
import sys

from tests.fakes.slack_web_api import FakeSlackWebAPI


def _row(c) -> dict:
    meta = c.param("metadata") if c.method == "chat.postMessage" else None
    outbox_id = None
    if isinstance(meta, dict):
        outbox_id = (meta.get("event_payload") or {}).get("outbox_id")
    resp = c.response or {}
    return {"method": c.method, "channel": c.params.get("channel"), "thread_ts": c.params.get("thread_ts") or None,
            "time": c.time, "ts": resp.get("ts"), "ok": resp.get("ok"), "outbox_id": outbox_id}


def main() -> None:
    fake = FakeSlackWebAPI().start()
    out = sys.stdout
    out.write(json.dumps({"url": fake.url}) + "\n")
    out.flush()
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        cmd = words[0]
        if cmd == "count":
            with fake._lock:
                n = sum(1 for c in fake.calls if c.method == words[1])
            answer = {"count": n}
        elif cmd == "dump":
            with fake._lock:
                rows = [_row(c) for c in fake.calls]
            with open(words[1], "w") as f:
                json.dump(rows, f)
            answer = {"n": len(rows)}
        elif cmd == "reset":
            with fake._lock:
                fake.calls.clear()
                fake.messages.clear()
            answer = {"ok": True}
        elif cmd == "quit":
            out.write(json.dumps({"ok": True}) + "\n")
            out.flush()
            break
        else:
            answer = {"error": f"unknown command {cmd}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()
    fake.stop()


if __name__ == "__main__":
    main()
