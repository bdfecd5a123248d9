"""Forward chaining is real: rules condition on facts other rules derive, and the engine chains them.

The expected chains below are read off knowledge/rules.toml (e.g. `derive-large-project`: project_size
== large; `derive-long-lived`: duration == long; `derive-large-long-lived`: large_project AND
long_lived), which encode the comparison's "When you work on a larger project with larger teams, it
is better to take the benefit of the maturity of Django" and "if your project is going to last long, then Django is the
right choice" (Project Size And Duration).
"""

from __future__ import annotations

import itertools

import pytest

from knowledge import loader
from knowledge.models import Condition, KnowledgeBase, Rule
from rules.advisor import Advisor


def _reason(result: dict, rule: str) -> dict | None:
    return next((r for r in result["reasons"] if r["rule"] == rule), None)


def _fact_rules(kb: KnowledgeBase) -> list[Rule]:
    return [r for r in kb.rules if any(c.fact for c in r.when)]


def _alternatives(kb: KnowledgeBase, conds: list[Condition], seen: frozenset[str] = frozenset()) -> list[list]:
    """Every conjunction of answer conditions that makes `conds` hold, expanding each derived fact
    through each rule that derives it (no engine involved: this reads the knowledge only)."""
    options: list[list[list[Condition]]] = []
    for c in conds:
        if c.q is not None:
            options.append([[c]])
            continue
        if c.fact in seen:
            options.append([])
            continue
        alts = []
        for r in kb.rules:
            if r.kind == "derive" and r.derive == c.fact:
                alts += _alternatives(kb, r.when, seen | {c.fact})
        options.append(alts)
    return [sum(combo, []) for combo in itertools.product(*options)]


def _witness(kb: KnowledgeBase, rule: Rule) -> dict | None:
    """Answers (and nothing derived) under which `rule` must fire, found from the knowledge alone."""
    for conj in _alternatives(kb, rule.when):
        answers: dict = {}
        for qid in sorted({c.q for c in conj}):
            q = kb.question(qid)
            candidates = range(1, 121) if q.type == "integer" else q.allowed
            mine = [c for c in conj if c.q == qid]
            value = next((v for v in candidates if all(c.holds(v) for c in mine)), None)
            if value is None:
                break
            answers[qid] = value
        else:
            return answers
    return None


def test_at_least_eight_derivations_build_on_derived_facts(kb: KnowledgeBase) -> None:
    chained = [r.id for r in _fact_rules(kb) if r.kind == "derive"]
    assert len(chained) >= 8, f"only {len(chained)} derive rules condition on derived facts: {chained}"
    # and every derived fact is itself used by some rule or add-on condition
    used = {c.fact for r in kb.rules for c in r.when if c.fact}
    used |= {c.fact for p in kb.profiles for a in p.addons for c in a.when if c.fact}
    assert {f.id for f in kb.facts} == used


@pytest.mark.parametrize("rule_id", [r.id for r in _fact_rules(loader.default())])
def test_every_rule_on_derived_facts_fires_from_answers_alone(rule_id: str, kb: KnowledgeBase,
                                                              advisor: Advisor) -> None:
    rule = next(r for r in kb.rules if r.id == rule_id)
    answers = _witness(kb, rule)
    assert answers is not None, f"{rule_id} can never fire: no answers satisfy its chain"
    ev = advisor.evaluate(advisor.validate(answers))
    assert rule_id in ev.fired, f"{rule_id} did not fire on {answers}"
    needed = {c.fact for c in rule.when if c.fact}
    for firing in ev.fired[rule_id]:
        explained = ev.explain_firing(firing)
        assert needed <= set(explained.via), (rule_id, explained)
        # `because` is made of original answers only, never of derived facts
        assert set(explained.because) <= set(answers)
        assert all(explained.because[q] == answers[q] for q in explained.because)


def test_large_and_long_life_chain_into_the_large_long_lived_reason(advisor: Advisor) -> None:
    result = advisor.recommend({"project_size": "large", "duration": "long"})
    reason = _reason(result, "score-large-long-django")
    assert reason is not None
    assert reason["framework"] == "django" and reason["effect"] == 0.6
    assert reason["because"] == {"duration": "long", "project_size": "large"}
    assert reason["via"] == ["large_long_lived", "large_project", "long_lived"]
    derived = {d["fact"]: d for d in result["derived"]}
    assert derived["large_long_lived"]["rules"] == ["derive-large-long-lived"]
    assert derived["large_long_lived"]["via"] == ["large_project", "long_lived"]
    assert derived["large_project"]["because"] == {"project_size": "large"}


