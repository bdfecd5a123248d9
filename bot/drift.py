"""Re-check stored decisions against the current knowledge (drift after a knowledge change)."""

from __future__ import annotations

from bot.store import Store
from rules.advisor import Advisor
from rules.answers import AnswerError


def recheck(store: Store, advisor: Advisor, team_id: str | None = None) -> list[dict]:
    """Every decision whose recommendation would now differ, with the old and new recommendation."""
    drifted = []
    for d in store.all_decisions(team_id):
        try:
            answers = advisor.validate(d.answers)
        except AnswerError as e:
            drifted.append({"team_id": d.team_id, "number": d.number, "framework": d.framework,
                            "old_recommendation": d.recommendation, "new_recommendation": None,
                            "old_version": d.knowledge_version, "new_version": advisor.version,
                            "note": f"answers no longer valid: {e.message}"})
            continue
        new = advisor.recommend(answers, with_changes=False)["recommendation"]
        if new != d.recommendation:
            drifted.append({"team_id": d.team_id, "number": d.number, "framework": d.framework,
                            "old_recommendation": d.recommendation, "new_recommendation": new,
                            "old_version": d.knowledge_version, "new_version": advisor.version})
    return drifted
