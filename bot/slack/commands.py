"""`/framework` and its subcommands.

Every subcommand but `start` is answered in the acknowledgement itself (an ephemeral response
computed from SQLite and the engine in milliseconds, no Web API call). `start` acknowledges
at once and queues its Web API work (join, root message, consultation, first question) as an
outbox job, which the outbox sender runs: a slow Slack API can never make the command time out,
the work, once queued, survives a restart of `serve`, and it does not compete with the next request's
acknowledgement for `serve`'s interpreter (bench, section ack). `export N` answers in the
acknowledgement too, and queues the file upload (three Web API calls) as an outbox job the same way.
"""

from __future__ import annotations

import logging
import re
import shlex
import time

from slack_bolt import App
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import metrics
from bot.models import DECISION_STATUSES
from bot.parsing import FRAMEWORK_ALIASES
from bot.render import blocks, decide_view, explain, madr
from bot.render.blocks import escape
from bot.slack.context import SlackContext
from bot.slack.outbox import JOB_PREFIX
from bot.slack.starting import SORRY, enqueue_start, split
from bot.store import StoreBusy
from knowledge.models import FRAMEWORK_NAMES, FRAMEWORKS

log = logging.getLogger("framework_advisor.commands")

PAGE = 10
USAGE = """*Framework Advisor* helps your team choose Django, Flask or Node.js, and remembers what you decided.
• `/framework start [topic]`: start a consultation in this channel (questions come in a thread)
• `/framework poll [topic]`: the same, and everyone answers on their own first: the result shows where the team \
disagrees and whether it matters
• `/framework history [status] [page]`: this team's decisions, newest first (e.g. `history superseded`)
• `/framework show N` · `/framework export N`: one decision, or its decision record (MADR) as a file
• `/framework compare [django|flask|node ...] [criterion]`: the comparison rows behind the rules
• `/framework whatif N question=value`: re-run decision N with one answer changed
• `/framework cancel N`: cancel open consultation N (or type `cancel` in its thread)
• `/framework forget me`: remove your name from this team's records (decisions are kept)
• `/framework help`: this message"""

HISTORY_USAGE = ("Usage: `/framework history [status] [page]`, e.g. `/framework history 2` or `/framework history "
                 "superseded`. Statuses: " + ", ".join(DECISION_STATUSES) + ".")
USAGES = {"show": "Usage: `/framework show N`", "export": "Usage: `/framework export N`",
          "whatif": "Usage: `/framework whatif N question=value`"}

# `/framework export N`: the upload of a decision's MADR file (files.getUploadURLExternal, the upload,
# files.completeUploadExternal) runs in the outbox sender, not in the acknowledgement.
EXPORT_JOB = f"{JOB_PREFIX}export"
BUSY = "The database is busy right now, so nothing was changed. Please try again in a few seconds."


