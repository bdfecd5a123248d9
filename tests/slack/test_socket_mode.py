"""Socket Mode: the same bot, started with SLACK_APP_TOKEN, takes commands and thread answers over the WebSocket."""

from __future__ import annotations

import json

from bot.slack.config import from_env
from bot.slack.server import start
from bot.store import Store
from tests.fakes import FakeSlackWebAPI, FakeSocketModeServer, event_payload, slash_command_payload
from tests.slack.helpers import (
    ALICE,
    BOB,
    BOT_TOKEN,
    BUTTON,
    TEAM,
    TYPED,
    button_for,
    http_get,
    next_question,
    now_ts,
    posts_in,
    unique,
    wait_posts_in,
)

APP_TOKEN = "xapp-1-A0FAKEAPP-1-fake"


def test_socket_mode_consultation(tmp_path) -> None:
    with FakeSlackWebAPI() as fake, FakeSocketModeServer(app_id=fake.app_id) as ws:
        fake.socket_mode_url = ws.url
        cfg = from_env({"SLACK_APP_TOKEN": APP_TOKEN, "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_API_URL": fake.url})
        assert cfg.mode == "socket"
        store = Store(tmp_path / "socket.db")
        running = start(cfg, store, "127.0.0.1", 0)
        try:
            ws.wait_for_connection()
            opened = fake.calls_to("apps.connections.open")
            assert opened and opened[0].headers["Authorization"] == f"Bearer {APP_TOKEN}"
            assert http_get(f"http://127.0.0.1:{running.port}/healthz")[0] == 200
            # Only health and metrics over HTTP in Socket Mode.
            assert http_get(f"http://127.0.0.1:{running.port}/slack/events")[0] == 404

            ch = unique("C0SOCK")
            envelope = ws.send_envelope("slash_commands", slash_command_payload(
                text="start over the socket", channel_id=ch, user_id=ALICE, response_url=fake.response_url()))
            ack = ws.wait_for_ack(envelope)
            assert not ack.payload  # an empty ack; the work follows
            root, first = wait_posts_in(fake, ch, 2)
            assert root.text == f"Framework consultation started by <@{ALICE}>: over the socket"
            assert root.thread_ts is None and first.thread_ts == root.ts and first.question == "app_type"

            # A typed answer (events_api) advances, after its ack.
            event = {"type": "message", "channel": ch, "user": ALICE, "text": TYPED["app_type"], "ts": now_ts(),
                     "thread_ts": root.ts, "channel_type": "channel"}
            envelope = ws.send_envelope("events_api", event_payload(event, event_id=unique("Ev")))
            assert ws.wait_for_ack(envelope).payload is None
            second = wait_posts_in(fake, ch, 3)[2]
            asked = {"app_type": "static_site"}
            q2 = next_question(asked)
            assert q2 is not None and second.question == q2 and second.thread_ts == root.ts

            # A button click (interactive) advances too.
            action_id, value = button_for(second.params, BUTTON[q2])
            assert value["q"] == q2
            click = {"type": "block_actions", "user": {"id": BOB}, "team": {"id": TEAM}, "api_app_id": fake.app_id,
                     "channel": {"id": ch}, "container": {"type": "message", "message_ts": second.ts,
                                                          "channel_id": ch},
                     "message": {"ts": second.ts, "thread_ts": root.ts, "text": ""},
                     "response_url": fake.response_url("actions"), "trigger_id": "1.2.3",
                     "actions": [{"type": "button", "action_id": action_id, "block_id": f"fa_q_{q2}",
                                  "value": json.dumps(value, separators=(",", ":")), "action_ts": now_ts()}]}
            envelope = ws.send_envelope("interactive", click)
            ws.wait_for_ack(envelope)
            third = wait_posts_in(fake, ch, 4)[3]
            assert third.question == next_question({**asked, q2: BUTTON[q2]})
            assert third.question not in (None, "app_type", q2)

            # Subcommands answer in the ack itself.
            envelope = ws.send_envelope("slash_commands", slash_command_payload(
                text="show abc", channel_id=ch, user_id=ALICE, response_url=fake.response_url()))
            assert ws.wait_for_ack(envelope).payload["text"].startswith("Usage: `/framework show N`")

            c = store.consultation_by_thread(TEAM, ch, root.ts)
            log = store.log(TEAM, c.id)
            assert [(e.question, e.value, e.user_id) for e in log] == [
                ("app_type", "static_site", ALICE), (q2, BUTTON[q2], BOB)]
            updated = [u.params["ts"] for u in fake.calls_to("chat.update")]
            assert updated == [first.ts, second.ts]
            assert len(posts_in(fake, ch)) == 4
            assert fake.unknown_params == []
            assert all(c.response.get("ok") for c in fake.calls if c.response is not None)
        finally:
            running.shutdown()  # closes the Socket Mode handler before the fakes stop
