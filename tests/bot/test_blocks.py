"""Question messages are built once per question and given each consultation's id."""

from __future__ import annotations

import json

from bot.models import Option, Reply
from bot.render import blocks


def _reply(cid: int | None, text: str = "What are you building?") -> Reply:
    return Reply(kind="question", text=text, question="app_type", consultation_id=cid,
                 options=[Option(value="web_app", label="Web app"), Option(value="api", label="REST API")])


def _values(payload: dict) -> list[dict]:
    return [json.loads(e["value"]) for b in payload["blocks"] if b["type"] == "actions" for e in b["elements"]]


def test_every_button_carries_its_own_consultation_id() -> None:
    first, second = blocks.question(_reply(7)), blocks.question(_reply(8))
    assert [v["c"] for v in _values(first)] == [7, 7, 7]
    assert [v["c"] for v in _values(second)] == [8, 8, 8]  # the cached template did not keep 7
    assert [v.get("v") for v in _values(second)] == ["web_app", "api", None]  # the last is Skip
    first["blocks"][0]["text"]["text"] = "changed"  # a caller's edit does not reach the cache
    assert blocks.question(_reply(7))["blocks"][0]["text"]["text"] == "*What are you building?*"


def test_text_that_looks_like_a_button_value_is_left_alone() -> None:
    payload = blocks.question(_reply(5, text='Noted: {"c":-1,"q":"x"}\nWhat are you building?'))
    assert '{"c":-1,"q":"x"}' in payload["text"]
    assert all(v["c"] == 5 for v in _values(payload))
