"""Mentions, the messages tab, and events the app receives without acting on them."""

from __future__ import annotations

from tests.slack.helpers import ALICE, BOT_USER, TEAM, Bot, now_ts, unique


def _mention(bot: Bot, channel: str, text: str, **extra) -> int:
    ts = now_ts()
    return bot.event({"type": "app_mention", "channel": channel, "user": ALICE, "text": text, "ts": ts,
                      "event_ts": ts, "team": TEAM, **extra})


def test_a_mention_with_start_opens_a_consultation_with_its_topic(bot: Bot) -> None:
    ch = unique("C0MENTION")
    assert _mention(bot, ch, f"<@{BOT_USER}> start billing service") == 200
    root, first = bot.wait_posts(ch, 2)
    assert root.text == f"Framework consultation started by <@{ALICE}>: billing service"
    assert first.thread_ts == root.ts and first.question == "app_type"


def test_a_mention_with_help_answers_in_the_channel(bot: Bot) -> None:
    ch = unique("C0MHELP")
    assert _mention(bot, ch, f"<@{BOT_USER}> help") == 200
    [post] = bot.wait_posts(ch, 1)
    assert "helps your team choose Django, Flask or Node.js" in post.text


def test_the_messages_tab_takes_subcommands(bot: Bot) -> None:
    im = unique("D0DM")
    assert bot.say(im, None, "history", channel_type="im") == 200
    [post] = bot.wait_posts(im, 1)
    assert "decision" in post.text.lower()
    assert bot.say(im, None, "start", channel_type="im") == 200
    root, first = bot.wait_posts(im, 3)[1:3]
    assert first.thread_ts == root.ts and first.question == "app_type"


def test_member_joined_channel_is_acknowledged_not_404(bot: Bot) -> None:
    assert bot.event({"type": "member_joined_channel", "user": "U0NEW", "channel": unique("C0JOINED"),
                      "channel_type": "C", "team": TEAM}) == 200
