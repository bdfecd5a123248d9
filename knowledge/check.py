"""Cross-reference checks over a loaded knowledge base (`framework-advisor knowledge check`).

Pydantic validates each record's shape; this module checks what lies between records: every
claim id, section, question, value and derived fact a record names must exist, every rule must
cite a claim, every choice value must have synonyms, and derivations must not loop. It also
lists the claims that no rule, question or profile uses, and the score rules that overlap: rules
citing the same claim for the same framework and direction, of which the scorer counts only the
strongest in one evaluation (rules.scoring.counted).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from knowledge.models import Condition, KnowledgeBase


@dataclass
class Report:
    """The outcome of a check: broken references (errors) and unused claims (information)."""

    errors: list[str] = field(default_factory=list)
    unused_claims: list[str] = field(default_factory=list)
    # (claim, framework, direction "+"/"-") -> the score rules citing it that way, 2 or more
    overlaps: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)
    used: int = 0
    total: int = 0

    @property
    def ok(self) -> bool:
        """True when nothing is broken."""
        return not self.errors


def _duplicates(kind: str, ids: list[str], errors: list[str]) -> None:
    for i, n in Counter(ids).items():
        if n > 1:
            errors.append(f"duplicate {kind} id {i!r}")


def check(kb: KnowledgeBase) -> Report:
    """Check every cross-reference in `kb`."""
    errors: list[str] = []
    claims = {c.id for c in kb.claims}
    sections = {s.id for s in kb.sections}
    questions = {q.id: q for q in kb.questions}
    facts = {f.id for f in kb.facts}
    used: set[str] = set()

    _duplicates("section", [s.id for s in kb.sections], errors)
    _duplicates("claim", [c.id for c in kb.claims], errors)
    _duplicates("question", [q.id for q in kb.questions], errors)
    _duplicates("rule", [r.id for r in kb.rules], errors)
    _duplicates("fact", [f.id for f in kb.facts], errors)

    def cite(where: str, ids: list[str], required: bool = True) -> None:
        if required and not ids:
            errors.append(f"{where}: cites no claim")
        for cid in ids:
            if cid not in claims:
                errors.append(f"{where}: unknown claim id {cid!r}")
            used.add(cid)

    def conditions(where: str, conds: list[Condition]) -> None:
        for c in conds:
            if c.fact is not None:
                if c.fact not in facts:
                    errors.append(f"{where}: unknown derived fact {c.fact!r}")
                continue
            q = questions.get(c.q)  # type: ignore[arg-type]
            if q is None:
                errors.append(f"{where}: unknown question {c.q!r}")
                continue
            values = c.value if isinstance(c.value, list) else [c.value]
            for v in values:
                if q.type == "integer":
                    if not isinstance(v, int):
                        errors.append(f"{where}: {q.id} is an integer question, not {v!r}")
                elif v not in q.allowed:
                    errors.append(f"{where}: {v!r} is not a value of {q.id} ({', '.join(q.allowed)})")
            if q.type != "integer" and c.op in (">=", "<=", ">", "<"):
                errors.append(f"{where}: {c.op} needs an integer question, {q.id} is {q.type}")

    for c in kb.claims:
        if c.section not in sections:
            errors.append(f"claim {c.id}: unknown section {c.section!r}")
        for other in c.conflicts_with:
            if other not in claims:
                errors.append(f"claim {c.id}: conflicts_with unknown claim {other!r}")

    for q in kb.questions:
        cite(f"question {q.id}", q.claims, required=False)
        for v in q.values:
            if not v.synonyms:
                errors.append(f"question {q.id}: value {v.value!r} has no synonyms")

    derived_by: dict[str, list[str]] = {}
    needed: set[str] = set()

    def conditional(where: str, cited: list[str], when: list[Condition]) -> None:
        # A rule or an add-on: cites claims, tests conditions, and so needs the facts it names.
        cite(where, cited)
        conditions(where, when)
        needed.update(c.fact for c in when if c.fact)
    for r in kb.rules:
        where = f"rule {r.id}"
        conditional(where, r.claims, r.when)
        if r.kind == "derive":
            if r.derive not in facts:
                errors.append(f"{where}: derives undeclared fact {r.derive!r}")
            derived_by.setdefault(r.derive, []).append(r.id)  # type: ignore[arg-type]
        for q in r.skip:
            if q not in questions:
                errors.append(f"{where}: skips unknown question {q!r}")

    for p in kb.profiles:
        cite(f"profile {p.framework}", p.claims, required=False)
        for a in p.addons:
            conditional(f"profile {p.framework} add-on {a.need}", a.claims, a.when)

    for f in sorted(facts):
        if f not in derived_by:
            errors.append(f"fact {f}: no rule derives it")
        if f not in needed:
            errors.append(f"fact {f}: no rule or add-on uses it")
    errors.extend(_cycles(kb))

    unused = sorted(claims - used)
    return Report(errors=errors, unused_claims=unused, used=len(claims & used), total=len(claims),
                  overlaps=overlaps(kb))


def overlaps(kb: KnowledgeBase) -> dict[tuple[str, str, str], list[str]]:
    """Score rules that cite one claim for one framework in one direction (restatements of a sentence)."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for r in kb.rules:
        if r.kind == "score" and r.framework and r.weight:
            for cid in r.claims:
                groups.setdefault((cid, r.framework, "+" if r.weight > 0 else "-"), []).append(r.id)
    return {k: sorted(v) for k, v in sorted(groups.items()) if len(v) > 1}


def _cycles(kb: KnowledgeBase) -> list[str]:
    """Derivation loops (a fact that, through rules, needs itself)."""
    needs: dict[str, set[str]] = {}
    for r in kb.rules:
        if r.kind == "derive":
            needs.setdefault(r.derive, set()).update(c.fact for c in r.when if c.fact)  # type: ignore[arg-type]
    errors = []
    for start in sorted(needs):
        stack, seen = list(needs[start]), set()
        while stack:
            f = stack.pop()
            if f == start:
                errors.append(f"fact {start}: its derivation depends on itself")
                break
            if f not in seen:
                seen.add(f)
                stack.extend(needs.get(f, ()))
    return errors
