"""Tests of the Slack test doubles themselves (tests/fakes): if these fail, app tests prove nothing."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator

import pytest
from slack_bolt import App
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.builtin import SocketModeClient

from tests.fakes import (
    FakeSlackWebAPI,
    FakeSocketModeServer,
    event_payload,
    post_signed,
    signed_headers,
    slash_command_body,
    slash_command_payload,
)
from tests.fakes.fixtures import APP_TOKEN, BOT_TOKEN, connected_handler, requires_spec
from tests.fakes.slack_web_api import basic_auth_credentials

SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "Django fits: batteries included."}}
METADATA = {"event_type": "framework_decision", "event_payload": {"choice": "django", "rule": "R1"}}


def wait_until(predicate: Callable[[], bool], timeout: float = 5, what: str = "condition") -> None:
    """Poll ``predicate`` until true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


@pytest.fixture(autouse=True)
def no_leftover_threads() -> Iterator[None]:
    """Every fake (and every Socket Mode client) a test starts must be gone when it ends.

    bolt's App keeps an idle listener ThreadPoolExecutor; its workers end with the interpreter.
    """
    before = set(threading.enumerate())
    yield

    def leftovers() -> list[threading.Thread]:
        return [
            t
            for t in threading.enumerate()
            if t not in before and t.is_alive() and not t.name.startswith("ThreadPoolExecutor")
        ]

    deadline = time.monotonic() + 3
    while leftovers() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not leftovers(), f"threads left running: {[t.name for t in leftovers()]}"


def api_error(call: Callable[[], object]) -> dict:
    """The ``ok: false`` body of a call that slack_sdk turned into SlackApiError."""
    with pytest.raises(SlackApiError) as raised:
        call()
    return raised.value.response.data


# ---------------------------------------------------------------- Web API: happy paths


def test_url_is_loopback_api_base(fake_slack: FakeSlackWebAPI) -> None:
    assert fake_slack.url.startswith("http://127.0.0.1:")
    assert fake_slack.url.endswith("/api/")


def test_auth_test_identifies_the_bot(web_client: WebClient, fake_slack: FakeSlackWebAPI) -> None:
    answer = web_client.auth_test()
    assert (answer["team_id"], answer["user_id"], answer["bot_id"]) == (
        fake_slack.team_id,
        fake_slack.bot_user_id,
        fake_slack.bot_id,
    )


def test_post_then_read_thread_back_with_metadata(web_client: WebClient, fake_slack: FakeSlackWebAPI) -> None:
    parent = web_client.chat_postMessage(channel="C1", text="Django", blocks=[SECTION], metadata=METADATA)
    reply = web_client.chat_postMessage(channel="C1", text="why?", thread_ts=parent["ts"])

    assert parent["channel"] == "C1"
    assert parent["message"]["metadata"] == METADATA
    assert parent["message"]["blocks"][0]["text"] == SECTION["text"]
    assert float(reply["ts"]) > float(parent["ts"])

    with_metadata = web_client.conversations_replies(channel="C1", ts=parent["ts"], include_all_metadata=True)
    assert [m["ts"] for m in with_metadata["messages"]] == [parent["ts"], reply["ts"]]
    assert with_metadata["messages"][0]["metadata"] == METADATA
    assert with_metadata["messages"][0]["reply_count"] == 1
    assert with_metadata["messages"][1]["thread_ts"] == parent["ts"]

    # Like Slack, metadata is only returned on request.
    plain = web_client.conversations_replies(channel="C1", ts=parent["ts"])
    assert "metadata" not in plain["messages"][0]


def test_ts_are_unique_and_increasing(web_client: WebClient) -> None:
    stamps = [web_client.chat_postMessage(channel="C1", text=str(i))["ts"] for i in range(5)]
    assert len(set(stamps)) == 5
    assert stamps == sorted(stamps, key=float)
    assert all(len(ts.split(".")[1]) == 6 for ts in stamps)


def test_history_is_newest_first_and_top_level_only(web_client: WebClient, fake_slack: FakeSlackWebAPI) -> None:
    first = fake_slack.add_message("C1", "a user asks", user="U123")
    web_client.chat_postMessage(channel="C1", text="in thread", thread_ts=first)
    second = web_client.chat_postMessage(channel="C1", text="top level")["ts"]
    history = web_client.conversations_history(channel="C1")
    assert [m["ts"] for m in history["messages"]] == [second, first]


