"""`what_would_change`: every single answer change that would change the recommendation.

For a choice or yes/no question every other value is tried (answered and unanswered questions
alike). An integer question is tried only at the thresholds its rules test: between two
consecutive thresholds every value fires exactly the same rules, so one engine run per region
gives the outcome for the whole region. The reported value is the nearest value to the current
answer that flips the result (ties go to the smaller), or for an unanswered integer question the
smallest value that flips it. Entries are sorted by question id, then by value.
"""

from __future__ import annotations

from collections.abc import Callable

from knowledge.models import Condition, KnowledgeBase, Question


def integer_regions(kb: KnowledgeBase, question: Question) -> list[tuple[int, int]]:
    """The intervals [lo, hi] of `question` over which every rule condition is constant."""
    conditions: list[Condition] = [c for r in kb.rules for c in r.when if c.q == question.id]
    conditions += [c for p in kb.profiles for a in p.addons for c in a.when if c.q == question.id]
    cuts: set[int] = set()
    for c in conditions:
        values = c.value if isinstance(c.value, list) else [c.value]
        for v in values:
            if not isinstance(v, int):
                continue
            if c.op in (">=", "<"):
                cuts.add(v)
            elif c.op in ("<=", ">"):
                cuts.add(v + 1)
            else:
                cuts.update((v, v + 1))
    lo, hi = question.min, question.max
    starts = sorted({lo} | {c for c in cuts if lo < c <= hi})
    return [(s, (starts[i + 1] - 1) if i + 1 < len(starts) else hi) for i, s in enumerate(starts)]


def what_would_change(
    kb: KnowledgeBase,
    answers: dict[str, str | int],
    current: str | None,
    outcome: Callable[[dict[str, str | int]], str | None],
    regions: dict[str, list[tuple[int, int]]],
) -> list[dict]:
    """Single answer changes whose `outcome` differs from `current`."""
    changes: list[dict] = []
    for q in sorted(kb.questions, key=lambda q: q.id):
        if q.type == "integer":
            change = _integer_change(q, answers, current, outcome, regions[q.id])
            if change:
                changes.append(change)
            continue
        for value in sorted(q.allowed):  # type: ignore[type-var]
            if answers.get(q.id) == value:
                continue
            new = outcome({**answers, q.id: value})
            if new != current:
                changes.append({"question": q.id, "value": value, "new_recommendation": new})
    return changes


def _integer_change(q: Question, answers: dict, current: str | None, outcome: Callable,
                    regions: list[tuple[int, int]]) -> dict | None:
    x = answers.get(q.id)
    best: tuple[int, int, str | None] | None = None  # (distance, value, outcome)
    for lo, hi in regions:
        if x is not None and lo <= x <= hi:
            continue  # the current answer's own region gives the current result
        new = outcome({**answers, q.id: lo})
        if new == current:
            continue
        value = lo if x is None else min(max(x, lo), hi)
        distance = value - q.min if x is None else abs(value - x)
        if best is None or (distance, value) < best[:2]:
            best = (distance, value, new)
    if best is None:
        return None
    return {"question": q.id, "value": best[1], "new_recommendation": best[2]}
