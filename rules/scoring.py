"""How evidence combines into a score and a confidence (documented in README, "Scoring").

Each fired score rule contributes a weight w in [-0.9, 0.9] to one framework. As in EMYCIN:

- measure of belief    MB = 1 - prod(1 - w)   over the positive weights,
- measure of disbelief MD = 1 - prod(1 - |w|) over the negative weights,
- score (certainty factor) CF = (MB - MD) / (1 - min(MB, MD)), in [-1, 1],
- confidence = (1 + CF) / 2, in [0, 1]; 0.5 means no net evidence.

One sentence of the comparison counts once: per framework and direction, the strongest fired rule
citing a claim counts and a weaker one citing any of the same claims does not (`counted`), so
restating a sentence in several rules cannot inflate a score.

Combining all positives and all negatives separately first makes the result independent of
rule order (the pairwise MYCIN formula is not associative across signs). Products are taken
over sorted weights so floating point rounding is order-independent too. CF is increasing in MB
and decreasing in MD, which the stopping bound in `rules.selection` relies on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from knowledge.models import FRAMEWORKS


def combine(weights: Iterable[float]) -> float:
    """Combine same-sign evidence magnitudes: 1 - prod(1 - |w|), order-independent."""
    # math.prod multiplies left to right from 1.0: the same floating point steps as a loop would.
    return 1.0 - math.prod([1.0 - w for w in sorted(map(abs, weights))])


def certainty(mb: float, md: float) -> float:
    """The certainty factor from belief and disbelief."""
    denominator = 1.0 - min(mb, md)
    if denominator <= 0.0:
        return 0.0
    return (mb - md) / denominator


@dataclass(frozen=True)
class Score:
    """One framework's combined evidence."""

    framework: str
    mb: float
    md: float

    @property
    def cf(self) -> float:
        """The certainty factor in [-1, 1]."""
        return certainty(self.mb, self.md)

    @property
    def confidence(self) -> float:
        """The [0, 1] reading of the certainty factor."""
        return (1.0 + self.cf) / 2.0


def counted(rules: Iterable[tuple[str, str, float, Sequence[str]]]) -> frozenset[str]:
    """The ids of fired score rules that count, from (id, framework, weight, claims).

    Per framework and direction, strongest first (ties by id, so the result is order-free): a rule
    counts unless it cites a claim that a stronger counted rule already cites.
    """
    out: set[str] = set()
    used: dict[tuple[str, bool], set[str]] = {}
    for rid, fw, w, claims in sorted(rules, key=lambda r: (-abs(r[2]), r[0])):
        seen = used.setdefault((fw, w > 0), set())
        if seen.isdisjoint(claims):
            out.add(rid)
            seen.update(claims)
    return frozenset(out)


def score_all(evidence: dict[str, list[float]]) -> dict[str, Score]:
    """Scores for every framework from its list of signed weights."""
    scores = {}
    for fw in FRAMEWORKS:
        ws = evidence.get(fw, [])
        scores[fw] = Score(fw, combine(w for w in ws if w > 0), combine(w for w in ws if w < 0))
    return scores


def scores_of(weights: Iterable[tuple[str, float]]) -> dict[str, Score]:
    """Scores for every framework from (framework, signed weight) pairs of fired score rules."""
    evidence: dict[str, list[float]] = {}
    for fw, w in weights:
        evidence.setdefault(fw, []).append(w)
    return score_all(evidence)


def rank(scores: dict[str, Score]) -> list[Score]:
    """Best first; ties (to 1e-9) break in the order django, flask, node."""
    return sorted(scores.values(), key=lambda s: (-round(s.cf, 9), FRAMEWORKS.index(s.framework)))


def choose(ranking: list[Score], min_confidence: float, min_lead: float) -> str | None:
    """The recommendation from a ranking: the top framework, or None when its confidence or its
    lead over the second is below the thresholds."""
    top, second = ranking[0], ranking[1]
    if top.confidence < min_confidence or top.confidence - second.confidence < min_lead:
        return None
    return top.framework


def beats(a: str, cf_a: float, b: str, cf_b: float) -> bool:
    """Whether framework a with cf_a ranks above b with cf_b (the same order as `rank`)."""
    ra, rb = round(cf_a, 9), round(cf_b, 9)
    return ra > rb or (ra == rb and FRAMEWORKS.index(a) < FRAMEWORKS.index(b))