def test_update_keeps_omitted_blocks_and_delete_removes(web_client: WebClient, fake_slack: FakeSlackWebAPI) -> None:
    ts = web_client.chat_postMessage(channel="C1", text="v1", blocks=[SECTION], metadata=METADATA)["ts"]
    updated = web_client.chat_update(channel="C1", ts=ts, text="v2")
    assert updated["message"]["text"] == "v2"
    assert updated["message"]["blocks"][0]["type"] == "section"
    assert updated["message"]["metadata"] == METADATA
    web_client.chat_delete(channel="C1", ts=ts)
    assert fake_slack.channel_messages("C1") == []
    assert api_error(lambda: web_client.chat_delete(channel="C1", ts=ts))["error"] == "message_not_found"


def test_unknown_thread_is_not_found(web_client: WebClient) -> None:
    error = api_error(lambda: web_client.conversations_replies(channel="C1", ts="1.000001"))
    assert error["error"] == "thread_not_found"


def test_join_is_configurable(web_client: WebClient, fake_slack: FakeSlackWebAPI) -> None:
    fake_slack.not_in_channel.add("C2")
    fake_slack.unjoinable["D9"] = "method_not_supported_for_channel_type"
    fake_slack.unjoinable["C404"] = "channel_not_found"

    assert api_error(lambda: web_client.chat_postMessage(channel="C2", text="hi"))["error"] == "not_in_channel"
    assert web_client.conversations_join(channel="C2")["channel"]["id"] == "C2"
    assert web_client.chat_postMessage(channel="C2", text="hi")["ok"]
    assert api_error(lambda: web_client.conversations_join(channel="D9"))["error"] == (
        "method_not_supported_for_channel_type"
    )
    assert api_error(lambda: web_client.conversations_join(channel="C404"))["error"] == "channel_not_found"


def test_info_methods_and_ephemeral(web_client: WebClient, fake_slack: FakeSlackWebAPI) -> None:
    fake_slack.users["U7"] = {"tz": "Asia/Tokyo"}
    assert web_client.users_info(user="U7")["user"]["tz"] == "Asia/Tokyo"
    assert web_client.conversations_info(channel="C1")["channel"]["is_member"] is True
    assert web_client.chat_postEphemeral(channel="C1", user="U7", text="only you")["message_ts"]
    assert fake_slack.channel_messages("C1") == []  # ephemeral messages are not in the channel


def test_views_publish_and_open(web_client: WebClient, fake_slack: FakeSlackWebAPI) -> None:
    home = {"type": "home", "blocks": [SECTION]}
    published = web_client.views_publish(user_id="U7", view=home)
    assert published["view"]["type"] == "home"
    assert fake_slack.home_views["U7"]["blocks"] == [SECTION]
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Choose"}, "blocks": [SECTION]}
    assert web_client.views_open(trigger_id="1.2.3", view=modal)["view"]["id"].startswith("V")


def test_a_trigger_id_opens_one_view_within_three_seconds(web_client: WebClient, fake_slack: FakeSlackWebAPI,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.fakes import slack_web_api

    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Choose"}, "blocks": [SECTION],
             "private_metadata": "x" * 3000}
    trigger = fake_slack.trigger_id()
    assert web_client.views_open(trigger_id=trigger, view=modal)["ok"]
    assert api_error(lambda: web_client.views_open(trigger_id=trigger, view=modal))["error"] == "exchanged_trigger_id"
    unknown = slack_web_api.TRIGGER_PREFIX + "0.nope"
    assert api_error(lambda: web_client.views_open(trigger_id=unknown, view=modal))["error"] == "invalid_trigger_id"
    monkeypatch.setattr(slack_web_api, "TRIGGER_TTL_S", 0.0)
    late = fake_slack.trigger_id()
    time.sleep(0.01)
    assert api_error(lambda: web_client.views_open(trigger_id=late, view=modal))["error"] == "expired_trigger_id"
    too_much = {**modal, "private_metadata": "x" * 3001}
    assert api_error(lambda: web_client.views_open(trigger_id=fake_slack.trigger_id(), view=too_much))["error"] == (
        "invalid_blocks")


