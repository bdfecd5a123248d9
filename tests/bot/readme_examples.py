"""The README's example consultations, produced by the engine the terminal and Slack use.

`.venv/bin/python -m tests.bot.readme_examples` prints the README section between the
`<!-- examples:start -->` and `<!-- examples:end -->` markers; `--write` puts it there. The test
`test_readme_examples.py` fails when the README no longer shows what the code says.

Each example is typed in plain sentences, as a team would; it shows the terminal transcript and
the recommendation as Slack lays out its blocks (header, sections, context, buttons).
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

from bot.consultation import Consultations
from bot.models import Reply
from bot.render import blocks, terminal
from bot.store import Store

README = Path(__file__).resolve().parents[2] / "README.md"
START, END = "<!-- examples:start -->", "<!-- examples:end -->"
WSTART, WEND = "<!-- workflow:start -->", "<!-- workflow:end -->"
DECIDE_HINT = ("\nRecord the decision in your own words, e.g. `let's go with it because ...` or "
               "`we'll pick flask because ...` (or `quit`).")

# (lead label it shows, title, the lines typed)
EXAMPLES: list[tuple[str, str, list[str]]] = [
    ("clear", "A clear lead: a small Python startup's REST API prototype", [
        "we're a small python startup, 3 of us, building a REST API prototype",
        "the api one",
        "freedom, no admin, no forms",
        "no real-time stuff",
        "postgres",
        "no ML",
        "a few weeks, it's a prototype",
        "let's go with it because we want to ship the prototype this month",
    ]),
    ("narrow", "A narrow lead: a mixed Python and JavaScript team's web app", [
        "a web app for booking rooms, about 6 of us",
        "we know both python and javascript",
        "freedom to pick our own pieces",
        "no real-time",
        "mongo",
        "no machine learning",
        "no admin needed",
        "medium sized",
        "a few months",
        "some of us are juniors, intermediate overall",
        "we need to hire a couple more people soon",
        "not serverless",
        "yes one language front to back would be nice",
        "not particularly performance critical",
    ]),
    ("none", "No clear winner: a Python team's long-lived web app with live updates", [
        "a web app with live updates for the dashboard",
        "the team writes python",
        "we'd rather have the freedom to choose",
        "postgres",
        "no ML",
        "no admin and no forms",
        "medium sized",
        "years, it's our main product",
        "intermediate",
        "not hiring",
        "not serverless",
        "8 of us",
        "not performance critical",
        "no, the front end team uses typescript",
    ]),
]


def transcript(lines: list[str], team: str = "T-README", user: str = "alice") -> tuple[str, Reply | None]:
    """The terminal transcript of typed `lines` (each marked `> `) and the last recommendation shown."""
    with tempfile.TemporaryDirectory() as d:
        store = Store(Path(d) / "advisor.db")
        try:
            service = Consultations(store)
            c, first = service.start(team, "terminal", "readme.1", user, "readme")
            out = [terminal.render(first)]
            rec = None
            for line in lines:
                out.append(f"\n> {line}")
                for r in service.handle_text(team, c.id, user, line):
                    out.append(terminal.render(r))
                    if r.kind == "recommendation":
                        rec = r
                        out.append(DECIDE_HINT)
                if service.state(team, c.id).consultation.status != "open":
                    break
            return "\n".join(out), rec
        finally:
            store.close()


def _mrkdwn(text: str) -> str:
    """mrkdwn as Slack shows it: mentions as @name, links as their label, entities decoded."""
    text = re.sub(r"<@(\w+)>", r"@\1", text)
    text = re.sub(r"<(?:https?://|#)[^|>]*\|([^>]*)>", r"\1", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def slack_preview(payload: dict) -> str:
    """Blocks as a reader sees them in Slack, one block after another ([buttons] in brackets)."""
    out = []
    for b in payload["blocks"]:
        kind = b["type"]
        if kind == "header":
            out.append(f"▌{b['text']['text']}")
        elif kind == "section":
            out.append(_mrkdwn(b["text"]["text"]).replace("```", "\n"))
        elif kind == "context":
            out.append("  " + " · ".join(_mrkdwn(e.get("text", "")) for e in b["elements"]))
        elif kind == "divider":
            out.append("────────")
        elif kind == "actions":
            out.append("  ".join(f"[{e['text']['text']}]" for e in b["elements"]))
        elif kind == "input":
            out.append(f"{b['label']['text']}{'' if b.get('optional') else ' *'}: {_field(b['element'])}")
    return "\n".join(out)


def _field(element: dict) -> str:
    """An input element as a reader sees it before typing: its initial value, or what kind of field it is."""
    kind = element["type"]
    if kind == "static_select":
        chosen = (element.get("initial_option") or {}).get("text", {}).get("text")
        return f"[{chosen or 'choose'} ▾]"
    if kind == "radio_buttons":
        return "  ".join(("(•) " if o == element.get("initial_option") else "( ) ") + o["text"]["text"]
                         for o in element["options"])
    if kind == "checkboxes":
        return "  ".join(f"[ ] {o['text']['text']}" for o in element["options"])
    if kind == "datepicker":
        return f"[{element.get('initial_date', 'pick a date')} 📅]"
    if kind == "multi_users_select":
        return "[" + ", ".join(f"@{u}" for u in element.get("initial_users", [])) + " ▾]"
    value = element.get("initial_value") or (element.get("placeholder") or {}).get("text", "")
    return f"[{value}]" + (" (several lines)" if element.get("multiline") else "")


def view_preview(view: dict) -> str:
    """A modal as Slack lays it out: title, blocks, then the submit and close buttons."""
    return "\n".join([f"▌{view['title']['text']}", slack_preview(view),
                      f"[{view['close']['text']}]  [{view['submit']['text']}]"])


def workflow() -> str:
    """The README section of the decision workflow, as Slack renders each step."""
    from bot.poll import summarize
    from bot.render import decide_view, poll_view
    from bot.reviews import Reviews
    from bot.slack.reviews import reminder_message

    with tempfile.TemporaryDirectory() as d:
        store = Store(Path(d) / "advisor.db")
        try:
            service = Consultations(store)
            team, user = "T-README", "U0ALICE"
            c, _ = service.start(team, "C0BILLING", "1700000000.000100", user, "billing service")
            for line in ("a REST API", "mostly python", "freedom", "small", "a few weeks"):
                service.handle_text(team, c.id, user, line)
            st = service.state(team, c.id)
            dialog = decide_view.dialog(consultation_id=c.id, team=team, framework="flask",
                                        recommendation=st.result["recommendation"], user=user,
                                        participants=[user, "U0BOB"], review_on="2027-06-04", topic=c.topic,
                                        number=1)
            reply = service.decide(team, c.id, user, "flask", "We already run two Flask services and know its "
                                   "extensions.", decision_makers=[user], consulted=["U0BOB"], review_on="2027-06-04")
            # A fixed day, so the section reads the same whenever it is regenerated.
            decision = reply.decision.model_copy(update={"created_at": "2026-12-04T10:00:00+00:00"})
            root = decide_view.root_message(store.get_consultation(team, c.id), decision, "acme")
            (review,) = store.reviews_of(team, decision.number)
            reminder = reminder_message(Reviews(service), decision, review)
            common = {"app_type": "web_app", "team_language": "python", "flexibility": "no_preference",
                      "realtime": "no", "database": "relational", "hiring": "no", "performance_critical": "no"}
            members = {"U0ALICE": common, "U0BOB": {**common, "hiring": "yes"},
                       "U0CAROL": {**common, "performance_critical": "yes"}}
            summary = summarize(service.advisor, {}, members)
            result = poll_view.result(service.kb, summary, 1)
        finally:
            store.close()
    parts = [WSTART, "",
             "The decide dialog ([Adopt Flask] on the recommendation):", "", "```text", view_preview(dialog), "```",
             "", "The thread's first message once the decision is recorded:", "", "```text", slack_preview(root),
             "```", "", "The review reminder, in the thread on the review date:", "", "```text",
             slack_preview(reminder), "```", "",
             "A poll's result (`/framework poll`, three members answered on their own):", "", "```text",
             slack_preview(result), "```", "", WEND]
    return "\n".join(parts)


def markdown() -> str:
    """The README section: for each example, the terminal transcript and the Slack message."""
    parts = [START, ""]
    from knowledge import loader

    kb = loader.default()
    for label, title, lines in EXAMPLES:
        text, rec = transcript(lines)
        if rec is None or (rec.result or {}).get("lead", {}).get("label") != label:
            got = (rec.result or {}).get("lead") if rec else None
            raise SystemExit(f"example {title!r} no longer shows a {label} lead (got {got})")
        parts += [f"#### {title}", "", "In the terminal:", "", "```text", text, "```", "",
                  "The recommendation in Slack (the thread reply's blocks):", "", "```text",
                  slack_preview(blocks.render(kb, rec)), "```", ""]
    parts.append(END)
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    """Print the section, or with --write replace it in the README."""
    argv = sys.argv[1:] if argv is None else argv
    section = markdown()
    if "--write" not in argv:
        print(section + "\n\n" + workflow())
        return 0
    text = README.read_text(encoding="utf-8")
    for (start, end), body in (((START, END), section), ((WSTART, WEND), workflow())):
        if start not in text or end not in text:
            print(f"README has no {start} ... {end} markers", file=sys.stderr)
            return 1
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = head + body + tail
    README.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
