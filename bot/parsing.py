"""Turn what a person types into canonical answers, commands and corrections, by explicit rules.

No model is involved: every decision comes from the synonyms in `knowledge/questions.toml`, the
generic word lists below and a few documented rules (longest match wins, negation flips or drops
a match, two different values are ambiguous). The same functions serve the terminal and Slack.

All text is untrusted. Every public function accepts any `str` and never raises on it; messages
built here never repeat the user's text, so Slack markup such as `<!channel>` cannot be echoed.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from knowledge.models import Question

MAX_ANSWER_CHARS = 4000
"""Longer text is refused politely rather than scanned."""

QUESTIONS_FILE = Path(__file__).resolve().parent.parent / "knowledge" / "questions.toml"

SKIP_HINT = "(or type skip)"

# Generic answers to any yes/no question; each question adds its own phrases in the TOML file.
GENERIC_YES = (
    "yes", "yep", "yeah", "yea", "ya", "yup", "y", "sure", "sure thing", "definitely", "absolutely",
    "of course", "certainly", "indeed", "affirmative", "correct", "true", "ok", "okay", "for sure",
    "totally", "we do", "it does", "we will", "need it", "we need it", "required", "needed",
    "must have", "a must", "important", "very much", "why not", "probably", "i think so", "yess", "yesss",
    "yeahh", "yas", "100 percent", "hell yes", "big yes", "sure thing", "you bet", "yes please", "critical",
    "crucial", "essential", "hard requirement", "a hard requirement", "requirement", "a requirement", "ideally",
    "would be handy", "handy", "key", "is key",
    "would be nice", "nice to have", "we would like that", "that would be great",
)
GENERIC_NO = (
    "no", "nope", "nah", "n", "never", "negative", "false", "none", "no way", "no thanks",
    "no need", "not really", "not at all", "not now", "definitely not", "absolutely not",
    "of course not", "certainly not", "not needed", "not necessary", "not required",
    "not important", "we do not", "it does not", "we will not", "nothing like that",
    "probably not", "i do not think so", "not yet", "not for now", "not right now",
    "not at the moment", "no strong need", "not a requirement", "not a priority", "no plans", "not planned",
    "not soon", "not this year", "no need really", "not really needed", "nothing planned", "nooo", "noo",
    "we do not need one", "do not need one", "do not need it", "not needed really", "not in scope", "out of scope",
    "not for now", "not at this stage", "not in v1", "not for v1",
)
# Hedges: the person does not know. Longest match lets "not sure" beat the generic "sure".
UNSURE = (
    "not sure", "unsure", "do not know", "no idea", "dunno", "idk", "no clue", "not decided",
    "undecided", "have not decided", "tbd", "to be decided", "it depends", "hard to say", "depends",
    "depending on", "depending", "not decided yet", "need to check", "have to check",
    "need to ask", "have to ask", "not signed off",
)
# Weak hedges: alone they mean "not sure"; next to a real answer ("maybe 5") they are ignored.
WEAK_UNSURE = ("maybe", "perhaps", "possibly", "might", "not a dealbreaker", "not a deal breaker", "eventually",
               "should grow", "will grow", "could grow", "may grow", "might grow", "to start")
_UNSURE_VALUE = "\0unsure"
_WEAK_VALUE = "\0weak"

# A negation this close before a match (same clause) negates it: "we do not need an admin".
NEGATIONS = frozenset({"not", "no", "never", "without", "nor", "neither", "hardly", "nobody", "nothing", "skip"})
_NEG_WINDOW = 5
# Words after a bare "no" that keep it a reply rather than "no <other thing>".
_ANSWER_FOLLOWERS = frozenset({
    "we", "i", "it", "they", "you", "that", "thats", "this", "there", "not", "just", "only", "really",
    "thanks", "thank", "sorry", "so", "need", "definitely", "absolutely", "never", "nope", "nah", "no",
    "way", "at", "for", "then", "sadly", "unfortunately", "currently", "probably",
})
# A negation does not reach past these ("no forms and an admin")...
_SCOPE_BREAK = frozenset({"and", "plus", "also", "then"})
# ...unless it is shared along a list of this question's phrases ("no chat or push").
_COORDINATION = frozenset({"and", "or", "nor", "plus", "a", "an", "any", "the", "some"})
# Words allowed between a match and a following "not": "an admin is not needed".
_POST_FILLER = frozenset({
    "is", "are", "was", "were", "be", "will", "would", "does", "do", "did", "really", "so",
    "that", "very", "too", "at", "all", "even", "probably", "definitely", "absolutely",
})
# Clauses end at punctuation and at contrast words, so "no, but we need chat" keeps "chat".
_CLAUSE_SPLIT = re.compile(r"[.,;:!?()\[\]{}\n\r\t\"|]|\b(?:but|though|although|however|whereas|except)\b")

# Slack/terminal emoji people use as answers.
_EMOJI = {
    ":+1:": " yes ", ":thumbsup:": " yes ", ":white_check_mark:": " yes ", ":heavy_check_mark:": " yes ",
    "\N{THUMBS UP SIGN}": " yes ", "\N{WHITE HEAVY CHECK MARK}": " yes ", "\N{HEAVY CHECK MARK}": " yes ",
    ":-1:": " no ", ":thumbsdown:": " no ", ":x:": " no ", "\N{THUMBS DOWN SIGN}": " no ",
    "\N{CROSS MARK}": " no ",
}
# Contractions typed without an apostrophe; "n't" forms are expanded by regex first.
_CONTRACTIONS = {
    "dont": "do not", "doesnt": "does not", "didnt": "did not", "isnt": "is not", "arent": "are not",
    "wasnt": "was not", "werent": "were not", "wont": "will not", "cant": "can not", "cannot": "can not",
    "havent": "have not", "hasnt": "has not", "shouldnt": "should not", "wouldnt": "would not",
    "couldnt": "could not", "aint": "is not",
}
_SLACK_TOKEN = re.compile(r"<([^<>\n]*)>")
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})


CommandName = Literal[
    "why", "how", "back", "skip", "restart", "status", "quit", "help", "cancel", "decide", "set"
]


class Parsed(BaseModel):
    """The result of parsing an answer: a canonical value, or a clarification to show."""

    ok: bool
    value: str | int | None = None
    message: str | None = None


class Command(BaseModel):
    """A control command typed instead of an answer (terminal and Slack share this grammar).

    `framework` is set for `decide` (django, flask or node; None when missing or unknown),
    `rationale` is the text after "because", `question` and `value` are the parts of `set`
    (for `decide` with an unknown framework, `value` holds what was typed instead).
    """

    name: CommandName
    framework: str | None = None
    rationale: str | None = None
    question: str | None = None
    value: str | None = None


# ---------------------------------------------------------------- loading


def load_questions(path: Path = QUESTIONS_FILE) -> list[Question]:
    """The questions from a questions TOML file, validated.

    `knowledge.loader.default().questions` gives the same list once every knowledge file exists;
    the parser takes either, since it only needs `Question` objects.
    """
    with path.open("rb") as f:
        data = tomllib.load(f)
    return [Question.model_validate(q) for q in data.get("question", [])]


# ---------------------------------------------------------------- normalisation


def clean(text: str, keep_urls: bool = True) -> str:
    """Text with Slack markup resolved and control characters removed (case kept).

    `<url|label>` becomes the label, `<@U1>`, `<!channel>` and other mentions disappear, and a
    bare `<url>` becomes the url (or nothing when `keep_urls` is false, so a link cannot
    smuggle in words like "api").
    """

    def _markup(m: re.Match[str]) -> str:
        inner = m.group(1)
        if inner.startswith(("@", "!")):
            return " "
        if inner.startswith("#"):
            # Channel link: keep the readable name when Slack gives one.
            return " " + inner.split("|", 1)[1] + " " if "|" in inner else " "
        if "|" in inner:
            return " " + inner.split("|", 1)[1] + " "
        return " " + inner + " " if keep_urls else " "

    # Normalise first so that full-width look-alikes of < and > cannot form markup afterwards.
    text = unicodedata.normalize("NFKC", text)
    text = "".join(" " if unicodedata.category(c) in _CONTROL_CATEGORIES else c for c in text)
    # Replacements are padded with spaces, so resolving one token can never forge a new "<!...>".
    text = _SLACK_TOKEN.sub(_markup, text)
    return re.sub(r"\s+", " ", text).strip()


def _normalise(text: str) -> str:
    """Lower-case text with contractions expanded and joining punctuation turned into spaces.

    Applied identically to user text and to synonyms, so the data can be written naturally
    ("don't care", "real-time", "node.js").
    """
    # A line break separates clauses like a full stop does.
    t = clean(re.sub(r"[\r\n]+", " . ", text), keep_urls=False)
    # Slack escapes &, < and > in message text.
    t = t.replace("&amp;", " and ").replace("&lt;", " ").replace("&gt;", " ").replace("&", " and ")
    for emoji, word in _EMOJI.items():
        t = t.replace(emoji, word)
    t = t.lower().replace("\u2019", "'").replace("`", "'")
    t = t.replace("c#", " csharp ").replace("c++", " cplusplus ").replace("f#", " fsharp ")
    t = re.sub(r"\.net\b", " dotnet", t)
    t = re.sub(r"\bwon't\b", "will not", t)
    t = re.sub(r"\bcan't\b", "can not", t)
    t = re.sub(r"n't\b", " not", t)
    t = t.replace("'", "")
    # Joiners inside words are spaces: node.js, real-time, web_app, front/back.
    t = re.sub(r"(?<=\w)[.\-_/+](?=\w)", " ", t)
    return t


def _clauses(text: str) -> list[list[str]]:
    """Normalised text split into clauses of word tokens (contractions expanded)."""
    out = []
    for part in _CLAUSE_SPLIT.split(_normalise(text)):
        tokens: list[str] = []
        for tok in re.findall(r"[^\W_]+", part):
            tokens.extend(_CONTRACTIONS.get(tok, tok).split())
        if tokens:
            out.append(tokens)
    return out


@lru_cache(maxsize=8192)
def _phrase(text: str) -> tuple[str, ...]:
    """A synonym as a token tuple (punctuation inside it is ignored)."""
    return tuple(tok for clause in _clauses(text) for tok in clause)


# ---------------------------------------------------------------- phrase matching


class _Match:
    """One phrase found in the text: where (clause, token span), which value, whether negated."""

    __slots__ = ("clause", "start", "end", "value", "negated")

    def __init__(self, clause: int, start: int, end: int, value: str):
        self.clause, self.start, self.end, self.value = clause, start, end, value
        self.negated = False

    def inside(self, other: _Match) -> bool:
        return (
            self.clause == other.clause
            and other.start <= self.start
            and self.end <= other.end
            and (other.end - other.start) > (self.end - self.start)
        )


class _Lexicon:
    """(phrase, value) pairs indexed by first token: built once per question, used for every answer."""

    __slots__ = ("by_first", "longest")

    def __init__(self, pairs: Sequence[tuple[tuple[str, ...], str]]):
        self.by_first: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for phrase, value in pairs:
            self.by_first.setdefault(phrase[0], []).append((phrase, value))
        self.longest = max((len(p) for p, _ in pairs), default=1)


# Question object -> (that object, its lexicon): keyed by identity (questions hold lists, so they do
# not hash), and the object is kept so its id cannot be reused by another question.
_LEXICONS: dict[tuple[int, bool], tuple[Question, _Lexicon]] = {}


def _lexicon(question: Question, generic: bool) -> _Lexicon:
    """The indexed lexicon of a question (cached per question object)."""
    hit = _LEXICONS.get((id(question), generic))
    if hit is not None and hit[0] is question:
        return hit[1]
    if len(_LEXICONS) > 1024:  # knowledge bases are few; this only bounds a long test run
        _LEXICONS.clear()
    lexicon = _Lexicon(_pairs(question, generic))
    _LEXICONS[(id(question), generic)] = (question, lexicon)
    return lexicon


@lru_cache(maxsize=4)
def _word_lexicon(words: tuple[str, ...], value: str) -> _Lexicon:
    """A lexicon of fixed words (the hedges), built once."""
    return _Lexicon([(_phrase(s), value) for s in words])


def _pairs(question: Question, generic: bool) -> list[tuple[tuple[str, ...], str]]:
    """(phrase, value) pairs for a question: synonyms, labels, value ids and generic words."""
    pairs: list[tuple[tuple[str, ...], str]] = []
    for v in question.values:
        # A yes/no question's own value names ("yes", "No") are generic words too.
        names = (v.value, v.label) if generic or question.type != "yes_no" else ()
        for s in (*names, *v.synonyms):
            p = _phrase(s)
            if p:
                pairs.append((p, v.value))
    if question.type == "yes_no" and generic:
        pairs += [(_phrase(s), "yes") for s in GENERIC_YES]
        pairs += [(_phrase(s), "no") for s in GENERIC_NO]
    if generic:
        pairs += [(_phrase(s), _UNSURE_VALUE) for s in UNSURE]
        pairs += [(_phrase(s), _WEAK_VALUE) for s in WEAK_UNSURE]
    return pairs


def _find(clauses: list[list[str]], lexicon: _Lexicon) -> list[_Match]:
    """Every occurrence of every phrase; shorter matches inside longer ones are dropped."""
    by_first, longest = lexicon.by_first, lexicon.longest
    found: list[_Match] = []
    by_start: dict[tuple[int, int], list[_Match]] = {}
    for ci, tokens in enumerate(clauses):
        for i, tok in enumerate(tokens):
            for phrase, value in by_first.get(tok, ()):
                if tuple(tokens[i:i + len(phrase)]) == phrase:
                    m = _Match(ci, i, i + len(phrase), value)
                    found.append(m)
                    by_start.setdefault((ci, i), []).append(m)

    def covered(m: _Match) -> bool:
        # Only matches starting at most `longest` tokens earlier can contain m (keeps this linear).
        return any(
            m.inside(o)
            for start in range(max(0, m.end - longest), m.start + 1)
            for o in by_start.get((m.clause, start), ())
        )

    # Most specific wins: "not hiring" beats "hiring", "no sql" beats "sql", "not sure" beats "sure".
    kept = sorted((m for m in found if not covered(m)), key=lambda m: (m.clause, m.start, m.end))
    _mark_negations(clauses, kept)
    return kept


def _determiner_no(tokens: list[str], m: _Match, starts: set[tuple[int, int]]) -> bool:
    """Whether a bare "no" qualifies some other topic ("an admin but no forms"), not this answer.

    It is an answer when it ends its clause ("no, ..."), is followed by one of this question's
    phrases ("no chat") or by words that continue a reply ("no we don't", "no thanks").
    """
    if m.end - m.start != 1 or tokens[m.start] != "no" or m.end >= len(tokens):
        return False
    return tokens[m.end] not in _ANSWER_FOLLOWERS and (m.clause, m.end) not in starts


def _negated_before(tokens: list[str], m: _Match) -> bool:
    """A negation shortly before the match, not cut off by "and": "we do not need an admin"."""
    window = tokens[max(0, m.start - _NEG_WINDOW):m.start]
    for k in range(len(window) - 1, -1, -1):
        t = window[k]
        if t in NEGATIONS:
            # "why not both" proposes rather than negates.
            return not (t == "not" and k > 0 and window[k - 1] == "why")
        if t in _SCOPE_BREAK:
            # "no forms and an admin": the "no" is about forms.
            return False
    return False


def _negated_after(tokens: list[str], m: _Match) -> bool:
    """"X is not ..." after the match: "an admin is not needed"."""
    for t in tokens[m.end:]:
        if t in ("not", "never"):
            return True
        if t not in _POST_FILLER:
            break
    return False


def _mark_negations(clauses: list[list[str]], matches: list[_Match]) -> None:
    """Set `negated` on each match (sorted by position), sharing it along coordinated lists.

    "no chat and push notifications": both are negated; "chat and push are not needed" too.
    """
    before = [_negated_before(clauses[m.clause], m) for m in matches]
    after = [_negated_after(clauses[m.clause], m) for m in matches]

    def coordinated(a: _Match, b: _Match) -> bool:
        between = clauses[a.clause][a.end:b.start]
        return a.clause == b.clause and a.end <= b.start and all(t in _COORDINATION for t in between)

    for i in range(1, len(matches)):
        if before[i - 1] and coordinated(matches[i - 1], matches[i]):
            before[i] = True
    for i in range(len(matches) - 2, -1, -1):
        if after[i + 1] and coordinated(matches[i], matches[i + 1]):
            after[i] = True
    for m, b, a in zip(matches, before, after, strict=True):
        m.negated = b or a


def _options(question: Question, values: Sequence[str] | None = None) -> str:
    """The labels of a question's values, for a clarification."""
    wanted = values if values is not None else [v.value for v in question.values]
    return ", ".join(question.label_of(v) for v in wanted)


