"""The README's example consultations, produced by the engine the terminal and Slack use.

`.venv/bin/python -m tests.bot.readme_examples` prints the README section between the
`<!-- examples:start -->` and `<!-- examples:end -->` markers; `--write` puts it there. The test
`test_readme_examples.py` fails when the README no longer shows what the code says.

Each example is typed in plain sentences, as a team would; it shows the terminal transcript and
the recommendation as Slack lays out its blocks (header, sections, context, buttons).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from bot.consultation import Consultations
from bot.models import Reply
from bot.render import blocks, terminal
from bot.store import Store

README = Path(__file__).resolve().parents[2] / "README.md"
START, END = "<!-- examples:start -->", "<!-- examples:end -->"
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
    return "\n".join(out)


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
        print(section)
        return 0
    text = README.read_text(encoding="utf-8")
    if START not in text or END not in text:
        print("README has no examples markers", file=sys.stderr)
        return 1
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(head + section + tail, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
