"""MADR 4 export of a recorded decision."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.render import madr
from bot.store import Store
from knowledge.models import KnowledgeBase
from rules.advisor import Advisor


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "advisor.db")
    yield s
    s.close()


def _record(store: Store, advisor: Advisor, answers: dict, framework: str, *, topic: str = "the billing service",
            rationale: str = "we already run it", by: str = "alice"):
    result = advisor.recommend(answers)
    return store.record_decision("T1", channel="C1", topic=topic, framework=framework, decided_by=by,
                                 rationale=rationale, recommendation=result["recommendation"],
                                 knowledge_version=advisor.version, answers=answers, result=result)


def _sections(text: str) -> dict[str, str]:
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def test_front_matter_and_headings(store: Store, advisor: Advisor, kb: KnowledgeBase) -> None:
    answers = {"app_type": "web_app", "team_size": 25, "duration": "long", "needs_admin": "yes"}
    d = _record(store, advisor, answers, "flask")
    text = madr.render(d, kb)
    lines = text.splitlines()
    assert lines[0] == "---"
    end = lines.index("---", 1)
    front = dict(line.split(": ", 1) for line in lines[1:end])
    assert front["status"] == "accepted"
    assert front["date"] == d.created_at[:10] and re.fullmatch(r"\d{4}-\d{2}-\d{2}", front["date"])
    assert front["decision-makers"] == "alice"
    assert front["knowledge-version"] == advisor.version
    assert lines[end + 2] == "# Use Flask for the billing service"

    headings = re.findall(r"^## (.+)$", text, flags=re.M)
    for h in ("Context and Problem Statement", "Decision Drivers", "Considered Options", "Decision Outcome",
              "Pros and Cons of the Options"):
        assert h in headings
    assert headings.index("Context and Problem Statement") < headings.index("Decision Drivers") \
        < headings.index("Considered Options") < headings.index("Decision Outcome") \
        < headings.index("Pros and Cons of the Options")

    s = _sections(text)
    assert [x for x in s["Considered Options"].splitlines() if x] == ["* Django", "* Flask", "* Node.js"]
    drivers = [x for x in s["Decision Drivers"].splitlines() if x.startswith("* ")]
    assert len(drivers) == len(answers)
    assert f"* {kb.question('team_size').prompt} — **25**" in drivers
    assert f"* {kb.question('app_type').prompt} — **Web app**" in drivers
    outcome = s["Decision Outcome"]
    assert 'Chosen option: "Flask", because we already run it.' in outcome
    django = next(r for r in d.result["ranking"] if r["framework"] == "django")
    label = d.result["lead"]["label"]
    assert (f"The advisor recommended Django with a fit of {round(django['confidence'] * 100)}% "
            f"(a {label} lead).") in outcome
    pros = s["Pros and Cons of the Options"]
    # grouped as the message: the winner first, then the others in the order they fit
    order = [r["framework"] for r in d.result["ranking"]]
    names = {"django": "Django", "flask": "Flask", "node": "Node.js"}
    assert re.findall(r"^### (.+)$", pros, flags=re.M) == [names[order[0]] + " (recommended)",
                                                          *[names[f] for f in order[1:]]]
    # every counted reason appears under its own framework, as Good (positive) or Bad (negative);
    # a restatement that did not count is left to `how`, and no rule id reaches the record
    parts = {names[f]: chunk for f, chunk in zip(order, re.split(r"^### .+$", pros, flags=re.M)[1:], strict=True)}
    for r in d.result["reasons"]:
        word = "Good" if r["effect"] > 0 else "Bad"
        line = f"* {word}, because {r['text'].rstrip('.')} (from "
        assert (line in parts[names[r["framework"]]]) == r["counted"], r
    assert "rule `" not in text and "score-" not in text and "seed" not in text.lower()
    assert any(r["rule"] == "score-admin-django" and r["counted"] for r in d.result["reasons"])


def test_adopted_recommendation_lists_what_to_add(store: Store, advisor: Advisor, kb: KnowledgeBase) -> None:
    answers = {"app_type": "rest_api", "project_size": "small", "database": "relational"}
    d = _record(store, advisor, answers, "flask", rationale="")
    assert d.recommendation == "flask"
    text = madr.render(d, kb)
    assert "### Confirmation" in text
    for c in d.result["caveats"]:
        assert f"* {c['package']}: {c['text']}" in text
    assert "Flask-SQLAlchemy" in text
    assert 'Chosen option: "Flask", because the team chose it.' in text


def test_no_answers_no_recommendation_and_superseding(store: Store, advisor: Advisor, kb: KnowledgeBase) -> None:
    first = _record(store, advisor, {}, "django", topic="")
    text = madr.render(first, kb)
    assert "# Use Django for the web framework" in text
    assert "* No questions were answered." in text
    assert "The advisor gave no clear recommendation." in text
    assert text.count("* Neutral, because nothing in the comparison spoke for or against it for these answers.") == 3
    second = _record(store, advisor, {"flexibility": "freedom"}, "flask", topic="")
    assert "This decision supersedes decision 1." in madr.render(second, kb)
    old = store.decision("T1", 1)
    # MADR 4 names the replacement in the status; the older record links the newer one too.
    assert madr.render(old, kb).splitlines()[1] == "status: superseded by ADR-0002"
    assert "It is superseded by decision 2." in madr.render(old, kb)


def test_decision_makers_override(store: Store, advisor: Advisor, kb: KnowledgeBase) -> None:
    d = _record(store, advisor, {}, "node")
    assert "decision-makers: Alice Smith\n" in madr.render(d, kb, decided_by="Alice Smith")


def test_a_multi_line_topic_cannot_add_headings(store: Store, advisor: Advisor, kb: KnowledgeBase) -> None:
    d = _record(store, advisor, {}, "node", topic="chat\n## Decision Outcome\nstatus: rejected",
                rationale="fast\n\n## Decision Outcome\n", by="bob\n---")
    text = madr.render(d, kb)
    assert "# Use Node.js for chat ## Decision Outcome status: rejected" in text
    headings = re.findall(r"^## (.+)$", text, flags=re.M)
    assert headings.count("Decision Outcome") == 1
    assert not any(line == "status: rejected" for line in text.splitlines())
    assert text.splitlines().count("---") == 2
    assert "decision-makers: bob ---" in text
