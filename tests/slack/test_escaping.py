"""User text echoed back is escaped everywhere (no @channel, no pings); every message has a text fallback."""

from __future__ import annotations

import re

from tests.slack.helpers import (
    ALICE,
    TEAM,
    Bot,
    assert_contract,
    block_texts,
    everything_sent,
    next_question,
    unique,
    wait_until,
)

TOPIC = "<!channel> & <@U123> launch"
TOPIC_ESCAPED = "&lt;!channel&gt; &amp; &lt;@U123&gt; launch"
# The parser drops Slack mentions from typed text (bot/parsing.clean); `&` and `>` stay and are escaped.
RATIONALE = "<!here> Tom & Jerry > <@U123> said so"
RATIONALE_ESCAPED = "Tom &amp; Jerry &gt; said so"


def test_user_text_is_escaped_in_every_message(bot: Bot) -> None:
    ch = unique("C0ESC")
    root, first = bot.start(ch, TOPIC)
    assert root.text == f"Framework consultation started by <@{ALICE}>: {TOPIC_ESCAPED}"

    bot.say(ch, root.ts, "<!channel> a static site & <@U123>")
    assert bot.next_post(ch, 2).question == next_question({"app_type": "static_site"})
    bot.say(ch, root.ts, "<!everyone> <@U123> & <#C123|general>")  # no answer: a clarification
    assert bot.next_post(ch, 3).text.startswith("I didn't catch")
    bot.say(ch, root.ts, "set team_size=<!channel>")
    bot.next_post(ch, 4)
    bot.say(ch, root.ts, f"decide flask because {RATIONALE}")
    decision = bot.next_post(ch, 5)
    assert decision.text.endswith(f"Rationale: {RATIONALE_ESCAPED}")
    assert RATIONALE_ESCAPED in decision.blocks[0]["text"]["text"]
    n = bot.store().decisions(TEAM, limit=1)[0].number

    _, ack = bot.command("history", channel=ch)
    assert TOPIC_ESCAPED in ack["text"] and TOPIC_ESCAPED in ack["blocks"][0]["text"]["text"]
    _, ack = bot.command(f"show {n}", channel=ch)
    assert TOPIC_ESCAPED in ack["text"] and f"*Rationale:* {RATIONALE_ESCAPED}" in ack["text"]
    uploads = len(bot.fake.calls_to("files.completeUploadExternal"))
    _, ack = bot.command(f"export {n}", channel=ch)
    assert ack["text"].startswith(f"Uploading decision {n}'s record")
    # The record is a file, not a message: Slack shows it verbatim, so it holds the topic as typed.
    done = wait_until(lambda: bot.fake.calls_to("files.completeUploadExternal")[uploads:], what="the upload")[0]
    assert done.param("files")[0]["title"] == f"Use Flask for {TOPIC}"
    for text in (f"whatif {n} team_size=<!channel>", f"whatif {n} <!channel>=1", "compare <!channel> & <@U123>",
                 "show <!channel>", "history <!channel>", "<!channel>", "<@U123> &", "cancel <!here>"):
        status, ack = bot.command(text, channel=ch)
        assert status == 200 and ack["text"]
    assert "I don't know the subcommand `&lt;!channel&gt;`." in bot.acks[-3]["text"]
    assert "*Comparison* on “&lt;!channel&gt; &amp; &lt;@u123&gt;”" in bot.acks[-6]["text"]

    # An open consultation with the topic, in the App Home.
    bot.start(unique("C0ESC"), TOPIC)
    bot.event({"type": "app_home_opened", "user": ALICE, "channel": "D0ESC", "tab": "home", "event_ts": "1.1"})
    view = wait_until(lambda: bot.fake.calls_to("views.publish"), what="views.publish")[-1].param("view")
    home = [t for t in block_texts(view["blocks"]) if TOPIC_ESCAPED in t]
    assert len(home) == 2  # the decision and the open consultation

    wait_until(lambda: len(bot.updates(ch)) >= 1, what="the answered question's update")
    sent = everything_sent(bot)
    assert len(sent) > 40
    for text in sent:
        for raw in ("<!channel>", "<!here>", "<!everyone>", "<@U123>", "<#C123"):
            assert raw not in text, f"{raw} echoed unescaped in: {text[:300]}"
        assert not re.search(r"&(?!(amp|lt|gt);)", text), f"a bare & in: {text[:300]}"
        assert "&amp;lt;" not in text and "&amp;amp;" not in text, f"escaped twice: {text[:300]}"


def test_every_message_has_a_text_fallback_and_follows_the_contract(bot: Bot) -> None:
    calls = bot.fake.calls_to("chat.postMessage") + bot.fake.calls_to("chat.update")
    assert len(calls) >= 6 and any(c.param("blocks") for c in calls)
    for c in calls:
        assert c.response["ok"], (c.method, c.response)
        assert c.params["text"].strip()
        if c.param("blocks"):
            # The fallback says what the blocks say (notifications and screen readers use it).
            first = next(t for t in (b.get("text", {}).get("text") for b in c.param("blocks")) if t)
            assert first.strip("*").split("\n")[0][:40] in c.params["text"]
    assert bot.fake.spec_loaded
    assert_contract(bot)