def test_a_big_team_alone_never_makes_the_project_large(advisor: Advisor) -> None:
    # The stated size wins: 25 people on a long project is a big team and a long life, not a large project.
    result = advisor.recommend({"team_size": 25, "duration": "long"})
    derived = {d["fact"] for d in result["derived"]}
    assert {"big_team", "long_lived"} <= derived
    assert not derived & {"large_project", "large_long_lived", "enterprise_app"}
    assert _reason(result, "score-big-team-django") is not None


def test_three_level_chain_to_enterprise(advisor: Advisor) -> None:
    # project_size -> large_project; duration -> long_lived; both -> large_long_lived; + web_app -> enterprise_app
    result = advisor.recommend({"project_size": "large", "duration": "long", "app_type": "web_app"})
    reason = _reason(result, "score-enterprise-django")
    assert reason is not None
    assert reason["via"] == ["enterprise_app", "large_long_lived", "large_project", "long_lived"]
    assert reason["because"] == {"app_type": "web_app", "duration": "long", "project_size": "large"}


def test_one_language_and_javascript_chain_into_full_stack_js(advisor: Advisor) -> None:
    # one_language -> wants_consistency; team_language -> js_skills; both -> full_stack_js
    result = advisor.recommend({"one_language": "yes", "team_language": "javascript"})
    reason = _reason(result, "score-full-stack-js-node")
    assert reason is not None
    assert reason["via"] == ["full_stack_js", "js_skills", "wants_consistency"]
    assert reason["because"] == {"one_language": "yes", "team_language": "javascript"}
    assert _reason(advisor.recommend({"one_language": "yes", "team_language": "python"}),
                   "score-full-stack-js-node") is None


def test_quick_delivery_comes_from_a_prototype_only(advisor: Advisor) -> None:
    # A small, short project has its own Project Size And Duration evidence; counting it again as
    # "quick delivery" would argue the same sentence twice.
    assert _reason(advisor.recommend({"app_type": "prototype"}), "score-quick-delivery-flask") is not None
    small_short = advisor.recommend({"project_size": "small", "duration": "short", "team_size": 3})
    assert _reason(small_short, "score-quick-delivery-flask") is None
    assert _reason(small_short, "score-small-project-flask") is not None


def test_threshold_just_below_big_team_breaks_the_chain(advisor: Advisor) -> None:
    result = advisor.recommend({"team_size": 9, "duration": "long"})
    assert _reason(result, "score-large-long-django") is None
    assert _reason(result, "score-big-team-django") is None
    assert _reason(result, "score-long-lived-django") is not None


def _without(kb: KnowledgeBase, rule_id: str) -> Advisor:
    rules = [r for r in kb.rules if r.id != rule_id]
    assert len(rules) == len(kb.rules) - 1
    return Advisor(kb.model_copy(update={"rules": rules}))


def test_deleting_the_derivation_removes_the_reason_that_relied_on_it(kb: KnowledgeBase, advisor: Advisor) -> None:
    answers = {"project_size": "large", "duration": "long", "team_size": 25}
    with_rule = advisor.recommend(answers)
    assert _reason(with_rule, "score-large-long-django") is not None

    pruned = _without(kb, "derive-large-long-lived")
    without_rule = pruned.recommend(answers)
    assert _reason(without_rule, "score-large-long-django") is None
    assert "large_long_lived" not in {d["fact"] for d in without_rule["derived"]}
    # The base facts are still derived and still score; only the chained evidence is gone.
    assert _reason(without_rule, "score-large-project-django") is not None
    assert _reason(without_rule, "score-long-lived-django") is not None
    conf = {r["framework"]: r["confidence"] for r in with_rule["ranking"]}
    conf_pruned = {r["framework"]: r["confidence"] for r in without_rule["ranking"]}
    assert conf_pruned["django"] < conf["django"]


def test_the_other_derivation_still_reaches_the_fact(kb: KnowledgeBase) -> None:
    # io_heavy has two derivations: real-time features, or a lightweight service that must be fast.
    pruned = _without(kb, "derive-io-heavy-realtime")
    result = pruned.recommend({"app_type": "rest_api", "performance_critical": "yes", "realtime": "yes"})
    reason = _reason(result, "score-io-node")
    assert reason is not None
    assert reason["via"] == ["io_heavy", "lightweight_service"]
    assert reason["because"] == {"app_type": "rest_api", "performance_critical": "yes"}
