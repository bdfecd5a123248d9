"""The start of a consultation as an outbox job: run again after a crash, it doubles nothing."""

from __future__ import annotations

import pytest

from bot.consultation import Consultations
from bot.slack import app, starting
from bot.slack.config import SlackConfig
from bot.slack.context import SlackContext
from bot.slack.keepalive import KeepAliveWebClient
from bot.slack.outbox import OutboxWorker
from bot.store import Store
from tests.fakes import FakeSlackWebAPI
from tests.fakes.signing import DEFAULT_TEAM as TEAM

CH = "C0JOB0001"


@pytest.fixture
def world(tmp_path, fake_slack: FakeSlackWebAPI):
    store = Store(tmp_path / "job.db")
    cfg = SlackConfig(mode="http", api_url=fake_slack.url, bot_token="xoxb-job", signing_secret="s" * 32)
    ctx = SlackContext(store=store, service=Consultations(store), cfg=cfg, worker=None)
    client = KeepAliveWebClient(token="xoxb-job", base_url=fake_slack.url)
    return ctx, client, store


def _queue_start(store: Store, topic: str = "the shop") -> int:
    command = {"team_id": TEAM, "channel_id": CH, "user_id": "U0JOB", "text": f"start {topic}",
               "response_url": None}
    return store.outbox_enqueue(TEAM, CH, starting.START_JOB, {"command": command})


def _claim(store: Store) -> dict:
    [row] = [r for r in store.outbox_claim(1e12, 30) if r["method"] == starting.START_JOB]
    return row


def _roots(fake: FakeSlackWebAPI) -> list:
    return [c for c in fake.calls_to("chat.postMessage") if c.params.get("channel") == CH]


def test_the_job_posts_the_root_opens_the_consultation_and_queues_the_first_question(world, fake_slack) -> None:
    ctx, client, store = world
    job_id = _queue_start(store)
    app.jobs(ctx)[starting.START_JOB](client, _claim(store))
    [root] = _roots(fake_slack)
    assert root.params["text"] == "Framework consultation started by <@U0JOB>: the shop"
    assert root.param("metadata")["event_payload"]["outbox_id"] == job_id
    c = store.consultation_by_thread(TEAM, CH, root.response["ts"])
    assert c is not None and c.topic == "the shop"
    queued = store.db.execute("SELECT thread_ts FROM outbox WHERE method = 'chat.postMessage'").fetchall()
    assert queued == [(root.response["ts"],)]


def test_a_job_run_again_after_a_crash_finds_its_root_and_doubles_nothing(world, fake_slack) -> None:
    ctx, client, store = world
    _queue_start(store)
    row = _claim(store)
    run = app.jobs(ctx)[starting.START_JOB]
    run(client, row)
    # The sender died before marking the row done: its lease ran out and another sender claims it.
    run(client, {**row, "attempts": row["attempts"] + 1})
    assert len(_roots(fake_slack)) == 1
    assert len(fake_slack.calls_to("conversations.history")) == 1  # it looked before posting again
    assert store.db.execute("SELECT COUNT(*) FROM consultations WHERE channel = ?", [CH]).fetchone()[0] == 1
    assert store.db.execute("SELECT COUNT(*) FROM outbox WHERE method = 'chat.postMessage'").fetchone()[0] == 1


def test_the_worker_runs_jobs_and_marks_them_done(world, fake_slack) -> None:
    ctx, client, store = world
    job_id = _queue_start(store)
    worker = OutboxWorker(store, lambda team: client, jobs=app.jobs(ctx))
    ctx.worker = worker
    assert worker.run_once() == 1  # the job
    assert store.outbox_row(job_id)["status"] == "sent"
    assert worker.run_once() == 1  # the first question it queued
    assert len(_roots(fake_slack)) == 2


def test_a_job_no_handler_knows_is_kept_for_later(world, fake_slack) -> None:
    ctx, client, store = world
    job_id = store.outbox_enqueue(TEAM, CH, "job:from-a-newer-version", {})
    worker = OutboxWorker(store, lambda team: client)
    worker.run_once()
    status, error = store.db.execute("SELECT status, last_error FROM outbox WHERE id = ?", [job_id]).fetchone()
    assert status == "pending" and "no handler" in error
    assert fake_slack.calls == []  # never sent to Slack as a Web API method