def register(app: App, ctx: SlackContext) -> None:
    """Attach the /framework listeners: `start` acks at once and queues its work; the rest answer in the ack.

    The start job is queued after the response is written (the context's `submit`): queued before
    it, the insert could wait for the sender process's write lock and hold up the ack (measured,
    bench section ack). Not a bolt lazy listener either: that deep-copies the whole request and
    spawns work for every /framework command, which showed in the ack latency of every subcommand.
    """

    def framework(ack, command, context) -> None:
        # One listener for every subcommand: bolt runs each registered listener's matchers on
        # every request, and a second /framework listener with a matcher for `start` cost every
        # command a measurable share of its ack (bench, section ack).
        started = time.perf_counter()
        sub, rest = split(command.get("text") or "")
        if sub in ("", "start", "poll"):
            ack()
            metrics.ACKED["command"].inc()
            # `poll` starts the same way, then invites everyone to answer on their own (bot.slack.poll).
            ctx.submit(queue_start, {**command, "poll": True} if sub == "poll" else command,
                       context.respond)
            # Per-request lines are debug: at info, writing one cost a measurable share of every
            # ack (bench, section ack); /metrics counts acks and their latency.
            log.debug("command acknowledged", extra={"team": command.get("team_id"),
                                                    "channel": command.get("channel_id"), "kind": "start",
                                                    "latency_ms": _ms(started)})
            return
        try:
            text = answer(ctx, command, sub, rest)
        except StoreBusy:  # another writer held the database past our bound: answer within Slack's 3 s
            log.warning("subcommand %s: database busy", sub)
            text = BUSY
        except Exception:  # noqa: BLE001 - never a stack trace in Slack
            log.exception("subcommand %s failed", sub)
            text = "Sorry, something went wrong on my side; nothing was changed. Please try again."
        # A code block (export) cannot be split across sections: send it as text alone.
        ack(response_type="ephemeral", text=text[:39000],
            blocks=None if "```" in text else blocks.text_reply_blocks(text))
        metrics.ACKED["command"].inc()
        log.debug("command answered", extra={"team": command.get("team_id"), "channel": command.get("channel_id"),
                                            "kind": sub, "latency_ms": _ms(started)})

    def queue_start(command, respond) -> None:
        # No de-duplication key: Slack does not re-deliver slash commands.
        if not enqueue_start(ctx, command) and respond is not None:
            respond(response_type="ephemeral", text=SORRY)

    app.command("/framework")(framework)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def jobs(ctx: SlackContext) -> dict:
    """The outbox jobs of this module, for `OutboxWorker(jobs=...)`: the upload of a decision record."""

    def run_export(client: WebClient, row: dict) -> None:
        p = row["payload"]
        d = ctx.store.decision(p["team"], p["number"])
        if d is None:
            return
        linked = {n: madr.filename(x) for n in (d.supersedes, d.superseded_by)
                  if n and (x := ctx.store.decision(p["team"], n)) is not None}
        record = madr.render(d, ctx.kb, files=linked, reviews=ctx.store.reviews_of(p["team"], d.number))
        try:
            client.files_upload_v2(channel=p["channel"], thread_ts=p.get("thread_ts") or None, content=record,
                                   filename=madr.filename(d), title=madr.title(d),
                                   initial_comment=f"Decision {d.number} as an Architecture Decision Record "
                                                   f"(MADR 4), exported by <@{p['user']}>.")
        except SlackApiError as e:
            if e.response.status_code == 429:
                raise  # the outbox runs the job again after Retry-After
            error = escape(str(e.response.get("error")))
            log.warning("export upload refused: %s", error)
            text = (f"Slack refused the upload of decision {d.number}'s record ({error}); nothing was posted. "
                    f"`framework-advisor decisions export {d.number}` prints it.")
            if p.get("response_url"):
                Respond(response_url=p["response_url"])(text=text, response_type="ephemeral",
                                                        replace_original=False)
            else:
                ctx.ephemeral(p["team"], p["command_channel"], p["user"], text, None, key=f"job:{row['id']}:refused")

    return {EXPORT_JOB: run_export}


def _number(rest: str, usage: str) -> tuple[int | None, str]:
    # ASCII digits followed by a space or the end: "1.5" and "²" are refused, not read as 1 or crashed on.
    m = re.match(r"^#?([0-9]{1,9})(?:\s+(.*))?$", rest.strip(), re.DOTALL)
    if not m:
        return None, f"{usage}: N is a number from `/framework history`."
    return int(m.group(1)), m.group(2) or ""


def answer(ctx: SlackContext, command: dict, sub: str, rest: str) -> str:
    """The ephemeral text for a subcommand other than start and poll (see `SUBCOMMANDS`)."""
    handler = SUBCOMMANDS.get(sub)
    if handler is None:
        return f"I don't know the subcommand `{escape(sub[:40])}`.\n\n{USAGE}"
    return handler(ctx, command, rest)


def _help(ctx: SlackContext, command: dict, rest: str) -> str:
    return USAGE


