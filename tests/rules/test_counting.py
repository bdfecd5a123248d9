"""One sentence counts once, and no shown fit reads as certainty (issue: recommendations people trust)."""

from __future__ import annotations

from hypothesis import given

from knowledge import loader
from rules.advisor import Advisor
from rules.scoring import counted
from tests.rules.test_properties import PROPERTY, answer_sets

KB = loader.default()
ADVISOR = Advisor(KB)


@PROPERTY
@given(answers=answer_sets())
def test_no_claim_counts_twice_per_framework_and_direction(answers: dict) -> None:
    ev = ADVISOR.evaluate(answers)
    used: dict[tuple[str, bool], set[str]] = {}
    for rid in ev.counted:
        rule = ev.rules[rid]
        key = (rule.framework, rule.weight > 0)  # type: ignore[operator]
        assert used.setdefault(key, set()).isdisjoint(rule.claims), (rid, answers)
        used[key].update(rule.claims)
    # Every fired score rule that did not count shares a claim with a stronger counted one.
    for rid in ev.fired:
        rule = ev.rules.get(rid)
        if rule is None or rule.kind != "score" or rid in ev.counted:
            continue
        assert not used[(rule.framework, rule.weight > 0)].isdisjoint(rule.claims), (rid, answers)  # type: ignore


@PROPERTY
@given(answers=answer_sets())
def test_no_shown_fit_reaches_certainty(answers: dict) -> None:
    result = ADVISOR.recommend(answers, with_changes=False)
    for row in result["ranking"]:
        assert 0.05 <= row["confidence"] <= 0.95 and row["confidence"] < 1
    assert result["lead"]["label"] in ("clear", "narrow", "none")
    assert (result["lead"]["label"] == "none") == (result["recommendation"] is None)


def test_restating_a_sentence_does_not_raise_the_score() -> None:
    # Two rules citing the same sentence: only the stronger counts, whatever the order.
    rules = [("a", "django", 0.4, ["c1"]), ("b", "django", 0.3, ["c1", "c2"]), ("c", "django", 0.2, ["c3"]),
             ("d", "django", -0.2, ["c1"])]
    assert counted(rules) == {"a", "c", "d"}
    assert counted(list(reversed(rules))) == {"a", "c", "d"}


def test_a_team_of_15_on_a_long_web_app_is_not_near_certain() -> None:
    # A team size never makes the project large, so three sentences speak for Django here, each once.
    result = ADVISOR.recommend({"team_size": 15, "duration": "long", "app_type": "web_app"}, with_changes=False)
    assert result["recommendation"] == "django"
    assert result["ranking"][0]["confidence"] < 0.9
    counted = [c for r in result["reasons"] if r["counted"] and r["framework"] == "django" for c in r["claims"]]
    assert len(counted) == len(set(counted)) >= 3


def test_a_large_long_project_counts_each_sentence_once() -> None:
    # "large" and "long" each have a rule, and so does their conjunction: the conjunction carries both
    # sentences, so the two single rules are shown but not counted again.
    result = ADVISOR.recommend({"project_size": "large", "duration": "long"}, with_changes=False)
    shown = {r["rule"]: r["counted"] for r in result["reasons"] if r["framework"] == "django"}
    assert shown == {"score-large-long-django": True, "score-large-project-django": False,
                     "score-long-lived-django": False}


def test_when_no_single_answer_flips_it_the_pairs_that_would_are_shown() -> None:
    answers = {"app_type": "rest_api", "team_size": 3, "team_language": "python", "flexibility": "freedom"}
    result = ADVISOR.recommend(answers)
    assert result["what_would_change"] == []
    pairs = result["what_would_change_pairs"]
    assert pairs
    for p in pairs:  # each pair really flips it, and neither of its changes alone does
        changed = {**answers, **{c["question"]: c["value"] for c in p["changes"]}}
        assert ADVISOR.outcome(changed) == p["new_recommendation"] != result["recommendation"]
        for c in p["changes"]:
            assert ADVISOR.outcome({**answers, c["question"]: c["value"]}) == result["recommendation"]