def _unsure(question: Question) -> str:
    options = f"one of: {_options(question)}" if question.values else "your best guess"
    return f"No problem if you're not sure: type skip, or answer with {options}."


def _fail(message: str) -> Parsed:
    return Parsed(ok=False, value=None, message=message)


def _too_long_or_empty(question: Question, text: str) -> Parsed | None:
    """A refusal for empty or oversized text, else None."""
    if len(text) > MAX_ANSWER_CHARS:
        return _fail(
            f"Sorry, that answer is too long for me (over {MAX_ANSWER_CHARS} characters). "
            f"Please reply in a few words {SKIP_HINT}."
        )
    if not _clauses(text):
        return _fail(f"I didn't get an answer. {_expected(question)} {SKIP_HINT}")
    return None


def _expected(question: Question) -> str:
    if question.type == "integer":
        return f"Answer with a whole number from {question.min} to {question.max}"
    return f"Answer with one of: {_options(question)}"


def _parse_phrases(question: Question, text: str, generic: bool = True) -> Parsed:
    """Parse a choice or yes/no answer by phrase matching (see the module docstring)."""
    clauses = _clauses(text)
    matches = _find(clauses, _lexicon(question, generic))
    starts = {(m.clause, m.start) for m in matches}
    matches = [m for m in matches if not _determiner_no(clauses[m.clause], m, starts)]
    if any(m.value == _UNSURE_VALUE for m in matches):
        # A hedge makes any value in the same text unreliable: offer skip instead of guessing.
        return _fail(_unsure(question))
    values: list[str] = []
    negated_only = False
    hedged = False
    for m in matches:
        if m.value == _WEAK_VALUE:
            hedged = True
            continue
        value: str | None = m.value
        if m.negated:
            # For yes/no a negated "yes" phrase means no ("no chat features"); a negated "no"
            # phrase or a negated choice says only what the answer is not.
            value = "no" if question.type == "yes_no" and m.value == "yes" else None
            negated_only = negated_only or value is None
        if value is not None and value not in values:
            values.append(value)
    if len(values) == 1:
        return Parsed(ok=True, value=values[0], message=None)
    if len(values) > 1:
        order = [v.value for v in question.values if v.value in values]
        return _fail(
            f"That sounds like more than one answer ({_options(question, order)}). "
            f"Which one? {_expected(question)} {SKIP_HINT}"
        )
    if hedged:
        return _fail(_unsure(question))
    if negated_only:
        return _fail(f"I see what it isn't, but not what it is. {_expected(question)} {SKIP_HINT}")
    return _fail(f"I didn't catch that. {_expected(question)} {SKIP_HINT}")


