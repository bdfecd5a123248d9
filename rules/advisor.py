"""The advisor: a knowledge base compiled into a durable_rules ruleset, evaluated on answers.

`Advisor.recommend(answers)` is the whole decision: ranking, reasons, caveats, next question and
what would change it. Slack, the terminal and the CLI all call this and nothing else decides.
"""

from __future__ import annotations

import gc
import threading
from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from knowledge import loader
from knowledge.models import KnowledgeBase
from rules.answers import Answers, validate_answers
from rules.compile import answer_patterns, caveat_id, compile_rules, matches, partition
from rules.engine import Firing, Ruleset, unique_name
from rules.evaluation import Evaluation
from rules.scoring import choose, counted, rank, scores_of
from rules.selection import Selection, Selector
from rules.whatif import Stability, integer_regions, pair_changes, question_dependencies, what_would_change

# Firings per (part, answers to that part's questions). Most parts read one to three questions,
# so their entries are shared by every consultation; the largest part holds most of the rest.
# Entries are tuples of plain dicts, which the garbage collector stops tracking (no GC cost).
_CACHE_SIZE = 4096
# Next steps per (answers, skipped): a consultation asks for the state after one answer again as
# the state before the next, so this needs about one entry per consultation active at once.
_STEPS_SIZE = 1024


_MISSING = object()


