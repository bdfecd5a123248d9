"""Property tests: the stop rule is sound and `what_would_change` matches a brute-force recompute."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knowledge import loader
from knowledge.models import KnowledgeBase
from rules.advisor import Advisor
from rules.whatif import integer_regions, what_would_change

KB = loader.default()
BRUTE_MAX = 120
"""Every integer value up to here is tried one by one; above it nothing may change (checked below)."""

PROPERTY = settings(max_examples=200, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _value(q) -> st.SearchStrategy:
    if q.type == "integer":
        # mostly the interesting range, sometimes anywhere up to the maximum
        return st.one_of(st.integers(q.min, BRUTE_MAX), st.integers(q.min, q.max))
    return st.sampled_from(q.allowed)


def answer_sets(kb: KnowledgeBase = KB) -> st.SearchStrategy[dict]:
    """Random partial answer sets (each question answered or not)."""
    parts = {q.id: st.one_of(st.none(), _value(q)) for q in kb.questions}
    return st.fixed_dictionaries(parts).map(lambda d: {k: v for k, v in d.items() if v is not None})


def full_scripts(kb: KnowledgeBase = KB) -> st.SearchStrategy[dict]:
    """An answer for every question: what a team would say if asked."""
    return st.fixed_dictionaries({q.id: _value(q) for q in kb.questions})


def assert_stop_is_sound(kb: KnowledgeBase, advisor: Advisor, answers: dict, result: dict) -> None:
    """No single answer to an open question (unanswered, not skipped) changes the top-ranked framework.

    Every choice value is tried; for an integer, both ends of every region its rules test.
    """
    top = result["ranking"][0]["framework"]
    for q in kb.questions:
        if q.id in answers or q.id in result["skipped"]:
            continue
        values = q.allowed if q.type != "integer" else sorted(
            {v for lo, hi in integer_regions(kb, q) for v in (lo, hi)})
        for value in values:
            got = advisor.evaluate({**answers, q.id: value}).ranking[0].framework
            assert got == top, f"stopped with {top} on top, but {q.id}={value!r} puts {got} first ({answers})"


@pytest.fixture(scope="module")
def brute() -> Advisor:
    """A second advisor (its own ruleset and cache) for the brute-force recompute."""
    return Advisor(KB)


def test_integer_thresholds_are_below_the_brute_force_range(kb: KnowledgeBase) -> None:
    ints = [q for q in kb.questions if q.type == "integer"]
    assert [q.id for q in ints] == ["team_size"]
    conds = [c for r in kb.rules for c in r.when if c.q == "team_size"]
    conds += [c for p in kb.profiles for a in p.addons for c in a.when if c.q == "team_size"]
    assert conds, "no rule tests team_size"
    thresholds = [v for c in conds for v in (c.value if isinstance(c.value, list) else [c.value])]
    # `> v` and `== v` need v + 1 to be tried too; 100 leaves room for that well inside 1..120.
    assert all(isinstance(v, int) and v < 100 for v in thresholds), thresholds


@PROPERTY
@given(start=answer_sets(), script=full_scripts())
def test_at_every_stop_no_single_answer_changes_the_top(start: dict, script: dict, kb: KnowledgeBase,
                                                       advisor: Advisor) -> None:
    answers = dict(start)
    for _ in range(len(kb.questions) + 1):
        result = advisor.recommend(answers, with_changes=False)
        if result["done"]:
            break
        q = result["next_question"]
        assert q is not None and q not in answers and q not in result["skipped"]
        answers[q] = script[q]
    else:
        raise AssertionError("the question loop never stopped")
    assert_stop_is_sound(kb, advisor, answers, result)


def _expected_changes(kb: KnowledgeBase, brute: Advisor, answers: dict, current: str | None) -> list[dict]:
    def outcome(a: dict) -> str | None:  # every value really evaluated, all rules, no region shortcut
        return brute.evaluate(a).recommendation

    expected = []
    for q in sorted(kb.questions, key=lambda q: q.id):
        x = answers.get(q.id)
        if q.type != "integer":
            for value in sorted(q.allowed):
                if value == x:
                    continue
                new = outcome({**answers, q.id: value})
                if new != current:
                    expected.append({"question": q.id, "value": value, "new_recommendation": new})
            continue
        outcomes = {v: outcome({**answers, q.id: v}) for v in range(q.min, BRUTE_MAX + 1)}
        # above the brute-force range every value behaves like its top
        for v in (BRUTE_MAX + 1, 500, q.max):
            assert outcome({**answers, q.id: v}) == outcomes[BRUTE_MAX], (q.id, v)
        if x is not None:
            assert outcomes[min(x, BRUTE_MAX)] == current
        flipping = [v for v, o in outcomes.items() if o != current]
        if not flipping:
            continue
        value = min(flipping) if x is None else min(flipping, key=lambda v: (abs(v - x), v))
        expected.append({"question": q.id, "value": value, "new_recommendation": outcomes[value]})
    return expected


@PROPERTY
@given(answers=answer_sets())
def test_what_would_change_equals_brute_force(answers: dict, kb: KnowledgeBase, advisor: Advisor,
                                             brute: Advisor) -> None:
    result = advisor.recommend(answers)
    current = result["recommendation"]
    assert brute.evaluate(answers).recommendation == current
    assert result["what_would_change"] == _expected_changes(kb, brute, answers, current)


def test_what_would_change_examples(kb: KnowledgeBase, advisor: Advisor, brute: Advisor) -> None:
    # Hand-picked cases around the team_size thresholds (small_team <= 5, big_team >= 10, both ours).
    cases = {
        # 7 people: no clear winner; 5 (small team -> Flask) is 2 away, 10 (big team -> Django) is 3 away.
        (("team_size", 7),): {"question": "team_size", "value": 5, "new_recommendation": "flask"},
        # a 4-person web app leans Flask; 6 people (no longer a small team) leaves Django's web-app evidence.
        (("app_type", "web_app"), ("team_size", 4)): {"question": "team_size", "value": 6,
                                                      "new_recommendation": "django"},
    }
    for items, team_change in cases.items():
        answers = dict(items)
        result = advisor.recommend(answers)
        assert result["what_would_change"] == _expected_changes(kb, brute, answers, result["recommendation"])
        assert team_change in result["what_would_change"]
        ids = [c["question"] for c in result["what_would_change"]]
        assert ids == sorted(ids)
    for answers in ({"team_size": 25, "duration": "long"}, {"team_size": 9000, "duration": "long"}):
        result = advisor.recommend(answers)
        assert result["what_would_change"] == _expected_changes(kb, brute, answers, result["recommendation"])


def _fake_outcome(flips: dict[int, str]):
    def outcome(answers: dict) -> str | None:
        return flips.get(answers.get("team_size"), "django")
    return outcome


def test_integer_change_ties_go_to_the_smaller_value(kb: KnowledgeBase) -> None:
    only_team = kb.model_copy(update={"questions": [kb.question("team_size")]})
    regions = {"team_size": [(1, 5), (6, 8), (9, 20), (21, 10000)]}
    outcome = _fake_outcome({1: "flask", 9: "node"})  # region starts that flip
    # from 7: 5 (flask) and 9 (node) are both 2 away -> the smaller, 5
    assert what_would_change(only_team, {"team_size": 7}, "django", outcome, regions) == [
        {"question": "team_size", "value": 5, "new_recommendation": "flask"}]
    # from 8: 9 is 1 away
    assert what_would_change(only_team, {"team_size": 8}, "django", outcome, regions) == [
        {"question": "team_size", "value": 9, "new_recommendation": "node"}]
    # from 30, in the last region: the nearest flipping value is the top end of the region below
    assert what_would_change(only_team, {"team_size": 30}, "django", outcome, regions) == [
        {"question": "team_size", "value": 20, "new_recommendation": "node"}]
    # unanswered: the smallest flipping value
    assert what_would_change(only_team, {}, "django", outcome, regions) == [
        {"question": "team_size", "value": 1, "new_recommendation": "flask"}]
    # nothing flips: no entry
    assert what_would_change(only_team, {"team_size": 7}, "django", _fake_outcome({}), regions) == []


def test_team_size_regions_follow_the_rule_thresholds(kb: KnowledgeBase) -> None:
    # rules.toml: small_team is team_size <= 5, big_team >= 10 (our thresholds)
    assert integer_regions(kb, kb.question("team_size")) == [(1, 5), (6, 9), (10, 10000)]
