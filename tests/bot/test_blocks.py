"""Question messages are built once per question and given each consultation's id."""

from __future__ import annotations

import json
import random

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


def _random_results(n: int, seed: int) -> list[dict]:
    from rules.advisor import default

    adv = default()
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        answers = {q.id: (rng.randint(1, 3000) if q.type == "integer" else rng.choice(q.allowed))
                   for q in adv.kb.questions if rng.random() < 0.6}
        out.append(adv.recommend(adv.validate(answers)))
    return out


def test_recommendation_blocks_are_exactly_what_slack_sdk_models_validate_and_produce() -> None:
    """The recommendation is built as plain dicts (bot.render.blocks says why): every block of 300
    random recommendations, with notes of every length and Slack's control characters, goes
    through slack_sdk's models (which validate Block Kit's limits) and comes back unchanged."""
    from slack_sdk.models.blocks import Block

    from rules.advisor import default

    kb = default().kb
    rng = random.Random(4)
    notes = ["", "Changed team size from 4 to 30.", "<!channel> & <@U123> " * 40, "x" * 5000, "*bold* note"]
    seen_changes = seen_caveats = 0
    for i, result in enumerate(_random_results(300, seed=21)):
        note = rng.choice(notes)
        reply = Reply(kind="recommendation", text=(note + "\n" if note else "") + "summary", result=result,
                      consultation_id=i)
        payload = blocks.recommendation(kb, reply)
        assert len(payload["text"]) <= blocks.TEXT_LIMIT and len(payload["blocks"]) <= 50
        for block in payload["blocks"]:
            model = Block.parse(block)
            assert model is not None, block
            assert model.to_dict() == block  # validates, and slack_sdk would send exactly this
        seen_changes += bool(result["what_would_change"])
        seen_caveats += bool(result["caveats"])
        assert "<!channel>" not in json.dumps(payload)
    assert seen_changes and seen_caveats  # the optional sections were exercised


def test_an_overlong_recommendation_field_is_cut_to_slacks_limits() -> None:
    from slack_sdk.models.blocks import Block

    from rules.advisor import default

    kb = default().kb
    result = _random_results(1, seed=3)[0]
    result["reasons"] = [dict(r, text="y" * 4000) for r in result["reasons"]] or [
        {"effect": 0.5, "framework": "django", "text": "y" * 4000, "source": "s"}]
    payload = blocks.recommendation(kb, Reply(kind="recommendation", text="z" * 50_000, result=result,
                                              consultation_id=1))
    assert len(payload["text"]) <= blocks.TEXT_LIMIT
    for block in payload["blocks"]:
        assert Block.parse(block).to_dict() == block


def test_the_answered_edit_is_cached_but_a_callers_change_does_not_reach_the_cache() -> None:
    from rules.advisor import default

    kb = default().kb
    q = kb.questions[0]
    value = q.allowed[0] if q.allowed else 5
    first = blocks.answered(kb, q.prompt, q.id, value, "U1")
    first["blocks"][0]["text"]["text"] = "changed"
    again = blocks.answered(kb, q.prompt, q.id, value, "U1")
    assert "answered by <@U1>" in again["blocks"][0]["text"]["text"]
    assert "answered by <@U2>" in blocks.answered(kb, q.prompt, q.id, value, "U2")["text"]
