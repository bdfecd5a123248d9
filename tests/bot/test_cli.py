"""The CLI contract, run as a real process: JSON in and out, one-line errors with exit 2, no tracebacks."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from knowledge.models import KnowledgeBase
from rules.advisor import Advisor


def cli(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], input=stdin, capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def recommend(answers: object) -> subprocess.CompletedProcess:
    return cli("recommend", "--answers", answers if isinstance(answers, str) else json.dumps(answers))


def assert_one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip("\n").split("\n")
    assert len(lines) == 1, proc.stderr
    assert proc.stdout == ""
    return lines[0]


def test_unknown_question_is_one_line_naming_it_and_the_allowed_ids(kb: KnowledgeBase) -> None:
    line = assert_one_line_error(recommend({"team_sizes": 3}))
    assert "team_sizes" in line
    for q in kb.questions:
        assert q.id in line


def test_invalid_value_names_the_question_and_its_values() -> None:
    line = assert_one_line_error(recommend({"app_type": "mobile_game"}))
    assert "app_type" in line and "mobile_game" in line
    for value in ("web_app", "rest_api", "microservice", "static_site", "prototype"):
        assert value in line


@pytest.mark.parametrize("bad", ['{"team_size": "12"}', '{"team_size": 12.0}', '{"team_size": 0}',
                                 '{"team_size": 10001}', '{"team_size": true}'])
def test_team_size_must_be_a_json_integer_in_range(bad: str) -> None:
    line = assert_one_line_error(recommend(bad))
    assert "team_size" in line and "1" in line and "10000" in line


def test_not_json_and_not_an_object_are_one_line_errors() -> None:
    assert "not valid JSON" in assert_one_line_error(recommend("{team_size: 3"))
    assert "JSON object" in assert_one_line_error(recommend("[1, 2]"))
    assert "exactly one" in assert_one_line_error(cli("recommend"))


def test_true_false_are_yes_no_and_null_is_unanswered(advisor: Advisor) -> None:
    as_bool = json.loads(recommend({"realtime": True, "needs_admin": False, "app_type": None}).stdout)
    as_text = json.loads(recommend({"realtime": "yes", "needs_admin": "no"}).stdout)
    assert as_bool == as_text == advisor.recommend({"realtime": "yes", "needs_admin": "no"})
    assert "app_type" not in {q for r in as_bool["reasons"] for q in r["because"]}
    # true is not a choice value
    assert "app_type" in assert_one_line_error(recommend({"app_type": True}))


def test_output_fields(advisor: Advisor) -> None:
    answers = {"realtime": "yes", "team_size": 4}
    proc = recommend(answers)
    assert proc.returncode == 0 and proc.stderr == ""
    out = json.loads(proc.stdout)
    assert out == advisor.recommend(answers)
    for key in ("recommendation", "ranking", "reasons", "caveats", "next_question", "what_would_change",
                "knowledge_version"):
        assert key in out
    assert out["recommendation"] == "node"
    assert len(out["ranking"]) == 3
    assert {r["framework"] for r in out["ranking"]} == {"django", "flask", "node"}
    for r in out["ranking"]:
        assert set(r) == {"framework", "score", "confidence"}
        assert -1 <= r["score"] <= 1 and 0.05 <= r["confidence"] <= 0.95  # the shown fit never reads as certain
        assert r["confidence"] == pytest.approx(0.5 + 0.45 * r["score"], abs=1e-4)
    assert out["lead"]["label"] in ("clear", "narrow")
    assert out["lead"]["margin"] == pytest.approx(out["ranking"][0]["confidence"] - out["ranking"][1]["confidence"],
                                                  abs=1e-4)
    assert [r["confidence"] for r in out["ranking"]] == sorted((r["confidence"] for r in out["ranking"]),
                                                               reverse=True)
    assert out["reasons"]
    for r in out["reasons"]:
        assert {"rule", "framework", "effect", "text", "source", "because", "via"} <= set(r)
    realtime = next(r for r in out["reasons"] if r["rule"] == "score-realtime-node")
    assert realtime["source"] == "Flask Vs Node #9 Real-time applications"
    assert out["what_would_change"]
    for c in out["what_would_change"]:
        assert set(c) == {"question", "value", "new_recommendation"}
    keys = [(c["question"], str(c["value"])) for c in out["what_would_change"]]
    assert [k[0] for k in keys] == sorted(k[0] for k in keys)


def test_answers_file(tmp_path: Path, advisor: Advisor) -> None:
    f = tmp_path / "answers.json"
    f.write_text(json.dumps({"app_type": "static_site"}), encoding="utf-8")
    proc = cli("recommend", "--answers-file", str(f))
    assert proc.returncode == 0
    assert json.loads(proc.stdout) == advisor.recommend({"app_type": "static_site"})
    missing = assert_one_line_error(cli("recommend", "--answers-file", str(tmp_path / "nope.json")))
    assert "nope.json" in missing


def test_batch_reports_the_bad_line_and_answers_the_others(tmp_path: Path, advisor: Advisor) -> None:
    lines = [{"app_type": "static_site"}, {"team_size": 25, "duration": "long"}, {"app_type": "desktop"},
             {"realtime": True}, {"team_size": "12"}]
    batch = tmp_path / "batch.jsonl"
    batch.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    proc = cli("recommend", "--batch", str(batch))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    out = [json.loads(x) for x in proc.stdout.splitlines()]
    assert len(out) == len(lines)
    assert out[0] == advisor.recommend({"app_type": "static_site"})
    assert out[1] == advisor.recommend({"team_size": 25, "duration": "long"})
    assert out[3] == advisor.recommend({"realtime": "yes"})
    err = out[2]["error"]
    assert err["line"] == 3 and err["question"] == "app_type"
    assert err["allowed"] == ["web_app", "rest_api", "microservice", "static_site", "prototype"]
    err = out[4]["error"]
    assert err["line"] == 5 and err["question"] == "team_size" and err["allowed"] == [1, 10000]


def test_batch_all_valid_from_stdin_exits_0(advisor: Advisor) -> None:
    lines = [{}, {"flexibility": "freedom"}, {"needs_admin": "yes", "needs_forms": "yes"}]
    proc = cli("recommend", "--batch", "-", stdin="".join(json.dumps(x) + "\n" for x in lines))
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(x) for x in proc.stdout.splitlines()]
    assert out == [advisor.recommend(x) for x in lines]
    assert [o["recommendation"] for o in out] == [None, "flask", "django"]


# What the team would answer if asked; the chat asks in the advisor's own order and stops early.
SCRIPT = {"app_type": "web_app", "team_size": 25, "project_size": "large", "duration": "long",
          "team_language": "python", "one_language": "no", "experience": "experienced", "hiring": "no",
          "flexibility": "conventions", "realtime": "no", "needs_admin": "yes", "needs_forms": "yes",
          "database": "relational", "ml_integration": "no", "performance_critical": "no", "serverless": "no"}


def _typed(kb: KnowledgeBase, qid: str, value) -> str:
    """What a person types for a canonical value: digits, or the value's first synonym."""
    q = kb.question(qid)
    if q.type == "integer":
        return str(value)
    if q.type == "yes_no":
        return value
    return next(v for v in q.values if v.value == value).synonyms[0]


