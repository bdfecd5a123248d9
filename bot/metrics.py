"""Prometheus metrics (served at GET /metrics). Counters only grow; names follow Prometheus style."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

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


def render() -> bytes:
    """The metrics in Prometheus text format."""
    return generate_latest(REGISTRY)
