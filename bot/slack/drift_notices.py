"""Drift notices in Slack: a note in each drifted decision's thread (`decisions recheck --post`).

Which decisions drifted is the core's (bot/drift.py); saying so in Slack is this layer's.
"""

from __future__ import annotations

from bot.models import Reply
from bot.render.blocks import text_reply
from bot.render.explain import fw_name
from bot.store import Store


def queue(store: Store, drifted: list[dict]) -> int:
    """Queue a thread message per drifted decision (a running `serve` sends it); returns how many."""
    n = 0
    for row in drifted:
        d = store.decision(row["team_id"], row["number"])
        if d is None or d.team_id == "local":
            continue
        # The comparison's rules changed (a new knowledge version): said in words, without its hash.
        text = (f"The comparison's rules changed since decision {d.number} ({fw_name(d.framework)}) was recorded: "
                f"the advisor then recommended {fw_name(row['old_recommendation'])}, and for the same answers it "
                f"would now recommend {fw_name(row['new_recommendation'])}. `/framework show {d.number}` to "
                "review it.")
        key = f"drift:{d.team_id}:{d.number}:{row['new_version']}"
        if store.outbox_enqueue(d.team_id, d.channel, "chat.postMessage", text_reply(Reply(kind="text", text=text)),
                                thread_ts=d.thread_ts, dedupe_key=key) is not None:
            n += 1
    return n
