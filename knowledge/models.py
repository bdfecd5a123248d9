"""Pydantic models for the knowledge base: sections, claims, questions, rules, profiles, settings.

The knowledge base is data (TOML files beside this module). These models are the only place
that says what a valid file looks like; `knowledge.loader` reads the files into them and
`knowledge.check` reports broken references between them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

FRAMEWORKS: tuple[str, ...] = ("django", "flask", "node")
"""Every framework the advisor ranks, in tie-break order."""

FRAMEWORK_NAMES = {"django": "Django", "flask": "Flask", "node": "Node.js"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Section(_Strict):
    """A part of the seed document that claims cite.

    `heading` is the seed's heading text exactly. A paragraph without a heading of its own is
    cited by the preceding heading plus the paragraph's first words (`first_words`).
    """

    id: str
    heading: str
    first_words: str = ""
    kind: Literal["intro", "narrative", "table", "faq", "conclusion"] = "narrative"

    @property
    def title(self) -> str:
        """How a reason cites this section."""
        if self.first_words:
            return f"{self.heading} ({self.first_words}...)"
        return self.heading


class Claim(_Strict):
    """One comparison claim, in our own words, citing the section it comes from.

    `origin = "ours"` marks knowledge we added beyond the seed (e.g. any Node-vs-Django evidence:
    the seed compares Node only with Flask). `incomplete` flags a garbled or missing seed cell.
    `conflicts_with` links claims the seed contradicts itself on; `resolution` says how the rule
    weights resolve the conflict.
    """

    id: str
    section: str
    text: str
    row: int | None = None
    criterion: str | None = None
    favours: list[Literal["django", "flask", "node"]] = Field(default_factory=list)
    origin: Literal["seed", "ours"] = "seed"
    incomplete: bool = False
    incomplete_note: str = ""
    conflicts_with: list[str] = Field(default_factory=list)
    resolution: str = ""

    @model_validator(mode="after")
    def _row_has_criterion(self) -> Claim:
        if (self.row is None) != (self.criterion is None):
            raise ValueError(f"claim {self.id}: a table row needs both row and criterion")
        if self.incomplete and not self.incomplete_note:
            raise ValueError(f"claim {self.id}: incomplete claims say what is missing (incomplete_note)")
        if self.conflicts_with and not self.resolution:
            raise ValueError(f"claim {self.id}: conflicting claims document their resolution")
        return self


class AnswerValue(_Strict):
    """One allowed value of a choice question, with the words people type for it."""

    value: str
    label: str
    synonyms: list[str] = Field(default_factory=list)


class Question(_Strict):
    """A question the consultation may ask. Answers are optional."""

    id: str
    prompt: str
    why: str
    type: Literal["integer", "choice", "yes_no"]
    values: list[AnswerValue] = Field(default_factory=list)
    min: int | None = None
    max: int | None = None
    priority: int = 50
    claims: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _shape(self) -> Question:
        if self.type == "integer":
            if self.min is None or self.max is None or self.values:
                raise ValueError(f"question {self.id}: an integer question has min and max, no values")
        else:
            if not self.values:
                raise ValueError(f"question {self.id}: a {self.type} question lists its values")
            if self.type == "yes_no" and [v.value for v in self.values] != ["yes", "no"]:
                raise ValueError(f"question {self.id}: yes_no values are exactly yes, no")
        return self

    @property
    def allowed(self) -> list[str] | list[int]:
        """The canonical values (for an integer: [min, max])."""
        if self.type == "integer":
            return [self.min, self.max]  # type: ignore[list-item]
        return [v.value for v in self.values]

    def label_of(self, value: object) -> str:
        """The human label of a canonical value."""
        for v in self.values:
            if v.value == value:
                return v.label
        return str(value)


Op = Literal["==", "!=", ">=", "<=", ">", "<", "in"]


class Condition(_Strict):
    """One test in a rule: either on an answer (`q`, `op`, `value`) or on a derived fact (`fact`)."""

    q: str | None = None
    op: Op = "=="
    value: str | int | list[str] | None = None
    fact: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Condition:
        if (self.q is None) == (self.fact is None):
            raise ValueError("a condition tests either an answer (q) or a derived fact (fact)")
        if self.q is not None and self.value is None:
            raise ValueError(f"condition on {self.q} needs a value")
        if self.op == "in" and not isinstance(self.value, list):
            raise ValueError(f"condition on {self.q}: 'in' takes a list")
        return self

    def holds(self, answer: object) -> bool:
        """Whether a given answer value satisfies this (answer) condition.

        Used only by the question-selection bound to know which rules an answer already rules
        out; the engine itself evaluates conditions in durable_rules.
        """
        v = self.value
        if self.op == "in":
            return answer in v  # type: ignore[operator]
        if self.op == "==":
            return answer == v
        if self.op == "!=":
            return answer != v
        if not isinstance(answer, int) or not isinstance(v, int):
            return False
        return {">=": answer >= v, "<=": answer <= v, ">": answer > v, "<": answer < v}[self.op]


class DerivedFact(_Strict):
    """A fact that rules derive from answers or from other derived facts."""

    id: str
    label: str


class Rule(_Strict):
    """A forward-chaining rule. All conditions must hold (logical AND).

    kind:
    - derive: asserts the derived fact `derive`;
    - score: adds `weight` (in [-0.9, 0.9]) of evidence for `framework` (negative = against);
    - skip: marks the questions in `skip` as not applicable.
    """

    id: str
    kind: Literal["derive", "score", "skip"]
    when: list[Condition]
    text: str
    claims: list[str] = Field(default_factory=list)
    derive: str | None = None
    framework: Literal["django", "flask", "node"] | None = None
    weight: float | None = None
    skip: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _shape(self) -> Rule:
        if not self.when:
            raise ValueError(f"rule {self.id}: needs at least one condition")
        if self.kind == "derive" and not self.derive:
            raise ValueError(f"rule {self.id}: a derive rule names the fact it derives")
        if self.kind == "score":
            if self.framework is None or self.weight is None:
                raise ValueError(f"rule {self.id}: a score rule has framework and weight")
            if not (-0.9 <= self.weight <= 0.9) or self.weight == 0:
                raise ValueError(f"rule {self.id}: weight must be non-zero in [-0.9, 0.9]")
        if self.kind == "skip" and not self.skip:
            raise ValueError(f"rule {self.id}: a skip rule names the questions it skips")
        return self


class Addon(_Strict):
    """Something a team must add to a framework for a need (a caveat when the need applies)."""

    need: str
    package: str
    when: list[Condition]
    text: str
    claims: list[str] = Field(default_factory=list)
    origin: Literal["seed", "ours"] = "seed"


class Profile(_Strict):
    """What a framework brings built in and what must be added (from the seed)."""

    framework: Literal["django", "flask", "node"]
    name: str
    summary: str
    builtin: list[str]
    claims: list[str] = Field(default_factory=list)
    addons: list[Addon] = Field(default_factory=list)


class Settings(_Strict):
    """Thresholds and the documented evidence-combination formula."""

    min_confidence: float = Field(ge=0.5, le=1.0)
    min_lead: float = Field(ge=0.0, le=1.0)
    combination: str
    # A lead (in shown fit, 0-1) at least this wide reads "a clear lead"; below it "a narrow lead".
    clear_lead: float = Field(default=0.15, ge=0.0, le=1.0)
    # The shown fit never reaches certainty: 0.5 + fit_span * CF, so it stays within 0.5 +/- fit_span.
    fit_span: float = Field(default=0.45, gt=0.0, lt=0.5)
    # Default review date of a decision, in months after it is recorded.
    review_months: int = Field(default=6, ge=1, le=60)


def _by_id(items: list, key: str):
    for item in items:
        if item.id == key:
            return item
    raise KeyError(key)


class KnowledgeBase(_Strict):
    """Everything the advisor knows, loaded and validated."""

    sections: list[Section]
    claims: list[Claim]
    questions: list[Question]
    facts: list[DerivedFact]
    rules: list[Rule]
    profiles: list[Profile]
    settings: Settings
    version: str

    def question(self, qid: str) -> Question:
        """The question with this id (KeyError if unknown)."""
        return _by_id(self.questions, qid)

    def claim(self, cid: str) -> Claim:
        """The claim with this id (KeyError if unknown)."""
        return _by_id(self.claims, cid)

    def section(self, sid: str) -> Section:
        """The section with this id (KeyError if unknown)."""
        return _by_id(self.sections, sid)

    def source_of(self, cid: str) -> str:
        """The citation of a claim: its section heading and, for a table row, '#N criterion'."""
        claim = self.claim(cid)
        title = self.section(claim.section).title
        if claim.row is not None:
            title = f"{title} #{claim.row} {claim.criterion}"
        if claim.origin == "ours":
            title += " [ours]"
        return title
