"""Export a decision as an Architecture Decision Record in MADR 4 format (Markdown).

`render` is deterministic (the same stored decision gives the same bytes), so a directory written
by `framework-advisor decisions export --all --dir` can be committed and rewritten without noise.
Files are named as adr-tools and log4brains name them: `0001-use-django-for-billing.md`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

from bot.models import Decision, Review
from bot.render.explain import LEAD_WORDS, fw_name, source_name, summary, value_label
from knowledge.models import FRAMEWORKS, KnowledgeBase

INDEX = "index.md"


def _one_line(text: str) -> str:
    """Free text (topic, rationale, names) on one line, so it cannot add headings or front matter."""
    return " ".join(text.split())


def _title(d: Decision) -> str:
    topic = _one_line(d.topic) or "the web framework"
    return f"Use {fw_name(d.framework)} for {topic}"


def title(d: Decision) -> str:
    """The record's title: "Use Django for billing" (the file name's slug is made from it)."""
    return _title(d)


def slug(text: str, limit: int = 60) -> str:
    """adr-tools' file-name slug: lower case, every run of other characters one dash (accents folded)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    out = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(out) > limit:
        out = out[:limit].rsplit("-", 1)[0] if "-" in out[:limit] else out[:limit]
    return out or "decision"


def filename(d: Decision) -> str:
    """The record's file name: `0001-use-django-for-billing.md` (the number, then the title's slug)."""
    return f"{d.number:04d}-{slug(_title(d))}.md"


def _ref(number: int, files: Mapping[int, str] | None) -> str:
    """Another decision, linked to its file when the export knows it."""
    name = (files or {}).get(number)
    return f"[decision {number}]({name})" if name else f"decision {number}"


def _people(ids: Iterable[str]) -> str:
    return ", ".join(_one_line(i) for i in ids)