@pytest.fixture(scope="module")
def chatted(tmp_path_factory: pytest.TempPathFactory):
    from knowledge import loader
    from rules.advisor import default

    kb, advisor = loader.default(), default()
    answers: dict = {}
    lines: list[str] = []
    while not (result := advisor.recommend(answers, with_changes=False))["done"]:
        q = result["next_question"]
        answers[q] = SCRIPT[q]
        lines.append(_typed(kb, q, SCRIPT[q]))
        if len(lines) == 2:
            lines += ["why", "status"]
    lines.append("decide flask because we already run it")
    db = tmp_path_factory.mktemp("chat") / "advisor.db"
    proc = cli("chat", "--db", str(db), "--user", "alice", "--topic", "billing service",
               stdin="\n".join(lines) + "\n")
    return db, proc, answers, advisor.recommend(answers)


def test_chat_runs_a_full_consultation_from_stdin(chatted) -> None:
    db, proc, answers, final = chatted
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    from knowledge import loader
    kb = loader.default()
    assert "What are you building" in out
    assert all(kb.question(q).prompt.split("?")[0] in out for q in answers)  # every question it asked
    assert "Why I ask:" in out and "Status" in out
    assert "didn't catch" not in out
    assert len(answers) < len(SCRIPT)  # it stopped before asking everything
    assert final["recommendation"] == "django"
    assert "Recommendation: Django" in out
    assert "Record the decision in your own words" in out
    last = out.rstrip().splitlines()[-2:]
    assert last[0] == "Decision 1 recorded: Flask (the advisor recommended Django). Rationale: we already run it"
    assert re.fullmatch(r"Review on \d{4}-\d\d-\d\d: `framework-advisor decisions review` lists what is due\.",
                        last[1])
    assert "Traceback" not in proc.stderr


