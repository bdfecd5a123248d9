"""bot.understanding: one reading per line, on the examples the issue reported as misread."""

from __future__ import annotations

import pytest

from bot.parsing import load_questions
from bot.understanding import understand

QUESTIONS = load_questions()


def read(text: str, open_q: str | None, recommended: bool = False, **kw):
    return understand(QUESTIONS, text, open=open_q, recommended=recommended, **kw)


@pytest.mark.parametrize(("open_q", "text", "name"), [
    ("team_size", "skip this one", "skip"), ("team_size", "oops, go back one", "back"),
    ("realtime", "skip please", "skip"), ("realtime", "restart please", "restart"), ("realtime", "back please", "back"),
    ("team_size", "undo that", "back"), ("hiring", "skip for now", "skip"), ("hiring", "can we skip this?", "skip"),
    ("hiring", "next question", "skip"), ("hiring", "where are we?", "status"),
    ("hiring", "how did you get that?", "how"), ("hiring", "why does it matter?", "why"),
    ("hiring", "what are my options?", "help"), ("hiring", "cancel this", "cancel"),
    ("hiring", "start over please", "restart"), ("needs_admin", "<@UBOT1> skip", "skip"),
    ("duration", "Skip!", "skip"), ("duration", "set team_size=30", "set"),
])
def test_commands_with_filler_are_commands_and_store_nothing(open_q: str, text: str, name: str) -> None:
    u = read(text, open_q)
    assert u.command is not None and u.command.name == name and u.answers == {}


@pytest.mark.parametrize(("open_q", "text", "expected"), [
    ("app_type", "set up a REST API", {"app_type": "rest_api"}),
    ("needs_admin", "back office yes", {"needs_admin": "yes"}),
    ("team_size", "how many? about 10", {"team_size": 10}),
])
def test_lines_that_only_look_like_commands_are_answers(open_q: str, text: str, expected: dict) -> None:
    u = read(text, open_q)
    assert u.command is None and u.answers == expected


@pytest.mark.parametrize(("text", "recommended", "framework", "rationale"), [
    ("let's go with django because the team knows it", False, "django", "the team knows it"),
    ("we'll pick flask", False, "flask", None),
    ("go with node", False, "node", None),
    ("Node.js it is", False, "node", None),
    ("adopt", True, "flask", None),
    ("go with the recommendation, since we run python everywhere", True, "flask", "we run python everywhere"),
    ("sounds good, let's do it", True, "flask", None),
])
def test_decisions_in_plain_words(text: str, recommended: bool, framework: str, rationale: str | None) -> None:
    u = read(text, "team_language" if not recommended else None, recommended, recommendation="flask")
    assert u.command is not None and u.command.name == "decide"
    assert (u.command.framework, u.command.rationale) == (framework, rationale)


def test_decide_later_is_no_decision_and_says_so() -> None:
    u = read("decide later", None, True, recommendation="django")
    assert u.command is None and u.answers == {} and "not a decision" in (u.refused or "")


def test_sounds_good_before_a_recommendation_is_no_decision() -> None:
    u = read("sounds good", "realtime")
    assert u.command is None


@pytest.mark.parametrize(("open_q", "text", "expected"), [
    ("app_type", "we are a team of 6 python devs building an internal dashboard for our sales team",
     {"app_type": "web_app", "team_size": 6, "team_language": "python"}),
    ("team_size", "3 months", {"duration": "medium"}),
    ("team_size", "3 backend + 2 frontend", {"team_size": 5}),
    ("team_size", "two teams of 6", {"team_size": 12}),
    ("team_size", "40 across 3 squads", {"team_size": 40}),
    ("team_size", "<@U123ABC> and I", {"team_size": 2}),
    ("team_size", "<@UBOT1> 12", {"team_size": 12}),
    ("realtime", "postgres is required", {"database": "relational"}),
    ("hiring", "we're hiring for other teams, not this one", {"hiring": "no"}),
    ("serverless", "no servers to manage, ideally", {"serverless": "yes"}),
    ("performance_critical", "speed of development matters more", {"performance_critical": "no"}),
    ("realtime", "no chat, but we need live updates on the order page", {"realtime": "yes"}),
    ("flexibility", "conventions &gt; freedom", {"flexibility": "conventions"}),
    ("team_language", "why not both", {"team_language": "both"}),
    ("team_language", "pyhton", {"team_language": "python"}),
    ("team_language", "javscript", {"team_language": "javascript"}),
    ("project_size", "smal", {"project_size": "small"}),
    ("project_size", "smallish", {"project_size": "small"}),
    ("experience", "beginers", {"experience": "beginner"}),
    ("experience", "10+ years", {"experience": "experienced"}),
    ("experience", "fresh grads", {"experience": "beginner"}),
    ("database", "postgress", {"database": "relational"}),
    ("serverless", "serveless", {"serverless": "yes"}),
    ("duration", "a decade", {"duration": "long"}),
    (None, "we also need lots of forms", {"needs_forms": "yes"}),
    # a leading yes goes with the yes/no question the next clause names, not with the open one...
    ("realtime", "yes, an admin for the office managers", {"needs_admin": "yes"}),
    # ...but stays the open question's after a contrast, and a no stays the open question's
    ("realtime", "yes, but we also need an admin", {"realtime": "yes", "needs_admin": "yes"}),
    ("realtime", "no, but we need forms", {"realtime": "no", "needs_forms": "yes"}),
])
def test_what_a_line_states_is_stored(open_q: str | None, text: str, expected: dict) -> None:
    assert read(text, open_q, open_q is None).answers == expected


