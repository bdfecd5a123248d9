"""The only module that imports durable_rules: one host, one lock, short-lived sessions.

durable_rules 2.0.28 is unmaintained and has sharp edges, each handled here:

- `Host._run` starts timer threads that race with callers and segfault under concurrency, so it
  is disabled before the host exists, and every engine call is serialised through `_LOCK`
  (the C code never releases the GIL, so the lock costs no throughput).
- A ruleset holds only ~1,000-2,000 live session ids before `MemoryError`, so each evaluation
  uses a fresh sid and deletes it in `finally`; SQLite, not the engine, is the source of truth.
- A fact no rule pattern matches raises `MessageNotHandledException` (and a whole batch is then
  dropped): callers assert only facts some pattern matches (rules.compile.answer_patterns),
  a batch that still raises is an EngineError, and derived-fact assertions tolerate it. After a
  refused batch (not handled, or the same fact twice) `delete_state` segfaults, so that session
  is not deleted; `run` raises EngineError instead.
- Re-asserting an identical fact raises `MessageObservedException` (two rules deriving the same
  fact): the second derivation is still recorded by the caller, the fact is already present.
- An exception inside an action is swallowed into `state["exception"]`: our action wrapper
  catches everything itself and `run` raises it as `EngineError` (reading the state back after
  every call to look for it cost a JSON round trip per call).
- Asserting an empty batch segfaults: an empty fact list is answered without calling it.
- A ruleset name cannot be registered twice: callers pass a unique name (knowledge version + n).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from durable import engine as _durable

# Must happen before any Host is created: no background dispatch threads.
_durable.Host._run = lambda self: None

_LOCK = threading.RLock()
_HOST: _durable.Host | None = None
_SIDS = itertools.count(1)


class EngineError(RuntimeError):
    """The rule engine failed (an action raised, or durable_rules refused a fact)."""


class Firing(NamedTuple):
    """One rule activation: the rule id and the facts its patterns matched, by pattern name.

    A tuple of plain dicts of strings and numbers, so the garbage collector stops tracking cached
    firings after its first pass over them (a large cache then costs full GC passes nothing).
    """

    rule: str
    matched: dict[str, dict]


@dataclass
class _Run:
    firings: list[Firing] = field(default_factory=list)
    error: BaseException | None = None


def _host() -> _durable.Host:
    global _HOST
    if _HOST is None:
        _HOST = _durable.Host()
    return _HOST


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
        """Register `specs` under `name`. With record=False every action is a no-op (the floor
        the benchmark compares against: durable_rules' own matching cost)."""
        self.name = name
        self._record = record
        self._current: _Run | None = None
        definition = {spec.id: {"all": [{k: v} for k, v in spec.patterns.items()], "run": self._action(spec)}
                      for spec in specs}
        with _LOCK:
            _host().register_rulesets({name: definition})

    def _action(self, spec: RuleSpec) -> Callable:
        if not self._record:
            return lambda c: None

        def run(c) -> None:
            # Runs inside durable_rules while `run()` holds the lock.
            # c._m holds fresh dicts decoded from the engine's JSON: no copy needed. The session
            # id is the engine's bookkeeping, not part of the fact: dropped, so equal answers give
            # equal firings whatever session evaluated them.
            current = self._current
            try:
                for fact in c._m.values():
                    fact.pop("sid", None)
                current.firings.append(Firing(spec.id, c._m))
                if spec.asserts is not None:
                    try:
                        c.assert_fact(dict(spec.asserts))
                    except (_durable.MessageObservedException, _durable.MessageNotHandledException):
                        pass  # already derived by another rule, or a fact no rule uses
            except BaseException as e:  # noqa: BLE001 - durable_rules would swallow it; run() raises it
                if current.error is None:
                    current.error = e

        return run

    def run(self, facts: list[dict]) -> list[Firing]:
        """Assert `facts` in a fresh session and return every rule firing, then free the session."""
        if not facts:
            return []  # nothing can fire, and durable_rules segfaults on an empty batch
        with _LOCK:
            sid = str(next(_SIDS))
            self._current = _Run()
            asserted = False
            try:
                try:
                    _host().assert_facts(self.name, [dict(f, sid=sid) for f in facts])
                except _durable.MessageNotHandledException as e:
                    raise EngineError(f"a fact matched no rule: {e}") from None
                except _durable.MessageObservedException as e:
                    raise EngineError(f"a fact was asserted twice: {e}") from None
                asserted = True
                if self._current.error is not None:
                    raise EngineError(f"a rule action failed: {self._current.error!r:.500}")
                return self._current.firings
            finally:
                self._current = None
                # After a refused batch, delete_state segfaults: that (rare, misuse-only) session
                # is left to the engine rather than crashing the process.
                if asserted:
                    try:
                        _host().delete_state(self.name, sid)
                    except Exception:  # noqa: BLE001 - a session that never started has nothing to free
                        pass


_NAMES = itertools.count(1)


def unique_name(prefix: str) -> str:
    """A ruleset name never registered before in this process."""
    return f"{prefix}_{next(_NAMES)}"