def test_files_upload_v2_round_trip(web_client: WebClient, fake_slack: FakeSlackWebAPI) -> None:
    result = web_client.files_upload_v2(channel="C1", content="decision log", filename="log.txt", title="Log")
    file_id = result["file"]["id"]
    assert fake_slack.uploads[file_id] == b"decision log"
    assert [c.method for c in fake_slack.calls] == [
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]


def test_oauth_v2_access_is_configurable(fake_slack: FakeSlackWebAPI) -> None:
    client = WebClient(base_url=fake_slack.url)
    answer = client.oauth_v2_access(client_id="111.222", client_secret="shh", code="abc")
    assert answer["access_token"].startswith("xoxb-")
    assert answer["team"]["id"] == fake_slack.team_id
    assert basic_auth_credentials(fake_slack.calls_to("oauth.v2.access")[0]) == ("111.222", "shh")

    fake_slack.oauth_response = {"ok": False, "error": "invalid_code"}
    assert api_error(lambda: client.oauth_v2_access(client_id="1", client_secret="2", code="x"))["error"] == (
        "invalid_code"
    )


def test_apps_connections_open_needs_app_token_and_a_server(fake_slack: FakeSlackWebAPI) -> None:
    client = WebClient(base_url=fake_slack.url)
    assert api_error(lambda: client.apps_connections_open(app_token=BOT_TOKEN))["error"] == "not_allowed_token_type"
    assert api_error(lambda: client.apps_connections_open(app_token=APP_TOKEN))["error"] == (
        "fake_has_no_socket_mode_server"
    )
    fake_slack.socket_mode_url = "ws://127.0.0.1:1/link/?ticket=t"
    assert client.apps_connections_open(app_token=APP_TOKEN)["url"] == "ws://127.0.0.1:1/link/?ticket=t"


def test_get_and_form_requests_are_understood(fake_slack: FakeSlackWebAPI) -> None:
    ts = fake_slack.add_message("C1", "hello")
    get = urllib.request.Request(f"{fake_slack.url}conversations.replies?channel=C1&ts={ts}&token={BOT_TOKEN}")
    form = urllib.request.Request(fake_slack.url + "auth.test", data=f"token={BOT_TOKEN}".encode(), method="POST")
    with urllib.request.urlopen(get, timeout=5) as response:
        assert json.loads(response.read())["messages"][0]["text"] == "hello"
    with urllib.request.urlopen(form, timeout=5) as response:
        assert json.loads(response.read())["user_id"] == fake_slack.bot_user_id


def test_wait_for_times_out_with_the_calls_seen(fake_slack: FakeSlackWebAPI, web_client: WebClient) -> None:
    web_client.auth_test()
    with pytest.raises(AssertionError, match=r"auth\.test"):
        fake_slack.wait_for("chat.postMessage", timeout=0.1)


def test_response_url_posts_are_recorded(fake_slack: FakeSlackWebAPI) -> None:
    url = fake_slack.response_url()
    status, _, _ = post_signed(url, b'{"text": "done", "response_type": "ephemeral"}', "application/json", "s")
    assert status == 200
    assert fake_slack.wait_for("response_url")[0].params["text"] == "done"


# ---------------------------------------------------------------- Web API: Slack's contract


def test_no_token_is_not_authed(fake_slack: FakeSlackWebAPI) -> None:
    client = WebClient(base_url=fake_slack.url)
    assert api_error(lambda: client.chat_postMessage(channel="C1", text="x"))["error"] == "not_authed"


@requires_spec
def test_missing_required_param_is_refused(web_client: WebClient, fake_slack: FakeSlackWebAPI) -> None:
    error = api_error(lambda: web_client.api_call("chat.postMessage", json={"text": "no channel"}))
    assert error["error"] == "invalid_arguments"
    assert any("channel" in m for m in error["response_metadata"]["messages"])
    assert fake_slack.channel_messages("C1") == []


@requires_spec
def test_unknown_param_is_recorded(web_client: WebClient, fake_slack: FakeSlackWebAPI) -> None:
    web_client.chat_postMessage(channel="C1", text="x", metadata=METADATA)
    WebClient(base_url=fake_slack.url, token=BOT_TOKEN, team_id="T1").auth_test()  # bolt's per-request client
    assert fake_slack.unknown_params == []
    web_client.chat_postMessage(channel="C1", text="x", unfurl_everything=True)
    assert fake_slack.unknown_params == [("chat.postMessage", "unfurl_everything")]