def test_decisions_list_show_export(chatted) -> None:
    db, _, answers, final = chatted
    listing = cli("decisions", "list", "--db", str(db))
    assert listing.returncode == 0
    rows = listing.stdout.strip().splitlines()
    assert len(rows) == 2 and rows[1].split()[:3] == ["1", "Flask", "accepted"]
    assert rows[1].endswith("billing service")

    as_json = [json.loads(x) for x in cli("decisions", "list", "--db", str(db), "--json").stdout.splitlines()]
    assert [(d["number"], d["framework"], d["decided_by"]) for d in as_json] == [(1, "flask", "alice")]

    show = cli("decisions", "show", "1", "--db", str(db))
    assert show.returncode == 0
    assert show.stdout.startswith("Decision 1: Flask (accepted)")
    assert "Rationale: we already run it" in show.stdout
    assert "Recommendation: Django" in show.stdout

    madr = cli("decisions", "export", "1", "--format", "madr", "--db", str(db))
    assert madr.returncode == 0
    assert madr.stdout.startswith("---\nstatus: accepted\n")
    assert "# Use Flask for billing service" in madr.stdout

    exported = json.loads(cli("decisions", "export", "1", "--format", "json", "--db", str(db)).stdout)
    assert exported["framework"] == "flask" and exported["recommendation"] == "django"
    assert exported["answers"] == answers
    assert exported["result"] == final
    assert exported["rationale"] == "we already run it"


def test_missing_decision_is_one_line_exit_2(chatted) -> None:
    db = chatted[0]
    line = assert_one_line_error(cli("decisions", "show", "99", "--db", str(db)))
    assert "99" in line
    assert_one_line_error(cli("decisions", "export", "99", "--db", str(db)))
    # another team sees nothing of this team's decisions
    assert_one_line_error(cli("decisions", "show", "1", "--db", str(db), "--team", "T-OTHER"))


def test_backup_and_forget(chatted, tmp_path: Path) -> None:
    db = chatted[0]
    target = tmp_path / "copy.db"
    proc = cli("backup", str(target), "--db", str(db))
    assert proc.returncode == 0 and target.exists()
    assert (target.stat().st_mode & 0o777) == 0o600
    show = cli("decisions", "show", "1", "--db", str(target))
    assert show.stdout.startswith("Decision 1: Flask")
    forgot = cli("forget", "alice", "--db", str(target), "--team", "local")
    assert forgot.returncode == 0 and "removed alice" in forgot.stdout
    assert "alice" not in cli("decisions", "show", "1", "--db", str(target)).stdout


def test_unknown_command_and_bad_option_do_not_trace() -> None:
    for args in (("frobnicate",), ("decisions", "show", "one"), ("recommend", "--nope")):
        proc = cli(*args)
        assert proc.returncode == 2, args
        assert "Traceback" not in proc.stderr