def _history(ctx: SlackContext, command: dict, rest: str) -> str:
    page, status = 1, None
    for word in rest.lower().split():
        if word in DECISION_STATUSES and status is None:
            status = word
        elif re.fullmatch(r"[0-9]{1,9}", word) and int(word) >= 1 and page == 1:  # isdigit() accepts "²"
            page = int(word)
        else:
            return HISTORY_USAGE
    return history(ctx, command["team_id"], page, command.get("team_domain"), status)


def _decision_of(ctx: SlackContext, command: dict, rest: str, sub: str):
    """(decision, the rest of the text) for `show N`, `export N`, `whatif N ...`; or (None, what to say)."""
    n, tail = _number(rest, USAGES[sub])
    if n is None:
        return None, tail
    d = ctx.store.decision(command["team_id"], n)
    if d is None:
        return None, f"There is no decision {n} in this workspace. See `/framework history`."
    return d, tail


def _show(ctx: SlackContext, command: dict, rest: str) -> str:
    d, tail = _decision_of(ctx, command, rest, "show")
    if d is None:
        return tail
    body = [blocks.decision_line(d, command.get("team_domain")), f"*Rationale:* {escape(d.rationale)}"]
    context = decide_view.decision_context(d)
    if d.supersedes or d.superseded_by:
        context += "".join(f" · {word} decision {x}" for word, x in (("supersedes", d.supersedes),
                                                                   ("superseded by", d.superseded_by)) if x)
    body.append(f"_{context}_")
    if d.answers:
        body.append("*Answers:* " + escape(explain.because_text(ctx.kb, d.answers)))
    if d.result:
        body.append(escape(explain.recommendation(ctx.kb, d.result)))
    return "\n".join(body)


def _export(ctx: SlackContext, command: dict, rest: str) -> str:
    d, tail = _decision_of(ctx, command, rest, "export")
    return tail if d is None else export(ctx, command, d)


def _whatif(ctx: SlackContext, command: dict, rest: str) -> str:
    n, tail = _number(rest, USAGES["whatif"])
    if n is None:
        return tail
    m = re.match(r"^([a-z_]+)\s*=\s*(.+)$", tail.strip(), re.DOTALL)
    if not m:
        return f"{USAGES['whatif']}, e.g. `/framework whatif 3 team_size=40`."
    d, tail = _decision_of(ctx, command, rest, "whatif")
    if d is None:
        return tail
    return escape(ctx.service.whatif(d, m.group(1), m.group(2).strip()).text)


def _compare(ctx: SlackContext, command: dict, rest: str) -> str:
    return compare(ctx, rest)


def _cancel(ctx: SlackContext, command: dict, rest: str) -> str:
    n, usage = _number(rest, "Usage: `/framework cancel N`")
    if n is None:
        return usage
    team = command["team_id"]
    c = ctx.store.consultation_by_number(team, n)
    if c is None:
        return f"There is no consultation {n} in this workspace."
    reply = ctx.service.cancel(team, c.id, command["user_id"])
    if reply.kind == "closed" and c.status == "open":
        ctx.send(team, c.channel, c.thread_ts, [reply], key=f"cancel:{c.id}")
    return escape(reply.text)


def _forget(ctx: SlackContext, command: dict, rest: str) -> str:
    if rest.lower() != "me":
        return "Usage: `/framework forget me` removes your name from this team's records."
    n = ctx.store.forget_user(command["team_id"], command["user_id"])
    return f"Done: your name was removed from {n} record(s). The decisions themselves are kept."


# Subcommand -> its handler: a new subcommand is one function and one line here (and one in USAGE).
# `start` and `poll` are not here: they acknowledge at once and queue their work (bot.slack.starting).
SUBCOMMANDS = {"help": _help, "?": _help, "history": _history, "show": _show, "export": _export,
               "whatif": _whatif, "compare": _compare, "cancel": _cancel, "forget": _forget}


