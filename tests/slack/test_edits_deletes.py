"""People edit and delete their answers, and share files with a comment, in the thread."""

from __future__ import annotations

from tests.slack.helpers import ALICE, BOB, TEAM, Bot, next_question, now_ts, unique


def _changed(bot: Bot, ch: str, thread: str, ts: str, old: str, new: str, user: str = ALICE) -> int:
    return bot.event({"type": "message", "subtype": "message_changed", "channel": ch, "hidden": True,
                      "ts": now_ts(), "event_ts": now_ts(),
                      "message": {"type": "message", "user": user, "text": new, "ts": ts, "thread_ts": thread,
                                  "edited": {"user": user, "ts": now_ts()}},
                      "previous_message": {"type": "message", "user": user, "text": old, "ts": ts,
                                           "thread_ts": thread}})


def _deleted(bot: Bot, ch: str, thread: str, ts: str, old: str, user: str = ALICE) -> int:
    return bot.event({"type": "message", "subtype": "message_deleted", "channel": ch, "hidden": True,
                      "ts": now_ts(), "event_ts": now_ts(), "deleted_ts": ts,
                      "previous_message": {"type": "message", "user": user, "text": old, "ts": ts,
                                           "thread_ts": thread}})


def test_an_edited_answer_replaces_it_and_a_deleted_one_is_withdrawn(bot: Bot) -> None:
    ch = unique("C0EDIT")
    root, _ = bot.start(ch, "edits")
    cid = bot.consultation_id(ch, root.ts)
    bot.say(ch, root.ts, "a web app")
    assert bot.next_post(ch, 2).question == next_question({"app_type": "web_app"}) == "team_language"
    ts = now_ts()
    bot.say(ch, root.ts, "mostly python", ts=ts)
    assert bot.next_post(ch, 3).question == next_question({"app_type": "web_app", "team_language": "python"})

    assert _changed(bot, ch, root.ts, ts, "mostly python", "mostly JS devs") == 200
    changed = bot.next_post(ch, 4)
    assert changed.text.startswith("Changed team language from Python to JavaScript."), changed.text
    last = bot.store().log(TEAM, cid)[-1]
    assert (last.question, last.value, last.raw_text) == ("team_language", "javascript", "mostly JS devs")

    assert _deleted(bot, ch, root.ts, ts, "mostly JS devs") == 200
    withdrawn = bot.next_post(ch, 5)
    assert withdrawn.text.startswith("Withdrawn: the answer to team language"), withdrawn.text
    log = bot.store().log(TEAM, cid)
    assert log[-1].kind == "withdraw"
    assert "mostly JS devs" not in [e.raw_text for e in log]  # the deleted words are erased


def test_edits_of_other_messages_and_of_other_people_do_nothing(bot: Bot) -> None:
    ch = unique("C0EDIT2")
    root, _ = bot.start(ch, "chatter edits")
    ts = now_ts()
    bot.say(ch, root.ts, "a web app", ts=ts)
    bot.next_post(ch, 2)
    assert _changed(bot, ch, root.ts, now_ts(), "hmm let me check", "hmm let me check with Bob") == 200
    assert _deleted(bot, ch, root.ts, ts, "a web app", user=BOB) == 200  # Bob did not give that answer
    bot.say(ch, root.ts, "status")
    assert bot.next_post(ch, 3).text.startswith("*Status*")  # nothing slipped in before it


def test_a_file_shared_with_a_comment_answers(bot: Bot) -> None:
    ch = unique("C0FILE")
    root, first = bot.start(ch, "files")
    assert bot.say(ch, root.ts, "a web app, see the mockups", subtype="file_share",
                   files=[{"id": "F0MOCK", "name": "mockups.png"}]) == 200
    assert bot.next_post(ch, 2).question == next_question({"app_type": "web_app"})