# ---------------------------------------------------------------- numbers

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9,
}
_TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
}
_SCALES = {"hundred": 100, "thousand": 1000, "k": 1000, "million": 1_000_000}
# Vague quantities people use for small teams; fixed readings so the answer is reproducible.
_VAGUE = {("couple",): 2, ("few",): 3, ("handful",): 5, ("dozen",): 12}
_SOLO = (
    ("just", "me"), ("only", "me"), ("me", "alone"), ("just", "myself"), ("by", "myself"),
    ("on", "my", "own"), ("solo",), ("myself",), ("one", "man"), ("one", "person"),
)
_RANGE_SEPARATORS = frozenset({"-", "to", "or", "/"})
_HUGE = Decimal(10) ** 12
# Words that make a bare number a head count, for corrections.
PEOPLE_WORDS = frozenset({
    "people", "person", "persons", "dev", "devs", "developer", "developers", "engineer", "engineers",
    "programmers", "coders", "folks", "members", "team", "staff", "employees", "headcount", "us",
})


def _number_tokens(text: str) -> list[str | Decimal]:
    """Tokens of the text with numbers (digits or words) turned into Decimals."""
    t = clean(text, keep_urls=False).lower()
    t = re.sub(r"(?<=\d),(?=\d{3}\b)", "", t)  # 1,200 -> 1200
    t = re.sub(r"[\u2010-\u2015\u2212]", "-", t)  # en/em dashes and minus signs
    t = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", t)  # twenty-five -> twenty five
    raw = re.findall(r"[0-9]+(?:\.[0-9]+)?|[^\W\d_]+|[-/]", t)
    tokens: list[str | Decimal] = []
    for tok in raw:
        if tok[0].isdigit():
            whole = tok.split(".")[0]
            # Cap absurd digit strings: they are out of range anyway and stay cheap.
            tokens.append(_HUGE if len(whole) > 12 else Decimal(tok))
        else:
            tokens.extend(_CONTRACTIONS.get(tok, tok).split())
    return _words_to_numbers(tokens)


