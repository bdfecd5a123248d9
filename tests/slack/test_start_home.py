"""/framework start where the bot cannot post, and the App Home tab (per team)."""

from __future__ import annotations

import json

from bot.slack.starting import INVITE
from tests.fakes import block_actions_body
from tests.slack.helpers import ALICE, BOB, TEAM, Bot, action_ids, block_texts, next_question, unique, wait_until

TEAM_B = "T0TEAMB01"
BETTY = "U0BETTY"


def _responses(bot: Bot) -> list:
    return bot.fake.calls_to("response_url")


def test_start_in_a_private_channel_the_bot_is_in_posts_without_joining(bot: Bot) -> None:
    ch = unique("C0PRIV")
    bot.fake.private.add(ch)  # a C... id, but conversations.join would answer method_not_supported...
    root, first = bot.start(ch, "private plans")
    assert first.thread_ts == root.ts and first.question == "app_type"
    assert [c for c in bot.fake.calls_to("conversations.join") if c.params["channel"] == ch] == []


def test_start_in_a_private_channel_the_bot_is_not_in_explains_via_response_url(bot: Bot) -> None:
    ch = unique("C0NOJOIN")
    bot.fake.private.add(ch)
    bot.fake.not_in_channel.add(ch)  # not invited: posts answer not_in_channel, and it cannot join
    before = len(_responses(bot))
    status, ack = bot.command("start secret plans", channel=ch)
    assert status == 200 and ack is None

    answer = wait_until(lambda: _responses(bot)[before:], what="a response_url post")[0]
    assert answer.params["response_type"] == "ephemeral"
    assert answer.params["text"] == INVITE
    assert "/invite @Framework Advisor" in answer.params["text"]
    joins = [c for c in bot.fake.calls_to("conversations.join") if c.params["channel"] == ch]
    assert len(joins) == 1 and joins[0].response["error"] == "method_not_supported_for_channel_type"
    assert bot.posts(ch) == []
    posts = [c for c in bot.fake.calls_to("chat.postMessage") if c.params.get("channel") == ch]
    assert [c.response["error"] for c in posts] == ["not_in_channel"]  # tried once, then asked to be invited
    assert bot.store().db.execute("SELECT COUNT(*) FROM consultations WHERE channel = ?", [ch]).fetchone()[0] == 0
    # Only the start job itself went through the outbox (done); no message was queued. The job marks
    # its row done just after its response_url post, so the test waits for that rather than racing it.
    def outbox_rows() -> list:
        return bot.store().db.execute("SELECT method, status FROM outbox WHERE channel = ?", [ch]).fetchall()

    wait_until(lambda: outbox_rows() != [("job:start", "pending")], what="the start job marked done")
    assert outbox_rows() == [("job:start", "sent")]


def test_start_then_joins_a_public_channel_and_posts(bot: Bot) -> None:
    ch = unique("C0JOIN")
    bot.fake.not_in_channel.add(ch)  # posting fails until the bot joins
    root, first = bot.start(ch, "after joining")
    assert [c.params["channel"] for c in bot.fake.calls_to("conversations.join")].count(ch) == 1
    assert first.thread_ts == root.ts and first.question == "app_type"


def test_app_home_shows_the_teams_decisions_and_open_consultations(bot: Bot) -> None:
    ch_decided, ch_open = unique("C0HOMED"), unique("C0HOMEO")
    root, _ = bot.start(ch_decided, "home topic decided")
    assert bot.say(ch_decided, root.ts, "decide django because batteries") == 200
    bot.start(ch_open, "home topic open & <b>")
    decision = bot.store().decisions(TEAM, limit=1)[0]

    im = "D0HOMEALICE"
    assert bot.event({"type": "app_home_opened", "user": ALICE, "channel": im, "tab": "home",
                      "event_ts": "1.1"}) == 200
    publish = wait_until(lambda: [c for c in bot.fake.calls_to("views.publish") if c.params["user_id"] == ALICE],
                         what="views.publish for Alice")[-1]
    assert publish.response["ok"]
    view = publish.param("view")
    assert view["type"] == "home"
    texts = "\n".join(block_texts(view["blocks"]))
    assert f"*{decision.number}.* *Django* (accepted) · home topic decided · <@{ALICE}>" in texts
    assert "home topic open &amp; &lt;b&gt; · <#" + ch_open + "> · started by <@" + ALICE + ">" in texts
    assert "_No decisions yet._" not in texts and "_None open._" not in texts
    assert action_ids(view["blocks"]) == ["fa_home_start"]
    button = next(e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"])
    assert json.loads(button["value"]) == {"ch": im}
    assert bot.fake.home_views[ALICE]["blocks"] == view["blocks"]

    # Another workspace sees nothing of this one.
    assert bot.event({"type": "app_home_opened", "user": BETTY, "channel": "D0HOMEB", "tab": "home",
                      "event_ts": "1.2"}, team=TEAM_B) == 200
    publish_b = wait_until(lambda: [c for c in bot.fake.calls_to("views.publish") if c.params["user_id"] == BETTY],
                           what="views.publish for Betty")[-1]
    texts_b = "\n".join(block_texts(publish_b.param("view")["blocks"]))
    assert "_No decisions yet._" in texts_b and "_None open._" in texts_b
    assert "home topic" not in texts_b and ALICE not in texts_b

    # The Messages tab is not the Home tab: nothing is published.
    n = len(bot.fake.calls_to("views.publish"))
    bot.event({"type": "app_home_opened", "user": BOB, "channel": "D0HOMEBOB", "tab": "messages", "event_ts": "1.3"})
    bot.event({"type": "app_home_opened", "user": BOB, "channel": "D0HOMEBOB", "tab": "home", "event_ts": "1.4"})
    wait_until(lambda: [c for c in bot.fake.calls_to("views.publish") if c.params["user_id"] == BOB], what="Bob")
    assert len(bot.fake.calls_to("views.publish")) == n + 1


def test_home_start_button_opens_a_consultation_in_the_app_dm(bot: Bot) -> None:
    im = unique("D0HOMEDM")
    body, ctype = block_actions_body(
        [{"action_id": "fa_home_start", "block_id": "fa_home", "value": json.dumps({"ch": im}),
          "text": {"type": "plain_text", "text": "Start a consultation"}}],
        user_id=ALICE, channel_id=im, response_url=bot.fake.response_url("actions"))
    assert bot.post(body, ctype)[0] == 200
    root, first = bot.wait_posts(im, 2)
    assert root.text == f"Framework consultation started by <@{ALICE}>" and root.thread_ts is None
    assert first.thread_ts == root.ts and first.question == "app_type"
    c = bot.store().consultation_by_thread(TEAM, im, root.ts)
    assert c is not None and c.started_by == ALICE and c.status == "open"
    # Answers typed in that DM thread work like in a channel.
    assert bot.say(im, root.ts, "a static site", channel_type="im") == 200
    assert bot.next_post(im, 2).question == next_question({"app_type": "static_site"})
