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

from knowledge.models import FRAMEWORKS, Condition, KnowledgeBase, Question, Rule
from rules.scoring import beats, certainty, combine, counted

_EPS = 1e-9


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


def question_dependencies(kb: KnowledgeBase) -> dict[str, frozenset[str]]:
    """Score rule id -> every question its firing can depend on (through derived facts too)."""
    derivers: dict[str, list[Rule]] = {}
    for r in kb.rules:
        if r.kind == "derive":
            derivers.setdefault(r.derive, []).append(r)  # type: ignore[arg-type]
    memo: dict[str, frozenset[str]] = {}

    def fact(f: str, seen: frozenset[str]) -> frozenset[str]:
        if f in memo:
            return memo[f]
        if f in seen:
            return frozenset()
        out = frozenset().union(*(rule(r, seen | {f}) for r in derivers.get(f, [])))
        memo[f] = out
        return out

    def rule(r: Rule, seen: frozenset[str] = frozenset()) -> frozenset[str]:
        qs = {c.q for c in r.when if c.q}
        return frozenset(qs).union(*(fact(c.fact, seen) for c in r.when if c.fact))

    return {r.id: rule(r) for r in kb.rules if r.kind == "score"}


class Stability:
    """A sound shortcut: can any value of question q change the recommendation at all?

    Rules that do not depend on q keep their state whatever q is. So each framework's score
    after a change of q lies between its score with every q-dependent rule's negative weight
    added (and its fired q-dependent rules removed) and the same with every positive weight
    added. When even those extremes keep the recommendation, no engine run is needed for q.
    """

    def __init__(self, kb: KnowledgeBase, deps: dict[str, frozenset[str]]):
        self.rules = {r.id: r for r in kb.rules if r.kind == "score"}
        self.by_question: dict[str, list[Rule]] = {}
        for rid, qs in deps.items():
            for q in qs:
                self.by_question.setdefault(q, []).append(self.rules[rid])
        s = kb.settings
        self.min_confidence, self.min_lead = s.min_confidence, s.min_lead
        # Per question: the ids of the rules that depend on it, and their weights per framework and sign.
        self.dependent_ids = {q: frozenset(r.id for r in rs) for q, rs in self.by_question.items()}
        self.extra = {q: {(fw, sign): [r.weight for r in rs if r.framework == fw and r.weight * sign > 0]  # type: ignore
                          for fw in FRAMEWORKS for sign in (1, -1)} for q, rs in self.by_question.items()}
        # (fired rules, the fired ones a change can take away) -> the rules that still count.
        self._kept: dict[tuple[frozenset, frozenset], frozenset[str]] = {}
        # the counted rules -> their weights by framework and sign; several questions -> their rules and weights
        self._bases: dict[frozenset[str], dict[tuple[str, int], list[float]]] = {}
        self._several: dict[tuple[str, ...], tuple[frozenset[str], dict]] = {}

    def stable(self, question: str | tuple[str, ...], fired: set[str], current: str | None) -> bool:
        """True when no value of `question` (or no values of several questions together) can change the
        recommendation `current`."""
        if isinstance(question, str):
            dep_ids = self.dependent_ids.get(question, frozenset())
            extra = self.extra.get(question, {})
        else:  # the rules depending on any of them, each once; the same for every answer set: kept
            found = self._several.get(question)
            if found is None:
                dep_ids = frozenset().union(*(self.dependent_ids.get(q, frozenset()) for q in question))
                extra = {(fw, sign): [self.rules[rid].weight for rid in sorted(dep_ids) if self.rules[rid].framework
                                      == fw and self.rules[rid].weight * sign > 0]  # type: ignore[operator]
                         for fw in FRAMEWORKS for sign in (1, -1)}
                found = self._several[question] = (dep_ids, extra)
            dep_ids, extra = found
        # The rules that do not depend on q, counted as scoring counts them (one claim once). Many
        # questions (and pairs) take away the same fired rules (often none): counted once per such set.
        key = (frozenset(fired), frozenset(dep_ids.intersection(fired)))
        kept = self._kept.get(key)
        if kept is None:
            kept = counted((rid, r.framework, r.weight, r.claims) for rid in fired  # type: ignore[misc]
                           if (r := self.rules.get(rid)) is not None and rid not in dep_ids)
            if len(self._kept) > 4096:
                self._kept.clear()
            self._kept[key] = kept
        base = self._bases.get(kept)
        if base is None:
            base = {}
            for rid in kept:
                r = self.rules[rid]
                base.setdefault((r.framework, 1 if r.weight > 0 else -1), []).append(r.weight)  # type: ignore
            if len(self._bases) > 4096:
                self._bases.clear()
            self._bases[kept] = base
        lo: dict[str, float] = {}
        hi: dict[str, float] = {}
        for fw in FRAMEWORKS:
            pos, neg = base.get((fw, 1), []), base.get((fw, -1), [])
            lo[fw] = certainty(combine(pos), combine(neg + extra.get((fw, -1), [])))
            hi[fw] = certainty(combine(pos + extra.get((fw, 1), [])), combine(neg))
        conf = lambda cf: (1.0 + cf) / 2.0  # noqa: E731
        if current is None:
            return all(conf(hi[fw]) < self.min_confidence - _EPS for fw in FRAMEWORKS)
        others = [fw for fw in FRAMEWORKS if fw != current]
        if not all(beats(current, lo[current] - _EPS, fw, hi[fw] + _EPS) for fw in others):
            return False
        if conf(lo[current]) < self.min_confidence + _EPS:
            return False
        return conf(lo[current]) - max(conf(hi[fw]) for fw in others) >= self.min_lead + _EPS


