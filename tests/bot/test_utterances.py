"""The bot against how engineers really reply in Slack (tests/bot/utterances.jsonl).

The dataset's phrasings come from how people talk, not from the parser's vocabulary, and they are
not weakened to make the parser pass. The thresholds are named constants in tests/bot/utterance_report.py;
`.venv/bin/python -m tests.bot.utterance_report` prints the same figures as a markdown table.
"""

import pytest

from tests.bot import utterance_report as report


@pytest.fixture(scope="module")
def spec():
    return report.question_spec()


@pytest.fixture(scope="module")
def items():
    return report.load_dataset()


@pytest.fixture(scope="module")
def outcomes(items, spec):
    assert not report.shape_problems(items, spec), "fix the dataset's shape first (test_dataset_shape)"
    return report.evaluate(items)


@pytest.fixture(scope="module")
def summary(outcomes):
    return report.summary(outcomes)


def _figures(summary) -> str:
    return (f"overall {100 * summary['overall_accuracy']:.1f}%, commands/decisions "
            f"{100 * summary['command_recognition']:.1f}%, false accepts {summary['false_accepts']} "
            f"({summary['wrong_values']} wrong values, {summary['stored_instead_of_refusal_or_command']} stored "
            f"instead of a refusal/command), commands stored as answers {summary['commands_stored_as_answers']}")


def test_dataset_shape(items, spec):
    problems = report.shape_problems(items, spec)
    assert not problems, "\n".join(problems[:80])


def test_dataset_counts(items, spec):
    problems = report.count_problems(report.dataset_counts(items), list(spec))
    assert not problems, "the dataset is below its targets:\n" + "\n".join(problems)


def test_no_command_stored_as_an_answer(outcomes, summary):
    bad = [o for o in outcomes if o.command_as_answer]
    assert len(bad) <= report.MAX_COMMANDS_STORED_AS_ANSWERS, (
        f"{_figures(summary)}\ncommand lines stored as answers: " + report.misses_text(bad))


def test_false_accepts(outcomes, summary):
    bad = [o for o in outcomes if o.false_accept]
    assert summary["false_accept_rate"] <= report.MAX_FALSE_ACCEPT_RATE, (
        f"{_figures(summary)}\nfalse accepts: " + report.misses_text(bad))


def test_overall_accuracy(outcomes, summary):
    assert summary["overall_accuracy"] >= report.MIN_OVERALL_ACCURACY, (
        f"{_figures(summary)}\n" + report.misses_text(outcomes))


def test_command_and_decision_recognition(outcomes, summary):
    lines = [o for o in outcomes if report.kind_of(o.item) in ("command", "decision")]
    assert summary["command_recognition"] >= report.MIN_COMMAND_RECOGNITION, (
        f"{_figures(summary)}\n" + report.misses_text(lines))
