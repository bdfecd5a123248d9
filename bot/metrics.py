"""Prometheus metrics (served at GET /metrics). Counters only grow; names follow Prometheus style.

Under `serve`, the outbox process counts what it sends, and the consultations it starts. So
`serve` turns on prometheus_client's multiprocess mode (`PROMETHEUS_MULTIPROC_DIR`, set before
anything imports prometheus_client; see `bot.cli`): every process writes its values to files
there, and /metrics adds them up.
"""

from __future__ import annotations

import os
from functools import lru_cache

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

REGISTRY = CollectorRegistry()

REQUESTS = Counter("framework_advisor_requests_total", "HTTP requests by route and status",
                   ["route", "status"], registry=REGISTRY)
ACKS = Counter("framework_advisor_acks_total", "Slack requests acknowledged, by kind", ["kind"], registry=REGISTRY)
ACK_LATENCY = Histogram("framework_advisor_ack_seconds", "Time from receiving a Slack request to its ack",
                        ["kind"], registry=REGISTRY,
                        buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
CONSULTATIONS_STARTED = Counter("framework_advisor_consultations_started_total", "Consultations started",
                                registry=REGISTRY)
CONSULTATIONS_FINISHED = Counter("framework_advisor_consultations_finished_total",
                                 "Consultations that reached a recommendation", registry=REGISTRY)
DECISIONS = Counter("framework_advisor_decisions_total", "Decisions recorded", registry=REGISTRY)
REPLIES = Counter("framework_advisor_replies_sent_total", "Web API calls sent from the outbox", ["method"],
                  registry=REGISTRY)
SLACK_ERRORS = Counter("framework_advisor_slack_api_errors_total", "Slack Web API errors", ["method", "error"],
                       registry=REGISTRY)
SLACK_RETRIES = Counter("framework_advisor_slack_api_retries_total", "Slack Web API calls retried later",
                        ["method"], registry=REGISTRY)

# Series that exist from the start, at 0 (a labelled series otherwise appears only when first
# counted, and in multiprocess mode so does its metric's name). The hot path counts through these
# children: `labels()` takes a lock and builds a key on every call, a measurable share of an ack.
ACKED = {_kind: ACKS.labels(kind=_kind) for _kind in ("command", "event", "action")}
HTTP_ACK_LATENCY = ACK_LATENCY.labels(kind="http")
for _method in ("chat.postMessage", "chat.update", "chat.postEphemeral", "views.publish"):
    REPLIES.labels(method=_method)


@lru_cache(maxsize=64)
def request(route: str, status: str):
    """The requests counter of one (route, status): a handful of pairs, looked up once each."""
    return REQUESTS.labels(route=route, status=status)


def replica_id() -> str:
    """This replica's name in /metrics and /healthz: $FRAMEWORK_ADVISOR_REPLICA, else host:pid of serve."""
    import os
    import socket

    return os.environ.get("FRAMEWORK_ADVISOR_REPLICA") or f"{socket.gethostname()}:{os.getpid()}"


def render(replica: str | None = None, database: str | None = None) -> bytes:
    """The metrics in Prometheus text format (of every process of this `serve`, in multiprocess mode).

    With `replica`, an info line says which replica (and which database kind) these counts are of, so
    the replicas of one deployment can be told apart when their metrics are put side by side.
    """
    if MULTIPROCESS:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        out = generate_latest(registry)
    else:
        out = generate_latest(REGISTRY)
    if replica:
        info = (f"# HELP framework_advisor_replica_info The replica these metrics are of.\n"
                f"# TYPE framework_advisor_replica_info gauge\n"
                f'framework_advisor_replica_info{{replica="{replica}",database="{database or "sqlite"}"}} 1.0\n')
        out += info.encode()
    return out
