"""The README's example consultations are what the code prints today (clear, narrow, no clear winner)."""

from __future__ import annotations

from tests.bot import readme_examples


def test_the_readme_shows_what_the_engine_prints() -> None:
    section = readme_examples.markdown()  # raises when an example no longer shows its kind of lead
    readme = readme_examples.README.read_text(encoding="utf-8")
    assert section in readme, "README examples are stale: run `make readme-examples`"


def test_the_examples_cover_each_kind_of_lead_in_terminal_and_slack() -> None:
    labels = [label for label, _, _ in readme_examples.EXAMPLES]
    assert labels == ["clear", "narrow", "none"]
    section = readme_examples.markdown()
    assert section.count("In the terminal:") == 3
    assert section.count("The recommendation in Slack") == 3
    assert "▌Recommendation: Flask" in section and "▌No clear winner" in section
    for word in ("seed", "knowledge ", "score-", "derive-"):  # no internals in what users read
        assert word not in section.lower()


def test_the_readme_shows_the_decision_workflow_as_slack_renders_it() -> None:
    section = readme_examples.workflow()
    assert section in readme_examples.README.read_text(encoding="utf-8"), "stale: run `make readme-examples`"
    for shown in ("▌Record the decision", "*Decided:* Flask, decision 1", "Still the right choice?",
                  "[Still right]  [Revisit]  [Remind me later]", "It matters: with No, Django; with Yes, Flask",
                  "Either way: Django"):
        assert shown in section