def render(d: Decision, kb: KnowledgeBase, decided_by: str | None = None, *,
           files: Mapping[int, str] | None = None, reviews: Iterable[Review] = ()) -> str:
    """MADR 4: front matter, context, drivers, options, outcome, confirmation, pros and cons from the fired rules.

    `decided_by`: a display name for the one who recorded it (in decision-makers). `files`: decision
    number -> file name, so the supersede links point at the other records. `reviews`: the decision's
    review reminders; the confirmations among them ("Still right") are listed under Confirmation.
    """
    result = d.result or {}
    reasons = result.get("reasons", [])
    status = f"superseded by ADR-{d.superseded_by:04d}" if d.status == "superseded" and d.superseded_by else d.status
    topic, rationale = _one_line(d.topic), _one_line(d.rationale)
    makers = [decided_by if decided_by and u == d.decided_by else u for u in (d.decision_makers or [d.decided_by])]
    lines = ["---", f"status: {status}", f"date: {(d.accepted_at or d.rejected_at or d.created_at)[:10]}",
             f"decision-makers: {_people(makers)}"]
    if d.consulted:
        lines.append(f"consulted: {_people(d.consulted)}")
    if d.informed:
        lines.append(f"informed: {_people(d.informed)}")
    lines += [
        f"knowledge-version: {d.knowledge_version}",
        "---",
        "",
        f"# {_title(d)}",
        "",
        "## Context and Problem Statement",
        "",
        f"The team needed to choose a web framework{' for ' + topic if topic else ''}. "
        "Framework Advisor asked about the project and the team and compared Django, Flask and Node.js "
        "with explicit rules, each citing the comparison it rests on.",
        "",
        "## Decision Drivers",
        "",
    ]
    if d.answers:
        for q, v in sorted(d.answers.items()):
            try:
                prompt = kb.question(q).prompt
            except KeyError:
                prompt = q
            lines.append(f"* {prompt} — **{value_label(kb, q, v)}**")
    else:
        lines.append("* No questions were answered.")
    lines += ["", "## Considered Options", ""]
    lines += [f"* {fw_name(fw)}" for fw in FRAMEWORKS]
    ranking = {r["framework"]: r for r in result.get("ranking", [])}
    lines += ["", "## Decision Outcome", "",
              f"Chosen option: \"{fw_name(d.framework)}\", because {rationale.rstrip('.') or 'the team chose it'}."]
    if d.recommendation:
        lead = (result.get("lead") or {}).get("label")
        lines.append(f"The advisor recommended {fw_name(d.recommendation)}"
                     + (f" with a fit of {round(ranking[d.recommendation]['confidence'] * 100)}%"
                        if d.recommendation in ranking else "")
                     + (f" ({LEAD_WORDS[lead].lower()})." if lead in ("clear", "narrow") else "."))
    else:
        lines.append("The advisor gave no clear recommendation.")
    if d.supersedes:
        lines.append(f"This decision supersedes {_ref(d.supersedes, files)}.")
    if d.superseded_by:
        lines.append(f"It is superseded by {_ref(d.superseded_by, files)}.")
    if d.status == "proposed":
        lines.append("It is a proposal: it takes effect when another decision-maker accepts it.")
    if d.status == "rejected":
        lines.append(f"The proposal was rejected by {_one_line(d.rejected_by or '')} on {(d.rejected_at or '')[:10]}.")
    chosen = [r for r in reasons if r["framework"] == d.framework and r.get("counted", True)]
    if chosen:
        lines += ["", "### Consequences", ""]
        for r in chosen:
            word = "Good" if r["effect"] > 0 else "Bad"
            lines.append(f"* {word}, because {r['text'].rstrip('.')} (from {source_name(r['source'])}).")
    lines += ["", "### Confirmation", ""]
    if d.review_on:
        lines.append(f"Review on {d.review_on}: the decision-makers check that {fw_name(d.framework)} still fits "
                     "the project and the team; `framework-advisor decisions recheck` lists the decisions whose "
                     "recommendation the current knowledge would change.")
    else:
        lines.append("No review date was set; `framework-advisor decisions recheck` lists the decisions whose "
                     "recommendation the current knowledge would change.")
    for r in reviews:
        if r.status == "confirmed" and r.settled_by:
            lines.append(f"Reviewed on {(r.settled_at or '')[:10]} by {_one_line(r.settled_by)}: still the right "
                         "choice.")
    if d.accepted_by:
        lines.append(f"Proposed by {_one_line(d.decided_by)} and accepted by {_one_line(d.accepted_by)} on "
                     f"{(d.accepted_at or '')[:10]}.")
    caveats = result.get("caveats", [])
    if caveats and caveats[0].get("framework") == d.framework:
        lines += ["", "Check that the project adds what the chosen framework does not bring:", ""]
        lines += [f"* {c['package']}: {c['text']}" for c in caveats]
    lines += ["", "## Pros and Cons of the Options"]
    # Grouped as the recommendation message is: the winner (or the best fit) first, then the others
    # in the order they fit; each option's own evidence under its own name, restatements left out.
    order = list(FRAMEWORKS)
    if result.get("ranking"):
        s = summary(kb, result)
        order = [s["top"], *s["why_not"]]
        order += [fw for fw in FRAMEWORKS if fw not in order]
    for fw in order:
        mark = " (recommended)" if fw == d.recommendation else ""
        lines += ["", f"### {fw_name(fw)}{mark}", ""]
        mine = [r for r in reasons if r["framework"] == fw and r.get("counted", True)]
        if fw in ranking:
            lines.append(f"Fit {round(ranking[fw]['confidence'] * 100)}%.")
            lines.append("")
        if not mine:
            lines.append("* Neutral, because nothing in the comparison spoke for or against it for these answers.")
        for r in sorted(mine, key=lambda r: (r["effect"] < 0, -abs(r["effect"]))):
            word = "Good" if r["effect"] > 0 else "Bad"
            lines.append(f"* {word}, because {r['text'].rstrip('.')} (from {source_name(r['source'])}).")
    lines += ["", "## More Information", "",
              f"Recorded by Framework Advisor as decision {d.number}, knowledge version {d.knowledge_version}.", ""]
    return "\n".join(lines)


def _cell(text: str) -> str:
    """Text for a Markdown table cell or link label (no pipe, bracket or line break can break out)."""
    return re.sub(r"([\\|\[\]])", r"\\\1", _one_line(text))


def index(decisions: Iterable[Decision]) -> str:
    """The directory's index: one row per record, oldest first, with its status and links."""
    rows = sorted(decisions, key=lambda d: d.number)
    files = {d.number: filename(d) for d in rows}
    lines = ["# Architecture Decision Records", "",
             "Written by `framework-advisor decisions export --all`: one MADR 4 file per decision the team recorded.",
             "", "| # | Decision | Status | Date |", "|---|---|---|---|"]
    for d in rows:
        status = d.status
        if d.status == "superseded" and d.superseded_by:
            target = files.get(d.superseded_by)
            status = (f"superseded by [{d.superseded_by:04d}]({target})" if target
                      else f"superseded by {d.superseded_by:04d}")
        lines.append(f"| {d.number:04d} | [{_cell(_title(d))}]({files[d.number]}) | {status} | "
                     f"{(d.accepted_at or d.rejected_at or d.created_at)[:10]} |")
    if not rows:
        lines.append("| | No decisions recorded yet. | | |")
    return "\n".join(lines) + "\n"
