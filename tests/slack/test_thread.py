"""Typed commands and answers in a consultation thread: why/how/back, two people, corrections, stale clicks,
re-deliveries, what the bot ignores, and who may decide or cancel."""

from __future__ import annotations

import json
import time

from tests.slack.helpers import (
    ALICE,
    BOB,
    BOT_USER,
    CAROL,
    TEAM,
    Bot,
    Post,
    button_for,
    next_question,
    now_ts,
    unique,
    wait_until,
)


def sentinel(bot: Bot, channel: str, root: Post, n: int) -> Post:
    """Type `status` and return its reply, which must be the very next post (nothing slipped in before it)."""
    assert bot.say(channel, root.ts, "status") == 200
    post = bot.next_post(channel, n)
    assert post.text.startswith("*Status*"), post.text
    return post


def test_why_how_and_back(bot: Bot) -> None:
    ch = unique("C0WHY")
    root, first = bot.start(ch, "why how back")
    cid = bot.consultation_id(ch, root.ts)

    bot.say(ch, root.ts, "why")
    why = bot.next_post(ch, 2)
    assert why.thread_ts == root.ts
    assert why.text.startswith(f"*Why I ask: {first.text.splitlines()[-1]}*")  # the prompt, not the progress
    assert "The comparison ties the framework to the application type" in why.text

    bot.say(ch, root.ts, "how")
    assert bot.next_post(ch, 3).text == "No rule has fired yet: answer a question first."

    bot.say(ch, root.ts, "a static site")
    second = bot.next_post(ch, 4)
    assert second.question == next_question({"app_type": "static_site"})

    bot.say(ch, root.ts, "How?")
    how = bot.next_post(ch, 5)
    assert how.text.startswith("*Rules fired so far*")
    assert "because app type = Static site" in how.text

    bot.say(ch, root.ts, "back")
    back = bot.next_post(ch, 6)
    assert back.question == "app_type"
    assert back.text.startswith("Undone.\n_Question 1 · at most 15 more_\nWhat are you building")
    log = bot.store().log(TEAM, cid)
    assert [(e.kind, e.question) for e in log] == [("answer", "app_type"), ("undo", None)]
    assert bot.store().participants(TEAM, cid) == {ALICE}


def test_two_people_answer_at_once_and_the_later_answer_wins(bot: Bot) -> None:
    ch = unique("C0TWO")
    root, first = bot.start(ch, "two people")
    cid = bot.consultation_id(ch, root.ts)
    # Both wrote while the first question was open; Bob's message reaches the bot second.
    alice_ts, bob_ts = now_ts(), now_ts()
    assert bot.say(ch, root.ts, "a static site", user=ALICE, ts=alice_ts) == 200
    assert bot.say(ch, root.ts, "a web app", user=BOB, ts=bob_ts) == 200

    after_alice, after_bob = bot.wait_posts(ch, 4)[2:4]
    assert after_alice.question == next_question({"app_type": "static_site"})
    assert after_bob.text.startswith("The later answer wins: app type is now Web app (it was Static site).")
    assert after_bob.thread_ts == root.ts

    log = bot.store().log(TEAM, cid)
    assert [(e.question, e.value, e.user_id) for e in log] == [
        ("app_type", "static_site", ALICE), ("app_type", "web_app", BOB)]
    assert log[0].raw_text == "a static site" and log[1].raw_text == "a web app"
    # The first question's message ends up saying who answered it last.
    updates = bot.updates(ch)
    assert [u.params["ts"] for u in updates] == [first.ts, first.ts]
    assert updates[-1].params["text"].endswith(f"answered by <@{BOB}>: *Web app*")
    assert bot.store().participants(TEAM, cid) == {ALICE, BOB}


def test_actually_we_are_30_people_changes_team_size(bot: Bot) -> None:
    ch = unique("C0ACT")
    root, first = bot.start(ch, "correction")
    cid = bot.consultation_id(ch, root.ts)
    bot.say(ch, root.ts, "a web app")
    second = bot.next_post(ch, 2)
    assert second.question == next_question({"app_type": "web_app"}) == "team_language"
    bot.say(ch, root.ts, "just 2 of us")  # the team size, given while the team's language is open
    assert bot.next_post(ch, 3).text == "Noted: team size = 2."
    bot.say(ch, root.ts, "mostly python")
    fourth = bot.next_post(ch, 4)
    assert fourth.question == next_question({"app_type": "web_app", "team_size": 2, "team_language": "python"})
    assert fourth.question not in ("app_type", "team_size", "team_language")

    bot.say(ch, root.ts, "actually we are 30 people")
    changed = bot.next_post(ch, 5)
    assert changed.text.startswith("Changed team size from 2 to 30.")
    st = bot.store().log(TEAM, cid)[-1]
    assert (st.kind, st.question, st.value, st.raw_text) == ("answer", "team_size", 30, "actually we are 30 people")