def _words_to_numbers(tokens: list[str | Decimal]) -> list[str | Decimal]:
    """Replace runs of number words ("twenty five", "a dozen", "2 k") by their value."""
    out: list[str | Decimal] = []
    i = 0
    while i < len(tokens):
        solo = next((p for p in _SOLO if tuple(tokens[i:i + len(p)]) == p), None)
        # "just me and two others" is counted by _count_me instead.
        if solo and tokens[i + len(solo):i + len(solo) + 1] not in (["and"], ["plus"]):
            out.append(Decimal(1))
            i += len(solo)
            continue
        if tokens[i:i + 3] == ["half", "a", "dozen"]:
            out.append(Decimal(6))
            i += 3
            continue
        value, j = _read_number(tokens, i)
        if j > i:
            out.append(value)
            i = j
        else:
            out.append(tokens[i])
            i += 1
    return _count_me(out)


def _count_me(tokens: list[str | Decimal]) -> list[str | Decimal]:
    """Count the speaker: "me and 3 others" -> 4, "me and my cofounder" -> 2."""
    out: list[str | Decimal] = []
    i = 0
    while i < len(tokens):
        if tokens[i] in ("me", "myself") and i + 2 < len(tokens) and tokens[i + 1] in ("and", "plus"):
            after = tokens[i + 2]
            if isinstance(after, Decimal):
                out.append(after + 1)
                i += 3
                continue
            if after in ("a", "my", "one", "another"):
                out.append(Decimal(2))
                i += 3
                continue
        out.append(tokens[i])
        i += 1
    return out


