"""The consultation service through its public methods, on a real Store in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.consultation import MAX_TEXT, Consultations
from bot.store import Store
from knowledge.models import KnowledgeBase
from rules.advisor import Advisor

TEAM = "T1"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "advisor.db")
    yield s
    s.close()


@pytest.fixture
def svc(store: Store, advisor: Advisor) -> Consultations:
    return Consultations(store, advisor)


@pytest.fixture
def cid(svc: Consultations) -> int:
    c, _ = svc.start(TEAM, "C1", "100.1", "UA", "billing service")
    return c.id


def say(svc: Consultations, cid: int, text: str, user: str = "UA", **kw):
    replies = svc.handle_text(TEAM, cid, user, text, **kw)
    assert len(replies) == 1, replies
    return replies[0]


def answers(svc: Consultations, cid: int) -> dict:
    return svc.state(TEAM, cid).answers


def test_start_asks_the_most_useful_question_first(svc: Consultations, advisor: Advisor) -> None:
    c, reply = svc.start(TEAM, "C1", "1.0", "UA", "  the new portal  ")
    assert c.status == "open" and c.topic == "the new portal" and c.started_by == "UA"
    assert c.knowledge_version == advisor.version
    assert reply.kind == "question"
    assert reply.question == advisor.recommend({})["next_question"] == "app_type"
    assert [o.value for o in reply.options] == ["web_app", "rest_api", "microservice", "static_site", "prototype"]
    assert reply.answered == 0


def test_typed_answers_advance(svc: Consultations, cid: int, advisor: Advisor) -> None:
    r = say(svc, cid, "a REST API")
    assert answers(svc, cid) == {"app_type": "rest_api"}
    assert r.kind == "question"
    assert r.question == advisor.recommend({"app_type": "rest_api"})["next_question"]
    assert r.question == "team_language"
    r = say(svc, cid, "mostly Python folks")
    assert answers(svc, cid) == {"app_type": "rest_api", "team_language": "python"}
    assert r.question == advisor.recommend({"app_type": "rest_api", "team_language": "python"})["next_question"]
    assert r.answered == 2


def test_unparseable_answer_asks_again_without_storing(svc: Consultations, cid: int, store: Store) -> None:
    r = say(svc, cid, "purple elephants")
    assert r.kind == "clarify" and r.question == "app_type"
    assert store.log(TEAM, cid) == []


def test_an_answer_to_another_open_question_is_noted_and_the_open_one_asked_again(
        svc: Consultations, cid: int, store: Store) -> None:
    say(svc, cid, "a web app")
    open_q = svc.state(TEAM, cid).next_question
    assert open_q == "team_language"
    r = say(svc, cid, "about 12 of us")  # not a language, clearly the team's size
    assert answers(svc, cid) == {"app_type": "web_app", "team_size": 12}
    assert r.kind == "question" and r.question == open_q
    assert r.text.startswith("Noted: team size = 12.")
    assert [e.raw_text for e in store.log(TEAM, cid)][-1] == "about 12 of us"


@pytest.mark.parametrize("text", [
    "yes",  # which question?
    "purple elephants",
    "maybe 12 of us",  # hedged
])
def test_nothing_is_taken_for_another_question_without_confidence(svc: Consultations, cid: int, store: Store,
                                                                 text: str) -> None:
    say(svc, cid, "a web app")
    r = say(svc, cid, text)
    assert r.kind == "clarify" and r.question == "team_language"
    assert answers(svc, cid) == {"app_type": "web_app"}


def test_a_line_with_several_answers_keeps_the_answered_ones_unless_corrected(svc: Consultations, cid: int) -> None:
    say(svc, cid, "a web app")
    r = say(svc, cid, "12 JS devs on a REST API")  # the size is new; the app type was answered already
    assert answers(svc, cid) == {"app_type": "web_app", "team_language": "javascript", "team_size": 12}
    assert r.kind == "question" and r.question == svc.state(TEAM, cid).next_question != "team_language"


def test_an_answered_question_is_not_changed_without_a_correction(svc: Consultations, cid: int) -> None:
    say(svc, cid, "a web app")
    r = say(svc, cid, "a REST API")  # asked the team's language; app type is answered already
    assert r.kind == "clarify" and answers(svc, cid) == {"app_type": "web_app"}


def test_why_how_status(svc: Consultations, cid: int, kb: KnowledgeBase) -> None:
    why = say(svc, cid, "why")
    assert why.kind == "text"
    assert kb.question("app_type").why in why.text
    assert "No rule has fired yet" in say(svc, cid, "how").text
    say(svc, cid, "a REST API")
    say(svc, cid, "we are 12 people")
    how = say(svc, cid, "how").text
    assert "derive-big-team" in how and "score-rest-flask" in how and "team size = 12" in how
    status = say(svc, cid, "status").text
    assert "app type: REST API" in status and "team size: 12" in status
    assert "Ranking so far:" in status


def test_back_skip_restart(svc: Consultations, cid: int, store: Store) -> None:
    say(svc, cid, "web app")
    r = say(svc, cid, "back")
    assert answers(svc, cid) == {} and r.question == "app_type" and r.text.startswith("Undone.")
    assert say(svc, cid, "back").kind == "clarify"  # nothing left to undo

    r = say(svc, cid, "skip")
    assert svc.state(TEAM, cid).skipped == {"app_type"}
    assert r.kind == "question" and r.question != "app_type"
    skipped_next = r.question
    say(svc, cid, "back")
    assert svc.state(TEAM, cid).skipped == set()

    say(svc, cid, "web app")
    say(svc, cid, "python")
    r = say(svc, cid, "restart")
    assert answers(svc, cid) == {} and r.question == "app_type"
    assert skipped_next
    kinds = [e.kind for e in store.log(TEAM, cid)]
    assert kinds == ["answer", "undo", "skip", "undo", "answer", "answer", "restart"]


def test_set_and_actually(svc: Consultations, cid: int) -> None:
    say(svc, cid, "web app")
    say(svc, cid, "we are 12 people")
    r = say(svc, cid, "set team_size=30")
    assert answers(svc, cid)["team_size"] == 30
    assert "Changed team size from 12 to 30" in r.text
    r = say(svc, cid, "actually we are 30 people")
    assert answers(svc, cid)["team_size"] == 30
    r = say(svc, cid, "actually we are 45 people")
    assert answers(svc, cid)["team_size"] == 45 and "from 30 to 45" in r.text
    r = say(svc, cid, "set app_type=static_site")
    assert answers(svc, cid)["app_type"] == "static_site"
    assert say(svc, cid, "set team_size=lots").kind == "clarify"
    assert say(svc, cid, "set colour=blue").kind == "clarify"
    assert answers(svc, cid) == {"app_type": "static_site", "team_size": 45}


def test_two_users_answering_the_same_question_later_wins(svc: Consultations, cid: int, store: Store) -> None:
    before = svc.state(TEAM, cid)
    say(svc, cid, "web app", user="UA")
    moved_at = svc.state(TEAM, cid).current_since
    # UB typed while app_type was still the open question (before the question moved on)
    early = "0000-01-01T00:00:00+00:00"
    assert early < moved_at
    r = say(svc, cid, "a REST API", user="UB", message_time=early)
    assert before.next_question == "app_type"
    assert answers(svc, cid) == {"app_type": "rest_api"}
    assert "The later answer wins: app type is now REST API (it was Web app)." in r.text
    assert svc.state(TEAM, cid).answered_by["app_type"] == "UB"
    assert store.participants(TEAM, cid) == {"UA", "UB"}


def test_decide_only_by_participants(svc: Consultations, cid: int, store: Store) -> None:
    say(svc, cid, "web app", user="UB")
    r = say(svc, cid, "decide django because batteries", user="UC")
    assert r.kind == "clarify" and "Only the person who started" in r.text
    assert store.count_decisions(TEAM) == 0
    r = say(svc, cid, "decide flask because we already run it", user="UB")
    assert r.kind == "decision"
    d = store.decision(TEAM, 1)
    assert d.framework == "flask" and d.decided_by == "UB" and d.rationale == "we already run it"
    assert d.answers == {"app_type": "web_app"}
    assert d.topic == "billing service"
    assert svc.state(TEAM, cid).consultation.status == "decided"
    assert say(svc, cid, "decide rails", user="UB").kind == "clarify"


def test_closed_consultation_refuses_answers(svc: Consultations, cid: int, store: Store) -> None:
    say(svc, cid, "web app")
    say(svc, cid, "decide django")
    n = len(store.log(TEAM, cid))
    r = say(svc, cid, "12")
    assert r.kind == "closed" and "has a recorded decision" in r.text
    assert svc.answer(TEAM, cid, "UA", "team_size", 12)[0].kind == "closed"
    assert say(svc, cid, "skip").kind == "closed"
    assert len(store.log(TEAM, cid)) == n


def test_cancel(svc: Consultations, cid: int, store: Store) -> None:
    r = say(svc, cid, "cancel", user="UZ")
    assert r.kind == "clarify"
    assert svc.state(TEAM, cid).consultation.status == "open"
    r = say(svc, cid, "cancel", user="UA")
    assert r.kind == "closed" and "cancelled" in r.text
    assert svc.state(TEAM, cid).consultation.status == "cancelled"
    assert say(svc, cid, "web app").kind == "closed"
    assert say(svc, cid, "decide flask").kind == "closed"
    assert store.count_decisions(TEAM) == 0
    assert store.log(TEAM, cid) == []


def test_over_long_text_is_refused_and_not_stored(svc: Consultations, cid: int, store: Store) -> None:
    r = say(svc, cid, "web app " * (MAX_TEXT // 8 + 1))
    assert len("web app " * (MAX_TEXT // 8 + 1)) > MAX_TEXT == 4000
    assert r.kind == "clarify" and "4000" in r.text
    assert store.log(TEAM, cid) == []
    assert say(svc, cid, "x" * MAX_TEXT).kind == "clarify"  # exactly at the limit: parsed, not refused as long
    assert "too long" not in say(svc, cid, "x" * MAX_TEXT).text


def test_redelivered_event_is_stored_once(svc: Consultations, cid: int, store: Store) -> None:
    # Slack passes the message time, so a re-delivery still targets the question it answered.
    written = "2000-01-01T00:00:00+00:00"
    first = svc.handle_text(TEAM, cid, "UA", "web app", event_id="Ev1", message_time=written)
    assert len(first) == 1 and not first[0].duplicate and first[0].recorded_question == "app_type"
    again = svc.handle_text(TEAM, cid, "UA", "web app", event_id="Ev1", message_time=written)
    assert len(again) == 1 and again[0].duplicate
    assert again[0].question == first[0].question  # the same state is said again
    assert len(store.log(TEAM, cid)) == 1
    # without a message time too (the question has moved on; the re-delivery must not be parsed again)
    again = svc.handle_text(TEAM, cid, "UA", "web app", event_id="Ev1")
    assert len(again) == 1 and again[0].duplicate and again[0].kind == "question"
    assert len(store.log(TEAM, cid)) == 1
    # a re-delivered yes/no answer that would also parse for the next question is not stored either
    svc.handle_text(TEAM, cid, "UA", "set realtime=yes", event_id="Ev2")
    svc.handle_text(TEAM, cid, "UA", "set realtime=yes", event_id="Ev2")
    assert [e.question for e in store.log(TEAM, cid)] == ["app_type", "realtime"]


def test_a_full_consultation_ends_with_a_saved_recommendation(svc: Consultations, cid: int, store: Store,
                                                              advisor: Advisor) -> None:
    script = {"app_type": "static site", "team_size": "2", "team_language": "python", "duration": "a few weeks",
              "project_size": "small", "experience": "beginner", "flexibility": "freedom", "hiring": "no",
              "one_language": "no", "performance_critical": "no"}
    reply = None
    for _ in range(len(script) + 1):
        st = svc.state(TEAM, cid)
        if st.done:
            break
        reply = say(svc, cid, script[st.next_question])
    assert reply is not None and reply.kind == "recommendation"
    assert reply.result["recommendation"] == "flask"
    assert reply.result == advisor.recommend(answers(svc, cid))
    saved = store.db.execute("SELECT recommendation, knowledge_version FROM recommendations").fetchall()
    assert saved == [("flask", advisor.version)]
    assert "Recommendation: Flask" in reply.text
    # other teams cannot drive it
    with pytest.raises(Exception, match="no such consultation"):
        svc.handle_text("T-OTHER", cid, "UA", "web app")