@requires_spec
def test_unknown_method_is_refused(web_client: WebClient) -> None:
    error = api_error(lambda: web_client.api_call("chat.postMessageV9"))
    assert error["error"] == "unknown_method"


@requires_spec
def test_newer_methods_are_allowed(web_client: WebClient, fake_slack: FakeSlackWebAPI) -> None:
    assert web_client.files_getUploadURLExternal(filename="a.txt", length=3)["upload_url"].startswith("http")
    assert fake_slack.unknown_params == []


@pytest.mark.parametrize(
    ("blocks", "error"),
    [
        ([{"type": "no_such_block"}], "invalid_blocks"),
        ([{"type": "section"}], "invalid_blocks"),  # neither text nor fields
        ([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}], "invalid_blocks"),
        ([{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}], "invalid_blocks"),
        ([{"type": "actions", "elements": [{"type": "buton", "action_id": "a"}]}], "invalid_blocks"),
        ([SECTION] * 51, "invalid_blocks"),
        ({"type": "section"}, "invalid_blocks_format"),
    ],
    ids=["unknown-type", "empty-section", "section-3001", "header-151", "unknown-element", "51-blocks", "not-list"],
)
def test_invalid_blocks_are_refused(web_client: WebClient, fake_slack: FakeSlackWebAPI, blocks, error) -> None:
    answer = api_error(lambda: web_client.chat_postMessage(channel="C1", text="x", blocks=blocks))
    assert answer["error"] == error
    assert answer["response_metadata"]["messages"]
    assert fake_slack.channel_messages("C1") == []


def test_invalid_blocks_refused_on_update_and_ephemeral(web_client: WebClient) -> None:
    ts = web_client.chat_postMessage(channel="C1", text="ok")["ts"]
    bad = [{"type": "no_such_block"}]
    update = api_error(lambda: web_client.chat_update(channel="C1", ts=ts, text="x", blocks=bad))
    ephemeral = api_error(lambda: web_client.chat_postEphemeral(channel="C1", user="U1", text="x", blocks=bad))
    assert update["error"] == ephemeral["error"] == "invalid_blocks"


def test_invalid_views_are_refused(web_client: WebClient) -> None:
    long_title = {"type": "modal", "title": {"type": "plain_text", "text": "x" * 25}, "blocks": [SECTION]}
    assert api_error(lambda: web_client.views_open(trigger_id="1", view=long_title))["error"] == "invalid_blocks"
    untitled = {"type": "modal", "blocks": [SECTION]}
    assert api_error(lambda: web_client.views_open(trigger_id="1", view=untitled))["error"] == "invalid_arguments"
    too_many = {"type": "home", "blocks": [SECTION] * 101}
    assert api_error(lambda: web_client.views_publish(user_id="U1", view=too_many))["error"] == "invalid_blocks"


def test_text_limits(web_client: WebClient) -> None:
    assert api_error(lambda: web_client.chat_postMessage(channel="C1", text="x" * 40_001))["error"] == "msg_too_long"
    assert web_client.chat_postMessage(channel="C1", text="x" * 40_000)["ok"]
    with pytest.warns(UserWarning):  # slack_sdk warns too; the fake refuses like Slack
        assert api_error(lambda: web_client.chat_postMessage(channel="C1"))["error"] == "no_text"


# ---------------------------------------------------------------- Web API: faults


def test_429_is_honoured_by_rate_limit_retry_handler(fake_slack: FakeSlackWebAPI) -> None:
    client = WebClient(
        base_url=fake_slack.url, token=BOT_TOKEN, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)]
    )
    fake_slack.fail_next("chat.postMessage", "429", retry_after=1)
    assert client.chat_postMessage(channel="C1", text="after the wait")["ok"]
    first, second = fake_slack.calls_to("chat.postMessage")
    assert (first.fault, first.response) == ("429", {"ok": False, "error": "ratelimited"})
    assert second.fault is None and second.response["ok"]
    assert second.time - first.time >= 1  # the client waited Retry-After seconds
    assert len(fake_slack.channel_messages("C1")) == 1