def test_answered_question_buttons_become_who_answered(bot: Bot) -> None:
    ch = unique("C0UPD")
    root, first = bot.start(ch, "updates")
    action_id, _ = button_for(first.params, "web_app")
    assert bot.click(first, action_id, channel=ch, user=BOB) == 200
    second = bot.next_post(ch, 2)
    assert second.question == next_question({"app_type": "web_app"})
    (update,) = bot.updates(ch)
    assert update.params["ts"] == first.ts
    assert update.params["text"] == f"{first.text.splitlines()[-1]}\nanswered by <@{BOB}>: *Web app*"
    assert [b["type"] for b in update.params["blocks"]] == ["section"]
    # Slack keeps the message, now without buttons.
    (msg,) = [m for m in bot.fake.thread(ch, root.ts) if m["ts"] == first.ts]
    assert "answered by" in msg["text"] and all(b["type"] != "actions" for b in msg["blocks"])


def test_stale_click_changes_that_answer_and_a_redelivered_click_records_once(bot: Bot) -> None:
    ch = unique("C0STL")
    root, first = bot.start(ch, "stale click")
    cid = bot.consultation_id(ch, root.ts)
    bot.say(ch, root.ts, "a static site")
    second = bot.next_post(ch, 2)
    assert second.question == next_question({"app_type": "static_site"})

    # A click on the first (already answered) question, delivered twice.
    action_id, value = button_for(first.params, "rest_api")
    body, ctype = bot.click_body(action_id, value, channel=ch, user=ALICE, team=TEAM, message_ts=first.ts,
                                 thread_ts=root.ts, action_ts=now_ts())
    assert bot.post(body, ctype)[0] == 200
    changed = bot.next_post(ch, 3)
    assert changed.text.startswith("Changed app type from Static site to REST API.")
    assert bot.post(body, ctype)[0] == 200

    sentinel(bot, ch, root, 4)
    time.sleep(1.2)  # the duplicate's lazy listener runs after its ack: give a late post time to show up
    assert len(bot.posts(ch)) == 5
    log = bot.store().log(TEAM, cid)
    assert [(e.question, e.value) for e in log] == [("app_type", "static_site"), ("app_type", "rest_api")]
    updates = [u.params["text"] for u in bot.updates(ch)]
    assert updates[-1].endswith(f"answered by <@{ALICE}>: *REST API*")
    assert len(updates) == 2  # one per stored answer, none for the duplicate


def test_a_redelivered_event_is_stored_once(bot: Bot) -> None:
    ch = unique("C0DUP")
    root, _ = bot.start(ch, "retries")
    cid = bot.consultation_id(ch, root.ts)
    ts = now_ts()
    event = {"type": "message", "channel": ch, "user": ALICE, "text": "a web app", "ts": ts, "thread_ts": root.ts}
    assert bot.event(event, event_id="Ev0DUPLICATE1") == 200
    assert bot.next_post(ch, 2).question == next_question({"app_type": "web_app"})
    assert bot.event(event, event_id="Ev0DUPLICATE1",
                     headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}) == 200
    sentinel(bot, ch, root, 3)
    assert len(bot.store().log(TEAM, cid)) == 1


def test_the_bot_ignores_its_own_messages_other_threads_edits_and_deletions(bot: Bot) -> None:
    ch = unique("C0IGN")
    root, _ = bot.start(ch, "ignore")
    other_root, _ = bot.start(unique("C0IGX"), "elsewhere")
    cid = bot.consultation_id(ch, root.ts)
    ts = now_ts()
    ignored = [
        # The bot's own reply in the thread (as Slack sends it: bot_id and the bot user).
        {"user": BOT_USER, "bot_id": "B0FAKEBOT", "text": "a web app", "thread_ts": root.ts},
        # Other apps' messages: a legacy bot_message, and a modern app post (its bot user, its bot_id).
        {"subtype": "bot_message", "bot_id": "B0OTHER", "text": "a web app", "thread_ts": root.ts},
        {"user": "U0OTHERBOT", "bot_id": "B0OTHER", "app_id": "A0OTHER", "text": "a web app", "thread_ts": root.ts},
        # The bot user without bot_id.
        {"user": BOT_USER, "text": "a web app", "thread_ts": root.ts},
        # A message in the channel, not in a thread; one in an unrelated thread; the root itself.
        {"user": ALICE, "text": "a web app"},
        {"user": ALICE, "text": "a web app", "thread_ts": now_ts()},
        {"user": ALICE, "text": "a web app", "thread_ts": other_root.ts},
        # Edits and deletions of thread messages.
        {"subtype": "message_changed", "hidden": True, "thread_ts": root.ts, "user": ALICE,
         "message": {"type": "message", "user": ALICE, "text": "a web app", "ts": ts, "thread_ts": root.ts},
         "previous_message": {"type": "message", "user": ALICE, "text": "a static site", "ts": ts}},
        {"subtype": "message_deleted", "hidden": True, "thread_ts": root.ts, "user": ALICE, "deleted_ts": ts,
         "previous_message": {"type": "message", "user": ALICE, "text": "a web app", "ts": ts}},
    ]
    for fields in ignored:
        event = {"type": "message", "channel": ch, "ts": now_ts(), **fields}
        assert bot.event(event) == 200
    status = sentinel(bot, ch, root, 2)
    assert "• no answers yet" in status.text
    assert bot.store().log(TEAM, cid) == []