@pytest.mark.parametrize(("open_q", "text"), [
    ("team_size", "we're 3 teams"),  # teams are no head count
    ("team_size", "in 2 weeks"),  # a deadline: neither a head count nor a lifetime
    ("realtime", "never mind"),
    ("team_size", "hmm let me check with the backend folks"),
    ("realtime", "not really, maybe push notifications later"),
    ("team_language", "there are some of us"),  # "there" is no typo of "three"
])
def test_nothing_is_stored(open_q: str, text: str) -> None:
    u = read(text, open_q)
    assert u.answers == {} and u.command is None


def test_side_talk_is_chatter_and_a_failed_try_is_refused() -> None:
    assert read("hmm let me check with the backend folks", "team_size").kind == "chatter"
    assert read("we're 3 teams", "team_size").kind == "refused"
    hedge = read("not really, maybe push notifications later", "realtime")
    assert hedge.kind == "hedge" and hedge.refused.startswith("Take your time")


def test_an_answered_question_changes_only_with_a_correction() -> None:
    answered = {"team_size": 5}
    assert read("we are 30 people", "hiring", answers=answered).answers == {}
    assert read("actually we are 30 people", "hiring", answers=answered).answers == {"team_size": 30}


def test_any_text_is_read_without_raising() -> None:
    for text in ("", "?", "<<<>>>", "&gt;&gt;", "\x00", "9" * 5000, "decide", "let's go with", "<@U1>"):
        u = read(text, "team_size")
        assert u.kind in ("command", "answers", "refused", "hedge", "chatter")


def test_two_alternatives_are_asked_back_not_guessed() -> None:
    u = read("5 or 6", "team_size")
    assert u.answers == {} and u.refused.startswith("Which is it, 5 or 6?")


@pytest.mark.parametrize(("open_q", "text", "expected"), [
    ("team_size", "10 devs + 2 designers", {"team_size": 10}),  # designers are no developers
    ("team_size", "2 squads of 4 + a tech lead", {"team_size": 9}),
    ("hiring", "yes, 2 more backend devs next quarter", {"hiring": "yes"}),  # to hire, not the team
    ("experience", "less than a year", {"experience": "beginner"}),
    ("duration", "we need it in 2 weeks but it'll be maintained for years", {"duration": "long"}),
    ("team_language", "mostly python, a couple of folks know node", {"team_language": "python"}),
    ("app_type", "a microservice (payments), the rest of the platform is node", {"app_type": "microservice"}),
    ("database", "~mongo~ postgres", {"database": "relational"}),
])
def test_units_dominance_and_markup(open_q: str, text: str, expected: dict) -> None:
    assert read(text, open_q).answers == expected


@pytest.mark.parametrize(("open_q", "text", "name"), [
    ("serverless", "wait, why does it matter if it's serverless", "why"),
    (None, "how'd you get there? show your working pls", "how"),
    ("database", "reset everything and start again", "restart"),
    ("needs_admin", "wait go back one, I fat-fingered that", "back"),
    ("ml_integration", "pls set hiring=yes", "set"),
])
def test_commands_in_everyday_sentences(open_q: str | None, text: str, name: str) -> None:
    u = read(text, open_q, open_q is None)
    assert u.command is not None and u.command.name == name and u.answers == {}


@pytest.mark.parametrize(("open_q", "text"), [
    ("realtime", "what counts as real-time?"), ("ml_integration", "we call the OpenAI API, does that count?"),
    ("realtime", "maybe eventually? PM keeps mentioning notifications"),
    ("team_size", "hmm let me check with <@U0ABC123>"),
])
def test_questions_back_and_doubts_store_nothing(open_q: str, text: str) -> None:
    assert read(text, open_q).answers == {}