def _read_number(tokens: list[str | Decimal], i: int) -> tuple[Decimal, int]:
    """One number starting at tokens[i]: (value, index after it), or (0, i) if none starts there."""
    start = i
    tok = tokens[i]
    nxt = tokens[i + 1] if i + 1 < len(tokens) else None
    # "a" counts only in front of a quantity word: "a dozen", "a couple", "a hundred".
    article = tok in ("a", "an") and isinstance(nxt, str) and ((nxt,) in _VAGUE or nxt in _SCALES)
    if article:
        tok, i = nxt, i + 1
    if isinstance(tok, str) and (tok,) in _VAGUE:
        return Decimal(_VAGUE[(tok,)]), i + 1
    total = Decimal(0)
    current: Decimal | None = None
    # Kind of the previous word: splits "five eight" into two numbers; None = nothing read yet,
    # "a" = an article that lets a scale word start ("a hundred", but not a bare "hundred").
    last: str | None = "a" if article else None
    while i < len(tokens):
        w = tokens[i]
        if isinstance(w, Decimal):
            if last is not None:
                break
            current, last = w, "digits"
        elif w in _UNITS and last in (None, "tens", "hundred", "thousand", "and"):
            current, last = (current or 0) + _UNITS[w], "unit"
        elif w in _TEENS and last in (None, "hundred", "thousand", "and"):
            current, last = (current or 0) + _TEENS[w], "teen"
        elif w in _TENS and last in (None, "hundred", "thousand", "and"):
            current, last = (current or 0) + _TENS[w], "tens"
        elif w == "dozen" and last in ("unit", "digits", "teen", "tens"):
            current, last = (current or 1) * 12, "dozen"
        elif w == "hundred" and last in ("a", "unit", "digits", "teen", "tens"):
            current, last = (current or 1) * 100, "hundred"
        elif w in ("thousand", "k", "million") and last in ("a", "unit", "digits", "teen", "tens", "hundred"):
            total += (current or 1) * _SCALES[w]
            current, last = None, "thousand"
        elif (
            w == "and"
            and last in ("hundred", "thousand")
            and i + 1 < len(tokens)
            and (tokens[i + 1] in _UNITS or tokens[i + 1] in _TEENS or tokens[i + 1] in _TENS)
        ):
            last = "and"
        else:
            break
        i += 1
    if last is None or last == "a":
        return Decimal(0), start
    return total + (current or 0), i


