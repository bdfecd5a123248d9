"""Structured logs: one JSON object per line, context fields kept, secrets redacted."""

from __future__ import annotations

import io
import json
import logging

from bot import logs


def test_json_lines_with_context_and_no_secrets():
    stream = io.StringIO()
    logs.setup(["supersigningsecret99"], level="INFO", stream=stream)
    log = logging.getLogger("framework_advisor.test")
    log.info("handled", extra={"team": "T1", "channel": "C1", "consultation": 7, "latency_ms": 1.5})
    log.warning("token xoxb-123-456-abcdef leaked? secret supersigningsecret99 and xapp-1-A0-99-zz")
    try:
        raise ValueError("bad xoxb-999-888-secretvalue")
    except ValueError:
        log.exception("failed")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    records = [json.loads(line) for line in lines]
    assert records[0]["message"] == "handled"
    assert {k: records[0][k] for k in ("team", "channel", "consultation", "latency_ms")} == {
        "team": "T1", "channel": "C1", "consultation": 7, "latency_ms": 1.5}
    assert records[0]["level"] == "info" and records[0]["logger"] == "framework_advisor.test"
    text = stream.getvalue()
    for secret in ("xoxb-123-456-abcdef", "supersigningsecret99", "xapp-1-A0-99-zz", "xoxb-999-888-secretvalue"):
        assert secret not in text
    assert records[1]["message"].count("[redacted]") == 3
    assert "ValueError" in records[2]["error"]
    logging.getLogger().handlers.clear()
