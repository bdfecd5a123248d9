"""OAuth installations and states on PostgreSQL: slack_sdk's SQLAlchemy stores on the store's own database,
so every replica finds every workspace's token (bot.slack.app.installations / oauth_states)."""

from __future__ import annotations

from types import SimpleNamespace

from slack_sdk.oauth.installation_store import Installation

from bot.slack.app import installations, oauth_states
from bot.slack.config import SlackConfig

CFG = SlackConfig(mode="oauth", api_url="http://127.0.0.1:9/api/", signing_secret="s", client_id="111.222",
                  client_secret="c")


def test_an_installation_saved_by_one_replica_is_found_by_another(pg_database: str) -> None:
    store = SimpleNamespace(path=pg_database)  # what installations() reads of a Store
    first, second = installations(CFG, store), installations(CFG, store)  # two replicas, one database
    first.save(Installation(app_id="A1", team_id="T0PG", bot_token="xoxb-pg-token", bot_id="B1",
                            bot_user_id="U0BOT", user_id="U0INSTALLER", enterprise_id=None))
    bot = second.find_bot(enterprise_id=None, team_id="T0PG")
    assert bot is not None and bot.bot_token == "xoxb-pg-token"
    assert second.find_bot(enterprise_id=None, team_id="T0OTHER") is None


def test_an_oauth_state_is_consumed_once_across_replicas(pg_database: str) -> None:
    store = SimpleNamespace(path=pg_database)
    a, b = oauth_states(store), oauth_states(store)
    state = a.issue()
    assert b.consume(state) is True
    assert a.consume(state) is False


def test_sqlite_keeps_its_own_stores(tmp_path) -> None:
    store = SimpleNamespace(path=str(tmp_path / "a.db"))
    assert type(installations(CFG, store)).__name__ == "SQLite3InstallationStore"
    assert type(oauth_states(store)).__name__ == "SQLite3OAuthStateStore"
    assert installations(SlackConfig(mode="http", api_url="x", bot_token="t", signing_secret="s"), store) is None