def _numbers(text: str) -> list[Decimal]:
    """The distinct numbers in the text; a range ("5-8", "5 to 8") counts as its midpoint."""
    toks = _number_tokens(text)
    found: list[Decimal] = []
    i = 0
    while i < len(toks):
        tok = toks[i]
        if (
            tok == "between"
            and i + 3 < len(toks)
            and isinstance(toks[i + 1], Decimal)
            and toks[i + 2] == "and"
            and isinstance(toks[i + 3], Decimal)
        ):
            found.append(_midpoint(toks[i + 1], toks[i + 3]))  # type: ignore[arg-type]
            i += 4
            continue
        if isinstance(tok, Decimal):
            if i + 2 < len(toks) and toks[i + 1] in _RANGE_SEPARATORS and isinstance(toks[i + 2], Decimal):
                found.append(_midpoint(tok, toks[i + 2]))  # type: ignore[arg-type]
                i += 3
                continue
            prev = toks[i - 1] if i else None
            before = toks[i - 2] if i >= 2 else None
            # "-5" or "minus 5" (but not the "-" of a range) is negative: refused by range check.
            negative = prev == "minus" or (prev == "-" and not isinstance(before, Decimal))
            found.append(-tok if negative else tok)
        i += 1
    return list(dict.fromkeys(found))


def _midpoint(a: Decimal, b: Decimal) -> Decimal:
    """Midpoint of a range, rounded half up: 5-8 -> 7."""
    return ((a + b) / 2).quantize(Decimal(1), rounding=ROUND_HALF_UP)


def _parse_integer(question: Question, text: str) -> Parsed:
    """Parse a count in digits or words and check it against the question's range."""
    lo, hi = question.min, question.max
    expected = f"{_expected(question)} {SKIP_HINT}"
    if _find(_clauses(text), _word_lexicon(tuple(UNSURE), _UNSURE_VALUE)):
        return _fail(f"No problem if you're not sure: type skip, or give your best guess as a whole number "
                     f"from {lo} to {hi}.")
    try:
        numbers = _numbers(text)
    except ArithmeticError:  # defensive: Decimal arithmetic on odd input
        numbers = []
    if not numbers:
        return _fail(f"I didn't catch a number. {expected}")
    if len(numbers) > 1:
        return _fail(f"I see more than one number there. {expected}")
    n = numbers[0]
    if n != n.to_integral_value():
        return _fail(f"Please give a whole number. {expected}")
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        return _fail(f"That is outside the range I accept. {expected}")
    return Parsed(ok=True, value=int(n), message=None)


# ---------------------------------------------------------------- public API


def parse_answer(question: Question, text: str) -> Parsed:
    """Map typed text to a canonical value of `question`, or explain what is accepted.

    Integers: digits or words, ranges as their midpoint (rounded half up), checked against
    min/max. Yes/no: generic words plus the question's own phrases, with negation ("no chat
    features" -> no). Choices: the most specific synonym wins; a negated one is discarded;
    two different values are ambiguous. Never raises on any `str`.
    """
    try:
        return _parse_answer(question, text)
    except Exception:  # untrusted text must never crash a conversation
        return _fail(f"I didn't catch that. {_expected(question)} {SKIP_HINT}")