def test_429_without_retry_handler_surfaces_retry_after(fake_slack: FakeSlackWebAPI) -> None:
    client = WebClient(base_url=fake_slack.url, token=BOT_TOKEN, retry_handlers=[])
    fake_slack.fail_next("chat.postMessage", "429", retry_after=7)
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="C1", text="x")
    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "7"


def test_reset_raises_connection_error_without_retries(fake_slack: FakeSlackWebAPI) -> None:
    client = WebClient(base_url=fake_slack.url, token=BOT_TOKEN, retry_handlers=[])
    fake_slack.fail_next("chat.postMessage", "reset")
    with pytest.raises(ConnectionError):
        client.chat_postMessage(channel="C1", text="lost")
    assert fake_slack.channel_messages("C1") == []
    assert client.chat_postMessage(channel="C1", text="next one works")["ok"]


def test_reset_is_retried_by_default_handlers(fake_slack: FakeSlackWebAPI, web_client: WebClient) -> None:
    fake_slack.fail_next("chat.postMessage", "reset")
    assert web_client.chat_postMessage(channel="C1", text="retried")["ok"]
    assert [c.fault for c in fake_slack.calls_to("chat.postMessage")] == ["reset", None]


def test_500_and_error_faults(fake_slack: FakeSlackWebAPI, web_client: WebClient) -> None:
    fake_slack.fail_next("auth.test", "500")
    fake_slack.fail_next("chat.postMessage", "error", error="channel_not_found")
    with pytest.raises(SlackApiError) as raised:
        web_client.auth_test()
    assert raised.value.response.status_code == 500
    assert api_error(lambda: web_client.chat_postMessage(channel="C1", text="x"))["error"] == "channel_not_found"
    assert web_client.auth_test()["ok"]  # faults are used up


def test_slow_answer_times_out_a_short_client(fake_slack: FakeSlackWebAPI) -> None:
    client = WebClient(base_url=fake_slack.url, token=BOT_TOKEN, timeout=0.3, retry_handlers=[])
    fake_slack.fail_next("auth.test", "slow", delay=1.0)
    with pytest.raises(TimeoutError):
        client.auth_test()
    fake_slack.fail_next("auth.test", "slow", delay=0.2)
    started = time.monotonic()
    assert WebClient(base_url=fake_slack.url, token=BOT_TOKEN).auth_test()["ok"]
    assert time.monotonic() - started >= 0.2


def test_fail_next_rejects_unknown_kinds(fake_slack: FakeSlackWebAPI) -> None:
    with pytest.raises(ValueError):
        fake_slack.fail_next("auth.test", "teapot")


