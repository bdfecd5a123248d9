"""Render consultation replies as Slack messages: Block Kit built with slack_sdk.models plus a text fallback.

slack_sdk.models validates Block Kit limits when the blocks are serialised, so a message that
would break one fails here, in our process, not at Slack. The recommendation, which is different
every time and costs the most to validate, is built as plain dicts of the same shape instead; its
lengths are cut the same way, and tests/bot/test_blocks.py passes every block of many random
recommendations through slack_sdk's models and back (validated, and unchanged by the round trip).

All text from the consultation is escaped (`&`, `<`, `>`) so user text echoed back can never ping
`@channel` or a user; the mentions we add ourselves are inserted after escaping.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.models import Decision, Reply
from bot.render import explain
from bot.render.explain import fw_name, value_label
from knowledge.models import FRAMEWORKS, KnowledgeBase

SECTION_LIMIT = 2900  # Slack allows 3000 characters in a section's text
TEXT_LIMIT = 39000  # and 40,000 in a message's text

# Quick picks for the team-size question; typing any number also works.
TEAM_SIZE_PICKS = [("1-2", 2), ("3-5", 4), ("6-9", 8), ("10-20", 15), ("20-50", 30), ("50+", 60)]


def escape(text: str) -> str:
    """Escape Slack's control characters in text we did not write ourselves."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int = SECTION_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=_cut(text)))


def _button(text: str, action_id: str, value: dict, style: str | None = None) -> ButtonElement:
    return ButtonElement(text=PlainTextObject(text=_cut(text, 75), emoji=True), action_id=action_id,
                         value=json.dumps(value, separators=(",", ":")), style=style)


def message(text: str, blocks: list | None = None) -> dict:
    """A chat.postMessage payload: escaped text fallback and serialised (validated) blocks."""
    payload: dict = {"text": _cut(text, TEXT_LIMIT)}
    if blocks:
        payload["blocks"] = [b.to_dict() for b in blocks]
    return payload


def question(reply: Reply) -> dict:
    """A question with a button per option (or quick picks for a number)."""
    options = tuple((o.label, o.value) for o in reply.options or ())
    text, blocks_json = _question(reply.text, reply.question, options, reply.input_hint)
    # The consultation id is the only per-consultation part: it goes into the button values of
    # the cached, already validated blocks.
    blocks = json.loads(blocks_json)
    mark, real = '{"c":-1,', '{"c":' + json.dumps(reply.consultation_id) + ","
    for block in blocks:
        if block.get("type") == "actions":
            for element in block["elements"]:
                element["value"] = real + element["value"].removeprefix(mark)
    return {"text": text, "blocks": blocks}


@lru_cache(maxsize=256)
def _question(reply_text: str, question: str | None, options: tuple, input_hint: str | None) -> tuple[str, str]:
    # Building and validating slack_sdk models costs more than the rest of a reply: each question
    # (with its note) is built once, with consultation id -1 in its button values.
    text = escape(reply_text)
    lines = text.split("\n")
    blocks: list = []
    if len(lines) > 1:
        blocks.append(_section("\n".join(lines[:-1])))
    blocks.append(_section(f"*{lines[-1]}*"))
    if options:
        picks = list(options)
    elif question == "team_size":
        picks = TEAM_SIZE_PICKS
    else:
        picks = []
    if picks:
        blocks.append(ActionsBlock(block_id=f"fa_q_{question}", elements=[
            _button(label, f"fa_answer_{i}", {"c": -1, "q": question, "v": value})
            for i, (label, value) in enumerate(picks)] + [
            _button("Skip", "fa_skip", {"c": -1, "q": question})]))
    hint = "Reply in this thread" + (f" with {escape(input_hint)}" if input_hint else "")
    blocks.append(ContextBlock(elements=[MarkdownTextObject(
        text=f"{hint} · type `why`, `how`, `back`, `skip` or `status`")]))
    payload = message(text, blocks)
    return payload["text"], json.dumps(payload["blocks"])


def answered(kb: KnowledgeBase, prompt: str, question_id: str, value: object, user: str) -> dict:
    """The replacement for an answered question: its buttons become 'answered by @x: value'."""
    return json.loads(_answered(escape(prompt), escape(value_label(kb, question_id, value)), user))


@lru_cache(maxsize=1024)
def _answered(prompt: str, label: str, user: str) -> str:
    # Sent after every answer, with few distinct (question, value, user) combinations: built and
    # validated once each, then copied.
    text = f"{prompt}\nanswered by <@{user}>: *{label}*"
    return json.dumps(message(text, [_section(text)]))


# Plain-dict blocks, for the recommendation (see the module docstring).
def _d_section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text)}}


def _d_context(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(text)}]}


def _d_button(text: str, action_id: str, value: dict, style: str | None = None) -> dict:
    button = {"type": "button", "text": {"type": "plain_text", "text": _cut(text, 75), "emoji": True},
              "action_id": action_id, "value": json.dumps(value, separators=(",", ":"))}
    if style:
        button["style"] = style
    return button


