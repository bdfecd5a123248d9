"""The knowledge base: loading, `knowledge check` on good and broken copies, the content version."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from knowledge import loader
from knowledge.check import check
from knowledge.models import KnowledgeBase, Rule

DATA = Path(loader.__file__).resolve().parent


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, timeout=60,
                          cwd=cwd)


def _copy(tmp_path: Path, name: str = "knowledge") -> Path:
    target = tmp_path / name
    target.mkdir()
    for f in DATA.glob("*.toml"):
        shutil.copy(f, target / f.name)
    return target


def _replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path.name}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def _raw(name: str) -> dict:
    return tomllib.loads((DATA / name).read_text(encoding="utf-8"))


def test_packaged_knowledge_loads_and_checks_clean(kb: KnowledgeBase) -> None:
    report = check(kb)
    assert report.ok, report.errors
    assert report.total == len(_raw("claims.toml")["claim"])
    assert {p.framework for p in kb.profiles} == {"django", "flask", "node"}


def test_knowledge_check_cli_passes_on_packaged_data(kb: KnowledgeBase) -> None:
    proc = _cli("knowledge", "check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[-1] == "ok"
    assert not any(line.startswith("error:") for line in lines)
    assert f"knowledge version {kb.version}" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_knowledge_check_lists_unused_claims_with_a_used_total_line() -> None:
    # Counted independently from the raw TOML: a claim is used when a rule, a question, a profile
    # or a profile add-on cites it.
    claims = {c["id"] for c in _raw("claims.toml")["claim"]}
    used: set[str] = set()
    for r in _raw("rules.toml")["rule"]:
        used |= set(r.get("claims", []))
    for q in _raw("questions.toml")["question"]:
        used |= set(q.get("claims", []))
    for p in _raw("profiles.toml")["profile"]:
        used |= set(p.get("claims", []))
        for a in p.get("addons", []):
            used |= set(a.get("claims", []))
    unused = sorted(claims - used)
    proc = _cli("knowledge", "check")
    assert f"claims used by a rule, question or profile: {len(claims & used)}/{len(claims)}" in proc.stdout
    if unused:
        assert f"unused claims: {', '.join(unused)}" in proc.stdout
    else:
        assert "unused claims" not in proc.stdout


def test_knowledge_check_reports_overlapping_rules_and_no_double_count() -> None:
    # Counted independently from the raw TOML: score rules citing one claim for one framework and direction.
    groups: dict = {}
    for r in _raw("rules.toml")["rule"]:
        if r["kind"] == "score":
            for c in r["claims"]:
                groups.setdefault((c, r["framework"], "+" if r["weight"] > 0 else "-"), []).append(r["id"])
    overlapping = {k: sorted(v) for k, v in groups.items() if len(v) > 1}
    proc = _cli("knowledge", "check")
    assert (f"overlapping rules (one claim, one framework, one direction): {len(overlapping)} claim(s); "
            "double counted: 0") in proc.stdout
    for (claim, fw, sign), rules in overlapping.items():
        assert f"  {claim} ({fw} {sign}): {', '.join(rules)}" in proc.stdout
    assert overlapping  # the comparison restates sentences, so there are some to report


def test_knowledge_check_reports_each_broken_reference(tmp_path: Path) -> None:
    broken = _copy(tmp_path)
    # 1. a rule citing a claim id that does not exist
    _replace_once(broken / "rules.toml",
                  'claims = ["project-size-duration-small-flask"]\nwhen = [{ q = "project_size", op = "==", '
                  'value = "small" }]',
                  'claims = ["no-such-claim"]\nwhen = [{ q = "project_size", op = "==", value = "small" }]')
    # 2. a question value nobody can type
    # (the whole synonyms line of "small", whatever words it lists today)
    questions = (broken / "questions.toml").read_text(encoding="utf-8")
    small_line = next(line for line in questions.splitlines()
                      if line.startswith('synonyms = ["small", "tiny"'))
    _replace_once(broken / "questions.toml", small_line, "synonyms = []")
    # 3. a rule citing nothing
    _replace_once(broken / "rules.toml",
                  'claims = ["application-type-flask-small-static", "faq-2-flask-small-prototype"]\n'
                  'when = [{ fact = "static_content" }]',
                  'claims = []\nwhen = [{ fact = "static_content" }]')
    proc = _cli("knowledge", "check", "--dir", str(broken))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    errors = [line for line in proc.stdout.splitlines() if line.startswith("error:")]
    assert sorted(errors) == sorted([
        "error: rule derive-small-project: unknown claim id 'no-such-claim'",
        "error: question project_size: value 'small' has no synonyms",
        "error: rule score-static-flask: cites no claim",
    ])
    assert proc.stderr.strip() == "3 broken reference(s)"
    assert "ok" not in proc.stdout.splitlines()
    assert "Traceback" not in proc.stderr


def test_knowledge_check_on_an_unreadable_copy_fails_in_one_line(tmp_path: Path) -> None:
    broken = _copy(tmp_path)
    (broken / "rules.toml").write_text("[[rule]\nthis is not toml", encoding="utf-8")
    proc = _cli("knowledge", "check", "--dir", str(broken))
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1 and "rules.toml" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_check_finds_unknown_facts_questions_values_and_cycles(kb: KnowledgeBase) -> None:
    extra = [
        Rule(id="derive-loop-a", kind="derive", derive="large_project", text="t", claims=["intro-both-python"],
             when=[{"fact": "large_long_lived"}]),
        Rule(id="score-ghost", kind="score", framework="flask", weight=0.1, text="t",
             claims=["intro-both-python"], when=[{"fact": "ghost_fact"}, {"q": "nonsense", "value": "x"},
                                                 {"q": "database", "value": "graph"},
                                                 {"q": "app_type", "op": ">=", "value": "web_app"}]),
    ]
    report = check(kb.model_copy(update={"rules": [*kb.rules, *extra]}))
    assert not report.ok
    text = "\n".join(report.errors)
    assert "rule score-ghost: unknown derived fact 'ghost_fact'" in text
    assert "rule score-ghost: unknown question 'nonsense'" in text
    assert "rule score-ghost: 'graph' is not a value of database" in text
    assert "rule score-ghost: >= needs an integer question, app_type is choice" in text
    assert "fact large_project: its derivation depends on itself" in text
    assert "fact large_long_lived: its derivation depends on itself" in text


def test_duplicate_ids_are_reported(kb: KnowledgeBase) -> None:
    report = check(kb.model_copy(update={"rules": [*kb.rules, kb.rules[0]]}))
    assert f"duplicate rule id {kb.rules[0].id!r}" in report.errors


def test_invalid_shapes_are_refused_at_load_time(tmp_path: Path) -> None:
    broken = _copy(tmp_path)
    _replace_once(broken / "rules.toml", "weight = 0.6\ntext = \"Node suits real-time",
                  "weight = 1.5\ntext = \"Node suits real-time")
    with pytest.raises(loader.KnowledgeError, match="weight must be non-zero in"):
        loader.load(broken)


def test_version_is_a_content_hash(tmp_path: Path, kb: KnowledgeBase) -> None:
    same = _copy(tmp_path, "same")
    assert loader.load(same).version == kb.version  # the path does not matter, only the content

    changed = _copy(tmp_path, "changed")
    _replace_once(changed / "rules.toml", "weight = 0.5\ntext = \"Flask is chosen for small or static websites.\"",
                  "weight = 0.55\ntext = \"Flask is chosen for small or static websites.\"")
    new = loader.load(changed)
    assert next(r for r in new.rules if r.id == "score-static-flask").weight == 0.55
    assert new.version != kb.version
    proc = _cli("knowledge", "diff", str(DATA), str(changed))
    assert proc.returncode == 0
    assert proc.stdout.splitlines() == [f"knowledge version {kb.version} -> {new.version}",
                                        "~ rule score-static-flask: weight"]


def test_recommendations_carry_the_knowledge_version(kb: KnowledgeBase, advisor) -> None:
    assert advisor.recommend({})["knowledge_version"] == kb.version
    assert len(kb.version) == 12 and int(kb.version, 16) >= 0


def test_no_shown_text_calls_the_comparison_the_seed(kb: KnowledgeBase) -> None:
    # Users read rule texts, claims, notes and labels; "seed" is our word for the file, not theirs.
    def strings(node, key=""):
        if isinstance(node, dict):
            for k, v in node.items():
                if k not in ("origin", "id", "source"):
                    yield from strings(v, k)
        elif isinstance(node, list):
            for v in node:
                yield from strings(v, key)
        elif isinstance(node, str):
            yield key, node

    shown = [(k, s) for k, s in strings(kb.model_dump()) if "seed" in s.lower()]
    assert shown == []