class Advisor:
    """Evaluates answer sets against one knowledge base."""

    def __init__(self, kb: KnowledgeBase):
        self.kb = kb
        self.version = kb.version
        specs = compile_rules(kb)
        self.rules = {r.id: r for r in kb.rules}
        # The rules split into independent parts (rules.compile.partition), each its own ruleset:
        # a changed answer re-runs only its own part, and the other parts come from the cache.
        # The core rulesets leave out the caveat (add-on) rules: caveats never change a score, so
        # the many evaluations of what_would_change, which need only the recommendation, skip them.
        self.parts: list[tuple[frozenset[str], Ruleset, Ruleset | None]] = []
        for i, (questions, part_specs) in enumerate(partition(kb, specs)):
            core_specs = [sp for sp in part_specs if sp.id in self.rules]
            self.parts.append((questions, Ruleset(unique_name(f"advisor_{kb.version}_p{i}"), part_specs),
                               Ruleset(unique_name(f"advisor_core_{kb.version}_p{i}"), core_specs)
                               if core_specs else None))
        self.addons = {caveat_id(p.framework, a): (p.framework, a) for p in kb.profiles for a in p.addons}
        self.selector = Selector(kb)
        self.regions = {q.id: integer_regions(kb, q) for q in kb.questions if q.type == "integer"}
        self.patterns = answer_patterns(kb)
        self.core_patterns = answer_patterns(kb, with_addons=False)
        self.sources = {c.id: kb.source_of(c.id) for c in kb.claims}
        self.stability = Stability(kb, question_dependencies(kb))
        # Bounded, so 100,000 distinct consultations keep memory flat; threads share it (_cached).
        self._firings: OrderedDict[tuple, list[Firing]] = OrderedDict()
        self._cache_lock = threading.Lock()
        self.part_of = {q: i for i, (questions, _, _) in enumerate(self.parts) for q in questions}
        # Whether a choice answer can match any pattern, per (core, question, value): a handful of
        # entries, asked for every answer of every evaluation.
        self._matchable: dict[tuple, bool] = {}
        self._steps: OrderedDict[tuple, Selection] = OrderedDict()
        self._weights = {r.id: (r.framework, r.weight) for r in kb.rules if r.kind == "score"}
        self._claims = {r.id: tuple(r.claims) for r in kb.rules if r.kind == "score"}
        self._by_fired: dict[frozenset[str], str | None] = {}  # fired score rules -> the recommendation

    def validate(self, raw: dict) -> Answers:
        """Canonical answers from raw JSON-like data (AnswerError when invalid)."""
        return validate_answers(self.kb, raw)

    def facts_for(self, answers: Answers) -> list[dict]:
        """The engine facts for an answer set (only answers some rule pattern can match)."""
        return [{"t": "a", "q": q, "v": v} for q, v in answers.items() if matches(self.patterns.get(q, []), v)]

    def _matches(self, core: bool, q: str, v) -> bool:
        if isinstance(v, int) and not isinstance(v, bool):
            return matches((self.core_patterns if core else self.patterns).get(q, []), v)
        key = (core, q, v)
        hit = self._matchable.get(key)
        if hit is None:
            hit = self._matchable[key] = matches((self.core_patterns if core else self.patterns).get(q, []), v)
        return hit

    def _own(self, answers: Answers, core: bool) -> dict[int, tuple]:
        """Part index -> the (question, value) pairs of that part's matchable answers, sorted."""
        own: dict[int, list[tuple]] = {}
        for q, v in sorted(answers.items()):
            i = self.part_of.get(q)
            if i is not None and self._matches(core, q, v):
                own.setdefault(i, []).append((q, v))
        return {i: tuple(items) for i, items in own.items()}

    def _run(self, answers: Answers, core: bool = False) -> list[Firing]:
        firings: list[Firing] = []
        own = self._own(answers, core)
        for i in sorted(own):  # a part with no answer cannot fire: every rule needs one, directly or not
            _, full, core_rules = self.parts[i]
            ruleset = core_rules if core else full
            if ruleset is not None:
                firings.extend(self._part(i, core, ruleset, own[i]))
        return firings

    def _part(self, i: int, core: bool, ruleset: Ruleset, own: tuple) -> list[Firing]:
        return self._cached(self._firings, (i, core, own), _CACHE_SIZE,
                            lambda: ruleset.run([{"t": "a", "q": q, "v": v} for q, v in own]))

    def _cached(self, cache: OrderedDict, key: tuple, size: int, compute: Callable[[], Any]) -> Any:
        """An LRU lookup shared by threads: a hit and its move_to_end must not interleave with another
        thread's eviction (KeyError), so both happen under the lock; `compute` runs outside it."""
        with self._cache_lock:
            hit = cache.get(key)
            if hit is not None:
                cache.move_to_end(key)
                return hit
        value = compute()
        with self._cache_lock:
            cache[key] = value
            if len(cache) > size:
                cache.popitem(last=False)
        return value

    def _evaluation(self, answers: Answers, firings: list[Firing]) -> Evaluation:
        s = self.kb.settings
        return Evaluation(self.kb, dict(answers), firings, self.rules, self.addons, s.min_confidence, s.min_lead,
                          self.sources)

    def evaluate(self, answers: Answers, *, core: bool = False) -> Evaluation:
        """Run the rules on (already validated) answers (`core`: without caveat rules)."""
        return self._evaluation(answers, self._run(answers, core))

    def select(self, ev: Evaluation, excluded: frozenset[str] | set[str] = frozenset()) -> Selection:
        """Which question next, or whether enough is known (`excluded`: questions the user skipped)."""
        return self.selector.select(ev, excluded)

    def next_step(self, answers: Answers, excluded: frozenset[str] = frozenset()) -> Selection:
        """`select(evaluate(answers), excluded)`, remembered: a conversation asks it again for the same
        answers (the state after one answer is the state before the next)."""
        return self._cached(self._steps, (tuple(sorted(answers.items())), excluded), _STEPS_SIZE,
                            lambda: self.select(self.evaluate(answers), excluded))

    def outcome(self, answers: Answers) -> str | None:
        """Only the recommendation for an answer set (what `what_would_change` compares).

        An integer answer is replaced by the start of its region: every value of a region fires
        the same rules (rules.whatif.integer_regions), and equal keys share cached firings.
        """
        return self.evaluate(self._canonical(answers), core=True).recommendation

    def _canonical(self, answers: Answers) -> Answers:
        """Each integer answer replaced by the start of its region."""
        return {q: self._region_start(q, v) if q in self.regions else v for q, v in answers.items()}

    def _region_start(self, question: str, value) -> int:
        for lo, hi in self.regions[question]:
            if lo <= value <= hi:
                return lo
        return value

    def changes(self, ev: Evaluation) -> list[dict]:
        """Every single answer change that would change the recommendation.

        Each candidate differs from `ev.answers` in one question, so only that question's part is
        evaluated again; the other parts' firings are the current answers' (same result as
        `outcome`, without re-reading every answer for every candidate).
        """
        fired = set(ev.fired)
        return what_would_change(self.kb, ev.answers, ev.recommendation, self._nearby(ev), self.regions,
                                 lambda q: self.stability.stable(q, fired, ev.recommendation))

    def pairs(self, ev: Evaluation) -> list[dict]:
        """When no single change flips the recommendation: the first pairs of changes that do."""
        fired = set(ev.fired)
        return pair_changes(self.kb, ev.answers, ev.recommendation, self._nearby(ev), self.regions,
                            stable=lambda qs: self.stability.stable(qs, fired, ev.recommendation))

    def _nearby(self, ev: Evaluation) -> Callable[[Answers], str | None]:
        """`outcome` for answer sets that differ from `ev.answers` in a few questions: only the parts
        those questions belong to are evaluated again, the other parts' firings are the current ones'."""
        own = self._own(self._canonical(ev.answers), core=True)
        # Per part, the score rules its current firings fired; only those decide the recommendation.
        scoring = {i: self._scoring(self._part(i, True, self.parts[i][2], items))
                   for i, items in own.items() if self.parts[i][2]}
        others: dict[frozenset, frozenset[str]] = {}  # parts changed -> the score rules every other part fired

        def outcome(answers: Answers) -> str | None:
            changed = [q for q, v in answers.items() if q not in ev.answers or ev.answers[q] != v]
            same_keys = set(ev.answers) <= set(answers)
            parts = [self.part_of.get(q) for q in changed]
            if not changed or not same_keys or any(i is None or self.parts[i][2] is None for i in parts):
                return self.outcome(answers)  # not a change of known parts: the general way
            moved = frozenset(parts)
            if moved not in others:
                others[moved] = frozenset().union(*(rs for j, rs in scoring.items() if j not in moved))
            fired_scores = others[moved]
            for i in moved:
                mine = {q for q in changed if self.part_of.get(q) == i}
                items = [(k, x) for k, x in own.get(i, ()) if k not in mine]
                for q in mine:
                    v = self._region_start(q, answers[q]) if q in self.regions else answers[q]
                    if self._matches(True, q, v):
                        items.append((q, v))
                if items:
                    fired_scores = fired_scores | self._scoring(self._part(i, True, self.parts[i][2],
                                                                           tuple(sorted(items))))
            return self._recommendation(fired_scores)

        return outcome

    def _scoring(self, firings: list[Firing]) -> frozenset[str]:
        """The score rules among some firings."""
        return frozenset(f.rule for f in firings if f.rule in self._weights)

    def _recommendation(self, fired_scores: frozenset[str]) -> str | None:
        """The recommendation when exactly these score rules fired: what `Evaluation.recommendation`
        computes (the same scoring functions), without building an Evaluation."""
        # Many candidate changes end in the same fired rules (a value that fires nothing new): cached.
        found = self._by_fired.get(fired_scores, _MISSING)
        if found is not _MISSING:
            return found  # type: ignore[return-value]
        s = self.kb.settings
        ids = counted((rid, *self._weights[rid], self._claims[rid]) for rid in fired_scores)
        rec = choose(rank(scores_of(self._weights[rid] for rid in ids)), s.min_confidence, s.min_lead)
        if len(self._by_fired) > 8192:
            self._by_fired.clear()
        self._by_fired[fired_scores] = rec
        return rec

    def recommend(self, answers: Answers, *, with_changes: bool = True,
                  excluded: frozenset[str] | set[str] = frozenset()) -> dict:
        """The full, explained recommendation as JSON-ready data (the CLI's output contract)."""
        ev = self.evaluate(answers)
        sel = self.select(ev, excluded)
        st = self.kb.settings
        # The shown fit: 0.5 +/- fit_span, so no number reads as certainty (the thresholds use CF).
        fits = [round(0.5 + st.fit_span * s.cf, 4) for s in ev.ranking]
        margin = round(fits[0] - fits[1], 4)
        label = "none" if ev.recommendation is None else "clear" if margin >= st.clear_lead else "narrow"
        return {
            "recommendation": ev.recommendation,
            "lead": {"label": label, "margin": margin},
            "ranking": [{"framework": s.framework, "score": round(s.cf, 4), "confidence": fit}
                        for s, fit in zip(ev.ranking, fits, strict=True)],
            "reasons": ev.reasons(),
            "caveats": ev.caveats(ev.recommendation),
            "derived": ev.derivations(),
            "skipped": dict(sorted(ev.skipped.items())),
            "next_question": sel.next_question,
            "done": sel.done,
            "what_would_change": (changes := self.changes(ev) if with_changes else []),
            # Only when no single change flips it: the first pairs of changes that do (how robust it is).
            "what_would_change_pairs": self.pairs(ev) if with_changes and not changes else [],
            "knowledge_version": self.version,
        }


@lru_cache(maxsize=1)
def default() -> Advisor:
    """The advisor for the packaged knowledge base (one per process)."""
    advisor = Advisor(loader.default())
    # Everything loaded so far lives for the whole process: keep it out of future GC passes.
    gc.freeze()
    return advisor
