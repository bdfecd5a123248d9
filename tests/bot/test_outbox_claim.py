"""Decision numbers as typed in a command are plain ASCII integers.

(The outbox claim's tests, fairness between channels and each channel's order, moved to the store's
contract in tests/store/test_outbox_contract.py, run on SQLite and on PostgreSQL.)
"""

from __future__ import annotations


def test_decision_numbers_are_plain_ascii_integers() -> None:
    from bot.slack.commands import _number

    assert _number("1.5", "u")[0] is None  # was read as decision 1
    assert _number("²", "u")[0] is None  # isdigit() accepted it and int() raised
    assert _number("#3 team_size=4", "u") == (3, "team_size=4")
