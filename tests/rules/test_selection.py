"""Question selection: the most useful question first, skipped questions never asked, a sound stop."""

from __future__ import annotations

import pytest

from knowledge.models import KnowledgeBase
from rules.advisor import Advisor
from rules.whatif import integer_regions

# Two teams, each answering every question the same way whatever the order of asking.
SMALL_STATIC = {
    "app_type": "static_site", "team_size": 2, "project_size": "small", "duration": "short",
    "team_language": "python", "one_language": "no", "experience": "beginner", "hiring": "no",
    "flexibility": "freedom", "performance_critical": "no", "needs_admin": "yes", "realtime": "yes",
    "database": "relational", "needs_forms": "yes", "ml_integration": "yes", "serverless": "no",
}
BIG_WEB_APP = {
    "app_type": "web_app", "team_size": 40, "project_size": "medium", "duration": "medium",
    "team_language": "javascript", "one_language": "yes", "experience": "intermediate", "hiring": "yes",
    "flexibility": "no_preference", "performance_critical": "yes", "needs_admin": "yes", "realtime": "yes",
    "database": "relational", "needs_forms": "yes", "ml_integration": "no", "serverless": "no",
}
SMALL_API = {**SMALL_STATIC, "app_type": "rest_api"}


def drive(advisor: Advisor, script: dict, start: dict | None = None) -> tuple[list[str], dict, dict]:
    """Ask next_question and answer it from `script` until the advisor stops.

    Returns the order asked, the answers given and the final result.
    """
    answers = dict(start or {})
    order: list[str] = []
    for _ in range(len(script) + 1):
        result = advisor.recommend(answers, with_changes=False)
        if result["done"]:
            return order, answers, result
        q = result["next_question"]
        assert q is not None, "not done, yet no question to ask"
        assert q not in answers, f"asked {q} again"
        assert q not in result["skipped"], f"asked the skipped question {q}"
        order.append(q)
        answers[q] = script[q]
    raise AssertionError(f"no stop after asking {order}")


def values_to_try(kb: KnowledgeBase, qid: str) -> list:
    """Every allowed value of a question; for an integer, both ends of every region its rules test."""
    q = kb.question(qid)
    if q.type != "integer":
        return list(q.allowed)
    return sorted({v for lo, hi in integer_regions(kb, q) for v in (lo, hi)})


def open_questions(kb: KnowledgeBase, answers: dict, result: dict) -> list[str]:
    return [q.id for q in kb.questions if q.id not in answers and q.id not in result["skipped"]]


def assert_stop_is_sound(kb: KnowledgeBase, advisor: Advisor, answers: dict, result: dict) -> int:
    """No single answer to an open question changes the top-ranked framework. Returns how many were tried."""
    top = result["ranking"][0]["framework"]
    tried = 0
    for qid in open_questions(kb, answers, result):
        for value in values_to_try(kb, qid):
            ev = advisor.evaluate({**answers, qid: value})
            assert ev.ranking[0].framework == top, (
                f"stopped with {top} on top, but {qid}={value!r} puts {ev.ranking[0].framework} first "
                f"(answers {answers})")
            tried += 1
    return tried


def test_first_question_is_the_most_useful_one(kb: KnowledgeBase, advisor: Advisor) -> None:
    # Independently of rules.selection: with nothing answered every score rule is obtainable, and a
    # question is worth the total |weight| of the score rules it can reach through derivations.
    def reach(conds, seen=frozenset()) -> set[str]:
        out: set[str] = set()
        for c in conds:
            if c.q is not None:
                out.add(c.q)
            elif c.fact not in seen:
                for r in kb.rules:
                    if r.kind == "derive" and r.derive == c.fact:
                        out |= reach(r.when, seen | {c.fact})
        return out

    worth = {q.id: 0.0 for q in kb.questions}
    for r in kb.rules:
        if r.kind == "score":
            for q in reach(r.when):
                worth[q] += abs(r.weight)
    best = min(worth, key=lambda q: (-round(worth[q], 9), kb.question(q).priority, q))
    assert advisor.recommend({})["next_question"] == best == "app_type"


def test_different_answers_give_different_question_orders(kb: KnowledgeBase, advisor: Advisor) -> None:
    orders = {name: drive(advisor, script)[0]
              for name, script in (("static", SMALL_STATIC), ("web", BIG_WEB_APP), ("api", SMALL_API))}
    assert orders["static"][0] == orders["web"][0] == "app_type"
    assert orders["static"] != orders["web"]
    assert orders["api"] != orders["web"]
    # the order is not just the priority order either
    by_priority = sorted(orders["web"], key=lambda q: kb.question(q).priority)
    assert orders["web"] != by_priority or orders["static"] != sorted(
        orders["static"], key=lambda q: kb.question(q).priority)


def test_static_site_skips_admin_realtime_and_database(kb: KnowledgeBase, advisor: Advisor) -> None:
    result = advisor.recommend({"app_type": "static_site"})
    assert {"needs_admin", "realtime", "database"} <= set(result["skipped"])
    assert result["skipped"]["database"] == "skip-static-site"
    order, _, final = drive(advisor, SMALL_STATIC)
    assert not {"needs_admin", "realtime", "database", "needs_forms"} & set(order)
    assert {"needs_admin", "realtime", "database"} <= set(final["skipped"])
    # Even with every other question excluded by the user, a skipped question is never offered.
    others = {q.id for q in kb.questions} - set(result["skipped"]) - {"app_type"}
    sel = advisor.select(advisor.evaluate({"app_type": "static_site"}), excluded=others)
    assert sel.next_question is None and sel.done


def test_rest_api_skips_forms(kb: KnowledgeBase, advisor: Advisor) -> None:
    result = advisor.recommend({"app_type": "rest_api"})
    assert result["skipped"] == {"needs_forms": "skip-api-forms"}
    order, _, final = drive(advisor, SMALL_API)
    assert "needs_forms" not in order
    assert "needs_forms" in final["skipped"]
    # for a web app the same question stays open and matters (score-forms-django depends on it)
    web = advisor.evaluate({"app_type": "web_app"})
    assert "needs_forms" not in web.skipped
    assert advisor.select(web).usefulness["needs_forms"] > 0


def test_user_skipped_questions_are_not_asked_again(advisor: Advisor) -> None:
    first = advisor.recommend({})["next_question"]
    result = advisor.recommend({}, excluded=frozenset({first}))
    assert result["next_question"] not in (None, first)


@pytest.mark.parametrize("script", [SMALL_STATIC, BIG_WEB_APP, SMALL_API], ids=["static", "web", "api"])
def test_stop_rule_no_single_answer_changes_the_top(script: dict, kb: KnowledgeBase, advisor: Advisor) -> None:
    order, answers, result = drive(advisor, script)
    assert result["done"]
    assert result["next_question"] is None
    assert len(order) < len(kb.questions), "the advisor asked everything: the stop rule never kicked in"
    assert open_questions(kb, answers, result), "no open question left to check"
    assert assert_stop_is_sound(kb, advisor, answers, result) > 0


def test_not_done_while_an_answer_could_still_change_the_top(kb: KnowledgeBase, advisor: Advisor) -> None:
    # With nothing answered every framework can still win, so the advisor must keep asking.
    result = advisor.recommend({})
    assert not result["done"]
    tops = {advisor.evaluate({"app_type": v}).ranking[0].framework for v in kb.question("app_type").allowed}
    tops |= {advisor.evaluate({"realtime": "yes", "team_language": "javascript"}).ranking[0].framework}
    assert len(tops) > 1
