"""The only module that imports durable_rules: one host, one lock, short-lived sessions.

durable_rules 2.0.28 is unmaintained and has sharp edges, each handled here:

- `Host._run` starts timer threads that race with callers and segfault under concurrency, so it
  is disabled before the host exists, and every engine call is serialised through `_LOCK`
  (the C code never releases the GIL, so the lock costs no throughput).
- A ruleset holds only ~1,000-2,000 live session ids before `MemoryError`, so each evaluation
  uses a fresh sid and deletes it in `finally`; SQLite, not the engine, is the source of truth.
- A fact no rule pattern matches is refused (`MessageNotHandled`, and a whole batch is then
  dropped): callers assert only facts some pattern matches (rules.compile.answer_patterns),
  a batch that is still refused is an EngineError, and derived-fact assertions tolerate it.
  After a refused batch (not handled, or the same fact twice) `delete_state` segfaults, so that
  session is not deleted; `run` raises EngineError instead.
- Re-asserting an identical fact is refused (`MessageObserved`: two rules deriving the same
  fact): the second derivation is still recorded, the fact is already present.
- The host's own action dispatch wraps every firing in Python objects (a Closure, a Promise,
  a JSON round trip of the session state) and swallows exceptions into the session state. That
  was 60% of an engine call (half of an evaluation), so `run` drives the engine's agenda itself,
  through the same native calls, in the same order, the host's dispatch makes
  (`start_action_for_state`, then `update_state` and `complete_and_start_action` per firing;
  `abandon_action` when something fails): matching, joins and chaining stay durable_rules'.
  An exception while recording a firing is raised as EngineError, after the session is freed.
- Asserting an empty batch segfaults: an empty fact list is answered without calling it.
- A ruleset name cannot be registered twice: callers pass a unique name (knowledge version + n).
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass
from typing import NamedTuple

import durable_rules_engine as _native
from durable import engine as _durable

# Must happen before any Host is created: no background dispatch threads.
_durable.Host._run = lambda self: None

_LOCK = threading.RLock()
_HOST: _durable.Host | None = None
_SIDS = itertools.count(1)
# The native engine's answer codes for an assertion (durable.engine.Ruleset._handle_result).
_NOT_HANDLED, _OBSERVED = 1, 2


class EngineError(RuntimeError):
    """The rule engine failed (recording a firing raised, or durable_rules refused a fact)."""


class Firing(NamedTuple):
    """One rule activation: the rule id and the facts its patterns matched, by pattern name.

    A tuple of plain dicts of strings and numbers, so the garbage collector stops tracking cached
    firings after its first pass over them (a large cache then costs full GC passes nothing).
    """

    rule: str
    matched: dict[str, dict]


def _host() -> _durable.Host:
    global _HOST
    if _HOST is None:
        _HOST = _durable.Host()
    return _HOST


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False)  # as durable_rules itself encodes facts


@dataclass(frozen=True)
class RuleSpec:
    """An engine-level rule: durable_rules patterns plus what its action does.

    `patterns` maps pattern names to durable_rules JSON conditions (all must match).
    `asserts` is a fact the action asserts (forward chaining), or None to only record the firing.
    """

    id: str
    patterns: dict[str, dict]
    asserts: dict | None = None


class Ruleset:
    """A registered durable_rules ruleset; `run(facts)` evaluates facts in a throwaway session."""

    def __init__(self, name: str, specs: list[RuleSpec], *, record: bool = True):
        """Register `specs` under `name`. With record=False a firing is completed and nothing else
        happens: no fact is recorded or derived (the floor the benchmark compares against)."""
        self.name = name
        self._record = record
        # The host registers the ruleset (and refuses a name twice); its actions are never called,
        # because run() dispatches firings itself.
        definition = {spec.id: {"all": [{k: v} for k, v in spec.patterns.items()], "run": _unused}
                      for spec in specs}
        self._asserts = {spec.id: spec.asserts for spec in specs}
        with _LOCK:
            _host().register_rulesets({name: definition})
            self._handle = _host().get_ruleset(name)._handle

    def run(self, facts: list[dict]) -> list[Firing]:
        """Assert `facts` in a fresh session and return every rule firing, then free the session."""
        if not facts:
            return []  # nothing can fire, and durable_rules segfaults on an empty batch
        with _LOCK:
            sid = str(next(_SIDS))
            result = _native.assert_facts(self._handle, _dumps([dict(f, sid=sid) for f in facts]))
            if result[0] == _NOT_HANDLED:
                raise EngineError(f"a fact matched no rule: {facts!r:.500}")
            if result[0] == _OBSERVED:
                raise EngineError(f"a fact was asserted twice: {facts!r:.500}")
            # From here the session exists, and it is deleted whatever happens.
            try:
                return self._dispatch(sid, result[1])
            finally:
                try:
                    _native.delete_state(self._handle, sid)
                except Exception:  # noqa: BLE001 - a session that never started has nothing to free
                    pass

    def _dispatch(self, sid: str, state_handle) -> list[Firing]:
        """Run the session's agenda to the end: each firing is recorded (and its derived fact
        asserted, which may queue more firings) before the engine is asked for the next one."""
        firings: list[Firing] = []
        started = _native.start_action_for_state(self._handle, state_handle)
        if not started:
            return firings
        state, action = started[0], started[1]
        try:
            while action:
                if self._record:
                    (rule, matched), = json.loads(action).items()
                    for fact in matched.values():
                        fact.pop("sid", None)  # the engine's bookkeeping: equal answers, equal firings
                    firings.append(Firing(rule, matched))
                    derived = self._asserts[rule]
                    if derived is not None:
                        _native.assert_fact(self._handle, _dumps(dict(derived, sid=sid)))
                        # a refused derived fact is fine: already derived, or no rule reads it
                _native.update_state(self._handle, state)
                action = _native.complete_and_start_action(self._handle, state_handle)
        except Exception as e:
            _native.abandon_action(self._handle, state_handle)
            raise EngineError(f"a rule action failed: {e!r:.500}") from e
        return firings


def _unused(c) -> None:
    raise AssertionError("durable_rules' own dispatch is never used (Ruleset.run drives the engine)")


_NAMES = itertools.count(1)


def unique_name(prefix: str) -> str:
    """A ruleset name never registered before in this process."""
    return f"{prefix}_{next(_NAMES)}"
