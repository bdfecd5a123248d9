"""What people type in a thread, read once: side talk, several answers, commands with filler, plain decisions."""

from __future__ import annotations

from tests.slack.helpers import (
    ALICE,
    BEFORE_TEAM_SIZE,
    BEFORE_TEAM_SIZE_ANSWERS,
    TEAM,
    Bot,
    next_question,
    now_ts,
    unique,
    wait_until,
)


def test_side_talk_gets_a_reaction_and_no_public_reply(bot: Bot) -> None:
    ch = unique("C0CHAT")
    root, first = bot.start(ch, "chatter")
    assert first.question == "app_type"
    ts = now_ts()
    bot.say(ch, root.ts, "hmm let me check with the backend folks", ts=ts)
    wait_until(lambda: bot.fake.reactions(ch, ts), what="a reaction on the side talk")
    assert bot.fake.reactions(ch, ts) == ["speech_balloon"]
    bot.say(ch, root.ts, "a web app")
    nxt = bot.next_post(ch, 2)
    assert nxt.question == next_question({"app_type": "web_app"})  # nothing was posted for the side talk before it
    assert "didn't catch" not in " ".join(p.text for p in bot.posts(ch))
    cid = bot.consultation_id(ch, root.ts)
    assert [e.raw_text for e in bot.store().log(TEAM, cid)] == ["a web app"]


def test_a_failed_try_at_the_open_question_still_gets_a_reply(bot: Bot) -> None:
    ch = unique("C0TRY")
    root, _ = bot.start(ch, "tries")
    cid = bot.consultation_id(ch, root.ts)
    # The team size is asked last: one line answers everything before it, so that it is the open question.
    assert next_question(BEFORE_TEAM_SIZE_ANSWERS) == "team_size"
    bot.say(ch, root.ts, BEFORE_TEAM_SIZE)
    assert bot.next_post(ch, 2).question == "team_size"
    assert bot.store().log(TEAM, cid)[-1].value == BEFORE_TEAM_SIZE_ANSWERS
    ts = now_ts()
    bot.say(ch, root.ts, "we're 3 teams", ts=ts)  # a number, but of teams: refused aloud
    reply = bot.next_post(ch, 3)
    assert "number of teams" in reply.text, reply.text
    assert bot.fake.reactions(ch, ts) == []


def test_one_line_with_several_answers_is_stored_once_and_undone_at_once(bot: Bot) -> None:
    ch = unique("C0MULTI")
    root, _ = bot.start(ch, "multi")
    cid = bot.consultation_id(ch, root.ts)
    bot.say(ch, root.ts, "we are a team of 6 python devs building an internal dashboard for our sales team")
    got = bot.next_post(ch, 2)
    assert got.text.startswith("Got it: Web app · 6 developers · Python."), got.text
    state = bot.store().log(TEAM, cid)
    assert [(e.kind, e.value) for e in state] == [
        ("answers", {"app_type": "web_app", "team_size": 6, "team_language": "python"})]
    bot.say(ch, root.ts, "oops, go back one please")
    undone = bot.next_post(ch, 3)
    assert undone.text.startswith("Undone."), undone.text
    assert undone.question == "app_type"  # all three answers were taken back together


def test_plain_words_decide_after_the_recommendation(bot: Bot) -> None:
    ch = unique("C0DECIDE")
    root, _ = bot.start(ch, "decide")
    # Enough for a recommendation: set commands keep this test about the decision line.
    for line in ("a static site", "just me", "a few weeks", "no", "no", "no", "nope", "no", "no", "no", "no",
                 "no", "beginners", "python", "freedom", "none", "small", "no"):
        n = len(bot.posts(ch))
        bot.say(ch, root.ts, line)
        post = bot.next_post(ch, n)
        if "Recommendation" in post.text:
            break
    else:
        raise AssertionError("no recommendation reached")
    n = len(bot.posts(ch))
    bot.say(ch, root.ts, "sounds good, let's do it because it is only a landing page", user=ALICE)
    decision = bot.next_post(ch, n)
    assert decision.text.startswith("Decision 1 recorded:"), decision.text
    assert "Rationale: it is only a landing page" in decision.text
