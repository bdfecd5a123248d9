"""Structured logs: one JSON object per line, with secrets redacted wherever they appear."""

from __future__ import annotations

import json
import logging
import re
import sys
import time

# Slack token shapes; the configured secrets are added at start-up.
_TOKEN = re.compile(r"\b(xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+)")
_FIELDS = ("team", "channel", "consultation", "latency_ms", "kind", "event_id", "method", "status")


class Redactor:
    """Replaces token-shaped strings and configured secrets with a marker."""

    def __init__(self, secrets: list[str] | None = None):
        self.secrets = [s for s in (secrets or []) if s and len(s) >= 6]

    def __call__(self, text: str) -> str:
        """The text with every secret removed."""
        text = _TOKEN.sub("[redacted]", text)
        for s in self.secrets:
            text = text.replace(s, "[redacted]")
        return text


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line (time, level, logger, message, known context fields)."""

    def __init__(self, redact: Redactor):
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        """The record as a redacted JSON line."""
        out = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
               "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        for f in _FIELDS:
            if hasattr(record, f):
                out[f] = getattr(record, f)
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return self.redact(json.dumps(out, ensure_ascii=False, default=str))


def setup(secrets: list[str] | None = None, level: str | None = None, stream=None) -> Redactor:
    """Send every log record through the JSON formatter on stderr (or `stream`)."""
    import os

    redact = Redactor(secrets)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(redact))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel((level or os.environ.get("LOG_LEVEL") or "INFO").upper())
    return redact
