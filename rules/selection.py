"""Question selection: which question is most useful next, and when enough is known.

Facts only accumulate (answers are added, never negated), so a rule that fired stays fired and
a rule whose answered conditions fail can never fire. A score rule that has not fired is still
*obtainable* when every condition on an answered question holds, every other condition is on a
question that is still open (unanswered and not skipped), and every derived fact it needs is
derived or still derivable by the same test. Its open questions are its dependencies.

- Usefulness of an open question = the total |weight| of obtainable rules depending on it.
  Questions with none cannot change the outcome and are skipped.
- Stop rule (a bound, not an enumeration): give every other framework all its obtainable
  positive evidence and the leader all its obtainable negative evidence (CF is monotone in MB
  and MD, see rules.scoring). If no other framework can then overtake the leader, no answer or
  combination of answers to the open questions can change the top choice: stop.
"""

from __future__ import annotations

from dataclasses import dataclass

from knowledge.models import Condition, KnowledgeBase, Rule
from rules.evaluation import Evaluation
from rules.scoring import beats, certainty, combine


@dataclass(frozen=True)
class Selection:
    """The outcome of question selection for one evaluation."""

    next_question: str | None
    done: bool
    stop_reason: str
    usefulness: dict[str, float]


class Selector:
    """Precomputed rule structure for one knowledge base."""

    def __init__(self, kb: KnowledgeBase):
        self.kb = kb
        self.score_rules = [r for r in kb.rules if r.kind == "score"]
        self.derivers: dict[str, list[Rule]] = {}
        for r in kb.rules:
            if r.kind == "derive":
                self.derivers.setdefault(r.derive, []).append(r)  # type: ignore[arg-type]
        self.priority = {q.id: (q.priority, q.id) for q in kb.questions}

    def select(self, ev: Evaluation, excluded: frozenset[str] | set[str] = frozenset()) -> Selection:
        """The next question to ask, or done with the reason. `excluded`: questions the user skipped."""
        answers = ev.answers
        open_qs = {q.id for q in self.kb.questions
                   if q.id not in answers and q.id not in ev.skipped and q.id not in excluded}
        derived = set(ev.derived)
        memo: dict[str, frozenset[str] | None] = {}

        def cond_deps(cond: Condition, seen: frozenset[str]) -> frozenset[str] | None:
            # None: can never hold; otherwise the open questions it still waits on.
            if cond.q is not None:
                if cond.q in answers:
                    return frozenset() if cond.holds(answers[cond.q]) else None
                return frozenset({cond.q}) if cond.q in open_qs else None
            return fact_deps(cond.fact, seen)  # type: ignore[arg-type]

        def fact_deps(fact: str, seen: frozenset[str]) -> frozenset[str] | None:
            if fact in derived:
                return frozenset()
            if fact in memo:
                return memo[fact]
            if fact in seen:
                return None
            deps: set[str] = set()
            possible = False
            for r in self.derivers.get(fact, []):
                d = rule_deps(r, seen | {fact})
                if d is not None:
                    possible = True
                    deps |= d
            result = frozenset(deps) if possible else None
            memo[fact] = result
            return result

        def rule_deps(rule: Rule, seen: frozenset[str] = frozenset()) -> frozenset[str] | None:
            deps: set[str] = set()
            for cond in rule.when:
                d = cond_deps(cond, seen)
                if d is None:
                    return None
                deps |= d
            return frozenset(deps)

        usefulness = {q: 0.0 for q in open_qs}
        gain: dict[str, list[float]] = {}
        loss: dict[str, list[float]] = {}
        for rule in self.score_rules:
            if rule.id in ev.fired:
                continue
            deps = rule_deps(rule)
            if not deps:
                continue
            for q in deps:
                usefulness[q] += abs(rule.weight)  # type: ignore[arg-type]
            (gain if rule.weight > 0 else loss).setdefault(rule.framework, []).append(rule.weight)  # type: ignore[arg-type]

        useful = {q: u for q, u in usefulness.items() if u > 0}
        if not useful:
            return Selection(None, True, "all relevant questions are answered", usefulness)

        leader = ev.ranking[0]
        fired_w = self._fired_weights(ev)
        worst_leader = certainty(combine(fired_w.get((leader.framework, 1), [])),
                                 combine(fired_w.get((leader.framework, -1), []) + loss.get(leader.framework, [])))
        can_overtake = False
        for other in ev.ranking[1:]:
            best_other = certainty(combine(fired_w.get((other.framework, 1), []) + gain.get(other.framework, [])),
                                   combine(fired_w.get((other.framework, -1), [])))
            if not beats(leader.framework, worst_leader, other.framework, best_other):
                can_overtake = True
                break
        if not can_overtake:
            return Selection(None, True, "no remaining answer can change the top choice", usefulness)

        best = min(useful, key=lambda q: (-round(useful[q], 9), self.priority[q]))
        return Selection(best, False, "", usefulness)

    def _fired_weights(self, ev: Evaluation) -> dict[tuple[str, int], list[float]]:
        out: dict[tuple[str, int], list[float]] = {}
        for rid in ev.counted:  # what counts now; a later stronger rule only replaces, never lowers
            rule = ev.rules.get(rid)
            if rule is not None and rule.kind == "score":
                out.setdefault((rule.framework, 1 if rule.weight > 0 else -1), []).append(rule.weight)
        return out
