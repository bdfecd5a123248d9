"""Tests for bot.parsing: typed text -> canonical answers, commands and corrections."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import parsing
from bot.parsing import Command, Parsed, find_correction, load_questions, parse_answer, parse_command

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = load_questions(ROOT / "knowledge" / "questions.toml")
Q = {q.id: q for q in QUESTIONS}

# (question id, what a person types, expected canonical value)
PHRASINGS: list[tuple[str, str, str | int]] = [
    # team_size: digits, words, vague quantities, ranges (midpoint rounded half up)
    ("team_size", "12", 12),
    ("team_size", "We are 12", 12),
    ("team_size", "a dozen", 12),
    ("team_size", "twelve", 12),
    ("team_size", "twenty-five", 25),
    ("team_size", "twenty five developers", 25),
    ("team_size", "a couple of devs", 2),
    ("team_size", "a handful", 5),
    ("team_size", "a few of us", 3),
    ("team_size", "5-8 people", 7),
    ("team_size", "5 to 8", 7),
    ("team_size", "between 10 and 15 engineers", 13),
    ("team_size", "about 20", 20),
    ("team_size", "~15", 15),
    ("team_size", "just me", 1),
    ("team_size", "Only me, solo project", 1),
    ("team_size", "1,200", 1200),
    ("team_size", "one hundred and twenty", 120),
    ("team_size", "two dozen engineers", 24),
    ("team_size", "half a dozen", 6),
    ("team_size", "1.5k", 1500),
    ("team_size", "ten thousand", 10000),
    ("team_size", "team of three", 3),
    ("team_size", "maybe 5", 5),
    ("team_size", "  40 people  ", 40),
    ("team_size", "me and 3 others", 4),
    ("team_size", "myself and a friend", 2),
    ("team_size", "5/6", 6),
    ("team_size", "a hundred", 100),
    # app_type
    ("app_type", "a web app", "web_app"),
    ("app_type", "Web application with user accounts", "web_app"),
    ("app_type", "an e-commerce site", "web_app"),
    ("app_type", "SaaS dashboard", "web_app"),
    ("app_type", "REST API", "rest_api"),
    ("app_type", "an API for our mobile app", "rest_api"),
    ("app_type", "JSON API", "rest_api"),
    ("app_type", "backend for our mobile app", "rest_api"),
    ("app_type", "rest_api", "rest_api"),
    ("app_type", "microservices", "microservice"),
    ("app_type", "a small service in a bigger system", "microservice"),
    ("app_type", "static site", "static_site"),
    ("app_type", "just a landing page", "static_site"),
    ("app_type", "a blog", "static_site"),
    ("app_type", "quick prototype", "prototype"),
    ("app_type", "an MVP", "prototype"),
    ("app_type", "proof of concept for a hackathon", "prototype"),
    ("app_type", "Not a static site, a web app", "web_app"),
    # project_size
    ("project_size", "small", "small"),
    ("project_size", "tiny side project", "small"),
    ("project_size", "not that big", "small"),
    ("project_size", "medium", "medium"),
    ("project_size", "mid-sized", "medium"),
    ("project_size", "neither small nor large", "medium"),
    ("project_size", "large", "large"),
    ("project_size", "BIG", "large"),
    ("project_size", "enterprise-scale", "large"),
    ("project_size", "huge, lots of features", "large"),
    # duration
    ("duration", "a few weeks", "short"),
    ("duration", "short-lived", "short"),
    ("duration", "one-off for an event", "short"),
    ("duration", "a few months", "medium"),
    ("duration", "about six months", "medium"),
    ("duration", "medium term", "medium"),
    ("duration", "years", "long"),
    ("duration", "long term", "long"),
    ("duration", "we'll maintain it for years", "long"),
    ("duration", "indefinitely", "long"),
    ("duration", "ongoing product", "long"),
    # realtime
    ("realtime", "yes", "yes"),
    ("realtime", "yes, we need chat", "yes"),
    ("realtime", "live updates", "yes"),
    ("realtime", "websockets for sure", "yes"),
    ("realtime", "push notifications", "yes"),
    ("realtime", "Real-time collaborative editing", "yes"),
    ("realtime", "no", "no"),
    ("realtime", "no chat features", "no"),
    ("realtime", "not really", "no"),
    ("realtime", "definitely not", "no"),
    ("realtime", "no real-time", "no"),
    ("realtime", "nope, plain request/response", "no"),
    ("realtime", "chat isn't needed", "no"),
    ("realtime", "we don't need websockets", "no"),
    ("realtime", "nothing real-time", "no"),
    ("realtime", "No thanks", "no"),
    # A negation is shared along a list of the question's own phrases.
    ("realtime", "we don't need chat and push notifications", "no"),
    ("realtime", "no chat or live updates", "no"),
    ("realtime", "chat and push notifications are not needed", "no"),
    ("realtime", "chat and push notifications", "yes"),
    # team_language
    ("team_language", "python", "python"),
    ("team_language", "mostly Python devs", "python"),
    ("team_language", "pythonistas", "python"),
    ("team_language", "JavaScript", "javascript"),
    ("team_language", "mostly JS folks", "javascript"),
    ("team_language", "Node.js", "javascript"),
    ("team_language", "TypeScript", "javascript"),
    ("team_language", "front-end devs mostly", "javascript"),
    ("team_language", "both", "both"),
    ("team_language", "python and js", "both"),
    ("team_language", "a bit of both", "both"),
    ("team_language", "Java", "other"),
    ("team_language", "C#", "other"),
    ("team_language", "golang", "other"),
    ("team_language", "something else", "other"),
    # one_language
    ("one_language", "yes", "yes"),
    ("one_language", "one language everywhere", "yes"),
    ("one_language", "JS everywhere please", "yes"),
    ("one_language", "we want to share code between front end and back end", "yes"),
    ("one_language", "no", "no"),
    ("one_language", "two languages are fine", "no"),
    ("one_language", "separate front-end and back-end teams", "no"),
    ("one_language", "not important", "no"),
    # experience
    ("experience", "beginners", "beginner"),
    ("experience", "mostly juniors", "beginner"),
    ("experience", "new to web development", "beginner"),
    ("experience", "not very experienced", "beginner"),
    ("experience", "intermediate", "intermediate"),
    ("experience", "mid-level", "intermediate"),
    ("experience", "some experience", "intermediate"),
    ("experience", "experienced", "experienced"),
    ("experience", "senior devs", "experienced"),
    ("experience", "seasoned veterans", "experienced"),
    ("experience", "a mix of juniors and seniors", "intermediate"),
    # hiring
    ("hiring", "yes", "yes"),
    ("hiring", "we're hiring", "yes"),
    ("hiring", "need to hire three devs", "yes"),
    ("hiring", "growing the team next quarter", "yes"),
    ("hiring", "no", "no"),
    ("hiring", "not hiring", "no"),
    ("hiring", "we aren't hiring", "no"),
    ("hiring", "hiring freeze", "no"),
    ("hiring", "current team only", "no"),
    ("hiring", "not yet", "no"),
    # needs_admin
    ("needs_admin", "yes", "yes"),
    ("needs_admin", "an admin panel", "yes"),
    ("needs_admin", "back office for staff", "yes"),
    ("needs_admin", "correct, a back-office", "yes"),
    ("needs_admin", "nope", "no"),
    ("needs_admin", "we don't need an admin", "no"),
    ("needs_admin", "no admin", "no"),
    ("needs_admin", "an admin is not needed", "no"),
    ("needs_admin", "users only", "no"),
    # A bare "no" about another topic does not answer this question.
    ("needs_admin", "We need an admin but no forms", "yes"),
    ("needs_admin", "no forms and an admin", "yes"),
    # needs_forms
    ("needs_forms", "yes", "yes"),
    ("needs_forms", "sign-up forms", "yes"),
    ("needs_forms", "checkout and login form", "yes"),
    ("needs_forms", "lots of data entry", "yes"),
    ("needs_forms", "nah", "no"),
    ("needs_forms", "no forms", "no"),
    ("needs_forms", "read-only", "no"),
    ("needs_forms", "there won't be any forms", "no"),
    # database
    ("database", "relational", "relational"),
    ("database", "Postgres", "relational"),
    ("database", "MySQL", "relational"),
    ("database", "sql", "relational"),
    ("database", "NoSQL", "nosql"),
    ("database", "no-sql", "nosql"),
    ("database", "MongoDB", "nosql"),
    ("database", "a document store", "nosql"),
    ("database", "none", "none"),
    ("database", "no database", "none"),
    ("database", "we don't need a database", "none"),
    ("database", "stateless", "none"),
    ("database", "not mongo, postgres", "relational"),
    ("database", "PostgreSQL with a Redis cache", "relational"),
    # flexibility
    ("flexibility", "conventions", "conventions"),
    ("flexibility", "batteries included", "conventions"),
    ("flexibility", "opinionated, one way to do things", "conventions"),
    ("flexibility", "freedom", "freedom"),
    ("flexibility", "we want to pick our own libraries", "freedom"),
    ("flexibility", "lightweight and flexible", "freedom"),
    ("flexibility", "no preference", "no_preference"),
    ("flexibility", "don't care", "no_preference"),
    ("flexibility", "either is fine", "no_preference"),
    ("flexibility", "doesn't matter", "no_preference"),
    # ml_integration
    ("ml_integration", "yes", "yes"),
    ("ml_integration", "machine learning models", "yes"),
    ("ml_integration", "we use pandas and numpy", "yes"),
    ("ml_integration", "some data science", "yes"),
    ("ml_integration", "no", "no"),
    ("ml_integration", "no ML", "no"),
    ("ml_integration", "just CRUD", "no"),
    ("ml_integration", "no machine learning at all", "no"),
    # performance_critical
    ("performance_critical", "yes", "yes"),
    ("performance_critical", "high traffic", "yes"),
    ("performance_critical", "low latency is key", "yes"),
    ("performance_critical", "millions of requests a day", "yes"),
    ("performance_critical", "no", "no"),
    ("performance_critical", "performance is not critical", "no"),
    ("performance_critical", "fast enough is fine", "no"),
    ("performance_critical", "internal tool, few users", "no"),
    # serverless
    ("serverless", "yes", "yes"),
    ("serverless", "serverless", "yes"),
    ("serverless", "AWS Lambda", "yes"),
    ("serverless", "cloud functions", "yes"),
    ("serverless", "no", "no"),
    ("serverless", "kubernetes", "no"),
    ("serverless", "our own servers", "no"),
    ("serverless", "not serverless", "no"),
    # generic yes/no words and Slack noise around an answer
    ("realtime", "Yep", "yes"),
    ("needs_admin", "of course", "yes"),
    ("needs_admin", "of course not", "no"),
    ("hiring", "absolutely", "yes"),
    ("ml_integration", "sure", "yes"),
    ("serverless", "y", "yes"),
    ("serverless", "n", "no"),
    ("needs_forms", ":+1:", "yes"),
    ("realtime", "<@U123ABC> yes, live updates", "yes"),
    ("app_type", "<!channel> it's a REST API", "rest_api"),
    ("app_type", "see <https://example.com/spec|our REST API spec>", "rest_api"),
    ("team_size", "12 \x00people\u200b", 12),
]


@pytest.mark.parametrize(("qid", "text", "expected"), PHRASINGS)
def test_phrasing(qid: str, text: str, expected: str | int) -> None:
    result = parse_answer(Q[qid], text)
    assert result == Parsed(ok=True, value=expected, message=None), result


def test_table_is_broad() -> None:
    per_question = Counter(qid for qid, _, _ in PHRASINGS)
    assert len(PHRASINGS) >= 170
    assert set(per_question) == set(Q)
    assert min(per_question.values()) >= 6, per_question


# (question id, text, words the clarification must contain)
FAILURES: list[tuple[str, str, list[str]]] = [
    ("app_type", "banana", ["Web app", "REST API", "Microservice", "Static site", "Prototype", "skip"]),
    ("app_type", "not a static site", ["Web app", "REST API", "Static site", "skip"]),
    ("app_type", "a REST API for a web app", ["Web app", "REST API", "Which one"]),
    ("app_type", "no idea", ["skip", "Web app"]),
    ("realtime", "banana", ["Yes", "No", "skip"]),
    ("realtime", "yes and no", ["Yes", "No"]),
    ("realtime", "not sure", ["skip", "Yes", "No"]),
    ("realtime", "maybe", ["skip"]),
    ("team_language", "klingon", ["Python", "JavaScript", "Both", "Something else"]),
    ("database", "not sql", ["Relational (SQL)", "NoSQL", "None"]),
    ("database", "postgres and mongo", ["Relational (SQL)", "NoSQL"]),
    ("project_size", "", ["Small", "Medium", "Large"]),
    ("project_size", "   ", ["Small", "Medium", "Large"]),
    ("experience", "dunno", ["skip", "Beginner"]),
    ("team_size", "lots", ["1", "10000", "whole number"]),
    ("team_size", "0", ["1", "10000"]),
    ("team_size", "20000 people", ["1", "10000"]),
    ("team_size", "-3", ["1", "10000"]),
    ("team_size", "a million", ["1", "10000"]),
    ("team_size", "5 devs and 2 designers", ["more than one number"]),
    ("team_size", "2.5", ["whole number"]),
    ("team_size", "not sure", ["skip"]),
    ("team_size", "hundred", ["whole number"]),
    ("needs_admin", "no forms", ["Yes", "No"]),
    ("realtime", "no, we need chat", ["Yes", "No", "Which one"]),
    ("team_size", "", ["whole number", "1", "10000"]),
]


@pytest.mark.parametrize(("qid", "text", "words"), FAILURES)
def test_failure_explains_the_options(qid: str, text: str, words: list[str]) -> None:
    result = parse_answer(Q[qid], text)
    assert not result.ok
    assert result.value is None
    assert result.message
    for word in words:
        assert word in result.message, (word, result.message)


def test_too_long_is_refused_politely() -> None:
    result = parse_answer(Q["app_type"], "REST API " * 600)
    assert not result.ok
    assert "too long" in result.message
    ok = parse_answer(Q["app_type"], "a REST API" + " " * 3900)
    assert ok.ok and ok.value == "rest_api"


def test_parser_reads_synonyms_from_the_given_questions() -> None:
    # A question object built elsewhere (e.g. knowledge.loader) works the same way.
    q = Q["database"].model_copy(update={"id": "db2"})
    assert parse_answer(q, "postgres").value == "relational"


COMMANDS: list[tuple[str, Command | None]] = [
    ("why", Command(name="why")),
    ("Why?", Command(name="why")),
    ("  WHY  ", Command(name="why")),
    ("how", Command(name="how")),
    ("back", Command(name="back")),
    ("undo", Command(name="back")),
    ("skip", Command(name="skip")),
    ("skip.", Command(name="skip")),
    ("restart", Command(name="restart")),
    ("status", Command(name="status")),
    ("quit", Command(name="quit")),
    ("exit", Command(name="quit")),
    ("help", Command(name="help")),
    ("help!", Command(name="help")),
    ("?", Command(name="help")),
    ("cancel", Command(name="cancel")),
    ("stop", Command(name="quit")),
    ("<@U0BOT> why", Command(name="why")),
    ("decide flask because we already run it",
     Command(name="decide", framework="flask", rationale="we already run it")),
    ("Decide Django", Command(name="decide", framework="django")),
    ("decide node", Command(name="decide", framework="node")),
    ("decide node.js because realtime matters.",
     Command(name="decide", framework="node", rationale="realtime matters")),
    ("decide Node JS", Command(name="decide", framework="node")),
    ("decide express", Command(name="decide", framework="node")),
    ("decide on flask, because the team knows it",
     Command(name="decide", framework="flask", rationale="the team knows it")),
    ("decide flask: we already run it", Command(name="decide", framework="flask", rationale="we already run it")),
    ("Decide:  Node.js \u2014 because realtime", Command(name="decide", framework="node", rationale="realtime")),
    ("decide flask because <!channel> said so", Command(name="decide", framework="flask", rationale="said so")),
    ("decide", Command(name="decide")),
    ("decide rails", Command(name="decide", value="rails")),
    ("set team_size=30", Command(name="set", question="team_size", value="30")),
    ("set team_size 30", Command(name="set", question="team_size", value="30")),
    ("SET app_type = REST API", Command(name="set", question="app_type", value="REST API")),
    ("set team size to 8", Command(name="set", question="team_size", value="8")),
    ("set the team size to 9", Command(name="set", question="team_size", value="9")),
    ("set database: none", Command(name="set", question="database", value="none")),
    ("set team_size", Command(name="set", question="team_size")),
    ("set", Command(name="set")),
    # Not commands: these are answers (or chatter) for the answer parser.
    ("why not", None),
    ("yes", None),
    ("a REST API", None),
    ("backend for our mobile app", None),
    ("skip the admin part, we need chat", None),
    ("set up a REST API", None),
    ("we decided on flask", None),
    ("helpful", None),
    ("", None),
    ("decided", None),
]


@pytest.mark.parametrize(("text", "expected"), COMMANDS)
def test_commands(text: str, expected: Command | None) -> None:
    assert parse_command(text) == expected


CORRECTIONS: list[tuple[str, tuple[str, str | int] | None]] = [
    ("actually we are 30 people", ("team_size", 30)),
    ("Actually, we're twelve devs", ("team_size", 12)),
    ("actually it's a REST API", ("app_type", "rest_api")),
    ("correction: we do need an admin", ("needs_admin", "yes")),
    ("correction: we don't need an admin", ("needs_admin", "no")),
    ("change team size to 8", ("team_size", 8)),
    ("change the app type to a prototype", ("app_type", "prototype")),
    ("change admin to no", ("needs_admin", "no")),
    ("change it to a static site", ("app_type", "static_site")),
    ("in fact we use Postgres", ("database", "relational")),
    ("we are now 45 engineers", ("team_size", 45)),
    ("actually no chat", ("realtime", "no")),
    ("actually the team is mostly JS folks", ("team_language", "javascript")),
    ("actually it will last for years", ("duration", "long")),
    ("actually, make that 40 people", ("team_size", 40)),
    ("I meant a prototype", ("app_type", "prototype")),
    ("change language to python", ("team_language", "python")),
    ("Actually we're 5-8 people", ("team_size", 7)),
    # Not corrections.
    ("we are 30 people", None),  # no marker: an ordinary answer
    ("it's a REST API", None),
    ("actually yes", None),  # which question?
    ("actually 30", None),  # a number without a people word
    ("actually I'm not sure it's a REST API", None),  # hedged
    ("actually we are 5 JS devs", None),  # two questions at once
    ("actually it's not a static site", None),  # says only what it is not
    ("actually it's maybe a REST API", None),  # hedged
    ("actually a REST API and a web app", None),  # two values for one question
    ("change team size to lots", None),  # named question, unparseable value
    ("change the world to be better", None),
    ("", None),
    ("actually", None),
]


@pytest.mark.parametrize(("text", "expected"), CORRECTIONS)
def test_corrections(text: str, expected: tuple[str, str | int] | None) -> None:
    assert find_correction(QUESTIONS, text) == expected


SLACK_SAMPLES = [
    "<!channel>", "<!here>", "<!everyone>", "<@U123>", "<#C123|general>", "<https://x|y>",
    "<https://example.com>", "<!subteam^S123|@devs>", "&lt;!channel&gt;", "＜!channel＞", "<<!channel>>",
    "<https://x|<!channel>>", "\x00", "\u202e", "\U0001f44d", "🎉", "\n", "decide flask because ",
    "set team_size=", "actually ", "change ", " to ", "twenty-", "1,", "-", "~", "9" * 50,
]
slack_text = st.lists(st.sampled_from(SLACK_SAMPLES) | st.text(max_size=40), max_size=8).map(" ".join)
any_text = st.text() | slack_text


@settings(max_examples=300, deadline=None)
@given(text=any_text, qid=st.sampled_from(sorted(Q)))
def test_never_raises_and_never_echoes_markup(text: str, qid: str) -> None:
    # The internal functions have no safety net, so a bug cannot hide behind the public one.
    parsed = parsing._parse_answer(Q[qid], text)
    assert isinstance(parsed, Parsed)
    assert parsed.ok == (parsed.value is not None) == (parsed.message is None)
    if parsed.ok:
        if Q[qid].type == "integer":
            assert Q[qid].min <= parsed.value <= Q[qid].max
        else:
            assert parsed.value in Q[qid].allowed
    else:
        assert "<!" not in parsed.message and "<@" not in parsed.message
    command = parsing._parse_command(text)
    if command is not None:
        for field in (command.rationale, command.value, command.question):
            assert field is None or "<!channel>" not in field
    correction = parsing._find_correction(QUESTIONS, text)
    assert correction is None or correction[0] in Q
    volunteered = parsing._confident(QUESTIONS, text, need_people=True)  # find_volunteered's core
    assert volunteered is None or volunteered[0] in Q


@settings(max_examples=100, deadline=None)
@given(text=st.text(min_size=4001, max_size=4100))
def test_long_text_is_never_scanned(text: str) -> None:
    assert parse_answer(Q["team_size"], text).ok is False
    assert parse_command(text) is None
    assert find_correction(QUESTIONS, text) is None
    assert parsing.find_volunteered(QUESTIONS, text) is None


def test_question_file_is_the_public_contract() -> None:
    expected = {
        "team_size": ("integer", None), "project_size": ("choice", ["small", "medium", "large"]),
        "duration": ("choice", ["short", "medium", "long"]),
        "app_type": ("choice", ["web_app", "rest_api", "microservice", "static_site", "prototype"]),
        "realtime": ("yes_no", None), "needs_admin": ("yes_no", None), "needs_forms": ("yes_no", None),
        "database": ("choice", ["relational", "nosql", "none"]),
        "team_language": ("choice", ["python", "javascript", "both", "other"]),
        "one_language": ("yes_no", None), "experience": ("choice", ["beginner", "intermediate", "experienced"]),
        "hiring": ("yes_no", None), "ml_integration": ("yes_no", None),
        "flexibility": ("choice", ["conventions", "freedom", "no_preference"]),
        "performance_critical": ("yes_no", None), "serverless": ("yes_no", None),
    }
    assert set(Q) == set(expected)
    for qid, (qtype, values) in expected.items():
        q = Q[qid]
        assert q.type == qtype
        if qtype == "yes_no":
            assert q.allowed == ["yes", "no"]
        elif values:
            assert q.allowed == values
        assert q.prompt and q.why
        for v in q.values:
            assert len(v.synonyms) >= 3, (qid, v.value)
            assert all(s == s.lower() for s in v.synonyms)
    assert (Q["team_size"].min, Q["team_size"].max) == (1, 10000)


def test_synonyms_are_unambiguous_within_each_question() -> None:
    # Each synonym, typed alone, must parse to its own value (no clash inside a question).
    for q in QUESTIONS:
        for v in q.values:
            for s in v.synonyms:
                result = parse_answer(q, s)
                assert result.ok and result.value == v.value, (q.id, s, result)
