"""OAuth for many workspaces: install flow against the fake Web API, per-workspace tokens, uninstall."""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from bot.slack import config
from bot.slack.server import start
from bot.store import Store
from tests.fakes.signing import event_body, post_signed, slash_command_body

SECRET = "oauthsigningsecret42"
CLIENT_ID = "1111.2222"
CLIENT_SECRET = "clientsecret0042"


def _get(url: str, cookie: str | None = None) -> tuple[int, dict, str]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with opener.open(request, timeout=10) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


@pytest.fixture
def oauth_bot(fake_slack, tmp_path):
    env = {"SLACK_CLIENT_ID": CLIENT_ID, "SLACK_CLIENT_SECRET": CLIENT_SECRET, "SLACK_SIGNING_SECRET": SECRET,
           "SLACK_API_URL": fake_slack.url}
    cfg = config.from_env(env)
    assert cfg.mode == "oauth"
    store = Store(tmp_path / "oauth.db")
    running = start(cfg, store, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{running.port}", running, store
    finally:
        running.shutdown()


def _install(base: str, fake) -> None:
    status, headers, body = _get(base + "/slack/install")
    assert status in (200, 302)
    link = headers.get("Location") or re.search(r'href="([^"]*oauth/v2/authorize[^"]*)"', body).group(1)
    query = urllib.parse.parse_qs(urllib.parse.urlparse(link.replace("&amp;", "&")).query)
    assert query["client_id"] == [CLIENT_ID]
    assert "chat:write" in query["scope"][0] and "commands" in query["scope"][0]
    state = query["state"][0]
    # The browser that began the flow carries bolt's state cookie back.
    cookie = headers.get("Set-Cookie", "").split(";")[0]
    assert cookie.startswith("slack-app-oauth-state=")
    status, _, body = _get(f"{base}/slack/oauth_redirect?code=fake-code&state={urllib.parse.quote(state)}", cookie)
    assert status == 200, body


def test_install_flow_stores_the_workspace_token_and_uses_it(oauth_bot, fake_slack):
    base, running, store = oauth_bot
    _install(base, fake_slack)
    access = fake_slack.calls_to("oauth.v2.access")
    assert len(access) == 1 and access[0].params.get("code") == "fake-code"
    bot = running.built.installation_store.find_bot(enterprise_id=None, team_id=fake_slack.team_id)
    assert bot is not None and bot.bot_token == "xoxb-fake-installed-token"

    body, ctype = slash_command_body(text="start oauth topic", team_id=fake_slack.team_id, channel_id="C0OAUTH01")
    status, _, _ = post_signed(base + "/slack/events", body, ctype, SECRET)
    assert status == 200
    fake_slack.wait_for("chat.postMessage", count=2, timeout=10)
    posts = fake_slack.calls_to("chat.postMessage")
    assert all("xoxb-fake-installed-token" in (c.headers.get("Authorization") or "") for c in posts)


def test_state_is_required(oauth_bot):
    base, _, _ = oauth_bot
    status, _, _ = _get(base + "/slack/oauth_redirect?code=fake-code&state=forged")
    assert status >= 400


def test_uninstall_deletes_tokens_and_keeps_decisions(oauth_bot, fake_slack):
    base, running, store = oauth_bot
    _install(base, fake_slack)
    team = fake_slack.team_id
    store.record_decision(team, channel="C1", topic="t", framework="flask", decided_by="U1", rationale="r",
                          recommendation="flask", knowledge_version="v", answers={}, result={})
    body, ctype = event_body({"type": "app_uninstalled"}, team_id=team, event_id="EvUNINSTALL1")
    status, _, _ = post_signed(base + "/slack/events", body, ctype, SECRET)
    assert status == 200
    deadline = time.time() + 5
    while time.time() < deadline and running.built.installation_store.find_bot(enterprise_id=None, team_id=team):
        time.sleep(0.05)
    assert running.built.installation_store.find_bot(enterprise_id=None, team_id=team) is None
    assert store.decision(team, 1) is not None


@pytest.mark.parametrize("org_wide", [False, True], ids=["grid-workspace-install", "grid-org-wide-install"])
def test_enterprise_grid_install_gets_its_replies(oauth_bot, fake_slack, org_wide):
    """An install inside an Enterprise Grid organisation is stored under the enterprise id: the outbox's
    token look-up must pass it (it passed enterprise_id=None and found no token, so nothing was posted)."""
    base, running, store = oauth_bot
    fake_slack.oauth_response.update(
        enterprise={"id": "E0GRID01", "name": "Grid Org"}, is_enterprise_install=org_wide,
        team=None if org_wide else {"id": fake_slack.team_id, "name": fake_slack.team_name})
    _install(base, fake_slack)
    body, ctype = slash_command_body(text="start grid topic", team_id=fake_slack.team_id, channel_id="C0GRID01")
    payload = urllib.parse.parse_qs(body.decode())
    payload = {k: v[0] for k, v in payload.items()}
    payload.update(enterprise_id="E0GRID01", enterprise_name="Grid Org",
                   is_enterprise_install="true" if org_wide else "false")
    body = urllib.parse.urlencode(payload).encode()
    status, _, _ = post_signed(base + "/slack/events", body, ctype, SECRET)
    assert status == 200
    fake_slack.wait_for("chat.postMessage", count=2, timeout=10)
    posts = [c for c in fake_slack.calls_to("chat.postMessage") if c.params.get("channel") == "C0GRID01"]
    assert len(posts) >= 2 and all("xoxb-fake-installed-token" in (c.headers.get("Authorization") or "")
                                   for c in posts)