def history(ctx: SlackContext, team: str, page: int, team_domain: str | None, status: str | None = None) -> str:
    """One page of the team's decisions (of one status, if given), newest first, with their supersede links."""
    total = ctx.store.count_decisions(team, status)
    if total == 0:
        if status:
            return f"No {status} decisions. `/framework history` lists them all."
        return "No decisions recorded yet. Start with `/framework start [topic]`."
    pages = (total + PAGE - 1) // PAGE
    if page > pages:
        return f"There are only {pages} page(s) of history."
    rows = ctx.store.decisions(team, limit=PAGE, offset=(page - 1) * PAGE, status=status)
    lines = [f"*Decisions*{' ' + status if status else ''} (page {page} of {pages}, newest first)"]
    for d in rows:
        links = "".join(f" · {word} {x}" for word, x in (("supersedes", d.supersedes),
                                                         ("superseded by", d.superseded_by)) if x)
        lines.append(blocks.decision_line(d, team_domain) + links)
    if page < pages:
        lines.append(f"More: `/framework history {status + ' ' if status else ''}{page + 1}`")
    return "\n".join(lines)


def export(ctx: SlackContext, command: dict, d) -> str:
    """Queue the upload of a decision's MADR file into its thread (or, without one, this channel)."""
    team = command["team_id"]
    if d.thread_ts and d.channel != "terminal":
        channel, thread = d.channel, d.thread_ts
    else:
        channel, thread = command["channel_id"], None
    event = command.get("event_id")  # a mention or a direct message: its re-delivery uploads nothing twice
    queued = ctx.store.outbox_enqueue(team, channel, EXPORT_JOB, {
        "team": team, "number": d.number, "channel": channel, "thread_ts": thread, "user": command["user_id"],
        "command_channel": command["channel_id"], "response_url": command.get("response_url")},
        dedupe_key=f"export:{event}" if event else None)
    if queued is not None:
        ctx.wake()
    where = "its thread" if thread else "this channel"
    return (f"Uploading decision {d.number}'s record, `{madr.filename(d)}` (MADR 4), into {where}. "
            f"`framework-advisor decisions export --all --dir docs/decisions` writes every record as a file.")


def compare(ctx: SlackContext, rest: str) -> str:
    """The seed's comparison rows (and our additions), filtered by framework and criterion."""
    try:
        words = shlex.split(rest.lower())
    except ValueError:
        words = rest.lower().split()
    aliases = FRAMEWORK_ALIASES  # the same names a typed `decide X` takes
    wanted = {aliases[w] for w in words if w in aliases}
    criterion = " ".join(w for w in words if w not in aliases).strip()
    kb = ctx.kb
    tables = {"dvf-table": {"django", "flask"}, "flask-vs-node": {"flask", "node"}}
    rows = []
    for c in kb.claims:
        covers = tables.get(c.section) if c.row is not None else None
        if c.row is None and c.origin != "ours":
            continue
        if covers is None:
            covers = set(c.favours) or set(FRAMEWORKS)
        if wanted and not wanted <= covers and not (wanted & covers and len(wanted) == 1):
            continue
        if criterion and criterion not in (c.criterion or "").lower() and criterion not in c.text.lower():
            continue
        rows.append(c)
    head = "*Comparison*" + (f" of {', '.join(FRAMEWORK_NAMES[f] for f in sorted(wanted))}" if wanted else "")
    if criterion:
        head += f" on “{escape(criterion)}”"
    if not rows:
        return head + "\nNothing matches. Try `/framework compare flask node real-time` or `/framework compare`."
    lines = [head]
    if wanted == {"django", "node"}:
        lines.append("_The comparison compares Node.js only with Flask; Django vs Node.js rows below are ours._")
    for c in rows[:40]:
        mark = " ⚠️ incomplete in the source" if c.incomplete else ""
        lines.append(f"• *{escape(c.criterion or 'Our addition')}*: {escape(c.text)} _({escape(kb.source_of(c.id))})_"
                     f"{mark}")
    if len(rows) > 40:
        lines.append(f"…and {len(rows) - 40} more; add a criterion to narrow it down.")
    return "\n".join(lines)
