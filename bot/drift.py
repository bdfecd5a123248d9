"""Re-check stored decisions against the current knowledge (drift after a knowledge change)."""

from __future__ import annotations

from bot.store import Store
from rules.advisor import Advisor
from rules.answers import AnswerError


def recheck(store: Store, advisor: Advisor, team_id: str | None = None) -> list[dict]:
    """Every decision whose recommendation would now differ, with the old and new recommendation."""
    drifted = []
    for d in store.all_decisions(team_id):
        try:
            answers = advisor.validate(d.answers)
        except AnswerError as e:
            drifted.append({"team_id": d.team_id, "number": d.number, "framework": d.framework,
                            "old_recommendation": d.recommendation, "new_recommendation": None,
                            "old_version": d.knowledge_version, "new_version": advisor.version,
                            "note": f"answers no longer valid: {e.message}"})
            continue
        new = advisor.recommend(answers, with_changes=False)["recommendation"]
        if new != d.recommendation:
            drifted.append({"team_id": d.team_id, "number": d.number, "framework": d.framework,
                            "old_recommendation": d.recommendation, "new_recommendation": new,
                            "old_version": d.knowledge_version, "new_version": advisor.version})
    return drifted


def queue_notices(store: Store, drifted: list[dict]) -> int:
    """Queue a thread message per drifted decision (a running `serve` sends it); returns how many."""
    from bot.models import Reply
    from bot.render.blocks import text_reply
    from bot.render.explain import fw_name

    n = 0
    for row in drifted:
        d = store.decision(row["team_id"], row["number"])
        if d is None or d.team_id == "local":
            continue
        text = (f"Knowledge update {row['old_version']} → {row['new_version']}: decision {d.number} "
                f"({fw_name(d.framework)}) was recommended {fw_name(row['old_recommendation'])}; with the current "
                f"knowledge the advisor would recommend {fw_name(row['new_recommendation'])}. "
                f"`/framework show {d.number}` to review it.")
        key = f"drift:{d.team_id}:{d.number}:{row['new_version']}"
        if store.outbox_enqueue(d.team_id, d.channel, "chat.postMessage", text_reply(Reply(kind="text", text=text)),
                                thread_ts=d.thread_ts, dedupe_key=key) is not None:
            n += 1
    return n