def test_only_the_starter_or_an_answerer_may_decide_or_cancel(bot: Bot) -> None:
    ch = unique("C0WHO")
    root, first = bot.start(ch, "who decides", user=ALICE)
    store = bot.store()
    cid = bot.consultation_id(ch, root.ts)
    number = store.db.execute("SELECT number FROM consultations WHERE id = ?", [cid]).fetchone()[0]
    bot.say(ch, root.ts, "a web app", user=BOB)
    bot.next_post(ch, 2)

    # Carol neither started nor answered: typed decide, typed cancel, /framework cancel, Adopt click.
    bot.say(ch, root.ts, "decide django because I like it", user=CAROL)
    refused = bot.next_post(ch, 3)
    assert refused.text == ("Only the person who started this consultation or someone who answered in it can "
                            "record the decision.")
    bot.say(ch, root.ts, "cancel", user=CAROL)
    assert bot.next_post(ch, 4).text == ("Only the person who started this consultation or someone who answered "
                                         "in it can cancel it.")
    status, ack = bot.command(f"cancel {number}", channel=ch, user=CAROL)
    assert status == 200 and ack["text"].startswith("Only the person who started this consultation")
    assert bot.click(first, "fa_decide_node", {"c": cid, "f": "node"}, channel=ch, user=CAROL) == 200
    (eph,) = wait_until(lambda: bot.ephemerals(ch), what="an ephemeral refusal")
    assert eph.params["user"] == CAROL and eph.params["thread_ts"] == root.ts
    assert eph.params["text"].startswith("Only the person who started this consultation")
    assert bot.store().count_decisions(TEAM) == store.count_decisions(TEAM)
    assert bot.store().get_consultation(TEAM, cid).status == "open"
    assert [d for d in bot.store().decisions(TEAM, limit=100) if d.consultation_id == cid] == []

    # Bob answered, so he may cancel.
    bot.say(ch, root.ts, "cancel", user=BOB)
    assert bot.next_post(ch, 5).text == "This consultation is cancelled. Nothing was decided."
    assert bot.store().get_consultation(TEAM, cid).status == "cancelled"


def test_a_resubmitted_decide_dialog_or_redelivered_decide_event_records_one_decision(bot: Bot) -> None:
    ch = unique("C0DEC")
    root, first = bot.start(ch, "decided once")
    cid = bot.consultation_id(ch, root.ts)
    # [Adopt Flask] opens the decide dialog; it records nothing by itself.
    assert bot.click(first, "fa_decide_flask", {"c": cid, "f": "flask"}, channel=ch, user=ALICE) == 200
    (view,) = wait_until(lambda: [v for v in bot.opened_views("fa_decide")
                                  if json.loads(v["private_metadata"])["c"] == cid], what="the decide dialog")
    assert bot.store().get_consultation(TEAM, cid).status == "open"
    assert bot.submit(view, fa_rationale="we run it") == (200, None)
    assert bot.next_post(ch, 2).text.startswith("Decision ")
    assert bot.submit(view, fa_rationale="we run it") == (200, None)  # the same view submitted again
    time.sleep(1.0)

    ch2 = unique("C0DEC")
    root2, _ = bot.start(ch2, "decided once typed")
    event = {"type": "message", "channel": ch2, "user": ALICE, "text": "decide node because JS everywhere",
             "ts": now_ts(), "thread_ts": root2.ts}
    assert bot.event(event, event_id="Ev0DECIDE01") == 200
    assert bot.event(event, event_id="Ev0DECIDE01",
                     headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}) == 200
    assert bot.next_post(ch2, 2).text.startswith("Decision ")

    decisions = [d for d in bot.store().decisions(TEAM, limit=100) if d.channel in (ch, ch2)]
    assert sorted((d.channel, d.framework, d.status) for d in decisions) == [
        (ch, "flask", "accepted"), (ch2, "node", "accepted")]
    assert len(bot.posts(ch)) == 3 and len(bot.posts(ch2)) == 3


def test_an_answer_to_another_question_is_noted_without_asking_the_open_one_again(bot: Bot) -> None:
    ch = unique("C0VOL")
    root, first = bot.start(ch, "volunteered answer")
    cid = bot.consultation_id(ch, root.ts)
    assert bot.say(ch, root.ts, "a web app") == 200
    second = bot.next_post(ch, 2)
    assert second.question == next_question({"app_type": "web_app"}) == "team_language"
    assert bot.say(ch, root.ts, "about 12 of us") == 200  # not a language, clearly the team's size
    note = bot.next_post(ch, 3)
    assert note.text == "Noted: team size = 12."
    assert note.thread_ts == root.ts and note.question is None
    log = bot.store().log(TEAM, cid)
    assert [(e.question, e.value) for e in log] == [("app_type", "web_app"), ("team_size", 12)]
    # The open question is still the team's language: the next post is the reply to its answer, not a repeat.
    sentinel(bot, ch, root, 4)
