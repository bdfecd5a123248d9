"""Generate the durable_rules ruleset from the knowledge base (nothing here is per framework).

Facts in the engine:
- an answer: `{"t": "a", "q": <question id>, "v": <canonical value>}`;
- a derived fact: `{"t": "d", "d": <fact id>}`.

Every knowledge rule becomes one engine rule whose patterns are its conditions: conditions on
the same question merge into one pattern (so one answer fact satisfies them together), and each
derived-fact condition is a pattern of its own (a join, which is what makes chains work).
Derive rules assert their fact; score, skip and caveat rules only record that they fired.
"""

from __future__ import annotations

from knowledge.models import Addon, Condition, KnowledgeBase
from rules.engine import RuleSpec

_OPS = {"!=": "$neq", ">=": "$gte", "<=": "$lte", ">": "$gt", "<": "$lt"}


def caveat_id(framework: str, addon: Addon) -> str:
    """The engine rule id of a profile add-on (a caveat rule)."""
    return f"caveat-{framework}-{addon.need}"


def _value_test(cond: Condition) -> dict:
    if cond.op == "==":
        return {"v": cond.value}
    if cond.op == "in":
        return {"$or": [{"v": v} for v in cond.value]}  # type: ignore[union-attr]
    return {_OPS[cond.op]: {"v": cond.value}}


def patterns_for(conditions: list[Condition]) -> dict[str, dict]:
    """durable_rules patterns (name -> JSON condition) for a conjunction of conditions."""
    by_question: dict[str, list[dict]] = {}
    facts: list[str] = []
    for cond in conditions:
        if cond.q is not None:
            by_question.setdefault(cond.q, []).append(_value_test(cond))
        else:
            facts.append(cond.fact)  # type: ignore[arg-type]
    patterns: dict[str, dict] = {}
    for q in sorted(by_question):
        patterns[f"a_{q}"] = {"$and": [{"t": "a"}, {"q": q}, *by_question[q]]}
    for i, fact in enumerate(sorted(set(facts))):
        patterns[f"d{i}"] = {"$and": [{"t": "d"}, {"d": fact}]}
    return patterns


def answer_patterns(kb: KnowledgeBase, with_addons: bool = True) -> dict[str, list[list[Condition]]]:
    """Question -> the condition groups its answer facts are tested with (one group per pattern).

    durable_rules raises on a fact no pattern matches and then drops the whole batch, so only
    answers that match some pattern are asserted (`matches`); the others cannot make any rule
    fire anyway. This replaces a catch-all rule, which cost one Python action per answer.
    """
    out: dict[str, list[list[Condition]]] = {}
    whens = [r.when for r in kb.rules] + ([a.when for p in kb.profiles for a in p.addons] if with_addons else [])
    for when in whens:
        by_question: dict[str, list[Condition]] = {}
        for c in when:
            if c.q is not None:
                by_question.setdefault(c.q, []).append(c)
        for q, group in by_question.items():
            out.setdefault(q, []).append(group)
    return out


def matches(groups: list[list[Condition]], value: object) -> bool:
    """Whether an answer value satisfies every test of at least one pattern."""
    return any(all(c.holds(value) for c in group) for group in groups)


def compile_rules(kb: KnowledgeBase) -> list[RuleSpec]:
    """All engine rules for a knowledge base, in knowledge-file order."""
    specs = []
    for rule in kb.rules:
        asserts = {"t": "d", "d": rule.derive} if rule.kind == "derive" else None
        specs.append(RuleSpec(rule.id, patterns_for(rule.when), asserts))
    for profile in kb.profiles:
        for addon in profile.addons:
            specs.append(RuleSpec(caveat_id(profile.framework, addon), patterns_for(addon.when)))
    return specs


def partition(kb: KnowledgeBase, specs: list[RuleSpec]) -> list[tuple[frozenset[str], list[RuleSpec]]]:
    """Split the rules into independent parts: (the questions a part reads, its rules).

    Two rules belong to one part when they read the same question or meet on a derived fact
    (one derives it, the other reads it, or both do), directly or through other rules. A rule
    can only fire on facts of its own part, so each part can be evaluated, and its firings
    cached, on the answers to its own questions alone; the union over the parts is exactly
    what evaluating all rules together fires.
    """
    when = {r.id: r.when for r in kb.rules}
    derives = {r.id: r.derive for r in kb.rules if r.kind == "derive"}
    for p in kb.profiles:
        for a in p.addons:
            when[caveat_id(p.framework, a)] = a.when
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for spec in specs:
        nodes = [f"r:{spec.id}"] + [f"q:{c.q}" if c.q else f"f:{c.fact}" for c in when[spec.id]]
        if spec.id in derives:
            nodes.append(f"f:{derives[spec.id]}")
        for n in nodes[1:]:
            parent[find(n)] = find(nodes[0])
    parts: dict[str, tuple[set[str], list[RuleSpec]]] = {}
    for spec in specs:  # knowledge-file order is kept inside each part, and parts come in order of first rule
        questions, rules = parts.setdefault(find(f"r:{spec.id}"), (set(), []))
        rules.append(spec)
        questions.update(c.q for c in when[spec.id] if c.q)
    return [(frozenset(qs), rules) for qs, rules in parts.values()]