def what_would_change(
    kb: KnowledgeBase,
    answers: dict[str, str | int],
    current: str | None,
    outcome: Callable[[dict[str, str | int]], str | None],
    regions: dict[str, list[tuple[int, int]]],
    stable: Callable[[str], bool] = lambda q: False,
) -> list[dict]:
    """Single answer changes whose `outcome` differs from `current` (`stable(q)`: q cannot matter)."""
    changes: list[dict] = []
    for q in sorted(kb.questions, key=lambda q: q.id):
        if stable(q.id):
            continue
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


def pair_changes(kb: KnowledgeBase, answers: dict[str, str | int], current: str | None,
                 outcome: Callable[[dict[str, str | int]], str | None], regions: dict[str, list[tuple[int, int]]],
                 limit: int = 3, stable: Callable[[tuple[str, str]], bool] = lambda qs: False) -> list[dict]:
    """When no single change flips the recommendation: the first `limit` pairs of changes that do.

    Each question is tried at its other values (an integer at the start of each other region), pairs
    in question order, so a team sees how robust its choice is. `stable((q1, q2))`: no values of the
    two together can change it (the bound of `Stability`), so none of their pairs is evaluated; that
    leaves a few evaluations where there were hundreds, with the same pairs found in the same order.
    """
    options: list[tuple[str, str | int]] = []
    for q in sorted(kb.questions, key=lambda q: q.id):
        if q.type == "integer":
            x = answers.get(q.id)
            options += [(q.id, lo) for lo, hi in regions[q.id] if x is None or not lo <= x <= hi]
        else:
            options += [(q.id, v) for v in sorted(q.allowed) if answers.get(q.id) != v]  # type: ignore[type-var]
    found: list[dict] = []
    settled: dict[tuple[str, str], bool] = {}
    for i, (q1, v1) in enumerate(options):
        for q2, v2 in options[i + 1:]:
            if q1 == q2:
                continue
            if (q1, q2) not in settled:
                settled[(q1, q2)] = stable((q1, q2))
            if settled[(q1, q2)]:
                continue
            new = outcome({**answers, q1: v1, q2: v2})
            if new != current:
                found.append({"changes": [{"question": q1, "value": v1}, {"question": q2, "value": v2}],
                              "new_recommendation": new})
                if len(found) >= limit:
                    return found
    return found
