"""Plain-text explanations shared by every channel: why, how, status, a recommendation, a decision.

The text uses only `*bold*` and bullets, which read well both in a terminal and in Slack
(where the Slack renderer escapes it before sending). It never contains user mentions: the
Slack renderer adds those from ids.
"""

from __future__ import annotations

from knowledge.models import FRAMEWORK_NAMES, KnowledgeBase, Question


def fw_name(framework: str | None) -> str:
    """Display name of a framework id ('no clear winner' for None)."""
    return FRAMEWORK_NAMES.get(framework or "", "no clear winner")


def value_label(kb: KnowledgeBase, qid: str, value: object) -> str:
    """A readable form of an answer value."""
    try:
        return kb.question(qid).label_of(value)
    except KeyError:
        return str(value)


def because_text(kb: KnowledgeBase, because: dict) -> str:
    """'team size = 25, duration = Long'."""
    return ", ".join(f"{q.replace('_', ' ')} = {value_label(kb, q, v)}" for q, v in because.items())


def options_text(question: Question) -> str:
    """What a question accepts, for prompts and clarifications."""
    if question.type == "integer":
        return f"a number from {question.min} to {question.max}"
    return ", ".join(v.label for v in question.values)


def why(kb: KnowledgeBase, question: Question | None) -> str:
    """Why the open question is asked, with the sections it rests on."""
    if question is None:
        return "There is no open question: every question that could change the outcome is answered."
    lines = [f"*Why I ask: {question.prompt}*", question.why]
    sources = sorted({kb.source_of(c) for c in question.claims})
    if sources:
        lines.append("Based on: " + "; ".join(sources))
    return "\n".join(lines)


def how(kb: KnowledgeBase, result: dict) -> str:
    """The rules fired so far: derived facts and weighted evidence, each with its answers and source."""
    if not result["reasons"] and not result["derived"]:
        return "No rule has fired yet: answer a question first."
    lines = ["*Rules fired so far*"]
    for d in result["derived"]:
        lines.append(f"• derived _{d['label']}_ ({', '.join(d['rules'])}) because {because_text(kb, d['because'])}")
    for r in result["reasons"]:
        sign = "+" if r["effect"] > 0 else "−"
        lines.append(f"• {sign}{abs(r['effect']):.2f} {fw_name(r['framework'])}: {r['text']} "
                     f"[{r['rule']}; {r['source']}] because {because_text(kb, r['because'])}")
    return "\n".join(lines)


def ranking_text(result: dict) -> str:
    """'Django 91% · Flask 50% · Node.js 43%'."""
    return " · ".join(f"{fw_name(r['framework'])} {round(r['confidence'] * 100)}%" for r in result["ranking"])


def status(kb: KnowledgeBase, answers: dict, current: Question | None, result: dict) -> str:
    """Where a consultation stands: answers so far, the current leader, the open question."""
    lines = ["*Status*"]
    if answers:
        lines += [f"• {q.replace('_', ' ')}: {value_label(kb, q, v)}" for q, v in answers.items()]
    else:
        lines.append("• no answers yet")
    lines.append(f"Ranking so far: {ranking_text(result)}")
    lines.append(f"Open question: {current.prompt}" if current else "No open question.")
    return "\n".join(lines)


def recommendation(kb: KnowledgeBase, result: dict, limit: int = 5) -> str:
    """The recommendation as text: ranking, top reasons with sources, caveats, what would change it."""
    rec = result["recommendation"]
    head = f"*Recommendation: {fw_name(rec)}*" if rec else "*No clear recommendation yet*"
    lines = [head, f"Confidence: {ranking_text(result)}"]
    if result["reasons"]:
        lines.append("*Reasons*")
        for r in result["reasons"][:limit]:
            sign = "+" if r["effect"] > 0 else "−"
            lines.append(f"• {sign} {fw_name(r['framework'])}: {r['text']} ({r['source']})")
    if result["caveats"]:
        lines.append("*You will need*")
        lines += [f"• {c['text']} ({c['source']})" for c in result["caveats"]]
    if result["what_would_change"]:
        lines.append("*What would change it*")
        for c in result["what_would_change"][:limit]:
            lines.append(f"• {c['question'].replace('_', ' ')} = {value_label(kb, c['question'], c['value'])}"
                         f" → {fw_name(c['new_recommendation'])}")
    return "\n".join(lines)
