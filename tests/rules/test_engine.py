"""The durable_rules wrapper: many sessions, errors surfaced, threads serialised, nothing left behind."""

from __future__ import annotations

import json
import random
import sys
import threading

import pytest

import rules.advisor as advisor_module
from knowledge.models import KnowledgeBase
from rules import engine
from rules.advisor import Advisor
from rules.compile import compile_rules, partition
from rules.engine import EngineError, Ruleset, RuleSpec, unique_name


def _distinct_answer_sets(kb: KnowledgeBase, n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    seen: set[tuple] = set()
    out: list[dict] = []
    while len(out) < n:
        answers = {q.id: (rng.randint(1, 120) if q.type == "integer" else rng.choice(q.allowed))
                   for q in kb.questions if rng.random() < 0.7}
        key = tuple(sorted(answers.items()))
        if key not in seen:
            seen.add(key)
            out.append(answers)
    return out


@pytest.fixture
def spy_sessions(monkeypatch: pytest.MonkeyPatch):
    """Record every (ruleset handle, session id) asserted into and every one deleted, on the real
    native engine."""
    asserted: list[tuple[int, str]] = []
    deleted: list[tuple[int, str]] = []
    real = engine._native

    class Spy:
        def assert_facts(self, handle, payload):
            asserted.extend({(handle, f["sid"]) for f in json.loads(payload)})
            return real.assert_facts(handle, payload)

        def delete_state(self, handle, sid):
            deleted.append((handle, sid))
            return real.delete_state(handle, sid)

        def __getattr__(self, name):
            return getattr(real, name)

    monkeypatch.setattr(engine, "_native", Spy())
    return asserted, deleted


def _session_exists(handle: int, sid: str) -> bool:
    try:
        engine._native.get_state(handle, sid)
    except Exception:  # noqa: BLE001 - durable_rules raises its own error type for an unknown sid
        return False
    return True


def test_five_thousand_consultations_leave_no_session_behind(kb: KnowledgeBase, spy_sessions,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    asserted, deleted = spy_sessions
    monkeypatch.setattr(advisor_module, "_CACHE_SIZE", 0)  # nothing kept: every part really runs the engine
    fresh = Advisor(kb)
    answer_sets = _distinct_answer_sets(kb, 5000, seed=7)
    recommended = set()
    for answers in answer_sets:
        ev = fresh.evaluate(answers)
        recommended.add(ev.recommendation)
    assert recommended >= {"django", "flask", "node"}
    nonempty = sum(1 for a in answer_sets if fresh.facts_for(a))  # no facts: nothing to assert
    assert nonempty > 4900
    # One fresh session per part with answers, per evaluation (over 20,000, far over the engine's
    # limit of live sessions), each used once, and every one of them deleted.
    own = sum(1 for a in answer_sets for qs, _, _ in fresh.parts if {f["q"] for f in fresh.facts_for(a)} & qs)
    assert len(asserted) == own > 20_000
    assert len(asserted) == len(set(asserted))
    assert sorted(deleted) == sorted(asserted)
    sample = random.Random(1).sample(asserted, 200) + asserted[-5:]
    assert not any(_session_exists(name, sid) for name, sid in sample)


def _firing_set(firings) -> set[str]:
    return {json.dumps([f.rule, f.matched], sort_keys=True) for f in firings}


def test_parts_fire_exactly_what_the_whole_ruleset_fires(kb: KnowledgeBase) -> None:
    """Evaluating each independent part on its own answers fires the same rules on the same facts as
    one ruleset holding every rule (including the caveat rules), on 2,000 random answer sets."""
    whole = Ruleset(unique_name("whole"), compile_rules(kb))
    fresh = Advisor(kb)
    assert len(fresh.parts) > 1
    for answers in _distinct_answer_sets(kb, 2000, seed=5):
        answers = fresh.validate(answers)
        expected = _firing_set(whole.run(fresh.facts_for(answers)))
        assert _firing_set(fresh.evaluate(answers).firings) == expected, answers


def _reference_firings(kb: KnowledgeBase, answer_sets: list[dict]) -> list[set[str]]:
    """What durable_rules' own Host dispatch fires: every rule a Python action, derived facts asserted
    through the action's closure, exactly as the library's documentation does it."""
    name = unique_name("reference")
    specs = compile_rules(kb)
    fired: list[tuple[str, dict]] = []

    def action(spec):
        def run(c):
            fired.append((spec.id, {k: {x: y for x, y in f.items() if x != "sid"} for k, f in c._m.items()}))
            if spec.asserts is not None:
                try:
                    c.assert_fact(dict(spec.asserts))
                except (engine._durable.MessageObservedException, engine._durable.MessageNotHandledException):
                    pass
        return run

    host = engine._host()
    with engine._LOCK:
        host.register_rulesets({name: {s.id: {"all": [{k: v} for k, v in s.patterns.items()], "run": action(s)}
                                       for s in specs}})
        out = []
        for i, facts in enumerate(answer_sets):
            fired.clear()
            sid = f"ref{i}"
            host.assert_facts(name, [dict(f, sid=sid) for f in facts])
            host.delete_state(name, sid)
            out.append({json.dumps([r, m], sort_keys=True) for r, m in fired})
    return out


def test_our_dispatch_fires_exactly_what_durable_rules_own_dispatch_fires(kb: KnowledgeBase) -> None:
    """Ruleset.run drives the agenda through the native calls itself (rules.engine's docstring says
    why); on 2,000 random answer sets it fires the same rules on the same facts as the host's own
    Python action dispatch."""
    fresh = Advisor(kb)
    facts = [fresh.facts_for(fresh.validate(a)) for a in _distinct_answer_sets(kb, 2000, seed=17)]
    facts = [f for f in facts if f]
    ours = Ruleset(unique_name("ours"), compile_rules(kb))
    reference = _reference_firings(kb, facts)
    assert sum(len(r) for r in reference) > 20 * len(facts)  # chains fire: a real comparison
    for f, expected in zip(facts, reference, strict=True):
        assert _firing_set(ours.run(f)) == expected, f


def test_parts_share_no_question_and_no_derived_fact(kb: KnowledgeBase) -> None:
    specs = compile_rules(kb)
    parts = partition(kb, specs)
    assert sorted(s.id for _, rules in parts for s in rules) == sorted(s.id for s in specs)
    when = {r.id: r for r in kb.rules}
    seen_q: dict[str, int] = {}
    seen_f: dict[str, int] = {}
    for i, (questions, rules) in enumerate(parts):
        for spec in rules:
            rule = when.get(spec.id)
            facts = {c.fact for c in rule.when if c.fact} | ({rule.derive} if rule.derive else set()) if rule else set()
            for f in facts:
                assert seen_f.setdefault(f, i) == i, f"derived fact {f} in two parts"
        for q in questions:
            assert seen_q.setdefault(q, i) == i, f"question {q} in two parts"


def test_outcome_is_the_same_anywhere_in_an_integer_region(kb: KnowledgeBase) -> None:
    fresh, uncached = Advisor(kb), Advisor(kb)
    rng = random.Random(3)
    for answers in _distinct_answer_sets(kb, 300, seed=9):
        answers = fresh.validate(answers)
        for q, regions in fresh.regions.items():
            lo, hi = rng.choice(regions)
            value = rng.randint(lo, min(hi, lo + 1000))
            changed = {**answers, q: value}
            uncached._firings.clear()
            assert fresh.outcome(changed) == uncached.evaluate(changed, core=True).recommendation


def test_an_action_exception_surfaces_as_engine_error(spy_sessions) -> None:
    asserted, deleted = spy_sessions
    # The rule derives a fact that cannot be serialised (a set): the exception happens while a firing
    # is being dispatched, where durable_rules' own dispatch would swallow it into the session state.
    ruleset = Ruleset(unique_name("broken"), [
        RuleSpec("bad", {"m": {"t": "x"}}, asserts={"t": "y", "oops": {1, 2}}),
        RuleSpec("good", {"m": {"t": "z"}}),
    ])
    with pytest.raises(EngineError, match="a rule action failed"):
        ruleset.run([{"t": "x"}])
    assert deleted == asserted  # the failed session was freed too
    # the ruleset still works afterwards
    firings = ruleset.run([{"t": "z"}])
    assert [f.rule for f in firings] == ["good"]
    assert not any(_session_exists(*s) for s in asserted)


def test_any_exception_while_recording_a_firing_is_raised(
        monkeypatch: pytest.MonkeyPatch, spy_sessions) -> None:
    asserted, deleted = spy_sessions
    ruleset = Ruleset(unique_name("swallowed"), [RuleSpec("r", {"m": {"t": "x"}})])

    def boom(*args):
        raise ValueError("boom")

    monkeypatch.setattr(engine, "Firing", boom)  # fails while a firing is recorded
    with pytest.raises(EngineError, match="a rule action failed.*boom"):
        ruleset.run([{"t": "x"}])
    assert deleted == asserted  # the session was freed all the same
    monkeypatch.undo()
    assert [f.rule for f in ruleset.run([{"t": "x"}])] == ["r"]


def test_a_fact_no_rule_handles_is_an_engine_error_not_a_crash() -> None:
    # durable_rules segfaults when a refused session is deleted; run() must not try.
    ruleset = Ruleset(unique_name("nohandler"), [RuleSpec("r", {"m": {"t": "x"}})])
    with pytest.raises(EngineError, match="matched no rule"):
        ruleset.run([{"t": "nothing-matches-this"}])
    assert [f.rule for f in ruleset.run([{"t": "x"}])] == ["r"]


def test_the_same_fact_twice_is_an_engine_error_not_a_crash() -> None:
    ruleset = Ruleset(unique_name("twice"), [RuleSpec("r", {"m": {"t": "x"}})])
    with pytest.raises(EngineError, match="asserted twice"):
        ruleset.run([{"t": "x"}, {"t": "x"}])
    assert [f.rule for f in ruleset.run([{"t": "x"}])] == ["r"]


def test_empty_fact_list_does_not_reach_the_engine(spy_sessions) -> None:
    asserted, _ = spy_sessions
    ruleset = Ruleset(unique_name("empty"), [RuleSpec("r", {"m": {"t": "x"}})])
    assert ruleset.run([]) == []
    assert asserted == []


def test_chained_assertions_and_duplicate_derivations() -> None:
    ruleset = Ruleset(unique_name("chain"), [
        RuleSpec("a-to-b", {"m": {"t": "a"}}, asserts={"t": "b"}),
        RuleSpec("a-to-b-again", {"m": {"t": "a"}}, asserts={"t": "b"}),  # same fact derived twice
        RuleSpec("b-to-c", {"m": {"t": "b"}}, asserts={"t": "c"}),
        RuleSpec("c", {"m": {"t": "c"}}),
    ])
    fired = sorted(f.rule for f in ruleset.run([{"t": "a"}]))
    assert fired == ["a-to-b", "a-to-b-again", "b-to-c", "c"]


def test_two_rules_deriving_the_same_fact_are_both_recorded(advisor: Advisor) -> None:
    # batteries_needed: admin AND forms, and admin AND a relational database
    answers = {"needs_admin": "yes", "needs_forms": "yes", "database": "relational"}
    ev = advisor.evaluate(answers)
    assert sorted(f.rule for f in ev.derived["batteries_needed"]) == [
        "derive-batteries-admin-forms", "derive-batteries-admin-orm"]
    assert ev.explain_fact("batteries_needed").because == answers
    assert list(ev.fired).count("score-batteries-django") == 1
    assert len(ev.fired["score-batteries-django"]) == 1  # the score counts once


def _digest(advisor: Advisor, answers: dict) -> str:
    return json.dumps(advisor.recommend(answers, with_changes=False), sort_keys=True)


def test_threads_share_one_advisor_and_agree_with_sequential(kb: KnowledgeBase,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(advisor_module, "_CACHE_SIZE", 64)  # evictions happen all the time
    old = sys.getswitchinterval()
    pool = _distinct_answer_sets(kb, 300, seed=11)
    plans = [[random.Random(t).choice(pool) for _ in range(200)] for t in range(8)]
    shared = Advisor(kb)
    results: dict[int, list[str]] = {}
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            results[t] = [_digest(shared, answers) for answers in plans[t]]
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    sys.setswitchinterval(1e-5)  # switch threads often, to interleave cache hits and evictions
    try:
        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=120)
    finally:
        sys.setswitchinterval(old)
    assert not errors, errors[:3]
    sequential = Advisor(kb)
    for t in range(8):
        assert results[t] == [_digest(sequential, answers) for answers in plans[t]], f"thread {t} differs"


def test_cache_hit_cannot_race_an_eviction(kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> None:
    """Deterministic replay of the interleaving: thread A finds a cache hit, thread B evicts that
    entry before A moves it to the end. Without a cache lock A fails with KeyError."""
    monkeypatch.setattr(advisor_module, "_CACHE_SIZE", 1)
    shared = Advisor(kb)
    first, other = {"team_size": 3}, {"team_size": 30}
    shared.evaluate(first)  # cached; the next miss evicts it

    class Interleaving(type(shared._firings)):
        armed = True

        def get(self, key, default=None):
            hit = super().get(key, default)
            if hit is not None and Interleaving.armed:
                Interleaving.armed = False
                b = threading.Thread(target=shared.evaluate, args=(other,))
                b.start()
                b.join(timeout=0.3)  # with the lock, B waits for A; without it, B evicts now
            return hit

    shared._firings = Interleaving(shared._firings)
    ev = shared.evaluate(first)
    assert ev.recommendation == Advisor(kb).evaluate(first).recommendation