def _parse_answer(question: Question, text: str) -> Parsed:
    refused = _too_long_or_empty(question, text)
    if refused:
        return refused
    if question.type == "integer":
        return _parse_integer(question, text)
    return _parse_phrases(question, text)


_SIMPLE_COMMANDS: dict[str, str] = {
    "why": "why", "why do you ask": "why", "why ask": "why", "why is that": "why",
    "how": "how", "how did you decide": "how", "how does this work": "how", "how do you decide": "how",
    "back": "back", "undo": "back", "go back": "back", "previous": "back",
    "skip": "skip", "pass": "skip", "next": "skip", "skip this": "skip", "skip it": "skip",
    "restart": "restart", "start over": "restart", "reset": "restart",
    "status": "status", "progress": "status",
    "quit": "quit", "exit": "quit", "bye": "quit",
    "help": "help", "commands": "help",
    # "stop" only leaves (quit keeps the consultation open); cancelling must be said explicitly.
    "cancel": "cancel", "abort": "cancel", "stop": "quit",
}
FRAMEWORK_ALIASES = {
    "django": "django", "flask": "flask", "node": "node", "nodejs": "node", "node.js": "node",
    "node js": "node", "express": "node", "expressjs": "node", "express.js": "node",
}
_EDGE_PUNCT = " \t\r\n.,;:!?\"'`*_~()[]{}/\\-"
_DECIDE = re.compile(
    r"^decide\b(?:\s*:)?(?:\s+(?:on|for|to\s+use|to\s+go\s+with|with)\b)?\s*(?P<fw>[^\s,;:]+(?:\s+js\b)?)?"
    r"(?P<rest>.*)$",
    re.IGNORECASE | re.DOTALL,
)
_BECAUSE = re.compile(
    r"^\s*[,;:\-\u2013\u2014]?\s*(?:because|since|as|cause|bc)\b[\s,:]*(?P<why>.*)$", re.IGNORECASE | re.DOTALL
)
_SET = re.compile(r"^set\b(?:\s+(?P<body>.*))?$", re.IGNORECASE | re.DOTALL)
# "set up a REST API" is an answer, not `set`: these never name a question.
_NOT_QUESTION_NAMES = frozenset({
    "up", "out", "off", "aside", "in", "on", "a", "an", "the", "it", "of", "to", "for", "and", "some",
    "our", "my", "this", "that", "back", "free", "apart", "about", "down", "things", "everything",
})


def parse_command(text: str) -> Command | None:
    """The command in `text`, or None when the text is not a command (it is then an answer).

    Grammar (case-insensitive, surrounding whitespace and punctuation ignored): why, how,
    back/undo, skip, restart, status, quit/exit, help, cancel,
    `decide <django|flask|node> [because <rationale>]`, `set <question>=<value>` or
    `set <question> <value>`. Never raises on any `str`.
    """
    try:
        return _parse_command(text)
    except Exception:  # untrusted text must never crash a conversation
        return None


def _parse_command(text: str) -> Command | None:
    if len(text) > MAX_ANSWER_CHARS:
        return None
    if text.strip() == "?":
        return Command(name="help")
    t = clean(text).strip(_EDGE_PUNCT)
    low = re.sub(r"\s+", " ", t.lower())
    if low in _SIMPLE_COMMANDS:
        return Command(name=_SIMPLE_COMMANDS[low])  # type: ignore[arg-type]
    m = _DECIDE.match(t)
    if m:
        return _decide(m)
    m = _SET.match(t)
    if m:
        return _set(m.group("body") or "")
    return None


def _decide(m: re.Match[str]) -> Command:
    """Build a decide command (framework None when missing or not one we rank)."""
    fw_text = (m.group("fw") or "").strip(_EDGE_PUNCT)
    rest = m.group("rest") or ""
    framework = FRAMEWORK_ALIASES.get(re.sub(r"\s+", " ", fw_text.lower()))
    if framework is None and " " in fw_text:
        # "decide flask js..." captured a trailing "js" that belongs to the rationale.
        first, tail = fw_text.split(None, 1)
        if first.lower() in FRAMEWORK_ALIASES:
            framework, rest = FRAMEWORK_ALIASES[first.lower()], " " + tail + rest
    if framework is None:
        return Command(name="decide", value=(fw_text + rest).strip(_EDGE_PUNCT) or None)
    b = _BECAUSE.match(rest)
    # "decide flask: we already run it" is a rationale without "because".
    rationale = (b.group("why") if b else rest).strip(_EDGE_PUNCT) or None
    return Command(name="decide", framework=framework, rationale=rationale)


