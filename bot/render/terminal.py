"""Render consultation replies as terminal text."""

from __future__ import annotations

import re

from bot.models import Reply


def plain(text: str) -> str:
    """Drop the `*bold*` and `_italic_` marks that Slack shows and a terminal does not."""
    return re.sub(r"(?<!\w)[*_]([^*_\n]+)[*_](?!\w)", r"\1", text)


def render(reply: Reply) -> str:
    """A reply as lines for the terminal; a question lists its numbered options."""
    out = plain(reply.text)
    if reply.kind == "question":
        if reply.options:
            out += "\n" + "  ".join(f"[{i}] {o.label}" for i, o in enumerate(reply.options, 1))
        elif reply.input_hint:
            out += f"\n({reply.input_hint})"
    return out
