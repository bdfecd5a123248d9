"""Turn engine firings into an explained result: derived facts, scores, reasons, caveats, skips.

Everything here is computed from the *set* of firings, never from their order, so shuffling
rules or facts cannot change the output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from knowledge.models import FRAMEWORK_NAMES, Addon, KnowledgeBase, Rule
from rules.engine import Firing
from rules.scoring import Score, choose, counted, rank, scores_of


@dataclass(frozen=True)
class Explained:
    """Why something holds: the original answers behind it and the derived facts in its chain."""

    because: dict[str, str | int]
    via: tuple[str, ...]


@dataclass
class Evaluation:
    """The result of evaluating one answer set."""

    kb: KnowledgeBase
    answers: dict[str, str | int]
    firings: list[Firing]
    rules: dict[str, Rule]
    addons: dict[str, tuple[str, Addon]]
    settings_min_confidence: float
    settings_min_lead: float
    sources: dict[str, str] = field(default_factory=dict)
    _explained: dict[str, Explained] = field(default_factory=dict)

    @cached_property
    def fired(self) -> dict[str, list[Firing]]:
        """Rule id -> its firings (rules fire at most once per distinct match)."""
        out: dict[str, list[Firing]] = {}
        for f in self.firings:
            out.setdefault(f.rule, []).append(f)
        return out

    @cached_property
    def derived(self) -> dict[str, list[Firing]]:
        """Derived fact -> the firings that derived it."""
        out: dict[str, list[Firing]] = {}
        for rid, firings in self.fired.items():
            rule = self.rules.get(rid)
            if rule is not None and rule.kind == "derive":
                out.setdefault(rule.derive, []).extend(firings)  # type: ignore[arg-type]
        return out

    def explain_fact(self, fact: str, _seen: frozenset[str] = frozenset()) -> Explained:
        """The answers and chain behind a derived fact (union over all its derivations)."""
        if fact in self._explained:
            return self._explained[fact]
        because: dict[str, str | int] = {}
        via: set[str] = {fact}
        for firing in self.derived.get(fact, []):
            if fact in _seen:
                break
            e = self.explain_firing(firing, _seen | {fact})
            because.update(e.because)
            via.update(e.via)
        result = Explained(dict(sorted(because.items())), tuple(sorted(via)))
        self._explained[fact] = result
        return result

    def explain_firing(self, firing: Firing, _seen: frozenset[str] = frozenset()) -> Explained:
        """The answers and derived facts that one firing matched, traced back to answers."""
        because: dict[str, str | int] = {}
        via: set[str] = set()
        for fact in firing.matched.values():
            if fact.get("t") == "a":
                because[fact["q"]] = fact["v"]
            elif fact.get("t") == "d":
                e = self.explain_fact(fact["d"], _seen)
                because.update(e.because)
                via.update(e.via)
        return Explained(dict(sorted(because.items())), tuple(sorted(via)))

    @cached_property
    def skipped(self) -> dict[str, str]:
        """Question id -> the skip rule that made it not applicable."""
        out: dict[str, str] = {}
        for rid in sorted(self.fired):
            rule = self.rules.get(rid)
            if rule is not None and rule.kind == "skip":
                for q in rule.skip:
                    out.setdefault(q, rid)
        return out

    @cached_property
    def counted(self) -> frozenset[str]:
        """The fired score rules that count (a claim counts once per framework and direction)."""
        rules = (self.rules.get(rid) for rid in self.fired)
        return counted((r.id, r.framework, r.weight, r.claims) for r in rules  # type: ignore[misc]
                       if r is not None and r.kind == "score")

    @cached_property
    def scores(self) -> dict[str, Score]:
        """Framework -> combined evidence of the counted rules."""
        return scores_of((self.rules[rid].framework, self.rules[rid].weight) for rid in self.counted)  # type: ignore

    @cached_property
    def ranking(self) -> list[Score]:
        """Frameworks best first."""
        return rank(self.scores)

    @cached_property
    def recommendation(self) -> str | None:
        """The top framework, or None when its confidence or its lead is below the thresholds."""
        return choose(self.ranking, self.settings_min_confidence, self.settings_min_lead)

    def source(self, claims: list[str]) -> str:
        """The citation of the first claim a rule rests on, marked " [ours]" when any claim it rests on
        is ours (a rule that reads more into a sentence than it says shows that reading as ours)."""
        if not claims:
            return ""
        for c in claims:
            if c not in self.sources:
                self.sources[c] = self.kb.source_of(c)
        first = self.sources[claims[0]]
        if not first.endswith("[ours]") and any(self.sources[c].endswith("[ours]") for c in claims[1:]):
            first += " [ours]"
        return first

    def reasons(self) -> list[dict]:
        """Every fired score rule as an explained reason, strongest first."""
        out = []
        for rid, firings in self.fired.items():
            rule = self.rules.get(rid)
            if rule is None or rule.kind != "score":
                continue
            e = self._merge(firings)
            out.append({
                "rule": rid, "framework": rule.framework, "effect": rule.weight, "text": rule.text,
                "source": self.source(rule.claims), "claims": list(rule.claims),
                # every part of the comparison the rule rests on (`source` names the first)
                "sources": list(dict.fromkeys(self.kb.source_of(c) for c in rule.claims)),
                "because": e.because, "via": list(e.via),
                # False: a stronger rule citing the same sentence counted instead (shown by `how` only).
                "counted": rid in self.counted,
            })
        out.sort(key=lambda r: (-abs(r["effect"]), r["rule"]))
        return out

    def derivations(self) -> list[dict]:
        """Every derived fact with the answers behind it."""
        labels = {f.id: f.label for f in self.kb.facts}
        out = []
        for fact in sorted(self.derived):
            e = self.explain_fact(fact)
            out.append({"fact": fact, "label": labels.get(fact, fact), "because": e.because,
                        "via": [v for v in e.via if v != fact],
                        "rules": sorted({f.rule for f in self.derived[fact]})})
        return out

    def caveats(self, framework: str | None = None) -> list[dict]:
        """What a team must add to `framework` (default: the top-ranked one) for its answers."""
        framework = framework or self.ranking[0].framework
        out = []
        for rid in sorted(self.fired):
            if rid not in self.addons:
                continue
            fw, addon = self.addons[rid]
            if fw != framework:
                continue
            out.append({"framework": fw, "need": addon.need, "package": addon.package,
                        "text": f"{FRAMEWORK_NAMES[fw]}: {addon.text}", "source": self.source(addon.claims),
                        "because": self._merge(self.fired[rid]).because})
        return out

    def _merge(self, firings: list[Firing]) -> Explained:
        because: dict[str, str | int] = {}
        via: set[str] = set()
        for f in firings:
            e = self.explain_firing(f)
            because.update(e.because)
            via.update(e.via)
        return Explained(dict(sorted(because.items())), tuple(sorted(via)))
