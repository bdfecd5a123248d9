"""The advisor: a knowledge base compiled into a durable_rules ruleset, evaluated on answers.

`Advisor.recommend(answers)` is the whole decision: ranking, reasons, caveats, next question and
what would change it. Slack, the terminal and the CLI all call this and nothing else decides.
"""

from __future__ import annotations

import gc
import threading
from collections import OrderedDict
from functools import lru_cache

from knowledge import loader
from knowledge.models import KnowledgeBase
from rules.answers import Answers, validate_answers
from rules.compile import answer_patterns, caveat_id, compile_rules, matches
from rules.engine import Firing, Ruleset, unique_name
from rules.evaluation import Evaluation
from rules.selection import Selection, Selector
from rules.whatif import Stability, integer_regions, question_dependencies, what_would_change

# Small on purpose: it serves the repeated evaluations of one interaction (state, selection,
# what_would_change); a large cache of firing dicts makes every full GC pass slow (p99 spikes).
_CACHE_SIZE = 64


class Advisor:
    """Evaluates answer sets against one knowledge base."""

    def __init__(self, kb: KnowledgeBase):
        self.kb = kb
        self.version = kb.version
        specs = compile_rules(kb)
        self.ruleset = Ruleset(unique_name(f"advisor_{kb.version}"), specs)
        self.rules = {r.id: r for r in kb.rules}
        # The same rules without the caveat (add-on) rules: caveats never change a score, so the
        # many evaluations of what_would_change, which need only the recommendation, skip them.
        self.core = Ruleset(unique_name(f"advisor_core_{kb.version}"), [s for s in specs if s.id in self.rules])
        self.addons = {caveat_id(p.framework, a): (p.framework, a) for p in kb.profiles for a in p.addons}
        self.selector = Selector(kb)
        self.regions = {q.id: integer_regions(kb, q) for q in kb.questions if q.type == "integer"}
        self.patterns = answer_patterns(kb)
        self.core_patterns = answer_patterns(kb, with_addons=False)
        self.sources = {c.id: kb.source_of(c.id) for c in kb.claims}
        self.stability = Stability(kb, question_dependencies(kb))
        # Bounded, so 100,000 distinct consultations keep memory flat. Threads share it: a hit
        # and its move_to_end must not interleave with another thread's eviction (KeyError).
        self._firings: OrderedDict[tuple, list[Firing]] = OrderedDict()
        self._cache_lock = threading.Lock()

    def validate(self, raw: dict) -> Answers:
        """Canonical answers from raw JSON-like data (AnswerError when invalid)."""
        return validate_answers(self.kb, raw)

    def facts_for(self, answers: Answers) -> list[dict]:
        """The engine facts for an answer set (only answers some rule pattern can match)."""
        return [{"t": "a", "q": q, "v": v} for q, v in answers.items() if matches(self.patterns.get(q, []), v)]

    def _run(self, answers: Answers, core: bool = False) -> list[Firing]:
        key = (core, *sorted(answers.items()))
        with self._cache_lock:
            hit = self._firings.get(key)
            if hit is not None:
                self._firings.move_to_end(key)
                return hit
        if core:
            firings = self.core.run([{"t": "a", "q": q, "v": v} for q, v in answers.items()
                                     if matches(self.core_patterns.get(q, []), v)])
        else:
            firings = self.ruleset.run(self.facts_for(answers))
        with self._cache_lock:
            self._firings[key] = firings
            if len(self._firings) > _CACHE_SIZE:
                self._firings.popitem(last=False)
        return firings

    def evaluate(self, answers: Answers, *, core: bool = False) -> Evaluation:
        """Run the rules on (already validated) answers (`core`: without caveat rules)."""
        s = self.kb.settings
        return Evaluation(self.kb, dict(answers), self._run(answers, core), self.rules, self.addons,
                          s.min_confidence, s.min_lead, self.sources)

    def select(self, ev: Evaluation, excluded: frozenset[str] | set[str] = frozenset()) -> Selection:
        """Which question next, or whether enough is known (`excluded`: questions the user skipped)."""
        return self.selector.select(ev, excluded)

    def outcome(self, answers: Answers) -> str | None:
        """Only the recommendation for an answer set (what `what_would_change` compares)."""
        return self.evaluate(answers, core=True).recommendation

    def changes(self, ev: Evaluation) -> list[dict]:
        """Every single answer change that would change the recommendation."""
        fired = set(ev.fired)
        return what_would_change(self.kb, ev.answers, ev.recommendation, self.outcome, self.regions,
                                 lambda q: self.stability.stable(q, fired, ev.recommendation))

    def recommend(self, answers: Answers, *, with_changes: bool = True,
                  excluded: frozenset[str] | set[str] = frozenset()) -> dict:
        """The full, explained recommendation as JSON-ready data (the CLI's output contract)."""
        ev = self.evaluate(answers)
        sel = self.select(ev, excluded)
        return {
            "recommendation": ev.recommendation,
            "ranking": [{"framework": s.framework, "score": round(s.cf, 4), "confidence": round(s.confidence, 4)}
                        for s in ev.ranking],
            "reasons": ev.reasons(),
            "caveats": ev.caveats(ev.recommendation),
            "derived": ev.derivations(),
            "skipped": dict(sorted(ev.skipped.items())),
            "next_question": sel.next_question,
            "done": sel.done,
            "what_would_change": self.changes(ev) if with_changes else [],
            "knowledge_version": self.version,
        }


@lru_cache(maxsize=1)
def default() -> Advisor:
    """The advisor for the packaged knowledge base (one per process)."""
    advisor = Advisor(loader.default())
    # Everything loaded so far lives for the whole process: keep it out of future GC passes.
    gc.freeze()
    return advisor
