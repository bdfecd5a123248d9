"""The App Home tab: reviews due, the team's recent decisions, its open consultations, a start button."""

from __future__ import annotations

import json

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.render.blocks import decision_line, escape
from bot.render.explain import fw_name
from bot.reviews import Reviews, when
from bot.slack.context import SlackContext

REVIEWS_SHOWN = 10


def view(ctx: SlackContext, team: str, user: str, im_channel: str | None) -> dict:
    """The Home tab view for a user of a team (only that team's records)."""
    decisions = ctx.store.decisions(team, limit=10)
    open_cs = ctx.store.open_consultations(team, limit=10)
    blocks: list = [HeaderBlock(text=PlainTextObject(text="Framework Advisor")),
                    SectionBlock(text=MarkdownTextObject(
                        text="Choose Django, Flask or Node.js with explicit, cited rules, and keep a record of "
                             "what your team decided and why."))]
    if im_channel:
        blocks.append(ActionsBlock(block_id="fa_home", elements=[ButtonElement(
            text=PlainTextObject(text="Start a consultation"), action_id="fa_home_start", style="primary",
            value=json.dumps({"ch": im_channel}))]))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(
        text="Or type `/framework start [topic]` in any channel I can join.")]))
    due = Reviews(ctx.service).due(team)[:REVIEWS_SHOWN]
    if due:
        blocks += [DividerBlock(), SectionBlock(text=MarkdownTextObject(text="*Reviews due*"))]
        for r in due:
            d = ctx.store.decision(team, r.decision_number)
            if d is None:
                continue
            topic = f" for {escape(d.topic)}" if d.topic else ""
            where = f" · <#{d.channel}>" if d.channel[:1] in "CDG" else ""
            blocks.append(SectionBlock(text=MarkdownTextObject(
                text=f"*{when(r.due_at)}* · decision {d.number}: {fw_name(d.framework)}{topic}{where}"[:2900])))
    blocks += [DividerBlock(), SectionBlock(text=MarkdownTextObject(text="*Recent decisions*"))]
    if decisions:
        blocks += [SectionBlock(text=MarkdownTextObject(text=decision_line(d)[:2900])) for d in decisions]
    else:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="_No decisions yet._")))
    blocks += [DividerBlock(), SectionBlock(text=MarkdownTextObject(text="*Open consultations*"))]
    if open_cs:
        for n, c in open_cs:
            topic = escape(c.topic) if c.topic else "_no topic_"
            blocks.append(SectionBlock(text=MarkdownTextObject(
                text=f"*{n}.* {topic} · <#{c.channel}> · started by <@{c.started_by}>"[:2900])))
    else:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="_None open._")))
    return View(type="home", blocks=blocks).to_dict()
