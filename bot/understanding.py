"""Read a typed line once: what it means in the state of a conversation, by explicit rules.

`understand(questions, text, open=..., answers=..., recommended=...)` returns an `Utterance`:
the command or decision it carries, every answer it states with confidence (the open question's
and others volunteered in the same line), or why it was refused, or that it is chatter. The
conversation (`bot.consultation`) acts on that result and never parses the text again.

The rules, in order (each is reviewable in this module or in `knowledge/vocabulary.toml`):
1. a line that, without filler and politeness, is a command phrase is that command;
2. a line that states a decision in plain words ("let's go with django because ...") is one;
3. otherwise every question's value the line states with confidence is an answer;
4. a line that answers nothing is refused when it tried to answer (short, a hedge, or on the open
   question's topic) and is chatter otherwise (Slack: a reaction, never a public reply).
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from rapidfuzz import process
from rapidfuzz.distance import OSA

from bot import parsing
from bot.parsing import Command
from knowledge.models import Question

log = logging.getLogger(__name__)

UtteranceKind = Literal["command", "answers", "refused", "hedge", "chatter"]


class Utterance(BaseModel):
    """Everything one typed line means, given the conversation's state.

    `answers` is exactly what the conversation stores for the line (question id -> canonical
    value); `refused` is the message to show when the line tried to answer and could not be read.
    """

    kind: UtteranceKind
    command: Command | None = None
    answers: dict[str, str | int] = Field(default_factory=dict)
    refused: str | None = None
    # Set when an answer replaces an earlier one on purpose ("actually we're 30").
    correction: bool = False
    # With answers to other questions: why the open question itself was not taken (ambiguous, say).
    open_note: str | None = None

    def as_json(self) -> dict:
        """The public JSON shape used by `framework-advisor parse`."""
        return {
            "command": self.command.model_dump() if self.command else None,
            "answers": dict(self.answers),
            "refused": self.refused,
        }



# ---------------------------------------------------------------- vocabulary (data)

VOCABULARY_FILE = Path(__file__).resolve().parent.parent / "knowledge" / "vocabulary.toml"


class Vocabulary:
    """`knowledge/vocabulary.toml` as token tuples, built once (see that file for what each list means)."""

    def __init__(self, data: dict):
        self.data = data
        phrase = parsing._phrase  # the parser's own normalisation, so both sides match alike
        self.fillers = sorted({phrase(f) for f in data["fillers"]["phrases"]} - {()}, key=len, reverse=True)
        self.commands: dict[tuple[str, ...], str] = {}
        for name, phrases in data["commands"].items():
            for p in phrases:
                key = self.strip_fillers(list(phrase(p)))
                if key:
                    self.commands.setdefault(tuple(key), name)
        self.chatter = {tuple(self.strip_fillers(list(phrase(p)))) for p in data["chatter"]["phrases"]} - {()}
        dec = data["decisions"]
        self.leads = sorted({phrase(p) for p in dec["leads"]} - {()}, key=len, reverse=True)
        refs = {phrase(p) for p in dec["recommendation"]}
        refs |= {r[1:] for r in refs if r[:1] == ("the",)}  # "go with the recommendation" loses its "the"
        self.references = sorted(refs - {()}, key=len, reverse=True)
        self.adopt = {phrase(p) for p in dec["adopt"]} - {()}
        self.postpone = sorted({phrase(p) for p in dec["postpone"]} - {()}, key=len, reverse=True)
        self.frameworks = sorted(((phrase(a), fw) for fw, aliases in data["frameworks"].items() for a in aliases),
                                 key=lambda x: len(x[0]), reverse=True)
        units = data["units"]
        self.time_units = {}
        for kind, months in (("days", 1 / 30), ("weeks", 1 / 4.345), ("months", 1), ("quarters", 3), ("years", 12),
                             ("decades", 120)):
            for w in units[kind]:
                self.time_units[w] = Decimal(str(months))
        self.people = sorted({phrase(p) for p in units["people"]} - {()}, key=len, reverse=True)
        self.roles = {phrase(p) for p in units["people"]} - {phrase(p) for p in (
            "people", "person", "persons", "dev", "devs", "developer", "developers", "engineer", "engineers",
            "programmers", "programmer", "coders", "coder", "folks", "members", "member", "staff", "employees",
            "heads", "headcount", "of us", "us", "fte", "ftes", "humans", "contributors", "in total", "total",
            "all in", "on the team", "in the team", "including me", "incl me", "of them", "python devs", "js devs",
            "pythonistas")}
        self.groups = set(units["groups"])
        self.not_developers = {phrase(p) for p in units.get("not_developers", [])} - {()}
        self.versions = set(units["versions"])
        self.duration = data["duration"]
        self.experience = data["experience"]
        self.experience_words = sorted({phrase(p) for p in data["experience"]["words"]} - {()}, key=len, reverse=True)
        self.duration_words = {phrase(p) for p in data["experience"]["duration_words"]} - {()}
        self.topics = {q: {phrase(w) for w in words} - {()} for q, words in data["topics"].items()}
        self.common = set(data["words"]["common"])
        self.neutral = sorted({phrase(p) for p in data.get("neutral", {}).get("phrases", [])} - {()}, key=len,
                              reverse=True)
        volunteer = data.get("volunteer", {})
        self.exclude = {q: set(v) for q, v in volunteer.get("exclude", {}).items()}
        self.only_when_asked = {phrase(p) for p in volunteer.get("only_when_asked", [])} - {()}

    def strip_fillers(self, tokens: list[str]) -> list[str]:
        """The tokens without filler phrases (longest first), wherever they stand."""
        out: list[str] = []
        i = 0
        while i < len(tokens):
            f = next((f for f in self.fillers if tuple(tokens[i:i + len(f)]) == f), None)
            if f is None:
                out.append(tokens[i])
                i += 1
            else:
                i += len(f)
        return out


@lru_cache(maxsize=4)
def vocabulary(path: Path = VOCABULARY_FILE) -> Vocabulary:
    """The vocabulary, loaded once per file."""
    with path.open("rb") as f:
        return Vocabulary(tomllib.load(f))


# ---------------------------------------------------------------- typo tolerance

_FUZZY_MIN_LEN = 4


class _Speller:
    """Corrects a word to one of the questions' own words when it is a near, unambiguous miss.

    Bounded: words of 4-6 letters may be one edit away, longer ones two; the first letter must
    agree; never when two targets are equally close; never for a known English word.
    """

    def __init__(self, questions: list[Question], vocab: Vocabulary):
        known: set[str] = set(vocab.common) | set(vocab.time_units) | vocab.groups | vocab.versions
        targets: set[str] = set()
        for q in questions:
            for v in q.values:
                for s in (v.value, v.label, *v.synonyms):
                    for tok in parsing._phrase(s):
                        known.add(tok)
                        targets.add(tok)
        for phrases in vocab.data["topics"].values():
            for p in phrases:
                known.update(parsing._phrase(p))
        for key in (*vocab.commands, *vocab.chatter, *vocab.fillers, *vocab.leads, *vocab.references, *vocab.adopt,
                    *vocab.people, *vocab.postpone):
            known.update(key)
        for aliases, _ in vocab.frameworks:
            known.update(aliases)
            targets.update(aliases)
        for words in (parsing.GENERIC_YES, parsing.GENERIC_NO, parsing.UNSURE, parsing.WEAK_UNSURE):
            for w in words:
                known.update(parsing._phrase(w))
        known.update(parsing._UNITS, parsing._TEENS, parsing._TENS, parsing.PEOPLE_WORDS, parsing.NEGATIONS)
        self.known = known
        # One word that is everyday English, or a synonym of several questions, says too little to
        # answer a question nobody asked ("other", "years", "simple").
        seen: dict[tuple[str, ...], set[str]] = {}
        for q in questions:
            for v in q.values:
                for syn in (v.value, v.label, *v.synonyms):
                    seen.setdefault(parsing._phrase(syn), set()).add(q.id)
        self.weak_alone = {p for p, qs in seen.items() if len(p) == 1 and (len(qs) > 1 or p[0] in vocab.common)}
        # Numbers are never typo targets: "there" must not become "three".
        self.targets = sorted(t for t in targets if len(t) >= _FUZZY_MIN_LEN and t.isalpha())

    @lru_cache(maxsize=4096)  # noqa: B019 - one speller per knowledge base, kept for the process
    def correct(self, word: str) -> str:
        """The intended word for `word`, or `word` itself."""
        if len(word) < _FUZZY_MIN_LEN or word in self.known or not word.isalpha():
            return word
        if any(word.endswith(end) and word[:-len(end)] in self.known for end in ("s", "es", "ed", "d", "ing", "ly")):
            return word  # a word form of a known word ("knows", "needed"), not a typo
        bound = 1  # two edits reach other words too often ("connections" -> "conventions")
        best = process.extract(word, self.targets, scorer=OSA.distance, limit=3, score_cutoff=bound)
        best = [b for b in best if b[0][0] == word[0]]
        if not best:
            return word
        if len(best) > 1 and best[1][1] == best[0][1]:
            return word  # two equally close readings: guessing would be a false accept
        return best[0][0]


_SPELLERS: dict[int, tuple[list[Question], _Speller]] = {}


def _speller(questions: list[Question]) -> _Speller:
    hit = _SPELLERS.get(id(questions))
    if hit is not None and hit[0] is questions:
        return hit[1]
    if len(_SPELLERS) > 64:
        _SPELLERS.clear()
    sp = _Speller(questions, vocabulary())
    _SPELLERS[id(questions)] = (questions, sp)
    return sp


def _spell(questions: list[Question], text: str) -> str:
    """The text with near misses of our words corrected ("pyhton" -> "python"), Slack markup kept."""
    sp = _speller(questions)

    def fix(m: re.Match[str]) -> str:
        w = m.group(0)
        low = w.lower()
        c = sp.correct(low)
        return w if c == low else c

    # Only words outside Slack markup (<@U1>, <url|label>) are looked at.
    parts = re.split(r"(<[^<>]*>)", text)
    return "".join(p if p.startswith("<") else re.sub(r"[^\W\d_]+", fix, p) for p in parts)


# ---------------------------------------------------------------- the entry point


def understand(questions: list[Question], text: str, *, open: str | None = None,  # noqa: A002 - the state's name
               answers: Mapping[str, str | int] | None = None, skipped: frozenset[str] | set[str] = frozenset(),
               recommended: bool = False, recommendation: str | None = None) -> Utterance:
    """What `text` means with question `open` asked (None: none is open), `answers` given so far,
    and a recommendation shown or not (`recommendation`: its framework, to resolve "adopt").

    Never raises on any `str`: a line that cannot be read is refused, not a crash.
    """
    try:
        return _Reader(questions, text, open, answers or {}, frozenset(skipped), recommended, recommendation).read()
    except Exception:  # untrusted text must never crash a conversation
        log.exception("could not read a line")
        return Utterance(kind="refused", refused=f"I didn't catch that. {parsing.SKIP_HINT}")


# Leading words that do not change what follows ("ok so let's go with django").
_LEAD_FILLERS = frozenset({"ok", "okay", "so", "alright", "right", "then", "cool", "great", "yes", "yeah",
                           "yep", "fine", "hmm", "good", "perfect", "sure", "k", "actually", "guys", "team", "folks",
                           "agreed", "honestly", "nice", "sounds", "awesome", "thanks", "just", "i", "think"})
_LEAD_CONTRACTIONS = {"were": ["we", "are"], "well": ["we", "will"], "ill": ["i", "will"], "weve": ["we", "have"],
                      "wed": ["we", "would"], "id": ["i", "would"]}
_INTERROGATIVES = frozenset({"what", "which", "how", "why", "do", "does", "is", "are", "can", "could", "should",
                             "would", "will", "who", "where", "when", "wait", "hmm", "so"})
# Questions asked back that are commands ("why does the database matter?", "what can I say?").
_QUESTION_COMMANDS = [(tuple(k.split()), v) for k, v in (
    ("why", "why"), ("what is this question for", "why"), ("what does this matter", "why"),
    ("how did you", "how"), ("how do you", "how"), ("how come", "how"), ("which rules", "how"), ("what rules", "how"),
    ("howd you", "how"), ("how are you", "how"), ("how is this", "how"), ("how is it", "how"), ("how does it", "how"),
    ("how was", "how"), ("can you explain", "how"), ("could you explain", "how"), ("explain how", "how"),
    ("show your working", "how"), ("show me how", "how"), ("why did you", "how"), ("why do you recommend", "how"),
    ("why is it", "how"), ("what is your reasoning", "how"), ("where did that come from", "how"),
    ("show me the answers", "status"), ("what are our answers", "status"), ("what do we have", "status"),
    ("can we redo", "restart"), ("can we start again", "restart"), ("can we reset", "restart"),
    ("can we cancel", "cancel"), ("can we stop", "cancel"), ("can we undo", "back"), ("can i undo", "back"),
    ("can you skip", "skip"), ("can we pass", "skip"), ("what now", "help"), ("what next", "help"),
    ("what have we", "status"), ("what did we", "status"), ("where are we", "status"), ("what do you have", "status"),
    ("what do you know", "status"), ("how far", "status"), ("how many more", "status"),
    ("what can i", "help"), ("what can we", "help"), ("what can you", "help"), ("what commands", "help"),
    ("what are my options", "help"), ("what are the options", "help"), ("what are our options", "help"),
    ("what should i", "help"), ("how does this work", "help"), ("can i skip", "skip"), ("can we skip", "skip"),
    ("can we go back", "back"), ("can i go back", "back"), ("can we start over", "restart"),
    ("can we restart", "restart"))]
_QUESTION_COMMANDS.sort(key=lambda kv: -len(kv[0]))  # the most specific start wins
_RATIONALE = re.compile(r"^[\s,;:.!\-\u2013\u2014]*(?:(?:because|since|as|cause|cuz|coz|bc|b/c|given that|"
                        r"due to)\b)?[\s,:]*", re.IGNORECASE)
# A preference keeps its left side: "conventions > freedom", "speed of development over raw speed".
_NUMBERISH = r"(?:\d|a\s|an\s|one\b|two\b|three\b|four\b|five\b|six\b|seven\b|eight\b|nine\b|ten\b|twenty\b|" \
             r"thirty\b|forty\b|fifty\b|hundred\b|dozen\b|few\b|couple\b|handful\b)"
_PREFER = re.compile(r"\s*(?:(?<!\S)>+|\brather than\b|\binstead of\b|\bover\b(?!\s*" + _NUMBERISH
                     + r")|\bmore than\b(?!\s*" + _NUMBERISH + r"))[^,.;!?\n]*", re.IGNORECASE)
_CONTRAST = re.compile(r"\b(?:but|though|tho|although|however|whereas|except|yet)\b", re.IGNORECASE)
_USER_MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^<>]*)?>")
_LEADING_MENTION = re.compile(r"^\s*<@[UW][A-Z0-9]+(?:\|[^<>]*)?>[\s,:]*(?!\s*(?:and\b|&|\+|plus\b|or\b|,))")
_DEADLINE_SPAN = re.compile(r"\b(?:in|within|by|after)\s+(?:\d+|a|an|one|two|three|four|few|a few|couple of|"
                            r"a couple of)\s+(?:days?|weeks?|wks?|months?|mos?|years?|yrs?)\b", re.IGNORECASE)
_DELTA = frozenset({"more", "new", "extra", "additional", "another"})
_LESS = frozenset({("less", "than"), ("under", "a"), ("fewer", "than"), ("not", "even")}) | {("than",), ("under",)}
_BEFORE_SPAN = frozenset({"for", "about", "around", "roughly", "maybe", "just", "only", "over", "under", "than",
                          "like", "half", "least", "most", "its", "is", "probably", "within", "in", "by", "next",
                          "and", "or", "ish", "of", "almost", "nearly", "approximately", "approx"})
_DEADLINE = frozenset({"in", "within", "by", "after", "ago", "next", "every", "per"})
_STRONG_HEDGE = tuple(parsing.UNSURE)
_WEAK_HEDGE = tuple(parsing.WEAK_UNSURE)
_GENERIC = frozenset(parsing._phrase(w) for w in (*parsing.GENERIC_YES, *parsing.GENERIC_NO, "yes", "no"))


class _Reader:
    """One reading of one line (the rules of the module docstring, in order)."""

    def __init__(self, questions: list[Question], text: str, open_q: str | None, answers: Mapping[str, str | int],
                 skipped: frozenset[str], recommended: bool, recommendation: str | None):
        self.questions, self.by_id = questions, {q.id: q for q in questions}
        self.open = open_q if open_q in self.by_id else None
        self.answers, self.skipped = answers, skipped
        self.recommended, self.recommendation = recommended, recommendation
        self.vocab = vocabulary()
        self.speller = _speller(questions)
        self.raw = text
        self.addressed = False
        self.text = self._prepare(text)
        self.unspelled = self._prepare(text, spell=False)  # the rationale keeps the words as typed

    # -- preparation ---------------------------------------------------------------------------
    def _prepare(self, text: str, spell: bool = True) -> str:
        # Slack escapes &, < and >; a ">" between two options is a preference, not markup.
        text = re.sub(r"\b(probably|likely|yes|no)\s*\?+", r"maybe \1", text, flags=re.I)  # "probably?" doubts
        text = re.sub(r"~[^~\n]+~", " ", text)  # Slack strikethrough: "~mongo~ postgres" withdrew mongo
        text = re.sub(r"^\s*(?:pls|please|plz|can you|could you|ok|okay)[\s,]+(?=set\b)", "", text, flags=re.I)
        t = text.replace("&gt;", " > ").replace("&lt;", " less than ").replace("&amp;", " & ")
        # Emoji codes carry no answer here (":tada:"); the answer emoji (:+1:) the parser knows are kept.
        t = re.sub(r":(?!\+1:|-1:|thumbsup:|thumbsdown:|white_check_mark:|heavy_check_mark:|x:)[a-z0-9_+\-]+:", " ", t)
        m = _LEADING_MENTION.match(t)
        if m:  # "@Framework Advisor yes": the mention addresses the bot, it is no head count
            self.addressed = True
            t = t[m.end():]
        return _spell(self.questions, t) if spell else t

    def tokens(self, text: str | None = None) -> list[str]:
        """Normalised word tokens of the (prepared) line."""
        return [t for c in parsing._clauses(self.text if text is None else text) for t in c]

    # -- the rules -----------------------------------------------------------------------------
    def read(self) -> Utterance:
        if len(self.raw) > parsing.MAX_ANSWER_CHARS:
            return Utterance(kind="refused", refused=f"Sorry, that is too long for me (over "
                                                     f"{parsing.MAX_ANSWER_CHARS} characters). Please answer in a "
                                                     "few words.")
        tokens = self.tokens()
        if not tokens and self.raw.strip() != "?":
            return self._nothing(tokens)
        for rule in (self._command, self._question_line, self._decision, self._command_clause):
            found = rule(tokens)
            if found is not None:
                return found
        return self._anchored(tokens)

    def _anchored(self, tokens: list[str]) -> Utterance | None:
        """A short line with one command word and no answer in it: "reset everything and start again"."""
        read = self._answers(tokens)
        if read.answers or len(tokens) > 8:
            return read
        names = {name for word, name in _ANCHORS.items() if tuple(word.split()) in _ngrams(tokens)}
        if len(names) == 1 and not any(t in parsing.NEGATIONS for t in tokens):
            return Utterance(kind="command", command=Command(name=names.pop()))  # type: ignore[arg-type]
        return read

    def _question_line(self, tokens: list[str]) -> Utterance | None:
        """A question asked back ("what counts as real-time?") is never an answer; some are commands."""
        t = parsing.clean(self.text).strip()
        toks = list(tokens)
        while toks and toks[0] in ("wait", "hmm", "ok", "okay", "so", "hey", "um", "uh", "sorry", "actually", "but"):
            toks.pop(0)  # "wait, why does it matter"
        if not toks:
            return None
        if toks[0] in ("define", "meaning") or toks[:3] == ["what", "do", "you"] and "mean" in toks:
            return Utterance(kind="hedge", refused="Good question: `why` says what this question is for. "
                                                   "Answer when you know, or type skip.")
        first = re.split(r"\?", t, maxsplit=1)
        asked = t.endswith("?") and "?" not in t[:-1].rstrip("?")
        if not asked:
            # "how'd you get there? show your working" / "why does it matter if it's serverless": the command
            # questions count without a question mark or with more text after one.
            for starts, name in _QUESTION_COMMANDS:
                if tuple(toks[:len(starts)]) == starts and (len(first) > 1 or starts[0] in ("why", "how", "what")):
                    if name == "why" and toks[:2] == ["why", "not"]:
                        return None
                    return Utterance(kind="command", command=Command(name=name))  # type: ignore[arg-type]
            if len(first) > 1 and first[1].strip() and self._asks_back(first[1]):
                return Utterance(kind="hedge", refused="Good question: `why` says what this question is for. "
                                                       "Answer when you know, or type skip.")
            return None
        tokens = toks
        if tokens[0] not in _INTERROGATIVES:
            last = re.split(r"[,.;!]", t)[-1]
            if self._asks_back(last):  # "we call the OpenAI API, does that count?"
                return Utterance(kind="hedge", refused="Good question: `why` says what this question is for. "
                                                       "Answer when you know, or type skip.")
            return None
        if tokens[:2] == ["why", "not"]:
            return Utterance(kind="refused", refused="Which one? " + (self._expected_open() or ""))
        for starts, name in _QUESTION_COMMANDS:
            if tuple(tokens[:len(starts)]) == starts:
                return Utterance(kind="command", command=Command(name=name))  # type: ignore[arg-type]
        return Utterance(kind="refused", refused="Good question: `why` says what this question is for. Answer when "
                                                 "you know" + (f" ({self._expected_open()})" if self.open else "")
                                                 + ", or type skip.")

    @staticmethod
    def _asks_back(sentence: str) -> bool:
        """Whether a trailing sentence asks the bot something ("does that count?")."""
        words = [w for c in parsing._clauses(sentence) for w in c]
        return bool(words) and words[0] in _INTERROGATIVES and sentence.strip().endswith("?")

    def _expected_open(self) -> str:
        return _expected(self.by_id[self.open]) if self.open else ""

    def _command_clause(self, tokens: list[str]) -> Utterance | None:
        """A command beside a few words of talk: "skip, no idea", "nvm, cancel", "restart pls, wrong project"."""
        parts = [p for p in re.split(r"[,.;:!?\n]+", parsing.clean(self.text)) if p.strip()]
        if len(parts) < 2:
            return None
        keys = [tuple(self.vocab.strip_fillers(self.tokens(p))) for p in parts]
        hits = [(i, self.vocab.commands[k]) for i, k in enumerate(keys) if k in self.vocab.commands]
        if len({name for _, name in hits}) != 1:
            return None
        rest = [parts[i] for i in range(len(parts)) if i not in {j for j, _ in hits}]
        open_q = self.by_id.get(self.open) if self.open else None
        for p in rest:
            clauses = parsing._clauses(p)
            if len([t for c in clauses for t in c]) > 6:
                return None  # more than a remark: read the line as a whole
            if open_q is not None and open_q.type != "integer" and \
                    [m for m in parsing._find(clauses, parsing._lexicon(open_q, True)) if m.value in ("yes", "no")
                     or not m.value.startswith("\0")]:
                return None  # "yes, next": the other part answers
        return Utterance(kind="command", command=Command(name=hits[0][1]))  # type: ignore[arg-type]

    def _command(self, tokens: list[str]) -> Utterance | None:
        cmd = parsing.parse_command(self.text)
        key = tuple(self.vocab.strip_fillers(tokens))
        if cmd is None and key in self.vocab.commands:
            cmd = Command(name=self.vocab.commands[key])  # type: ignore[arg-type]
        if cmd is None:
            if key in self.vocab.chatter:
                return Utterance(kind="chatter")
            return None
        if cmd.name == "decide" and cmd.framework is None:
            return self._decide_unnamed(cmd)
        return Utterance(kind="command", command=cmd)

    def _decide_unnamed(self, cmd: Command) -> Utterance:
        """`decide` without a framework we rank: postponed, the recommendation, or an unknown name."""
        rest = parsing._phrase(cmd.value or "")
        if any(rest[:len(p)] == p for p in self.vocab.postpone):
            return Utterance(kind="refused", refused="Nothing is recorded: that is not a decision yet. When the "
                                                     "team has decided, type `decide django|flask|node because ...`.")
        if self.recommended and (not rest or any(rest == r for r in self.vocab.references)):
            return self._adopt(None)
        return Utterance(kind="command", command=cmd)

    def _adopt(self, rationale: str | None) -> Utterance:
        value = None if self.recommendation else "recommendation"
        return Utterance(kind="command", command=Command(name="decide", framework=self.recommendation,
                                                         rationale=rationale, value=value))

    def _decision(self, tokens: list[str]) -> Utterance | None:
        toks = " ".join(tokens).replace("let us ", "lets ").split()  # "let us go with" as "lets go with"
        # "we're", "we'll", "I'll" lose their apostrophe in normalising: read them back.
        toks = [w for t in toks for w in _LEAD_CONTRACTIONS.get(t, [t])]
        toks = [t for t in toks if t not in ("just", "simply", "probably", "honestly", "then")]
        first_clause = [w for t in (parsing._clauses(self.text) or [[]])[0] for w in _LEAD_CONTRACTIONS.get(t, [t])]
        if any(t in parsing.NEGATIONS for t in _until(first_clause, ("because", "since", "bc", "cause", "as"))):
            return None  # "we won't go with django", "not flask"
        while toks and toks[0] in _LEAD_FILLERS:
            toks.pop(0)
        if self.recommended:
            before_because = _until(toks, ("because", "since", "bc", "cause", "as"))
            for part in [before_because, *self._clause_tokens()]:
                if tuple(part) in self.vocab.adopt or tuple(self.vocab.strip_fillers(part)) in self.vocab.adopt:
                    return self._adopt(self._rationale_after(None))  # "lgtm, ship it"
        found = self._decision_at(toks)
        if found is not None:
            return found
        # A lead later in the line, after a short opener: "screw it, django it is", "<@U1> and I agree, go with
        # flask since ...", "honestly we'll go with flask".
        for start in range(1, min(len(toks), 8)):
            found = self._decision_at(toks[start:], late=True)
            if found is not None:
                return found
        return None

    def _clause_tokens(self) -> list[list[str]]:
        return [[w for t in c for w in _LEAD_CONTRACTIONS.get(t, [t])] for c in parsing._clauses(self.text)]

    def _decision_at(self, toks: list[str], late: bool = False) -> Utterance | None:
        """A decision starting at toks[0] (`late`: not at the start of the line; then `decide` alone is none)."""
        for fw_tokens, fw in self.vocab.frameworks:
            # "django it is", "flask then", "node, final answer"
            if tuple(toks[:len(fw_tokens)]) == fw_tokens and tuple(toks[len(fw_tokens):]) in _SUFFIXES:
                return self._decided(fw, fw_tokens)
        for lead in self.vocab.leads:
            if tuple(toks[:len(lead)]) != lead or (late and len(lead) < 2):
                continue  # later in a line only a clear lead ("go with") decides: "we use flask at work" does not
            rest = toks[len(lead):]
            while rest and rest[0] in ("with", "for", "on", "the", "to", "use", "going", "go"):
                rest = rest[1:]
            for fw_tokens, fw in self.vocab.frameworks:
                if tuple(rest[:len(fw_tokens)]) == fw_tokens:
                    return self._decided(fw, fw_tokens)
            if self.recommended:
                for ref in self.vocab.references:
                    if tuple(rest[:len(ref)]) == ref and (len(rest) == len(ref) or rest[len(ref)] in _CONNECTORS):
                        return self._adopt(self._rationale_after(None))
            if lead[0] == "decide" and len(lead) == 1 and not late:
                return self._decide_unnamed(Command(name="decide", value=" ".join(rest) or None))
        return None

    def _decided(self, framework: str, alias: tuple[str, ...]) -> Utterance:
        return Utterance(kind="command", command=Command(name="decide", framework=framework,
                                                         rationale=self._rationale_after(alias)))

    def _rationale_after(self, alias: tuple[str, ...] | None) -> str | None:
        """The reason given after the framework (or after "because" when no framework is named)."""
        t = parsing.clean(self.unspelled)
        if alias is None:
            m = re.search(r"\b(?:because|since|bc|cause|cuz|as)\b", t, re.IGNORECASE)
            if not m:
                return None
            rest = t[m.start():]
        else:
            pattern = r"[\s.\-_]*".join(re.escape(a) for a in alias)
            m = re.search(r"\b" + pattern + r"\b", t, re.IGNORECASE)
            rest = t[m.end():] if m else ""
            rest = re.sub(r"^\s*(?:it is|then|final answer|for us|all the way|wins)\b", "", rest, flags=re.I)
        rest = _RATIONALE.sub("", rest, count=1).strip(" \t.,;:!-")
        return rest[:2000] or None

    # -- answers -------------------------------------------------------------------------------
    def _answers(self, tokens: list[str]) -> Utterance:
        correction = parsing.find_correction(self.questions, self.text)
        marker = correction is not None or _has_marker(tokens)
        text = _PREFER.sub("", self.text)
        # A deadline ("live in 3 weeks") says nothing of how long it lives: its words answer nothing.
        segments = [_DEADLINE_SPAN.sub(" _ ", s) for s in _CONTRAST.split(text)]
        clauses: list[list[str]] = []
        seg_of: list[int] = []
        for si, seg in enumerate(segments):
            for c in parsing._clauses(seg):
                clauses.append(self._without_neutral(c))
                seg_of.append(si)
        self.clauses, self.seg_of = clauses, seg_of
        strong = {m.clause for m in parsing._find(clauses, parsing._word_lexicon(_STRONG_HEDGE, "h"))}
        weak = {m.clause for m in parsing._find(clauses, parsing._word_lexicon(_WEAK_HEDGE, "w"))}
        # "probably lambda but infra hasn't signed off": "probably" before an answer is a doubt.
        weak |= {i for i, c in enumerate(clauses) if {"probably", "likely", "hopefully"} & set(c)
                 and len([t for t in c if t not in ("probably", "likely", "hopefully", "not", "yes", "no")]) > 0}
        found, hedged, tried = self._phrase_values(clauses, seg_of, strong, weak)
        counts = self._quantities(text, strong)
        numeric_doubt = any(any(t[:1].isdigit() or t in parsing._UNITS or t in parsing._TEENS or t in parsing._TENS
                                for t in clauses[i]) for i in weak)
        for qid, value in counts.items():
            if numeric_doubt and qid != self.open and qid not in found:
                hedged.add(qid)  # "maybe 12 of us" while another question is open: asked when it comes up
                continue
            if value is None:
                tried.add(qid)
                if qid in ("duration", "experience"):
                    found.pop(qid, None)  # a span across two answers ("6-18 months") outweighs its unit word
            elif qid not in found or qid in ("duration", "experience"):
                found[qid] = value  # "10 weeks" is more precise than the word "weeks"
        if counts.get("experience") is not None and self.open != "duration":
            found.pop("duration", None)  # the span was the team's experience, not the project's life
        if correction is not None:
            found[correction[0]] = correction[1]
        stored: dict[str, str | int] = {}
        excluded = self.vocab.exclude.get(self.open or "", set())
        for qid, value in found.items():
            if qid in excluded and not marker:
                continue  # words that describe the open question, not an answer to this one
            if qid == "team_language" and qid != self.open and not self._speaks_of_team(tokens):
                continue  # "rest of the platform is node" names a technology, not what the team knows
            if qid == self.open:
                stored[qid] = value
            elif qid in self.answers or qid in self.skipped:
                if marker and self.answers.get(qid) != value:
                    stored[qid] = value  # "actually ...": a change on purpose
            else:
                stored[qid] = value
        if stored:
            order = {q.id: i for i, q in enumerate(self.questions)}
            stored = dict(sorted(stored.items(), key=lambda kv: order[kv[0]]))  # the questions' own order
            note = None
            if self.open and self.open not in stored and (self.open in tried or self.open in hedged):
                note = self._refusal(self.by_id[self.open])
            return Utterance(kind="answers", answers=stored, correction=marker, open_note=note)
        return self._nothing(tokens, hedged=bool(strong) or self.open in hedged, tried=tried)

    def _without_neutral(self, tokens: list[str]) -> list[str]:
        """A clause with the neutral phrases ("api gateway", "as long as") taken out."""
        out: list[str] = []
        i = 0
        while i < len(tokens):
            n = next((p for p in self.vocab.neutral if tuple(tokens[i:i + len(p)]) == p), None)
            if n is None:
                out.append(tokens[i])
                i += 1
            else:
                out.append("_")  # keeps the words apart: no phrase can match across the gap
                i += len(n)
        return out

    def _phrase_values(self, clauses: list[list[str]], seg_of: list[int], strong: set[int],
                       weak: set[int]) -> tuple[dict[str, str], set[str], set[str]]:
        """Values of choice and yes/no questions the line states with confidence.

        Returns (question -> value, questions where a hedge spoiled the value, questions the line
        tried to answer but could not be read for: ambiguous or only negated).
        """
        cands: list[tuple[Question, parsing._Match, bool]] = []
        for q in self.questions:
            if q.type == "integer":
                continue
            ms = parsing._find(clauses, parsing._lexicon(q, q.id == self.open))
            starts = {(m.clause, m.start) for m in ms}
            for m in ms:
                if m.value.startswith("\0") or parsing._determiner_no(clauses[m.clause], m, starts):
                    continue
                phrase = tuple(clauses[m.clause][m.start:m.end])
                if q.id != self.open and phrase in self.vocab.only_when_asked:
                    continue  # "users only", "a few pages": an answer when asked, too little unasked
                if q.id != self.open and phrase in self.speller.weak_alone and not m.negated and not (
                        m.start and clauses[m.clause][m.start - 1] in _PREDICATE):
                    continue  # "other", "years": too little to answer an unasked question ("it's large" is)
                cands.append((q, m, phrase in _GENERIC))
        cands = self._without_overlaps(cands)
        specific_clauses: dict[int, set[str]] = {}
        for q, m, generic in cands:
            if not generic:
                specific_clauses.setdefault(m.clause, set()).add(q.id)
        n_tokens = sum(len(c) for c in clauses)
        values: dict[str, list[tuple[str | None, int, bool]]] = {}
        for q, m, generic in cands:
            if generic:
                # A bare "yes", "required" or "never" speaks of the open question only in a short
                # line or one on its topic, and never in a clause that names another question.
                if specific_clauses.get(m.clause, set()) - {q.id}:
                    continue
                # "of course, it's an insurance quote tool": a short first clause is the answer.
                lead = m.clause == 0 and (len(clauses[0]) <= 3 or (m.start == 0 and len(clauses[0]) <= 8)) and \
                    tuple(clauses[0][m.start:m.end]) not in _ACKNOWLEDGEMENTS
                if n_tokens > 6 and not lead and not self._on_topic(q, clauses):
                    continue
                # "yes, an admin for the office managers" while real time is open: the yes goes with
                # the yes/no question the next clause names, not with the open one ("no, the front
                # end team uses typescript" names no yes/no question: its "no" stays the open one's).
                named = specific_clauses.get(m.clause + 1, set()) - {q.id}
                if lead and m.value == "yes" and not m.negated and m.clause + 1 < len(seg_of) \
                        and seg_of[m.clause + 1] == seg_of[m.clause] \
                        and any(self.by_id[n].type == "yes_no" for n in named) and not self._on_topic(q, clauses):
                    continue  # ("yes, but we also need an admin" keeps its yes: a contrast starts anew)
            if m.clause in strong:
                values.setdefault(q.id, []).append(("\0hedge", seg_of[m.clause], False))
                continue
            value: str | None = m.value
            if m.negated:
                value = "no" if q.type == "yes_no" and m.value == "yes" else None
            # "maybe 5" answers the open question; a hedged yes/no or a hedged mention of another
            # question is not taken ("maybe eventually? PM keeps mentioning notifications").
            tentative = (m.clause in weak or (weak and q.type == "yes_no" and not generic)) and \
                (q.type == "yes_no" or q.id != self.open)
            values.setdefault(q.id, []).append((value, seg_of[m.clause], tentative))
        found: dict[str, str] = {}
        hedged: set[str] = set()
        tried: set[str] = set()
        for qid, vals in self._dominant(cands).items():
            values[qid] = vals
        for qid, vals in values.items():
            if any(v == "\0hedge" for v, _, _ in vals):
                hedged.add(qid)
                continue
            real = [(v, s, t) for v, s, t in vals if v is not None]
            if not real:
                tried.add(qid)  # only what it is not
                continue
            last = max(s for _, s, _ in real)
            chosen = {v for v, s, _ in real if s == last}
            later_doubt = any(seg_of[c] > last for c in weak)  # "small to start but should grow"
            if any(t for _, _, t in real) or later_doubt:
                hedged.add(qid)  # "not really, maybe push notifications later"
            elif len(chosen) == 1:
                found[qid] = chosen.pop()  # type: ignore[assignment]
            else:
                tried.add(qid)
        return found, hedged, tried

    def _speaks_of_team(self, tokens: list[str]) -> bool:
        """Whether a line speaks of the people, so a language named in it is what the team knows."""
        grams = _ngrams(tokens)
        return any(tuple(w.split()) in grams for w in _TEAM_WORDS)

    def _dominant(self, cands: list) -> dict[str, list]:
        """A choice named after "mostly", "mainly" wins over the others it is named with
        ("mostly python, a couple of folks know node")."""
        out: dict[str, list] = {}
        by_q: dict[str, list] = {}
        for q, m, _ in cands:
            if q.type == "choice" and not m.negated:
                by_q.setdefault(q.id, []).append(m)
        for qid, ms in by_q.items():
            if len({m.value for m in ms}) < 2:
                continue
            c = self.clauses
            lead = [m for m in ms if m.start and c[m.clause][m.start - 1] in _DOMINANT
                    or m.end < len(c[m.clause]) and c[m.clause][m.end] in _DOMINANT
                    or _DOMINANT & set(c[m.clause][m.start:m.end])]  # "mostly python" is a synonym itself
            if len({m.value for m in lead}) == 1:
                out[qid] = [(lead[0].value, self.seg_of[lead[0].clause], False)]
        return out

    def _without_overlaps(self, cands: list) -> list:
        """Where two questions claim the same words, the longer phrase wins, then the open question."""
        keep = []
        for i, (q, m, g) in enumerate(cands):
            lost = False
            for j, (q2, m2, _g2) in enumerate(cands):
                if i == j or m.clause != m2.clause or m.end <= m2.start or m2.end <= m.start:
                    continue
                a, b = m.end - m.start, m2.end - m2.start
                if q.id == q2.id:
                    # "we are hiring" inside "we are hiring for other teams": the longer reading wins.
                    if b > a:
                        lost = True
                        break
                    continue
                if b > a or (b == a and (q2.id == self.open or q.id != self.open)):
                    lost = True
                    break
            if not lost:
                keep.append((q, m, g))
        return keep

    def _on_topic(self, q: Question, clauses: list[list[str]]) -> bool:
        words = self.vocab.topics.get(q.id, set())
        for c in clauses:
            for w in words:
                if any(tuple(c[i:i + len(w)]) == w for i in range(len(c))):
                    return True
        return False

    # -- numbers with units ------------------------------------------------------------------
    def _quantities(self, text: str, strong: set[int]) -> dict[str, str | int | None]:
        """Head counts, durations and years of experience the line states (None: tried, unreadable).

        A time span never answers the head count and a head count never the duration; people are
        summed ("3 backend + 2 frontend") and multiplied ("two teams of 6"); a number of teams
        alone is no head count.
        """
        out: dict[str, str | int | None] = {}
        if strong:
            return out  # "no idea, maybe 5?": a hedge, asked again as one
        toks = parsing._number_tokens(_USER_MENTION.sub(" someone ", text).replace("+", " plus "))
        q = self._read_counts(toks)
        if q["delta"] and "hiring" in self.by_id and not any(t in parsing.NEGATIONS for t in self.tokens(text)):
            out["hiring"] = "yes"  # "we got budget to hire 2 more devs"
        size = self.by_id.get("team_size")
        hiring_talk = any(w in ("hire", "hiring", "recruit", "recruiting", "hires") for w in self.tokens(text))
        if size is not None and (self.open == size.id or not hiring_talk):  # "hiring 3 people" is no team size
            value = self._head_count(size, text, q)
            if value is not None or (self.open == size.id and any(q.values())):
                out[size.id] = value
        words = self.tokens(text)
        exp_context = any(tuple(words[i:i + len(w)]) == w for w in self.vocab.experience_words
                          for i in range(len(words)))
        # A deadline ("live in 3 weeks") is no lifetime: only experience takes every span.
        spans = q["time"] if self.open == "experience" or exp_context else q["time_firm"]

        if spans:
            if exp_context or (self.open == "experience" and not exp_context):
                target = "experience" if (exp_context or self.open == "experience") else "duration"
            else:
                target = "duration"
            mapped = {self._map_time(target, m) for m in spans}
            if target in self.by_id and len(mapped) == 1:
                out[target] = mapped.pop()
            elif target == self.open:
                out[target] = None
        return out

    def _read_counts(self, toks: list) -> dict[str, list[Decimal]]:
        """Numbers sorted by what follows them: people, roles, groups, time spans, bare numbers."""
        v = self.vocab
        found: dict[str, list[Decimal]] = {"people": [], "roles": [], "groups": [], "time": [], "time_firm": [],
                                           "bare": [], "delta": [], "negated": [], "alternatives": []}
        i = 0
        n_toks = len(toks)
        while i < n_toks:
            tok = toks[i]
            prev = toks[i - 1] if i else None
            if isinstance(tok, str):
                if tok in ("a", "an", "one") and prev in ("plus", "and") and \
                        any(tuple(toks[i + 1:i + 1 + len(p)]) == p for p in v.roles):
                    found["roles"].append(Decimal(1))  # "+ a tech lead"
                    i += 2
                    continue
                # "a decade", "a year", "half a year"
                if tok in ("a", "an", "one", "this") and i + 1 < n_toks and isinstance(toks[i + 1], str) \
                        and toks[i + 1] in v.time_units and len(toks[i + 1]) > 1 \
                        and (prev is None or prev in _BEFORE_SPAN or tuple(toks[max(0, i - 2):i]) in _LESS):
                    # "a year", "for a decade", "less than a year"; "100 users a day" is a rate.
                    half = tuple(toks[max(0, i - 2):i]) in _LESS or prev == "half"
                    if not _effort(toks, i + 2):
                        self._time(found, v.time_units[toks[i + 1]] * (Decimal("0.5") if half else 1), prev)
                    i += 2
                    continue
                i += 1
                continue
            n = tok
            j = i + 1
            ends = (n,)
            if j + 1 < n_toks and toks[j] == "or" and isinstance(toks[j + 1], Decimal) and toks[j + 1] != n:
                found["alternatives"] += [n, toks[j + 1]]  # "5 or 6": which one? (a range is read as its middle)
                i = j + 2
                continue
            if j + 1 < n_toks and toks[j] in ("-", "to", "/") and isinstance(toks[j + 1], Decimal):
                ends = (n, toks[j + 1])
                n = parsing._midpoint(n, toks[j + 1])
                j += 2
            if isinstance(prev, str) and prev in v.versions:
                i = j
                continue
            if j < n_toks and toks[j] in _DELTA or prev in _DELTA:
                after = toks[j + 1:j + 4] if j < n_toks and toks[j] in _DELTA else toks[j:j + 3]
                if any(tuple(after[:len(p)]) == p for p in v.people):
                    found["delta"].append(n)  # "2 more devs", "another 3 engineers": to hire, not the team
                i = j + 1
                continue
            while j < n_toks and toks[j] in ("or", "so", "ish", "odd", "plus", "of", "other", "good", "great", "solid",
                                             "senior", "junior"):
                j += 1
            nxt = toks[j] if j < n_toks else None
            if isinstance(nxt, str) and nxt in v.time_units:
                # "less than a year" is under it; a range counts by both ends ("6-18 months" spans two answers).
                factor = Decimal("0.5") if i >= 2 and tuple(toks[i - 2:i]) in _LESS else Decimal(1)
                if not _effort(toks, j + 1):
                    for end in ends:
                        self._time(found, end * v.time_units[nxt] * factor, prev)  # type: ignore[operator]
                i = j + 1
                continue
            if isinstance(nxt, str) and nxt in v.groups:
                k = j + 1
                if k + 1 < n_toks and toks[k] == "of" and isinstance(toks[k + 1], Decimal):
                    found["people"].append(n * toks[k + 1])  # type: ignore[operator]
                    i = k + 2
                    continue
                if isinstance(prev, str) and prev == "of" and i >= 2 and toks[i - 2] in v.groups:
                    found["people"].append(n)  # "a team of 6"
                    i = j + 1
                    continue
                found["groups"].append(n)
                i = j + 1
                continue
            if any(tuple(toks[j:j + len(p)]) == p for p in v.not_developers):
                i = j + 1  # "2 designers": people, but no developers
                continue
            person = next((p for p in v.people if tuple(toks[j:j + len(p)]) == p), None)
            if person is not None:
                found["roles" if person in v.roles else "people"].append(n)
                i = j + len(person)
                continue
            if prev in ("not", "no"):
                found["negated"].append(n)  # "30 not 20": 20 is what it is not
                i = j
                continue
            if (isinstance(prev, str) and prev == "of" and i >= 2 and toks[i - 2] in v.groups) or prev == "were" or \
                    (i >= 2 and toks[i - 2:i] == ["we", "are"]) or (i >= 2 and toks[i - 2:i] == ["there", "are"]):
                found["people"].append(n)  # "a team of 6", "we're 6"
                i = j
                continue
            found["bare"].append(n)
            i = j
        return found

    @staticmethod
    def _time(found: dict[str, list[Decimal]], months: Decimal, prev: object) -> None:
        found["time"].append(months)
        if prev not in _DEADLINE:  # "in 2 weeks" is a deadline, not how long it lives
            found["time_firm"].append(months)

    def _map_time(self, target: str, months: Decimal) -> str:
        if target == "experience":
            years = months / 12
            e = self.vocab.experience
            return ("beginner" if years < e["intermediate_from"] else
                    "intermediate" if years < e["experienced_from"] else "experienced")
        d = self.vocab.duration
        return "short" if months < d["short_below"] else "medium" if months < d["long_from"] else "long"

    def _head_count(self, q: Question, text: str, found: dict[str, list[Decimal]]) -> int | None:
        """The head count the line states, or None (for the open question: refused)."""
        people = set(found["people"])
        roles = found["roles"]
        asked = self.open == q.id
        stated = bool(people)  # a head count said in people words, before roles are summed
        if not people and len(roles) > 1 and asked:
            people = {sum(roles, Decimal(0))}  # "3 backend + 2 frontend"
        elif not people and len(roles) == 1 and asked:
            people = set(roles)  # a role alone ("a couple of seniors") is no head count unless it was asked
        if stated and (roles or found["bare"]) and asked and re.search(r"\+|\bplus\b", text) and len(people) == 1:
            people = {people.pop() + sum(roles, Decimal(0)) + sum(found["bare"], Decimal(0))}  # "2 squads of 4 + 1"
        if not people and asked and len(found["bare"]) > 1 and re.search(r"\+|\bplus\b", text):
            people = {sum(found["bare"], Decimal(0))}  # "2 from my team + 3 from <@U1>'s"
        if not people and not any(found.values()):
            # "<@U1> and I", "me, <@U2> and <@U3>", "just <@U1>": each mention a person, plus the speaker.
            listed = _people_list(parsing.clean(_USER_MENTION.sub(" someone ", text)).lower())
            if listed:
                people = {Decimal(listed)}
        if self.open == q.id and not people and found["groups"] and len(set(found["bare"])) == 1:
            people = set(found["bare"])  # "40 across 3 squads"
        if self.open == q.id and not people:
            if found["time"] or found["groups"] or found["alternatives"]:
                return None  # a span or a number of teams is no head count
            parsed = parsing._parse_integer(q, text)
            return parsed.value if parsed.ok else None  # type: ignore[return-value]
        if len(people) != 1:
            return None
        n = people.pop()
        if n != n.to_integral_value() or (q.min is not None and n < q.min) or (q.max is not None and n > q.max):
            return None
        return int(n)

    # -- nothing stored ------------------------------------------------------------------------
    def _nothing(self, tokens: list[str], *, hedged: bool = False, tried: set[str] | None = None) -> Utterance:
        """A line that stores nothing: a hedge, a failed try at the open question, or chatter."""
        q = self.by_id.get(self.open) if self.open else None
        if hedged:
            return Utterance(kind="hedge", refused="Take your time: answer when you know"
                             + (f" ({_expected(q)})" if q else "") + ", or type skip.")
        if q is None:
            return Utterance(kind="chatter")
        key = self.vocab.strip_fillers(tokens)
        numbers = q.type == "integer" and bool(re.search(r"\d", self.text) or parsing._numbers(self.text))
        tried = tried or set()
        if not (len(key) <= 3 or self.addressed or q.id in tried or numbers or tried
                or self._on_topic(q, self.clauses if hasattr(self, "clauses") else [tokens])):
            return Utterance(kind="chatter")
        return Utterance(kind="refused", refused=self._refusal(q))

    def _refusal(self, q: Question) -> str:
        if q.type == "integer":
            counts = self._read_counts(parsing._number_tokens(self.text))
            if counts["alternatives"]:
                a, b = counts["alternatives"][:2]
                return f"Which is it, {a} or {b}? Give one number (your best guess is fine) {parsing.SKIP_HINT}."
            if counts["groups"] and not counts["people"]:
                return f"That sounds like a number of teams. How many developers in all? {parsing.SKIP_HINT}"
            if counts["time"]:
                return f"That sounds like a time span, not a head count. {_expected(q)} {parsing.SKIP_HINT}"
        # parse_answer may accept what the reader would not take here ("not performance critical" is
        # no "no" to another question): say what the open question expects all the same.
        return parsing.parse_answer(q, self.text).message or f"I didn't catch that. {_expected(q)} {parsing.SKIP_HINT}"


_TEAM_WORDS = ("team", "we are", "were", "devs", "dev", "developers", "engineers", "folks", "people", "shop",
               "us", "we know", "we all know", "background", "pythonistas", "mostly", "mainly", "everyone", "all of us",
               "we write", "we use", "we do", "coders", "programmers", "know")
_DOMINANT = frozenset({"mostly", "mainly", "primarily", "largely", "predominantly", "majority", "main"})
# "ok, I'll ask": an acknowledgement opening a longer line is no answer.
_ACKNOWLEDGEMENTS = frozenset({("ok",), ("okay",), ("k",), ("alright",), ("right",), ("fine",), ("cool",)})
# Words before a one-word answer that make it a statement about the project ("it's large").
_PREDICATE = frozenset({"its", "is", "be", "pretty", "quite", "very", "fairly", "really", "super", "rather"})
_SUFFIXES = frozenset({("it", "is"), ("then",), ("final", "answer"), ("for", "us"), ("all", "the", "way"), ("wins",),
                       ("it", "is", "then"), ("is", "the", "one"), ("is", "it"), ("please",), ("for", "sure")})
_CONNECTORS = frozenset({"because", "since", "as", "bc", "cause", "cuz", "then", "please", "and", "yes", "thanks",
                         "now", "too", "for", "here"})


def _effort(tokens: list, i: int) -> bool:
    """Whether a span is followed by "of work" / "of effort": how long it takes, not how long it lives."""
    return tuple(tokens[i:i + 2]) in {("of", "work"), ("of", "effort"), ("of", "dev"), ("of", "development"),
                                      ("of", "coding")}


# Words that make a short line without any answer a command ("reset everything and start again").
_ANCHORS = {"restart": "restart", "reset": "restart", "redo": "restart", "start over": "restart",
            "from scratch": "restart", "skip": "skip", "undo": "back", "go back": "back", "cancel": "cancel",
            "abort": "cancel", "status": "status", "recap": "status", "summary": "status", "help": "help"}


def _people_list(text: str) -> int:
    """How many people a list of mentions and "I" names ("someone and i" = 2, "just someone" = 1), else 0."""
    person = r"(?:someone|i|me|myself)"
    m = re.search(rf"\b{person}(?:\s*(?:,|and|&|\+|plus)\s*{person}\b)+", text)
    if m:
        return len(re.findall(rf"\b{person}\b", m.group(0)))
    return 1 if re.search(r"\b(?:just|only)\s+someone\b", text) else 0


def _ngrams(tokens: list[str]) -> set[tuple[str, ...]]:
    return {tuple(tokens[i:i + n]) for n in (1, 2) for i in range(len(tokens) - n + 1)}


def _until(tokens: list[str], stops: tuple[str, ...]) -> list[str]:
    for i, t in enumerate(tokens):
        if t in stops:
            return tokens[:i]
    return tokens


def _has_marker(tokens: list[str]) -> bool:
    return any(tuple(tokens[i:i + len(mk)]) == mk for mk in parsing._MARKERS for i in range(len(tokens)))


def _expected(q: Question) -> str:
    return parsing._expected(q)