def test_fault_is_thread_safe(fake_slack: FakeSlackWebAPI) -> None:
    fake_slack.fail_next("auth.test", "error", times=5, error="ratelimited")
    results: list[bool] = []

    def call() -> None:
        client = WebClient(base_url=fake_slack.url, token=BOT_TOKEN, retry_handlers=[])
        try:
            results.append(client.auth_test()["ok"])
        except SlackApiError:
            results.append(False)

    threads = [threading.Thread(target=call) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 5 + [True] * 5
    assert len(fake_slack.calls_to("auth.test")) == 10


# ---------------------------------------------------------------- Socket Mode


def test_builtin_client_gets_hello_and_answers_pings(
    fake_slack: FakeSlackWebAPI, fake_socket_mode: FakeSocketModeServer
) -> None:
    received: list[dict] = []
    client = SocketModeClient(app_token=APP_TOKEN, web_client=WebClient(base_url=fake_slack.url))
    client.message_listeners.append(lambda _client, message, _raw: received.append(message))
    try:
        client.connect()
        assert client.is_connected()
        wait_until(lambda: any(m.get("type") == "hello" for m in received), what="hello")
        # The client pings on connect; the server's pong sets last_ping_pong_time.
        wait_until(lambda: client.current_session.last_ping_pong_time is not None, what="pong from server")
        # The server pings every 0.5 s; a measured latency means the client ponged.
        wait_until(lambda: any(x > 0 for x in fake_socket_mode.latencies()), what="pong from client")
    finally:
        client.close()
    wait_until(lambda: fake_socket_mode.connected == 0, what="server to see the close")


def test_bolt_app_acks_slash_command_and_says(
    fake_slack: FakeSlackWebAPI, fake_socket_mode: FakeSocketModeServer
) -> None:
    app = App(client=WebClient(base_url=fake_slack.url, token=BOT_TOKEN))

    @app.command("/framework")
    def framework(ack, say, command) -> None:
        ack("Thinking about it…")
        say(f"For {command['text']!r}: Django")

    with connected_handler(app):
        envelope_id = fake_socket_mode.send_envelope("slash_commands", slash_command_payload(text="a CMS"))
        ack = fake_socket_mode.wait_for_ack(envelope_id)
        assert ack.payload == {"text": "Thinking about it…"}
        (post,) = fake_slack.wait_for("chat.postMessage")

    assert post.params["channel"] == "C0FAKECHN"
    assert post.params["text"] == "For 'a CMS': Django"
    assert [c.method for c in fake_slack.calls] == ["auth.test", "apps.connections.open", "chat.postMessage"]
    assert fake_slack.calls_to("apps.connections.open")[0].headers["Authorization"] == f"Bearer {APP_TOKEN}"
    if fake_slack.spec_loaded:
        assert fake_slack.unknown_params == []


def test_bolt_app_handles_event_and_replies_in_thread(
    fake_slack: FakeSlackWebAPI, fake_socket_mode: FakeSocketModeServer
) -> None:
    app = App(client=WebClient(base_url=fake_slack.url, token=BOT_TOKEN))
    asked = fake_slack.add_message("C1", "<@U0FAKEBOT> flask or django?", user="U5")

    @app.event("app_mention")
    def mention(event, client) -> None:
        client.chat_postMessage(channel=event["channel"], thread_ts=event["ts"], text="Flask", metadata=METADATA)

    event = {"type": "app_mention", "user": "U5", "text": "<@U0FAKEBOT> flask or django?", "ts": asked}
    event.update(channel="C1", event_ts=asked)
    with connected_handler(app):
        envelope_id = fake_socket_mode.send_envelope("events_api", event_payload(event))
        assert fake_socket_mode.wait_for_ack(envelope_id).payload is None
        fake_slack.wait_for("chat.postMessage")

    thread = fake_slack.thread("C1", asked)
    assert [m["text"] for m in thread] == ["<@U0FAKEBOT> flask or django?", "Flask"]
    assert thread[1]["metadata"] == METADATA


def test_disconnect_message_makes_the_client_reconnect(
    fake_slack: FakeSlackWebAPI, fake_socket_mode: FakeSocketModeServer
) -> None:
    app = App(client=WebClient(base_url=fake_slack.url, token=BOT_TOKEN))

    @app.command("/framework")
    def framework(ack) -> None:
        ack()

    with connected_handler(app):
        fake_socket_mode.send_disconnect()
        wait_until(lambda: fake_socket_mode.connections_opened == 2, what="reconnect")
        assert len(fake_slack.wait_for("apps.connections.open", count=2)) == 2
        envelope_id = fake_socket_mode.send_envelope("slash_commands", slash_command_payload())
        assert fake_socket_mode.wait_for_ack(envelope_id).payload is None


def test_send_envelope_without_a_client_times_out() -> None:
    with FakeSocketModeServer() as server:
        with pytest.raises(TimeoutError):
            server.send_envelope("events_api", {}, timeout=0.1)


# ---------------------------------------------------------------- signing helpers


def test_signed_headers_verify_with_slack_sdk() -> None:
    body, content_type = slash_command_body(text="django")
    headers = signed_headers("secret", body)
    assert content_type == "application/x-www-form-urlencoded"
    assert SignatureVerifier("secret").is_valid_request(body, headers)
    assert not SignatureVerifier("other").is_valid_request(body, headers)


def test_signed_requests_pass_bolt_verification(web_client: WebClient) -> None:
    app = App(signing_secret="secret", client=web_client)

    @app.command("/framework")
    def framework(ack) -> None:
        ack("ok")

    body, content_type = slash_command_body(text="django")

    def dispatch(secret: str) -> int:
        headers = {**signed_headers(secret, body), "Content-Type": content_type}
        return app.dispatch(BoltRequest(body=body.decode(), headers=headers)).status

    assert dispatch("secret") == 200
    assert dispatch("wrong") == 401
