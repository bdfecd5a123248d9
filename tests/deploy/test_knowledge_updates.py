"""Knowledge updates: `knowledge diff` names what changed; `decisions recheck` finds drifted decisions."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from bot.drift import recheck
from bot.slack.drift_notices import queue as queue_notices
from bot.store import Store
from knowledge import loader
from knowledge.diff import diff
from rules.advisor import default

KNOWLEDGE = Path(loader.DATA_DIR)


def _copy(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(KNOWLEDGE, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


def test_diff_names_a_changed_weight_and_a_new_rule(tmp_path):
    old, new = _copy(tmp_path, "old"), _copy(tmp_path, "new")
    rules = (new / "rules.toml").read_text()
    rules = rules.replace('id = "score-realtime-node"\nkind = "score"\nframework = "node"\nweight = 0.6',
                          'id = "score-realtime-node"\nkind = "score"\nframework = "node"\nweight = 0.7')
    assert "weight = 0.7" in rules
    (new / "rules.toml").write_text(rules)
    lines = diff(loader.load(old), loader.load(new))
    assert lines[0].startswith("knowledge version ")
    assert "~ rule score-realtime-node: weight" in lines
    assert diff(loader.load(old), loader.load(old)) == []


def test_cli_diff(tmp_path):
    old, new = _copy(tmp_path, "old"), _copy(tmp_path, "new")
    (new / "rules.toml").write_text((new / "rules.toml").read_text().replace(
        'text = "Node suits real-time applications', 'text = "Node is made for real-time applications'))
    out = subprocess.run([sys.executable, "-m", "bot.cli", "knowledge", "diff", str(old), str(new)],
                         capture_output=True, text=True, check=True).stdout
    assert "~ rule score-realtime-node: text" in out


def test_recheck_lists_decisions_whose_recommendation_changed(tmp_path):
    store = Store(tmp_path / "d.db")
    advisor = default()
    answers = {"realtime": "yes", "team_language": "javascript"}
    now_rec = advisor.recommend(answers, with_changes=False)["recommendation"]
    assert now_rec == "node"
    # One decision made under an older knowledge that recommended Flask for these answers, one current.
    store.record_decision("T1", channel="C1", topic="chat", framework="flask", decided_by="U1", rationale="r",
                          recommendation="flask", knowledge_version="old", answers=answers, result={},
                          thread_ts="1.000001")
    store.record_decision("T1", channel="C2", topic="api", framework="node", decided_by="U1", rationale="r",
                          recommendation="node", knowledge_version=advisor.version, answers=answers, result={})
    drifted = recheck(store, advisor)
    assert [(d["number"], d["old_recommendation"], d["new_recommendation"]) for d in drifted] == [(1, "flask", "node")]
    assert queue_notices(store, drifted) == 1
    assert queue_notices(store, drifted) == 0  # queued once, whatever the number of runs
    row = store.db.execute("SELECT channel, thread_ts, payload FROM outbox").fetchone()
    assert row[0] == "C1" and row[1] == "1.000001" and "decision 1" in json.loads(row[2])["text"]