def _set(body: str) -> Command | None:
    """Build a set command from 'team_size=30', 'team_size: 30', 'team size to 30' or 'team_size 30'."""
    body = body.strip()
    if not body:
        return Command(name="set")
    m = re.match(r"^(?P<q>[^=:]+?)\s*[=:]\s*(?P<v>.*)$", body, re.DOTALL) or re.match(
        r"^(?P<q>[a-z][a-z_ ]*?)\s+to\s+(?P<v>.*)$", body, re.IGNORECASE | re.DOTALL
    )
    if m is None:
        m = re.match(r"^(?P<q>[a-z][a-z_]*)(?:\s+(?P<v>.*))?$", body, re.IGNORECASE | re.DOTALL)
        if m is None or m.group("q").lower() in _NOT_QUESTION_NAMES:
            return None
    name = re.sub(r"^(?:the|our|my)\s+", "", m.group("q").strip().lower())
    question = re.sub(r"[\s\-]+", "_", name) or None
    value = (m.group("v") or "").strip(_EDGE_PUNCT) or None
    return Command(name="set", question=question, value=value)


# A correction needs one of these (as normalised tokens) or the "change X to Y" form.
_MARKERS = (
    ("actually",), ("correction",), ("in", "fact"), ("we", "are", "now"), ("were", "now"),
    ("i", "meant"), ("make", "that"),
)
_CHANGE = re.compile(r"\b(?:change|update)\s+(?P<q>.+?)\s+(?:to|into)\s+(?P<v>.+)$", re.DOTALL)


def find_correction(questions: list[Question], text: str) -> tuple[str, str | int] | None:
    """(question id, new value) when the text clearly corrects an earlier answer, else None.

    Needs a marker (actually, correction, in fact, we are now, I meant, make that, or
    "change X to Y") and a confident parse for exactly one question: question-specific phrases
    only (a bare "yes" does not say which question), no hedges, and for a count a people word
    ("30 people", "of us", "devs"). Never raises on any `str`.
    """
    try:
        return _find_correction(questions, text)
    except Exception:  # untrusted text must never crash a conversation
        return None


def _find_correction(questions: list[Question], text: str) -> tuple[str, str | int] | None:
    if len(text) > MAX_ANSWER_CHARS:
        return None
    tokens = [tok for clause in _clauses(text) for tok in clause]
    m = _CHANGE.search(" ".join(tokens))
    if m:
        named = _named_question(questions, m.group("q"))
        if named is not None:
            parsed = _parse_answer(named, m.group("v"))
            return (named.id, parsed.value) if parsed.ok and parsed.value is not None else None
        # "change it to a REST API": the value alone must say which question.
        return _confident(questions, m.group("v"), need_people=False)
    if not any(tuple(tokens[i:i + len(mk)]) == mk for mk in _MARKERS for i in range(len(tokens))):
        return None
    return _confident(questions, text, need_people=True)


def find_volunteered(questions: list[Question], text: str) -> tuple[str, str | int] | None:
    """(question id, value) when a text that does not answer the open question clearly answers one of
    `questions` instead ("mostly JS devs" while the bot asks about project size), else None.

    The same confidence as a correction without its marker: question-specific phrases only (a bare
    "yes" names no question), no hedges, a people word for a count, exactly one question. Never
    raises on any `str`.
    """
    try:
        if len(text) > MAX_ANSWER_CHARS:
            return None
        return _confident(questions, text, need_people=True)
    except Exception:  # untrusted text must never crash a conversation
        return None


def _named_question(questions: list[Question], name: str) -> Question | None:
    """The question a person named ("team size", "the admin answer"), if exactly one fits."""
    words = [w for w in name.split() if w not in ("the", "our", "my", "answer", "for", "of", "question")]
    if not words:
        return None
    key = "_".join(words)
    for q in questions:
        if q.id == key or q.id == f"needs_{key}":
            return q
    fits = [q for q in questions if set(words) <= set(q.id.split("_"))]
    return fits[0] if len(fits) == 1 else None


def _confident(questions: list[Question], text: str, need_people: bool) -> tuple[str, str | int] | None:
    """The single (question, value) the text states with confidence, else None."""
    clauses = _clauses(text)
    if _find(clauses, _word_lexicon((*UNSURE, *WEAK_UNSURE), _UNSURE_VALUE)):
        return None
    words = {tok for clause in clauses for tok in clause}
    hits: list[tuple[str, str | int]] = []
    for q in questions:
        if q.type == "integer":
            if need_people and not words & PEOPLE_WORDS:
                continue
            parsed = _parse_integer(q, text)
        else:
            # Only the question's own phrases: "actually yes" does not say which question.
            parsed = _parse_phrases(q, text, generic=False)
        if parsed.ok and parsed.value is not None:
            hits.append((q.id, parsed.value))
    return hits[0] if len(hits) == 1 else None
