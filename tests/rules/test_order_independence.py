"""Order independence: the result depends on the set of rules and answers, never on their order."""

from __future__ import annotations

import json
import random

import pytest

from knowledge.models import KnowledgeBase
from rules.advisor import Advisor

SCENARIOS = [
    # chains through derived facts, caveats for several frameworks, skips, what-would-change
    {"app_type": "web_app", "team_size": 25, "duration": "long", "project_size": "large", "needs_admin": "yes",
     "needs_forms": "yes", "database": "relational", "team_language": "both", "one_language": "yes",
     "realtime": "yes", "experience": "beginner", "hiring": "yes"},
    {"app_type": "rest_api", "team_size": 3, "duration": "short", "serverless": "yes", "performance_critical": "yes",
     "database": "nosql", "team_language": "javascript", "flexibility": "freedom", "ml_integration": "yes"},
    {"app_type": "static_site", "team_size": 50, "experience": "experienced", "flexibility": "conventions"},
    {"app_type": "prototype", "team_language": "other", "database": "none"},
    {},
]


def _shuffled_kb(kb: KnowledgeBase, rng: random.Random) -> KnowledgeBase:
    rules = list(kb.rules)
    rng.shuffle(rules)
    profiles = []
    for p in kb.profiles:
        addons = list(p.addons)
        rng.shuffle(addons)
        profiles.append(p.model_copy(update={"addons": addons}))
    rng.shuffle(profiles)
    questions = list(kb.questions)
    rng.shuffle(questions)
    facts = list(kb.facts)
    rng.shuffle(facts)
    return kb.model_copy(update={"rules": rules, "profiles": profiles, "questions": questions, "facts": facts})


def _shuffled_answers(answers: dict, rng: random.Random) -> dict:
    items = list(answers.items())
    rng.shuffle(items)
    return dict(items)


@pytest.mark.parametrize("seed", range(20))
def test_shuffled_rules_addons_and_answers_give_identical_output(seed: int, kb: KnowledgeBase,
                                                                 advisor: Advisor) -> None:
    rng = random.Random(seed)
    shuffled = Advisor(_shuffled_kb(kb, rng))
    assert [r.id for r in shuffled.kb.rules] != [r.id for r in kb.rules]  # the shuffle did something
    for answers in SCENARIOS:
        expected = json.dumps(advisor.recommend(answers), sort_keys=True)
        got = json.dumps(shuffled.recommend(_shuffled_answers(answers, rng)), sort_keys=True)
        assert got == expected, f"seed {seed}: output differs for {answers}"


def test_new_advisors_get_unique_ruleset_names(kb: KnowledgeBase) -> None:
    a, b = Advisor(kb), Advisor(kb)
    names = lambda adv: {rs.name for _, full, core in adv.parts for rs in (full, core) if rs}  # noqa: E731
    assert not names(a) & names(b)
    assert a.recommend({"team_size": 4}) == b.recommend({"team_size": 4})
