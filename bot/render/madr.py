"""Export a decision as an Architecture Decision Record in MADR 4 format (Markdown)."""

from __future__ import annotations

from bot.models import Decision
from bot.render.explain import fw_name, value_label
from knowledge.models import FRAMEWORKS, KnowledgeBase


def _one_line(text: str) -> str:
    """Free text (topic, rationale, names) on one line, so it cannot add headings or front matter."""
    return " ".join(text.split())


def _title(d: Decision) -> str:
    topic = _one_line(d.topic) or "the web framework"
    return f"Use {fw_name(d.framework)} for {topic}"


def render(d: Decision, kb: KnowledgeBase, decided_by: str | None = None) -> str:
    """MADR 4: front matter, context, drivers, options, outcome, pros and cons from the fired rules."""
    result = d.result or {}
    reasons = result.get("reasons", [])
    status = d.status
    topic, rationale = _one_line(d.topic), _one_line(d.rationale)
    lines = [
        "---",
        f"status: {status}",
        f"date: {d.created_at[:10]}",
        f"decision-makers: {_one_line(decided_by or d.decided_by)}",
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
        lines.append(f"The advisor recommended {fw_name(d.recommendation)}"
                     + (f" with {round(ranking[d.recommendation]['confidence'] * 100)}% confidence."
                        if d.recommendation in ranking else "."))
    else:
        lines.append("The advisor gave no clear recommendation.")
    if d.supersedes:
        lines.append(f"This decision supersedes decision {d.supersedes}.")
    chosen = [r for r in reasons if r["framework"] == d.framework]
    if chosen:
        lines += ["", "### Consequences", ""]
        for r in chosen:
            word = "Good" if r["effect"] > 0 else "Bad"
            lines.append(f"* {word}, because {r['text'].rstrip('.')} ({r['source']}).")
    caveats = result.get("caveats", [])
    if caveats and caveats[0].get("framework") == d.framework:
        lines += ["", "### Confirmation", "",
                  "Check that the project adds what the chosen framework does not bring:"]
        lines += [f"* {c['package']}: {c['text']}" for c in caveats]
    lines += ["", "## Pros and Cons of the Options"]
    for fw in FRAMEWORKS:
        lines += ["", f"### {fw_name(fw)}", ""]
        mine = [r for r in reasons if r["framework"] == fw]
        if fw in ranking:
            lines.append(f"Confidence {round(ranking[fw]['confidence'] * 100)}% (score {ranking[fw]['score']}).")
            lines.append("")
        if not mine:
            lines.append("* Neutral, because no rule spoke for or against it.")
        for r in mine:
            word = "Good" if r["effect"] > 0 else "Bad"
            lines.append(f"* {word}, because {r['text'].rstrip('.')} ({r['source']}; rule `{r['rule']}`).")
    lines += ["", "## More Information", "",
              f"Recorded by Framework Advisor as decision {d.number}, knowledge version {d.knowledge_version}.", ""]
    return "\n".join(lines)
