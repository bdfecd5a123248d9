"""Smoke test of the benchmark harness: `python -m bench.run --quick --only engine,history` runs and writes
the results JSON with numeric figures (the full `make bench` is run by hand; it takes minutes)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _number(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def test_quick_engine_and_history_write_numeric_results(tmp_path):
    results = tmp_path / "results.json"  # not bench/results.json: a test must not overwrite a real run
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "bench.run", "--quick", "--only", "engine,history", "--out",
                          str(results)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - started
    assert out.returncode == 0, out.stderr[-3000:]
    assert elapsed < 30, f"the quick run took {elapsed:.1f}s"
    data = json.loads(results.read_text())
    assert data["quick"] is True
    assert data["sections_run"] == ["engine", "history"]
    engine, history = data["sections"]["engine"], data["sections"]["history"]
    for key in ("evaluation", "evaluation_floor", "evaluation_lru_full", "recommend", "recommend_floor"):
        for stat in ("p50_ms", "p99_ms", "max_ms", "mean_ms"):
            assert _number(engine[key][stat]) and engine[key][stat] > 0, (key, stat)
    assert _number(engine["batch"]["per_line_ms"])
    assert engine["batch"]["output_lines"] == engine["batch"]["lines"]
    for key in ("history_page1", "history_random", "history_last", "list20"):
        for suffix in ("", "_floor"):
            assert _number(history[key + suffix]["p99_ms"]), key + suffix
    assert history["plans"] and all(p["plan"] for p in history["plans"])
    assert _number(history["plan_full_scans"])
    # The table: every row has a figure and a numeric "ours"; ratios are numeric where a baseline exists.
    assert data["table"]
    for row in data["table"]:
        assert row["figure"] and _number(row["ours"]), row
        if _number(row["baseline"]) and row["baseline"]:
            assert _number(row["ratio"]), row
    assert "figure" in out.stdout and "ours" in out.stdout and "baseline" in out.stdout