def recommendation(kb: KnowledgeBase, reply: Reply) -> dict:
    """The recommendation: lead and fit bars, why the winner, why not the others, what would change it,
    the add-ons, then the buttons (grouped by `explain.summary`, as the terminal prints it)."""
    result = reply.result or {}
    cid = reply.consultation_id
    rec = result.get("recommendation")
    s = explain.summary(kb, result)
    note_lines = escape(reply.text).split("\n")
    blocks: list[dict] = []
    head, why, why_not = explain.titles(s, bool(result.get("done", True)))
    blocks.append({"type": "header", "text": {"type": "plain_text", "text": _cut(head, 150)}})
    if note_lines and note_lines[0] and not note_lines[0].startswith("*"):
        blocks.append(_d_context(note_lines[0]))
    # Monospaced, so the bars line up on a phone as poll apps draw them.
    blocks.append(_d_section(f"*{escape(explain.lead_text(s))}*\n```" + escape("\n".join(explain.fit_lines(s)))
                             + "```"))
    if s["why"]:
        blocks.append(_d_section(f"*{escape(why)}*\n" + "\n".join(
            f"• {escape(r['text'])} _({escape('from ' + explain.source_name(r['source']))})_" for r in s["why"])))
    if s["why_not"]:
        blocks.append(_d_section(f"*{escape(why_not)}*\n" + "\n".join(
            "• " + escape(explain.why_not_text(fw, item)) for fw, item in s["why_not"].items())))
    blocks.append(_d_section("*What would change it*\n" + "\n".join(
        "• " + escape(line) for line in explain.change_lines(kb, s))))
    if s["caveats"]:
        blocks.append(_d_section("*You will need*\n" + "\n".join(
            f"• *{escape(c['package'])}*: {escape(c['text'])} _({escape('from ' + explain.source_name(c['source']))})_"
            for c in s["caveats"])))
    blocks.append({"type": "divider"})
    blocks.append({"type": "actions", "block_id": "fa_decide", "elements": [
        _d_button(f"Adopt {fw_name(fw)}", f"fa_decide_{fw}", {"c": cid, "f": fw},
                  style="primary" if fw == rec else None) for fw in FRAMEWORKS] + [
        _d_button("Why?", "fa_how", {"c": cid}), _d_button("What would change it?", "fa_changes", {"c": cid}),
        _d_button("Ask everyone", "fa_poll_start", {"c": cid})]})
    blocks.append(_d_context(escape(explain.FIT_NOTE) + " Or type `let's go with flask because ...`."))
    return {"text": _cut(escape(reply.text), TEXT_LIMIT), "blocks": blocks}


def text_reply(reply: Reply) -> dict:
    """A plain reply (clarification, why, how, status, decision, closed)."""
    text = escape(reply.text)
    return message(text, [_section(chunk) for chunk in _chunks(text)][:45])


def text_reply_blocks(text: str) -> list[dict]:
    """Section blocks for text that is already escaped (it may hold our own mentions and dates)."""
    return [dict(b) for b in _text_blocks(text)]


@lru_cache(maxsize=64)
def _text_blocks(text: str) -> tuple[dict, ...]:
    # Cached: the same texts (help, usage messages) are sent on every ack; building and validating
    # slack_sdk models costs more than the rest of the ack.
    return tuple(_section(chunk).to_dict() for chunk in _chunks(text))[:45]


def _chunks(text: str, size: int = SECTION_LIMIT) -> list[str]:
    out, cur = [], ""
    for line in text.split("\n"):
        if len(cur) + len(line) + 1 > size and cur:
            out.append(cur)
            cur = ""
        cur = f"{cur}\n{line}" if cur else line
    out.append(cur)
    return [_cut(c) for c in out if c]


def render(kb: KnowledgeBase, reply: Reply) -> dict:
    """Any reply as a chat.postMessage payload."""
    if reply.kind == "question":
        return question(reply)
    if reply.kind == "recommendation":
        return recommendation(kb, reply)
    return text_reply(reply)


def decision_line(d: Decision, team_domain: str | None = None) -> str:
    """One history line: framework, status, topic, who, when (reader's time zone), link to the thread."""
    from datetime import datetime

    epoch = int(datetime.fromisoformat(d.created_at).timestamp())
    when = f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{d.created_at[:16].replace('T', ' ')} UTC>"
    topic = escape(d.topic) if d.topic else "_no topic_"
    link = ""
    if team_domain and d.thread_ts and d.channel:
        link = f" · <https://{team_domain}.slack.com/archives/{d.channel}/p{d.thread_ts.replace('.', '')}|thread>"
    who = f"<@{d.decided_by}>" if re.match(r"^[UW][A-Z0-9]{2,}$", d.decided_by) else escape(d.decided_by)
    return f"*{d.number}.* *{fw_name(d.framework)}* ({d.status}) · {topic} · {who} · {when}{link}"
