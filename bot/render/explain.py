"""Plain-text explanations shared by every channel: why, how, status, a recommendation, a decision.

The text uses only `*bold*` and bullets, which read well both in a terminal and in Slack
(where the Slack renderer escapes it before sending). It never contains user mentions: the
Slack renderer adds those from ids.
"""

from __future__ import annotations

import re

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
    return ", ".join(f"{topic(q)} = {value_label(kb, q, v)}" for q, v in because.items())


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
    """'Django 88% · Flask 50% · Node.js 43%' (the shown fit of each)."""
    return " · ".join(f"{fw_name(r['framework'])} {round(r['confidence'] * 100)}%" for r in result["ranking"])


def status(kb: KnowledgeBase, answers: dict, current: Question | None, result: dict) -> str:
    """Where a consultation stands: answers so far, the current leader, the open question."""
    lines = ["*Status*"]
    if answers:
        lines += [f"• {topic(q)}: {value_label(kb, q, v)}" for q, v in answers.items()]
    else:
        lines.append("• no answers yet")
    lines.append(f"Ranking so far: {ranking_text(result)}")
    lines.append(f"Open question: {current.prompt}" if current else "No open question.")
    return "\n".join(lines)


# Short names of yes/no questions for "Got it" lines (the prompt is too long to echo).
TOPICS = {"realtime": "Real-time", "one_language": "One language", "hiring": "Hiring", "needs_admin": "Admin",
           "needs_forms": "Forms", "ml_integration": "ML integration", "performance_critical": "Performance critical",
           "serverless": "Serverless"}


def topic(qid: str) -> str:
    """A question's name in running text ("real-time", "ML integration", "team size")."""
    name = TOPICS.get(qid, qid.replace("_", " "))
    return name if name[:2].isupper() else name[:1].lower() + name[1:]


_TABLES = {"Python Flask Vs Django: A Tabular Comparison": "the Django–Flask table",
           "Flask Vs Node": "the Flask–Node table"}


def source_name(source: str) -> str:
    """A citation as readers see it: the comparison's own section name, ours marked as ours.

    "Q #2) Is Flask or Django better?" -> "FAQ: Is Flask or Django better?"; a table row ->
    "the Flask–Node table: Real-time applications"; "[ours]" -> "our addition".
    """
    ours = source.endswith("[ours]")
    s = source.removesuffix("[ours]").strip()
    s = re.sub(r"\s*\((?:[^()]*)\.\.\.\)$", "", s)  # "Forms And Templates (Django, because...)" repeated heading
    s = re.sub(r"^Q #\d+\)\s*", "FAQ: ", s)
    m = re.match(r"^(.*?) #\d+ (.+)$", s)
    if m and m.group(1) in _TABLES:
        s = f"{_TABLES[m.group(1)]}: {m.group(2)}"
    return "our addition" if ours and not s else (f"{s}, our addition" if ours else s)


def fit_bar(fit: float, width: int = 10) -> str:
    """A fit as a bar a reader takes in at a glance: ▰▰▰▰▰▰▱▱▱▱."""
    n = max(0, min(width, round(fit * width)))
    return "▰" * n + "▱" * (width - n)


LEAD_WORDS = {"clear": "A clear lead", "narrow": "A narrow lead", "none": "No clear winner"}
FIT_NOTE = ("Fit: 50% plus or minus how strongly the comparison's sentences that match your answers point for or "
            "against a framework (each sentence counted once). It is not a probability and never reaches 100%.")


def summary(kb: KnowledgeBase, result: dict, limit: int = 4) -> dict:
    """A recommendation grouped for reading: lead, fits, why the winner, why not the others, changes, add-ons.

    Evidence for a framework that lost appears only under its own name; reasons that did not count
    (a stronger rule cited the same sentence) are left to `how`.
    """
    rec = result["recommendation"]
    ranking = result["ranking"]
    lead = result.get("lead") or {"label": "none" if rec is None else "clear",
                                  "margin": round(ranking[0]["confidence"] - ranking[1]["confidence"], 4)}
    reasons = [r for r in result["reasons"] if r.get("counted", True)]
    top = rec or ranking[0]["framework"]
    why = [r for r in reasons if r["framework"] == top and r["effect"] > 0][:limit]
    why_not = {}
    for row in ranking:
        fw = row["framework"]
        if fw == top:
            continue
        against = [r for r in reasons if r["framework"] == fw and r["effect"] < 0]
        for_it = [r for r in reasons if r["framework"] == fw and r["effect"] > 0]
        why_not[fw] = {"against": against[0] if against else None, "for": for_it[0] if for_it else None}
    return {"recommendation": rec, "top": top, "lead": lead, "ranking": ranking, "why": why, "why_not": why_not,
            "changes": result.get("what_would_change", []), "pairs": result.get("what_would_change_pairs", []),
            "caveats": result.get("caveats", [])}


def lead_text(s: dict) -> str:
    """'A clear lead: Flask fits best, 0.32 ahead of Django.'"""
    ranking, label, margin = s["ranking"], s["lead"]["label"], s["lead"]["margin"]
    first, second = fw_name(ranking[0]["framework"]), fw_name(ranking[1]["framework"])
    if label == "none":
        if margin >= 0.02:  # a lead, but the best fit itself is too weak to recommend
            return f"Even the best fit, {first}, is weak."  # the heading says "No clear winner"
        return f"{first} and {second} fit about equally ({margin:.2f} apart)."
    return f"{LEAD_WORDS[label]}: {first} fits best, {margin:.2f} ahead of {second}."


def titles(s: dict, done: bool = True) -> tuple[str, str, str]:
    """The message's heading, and the titles of its for and against lists: "Recommendation: Flask",
    "Why Flask", "Why not Django or Node.js"; without a winner, what speaks for the best fit and
    against the others, under a heading that says whether more answers could settle it."""
    rec, top = s["recommendation"], s["top"]
    others = " or ".join(fw_name(fw) for fw in s["why_not"])
    if rec:
        return f"Recommendation: {fw_name(rec)}", f"Why {fw_name(rec)}", f"Why not {others}"
    head = "No clear winner" if done else "No clear recommendation yet"
    return head, f"What speaks for {fw_name(top)}", f"What speaks against {others}"


def fit_lines(s: dict) -> list[str]:
    """One line per framework: name, bar, fit."""
    width = max(len(fw_name(r["framework"])) for r in s["ranking"])
    return [f"{fw_name(r['framework']).ljust(width)}  {fit_bar(r['confidence'])}  {round(r['confidence'] * 100)}%"
            for r in s["ranking"]]


def why_not_text(fw: str, item: dict) -> str:
    """The strongest reason against a framework that lost, or what it lacks."""
    if item["against"] is not None:
        r = item["against"]
        return f"{fw_name(fw)}: {r['text']} — from {source_name(r['source'])}"
    if item["for"] is not None:
        r = item["for"]
        return (f"{fw_name(fw)}: nothing in your answers speaks against it, but less for it; its best point: "
                f"{r['text']} — from {source_name(r['source'])}")
    return f"{fw_name(fw)}: none of your answers point to it."


def change_text(kb: KnowledgeBase, c: dict) -> str:
    """'team size = 12 → Django'."""
    return f"{topic(c['question'])} = {value_label(kb, c['question'], c['value'])} → " \
           f"{fw_name(c['new_recommendation'])}"


def change_lines(kb: KnowledgeBase, s: dict, limit: int = 4) -> list[str]:
    """What would change it: single changes, else the pairs that would, else that nothing close would."""
    if s["changes"]:
        return [change_text(kb, c) for c in s["changes"][:limit]]
    if s["pairs"]:
        return ["No single answer changes it; two together would:"] + [
            " and ".join(f"{topic(c['question'])} = {value_label(kb, c['question'], c['value'])}"
                         for c in p["changes"]) + f" → {fw_name(p['new_recommendation'])}" for p in s["pairs"][:limit]]
    return ["No single answer change, nor any two together, would change the recommendation."]


def recommendation(kb: KnowledgeBase, result: dict, limit: int = 4) -> str:
    """The recommendation as text: lead and fits, why the winner, why not the others, what would change it,
    the add-ons to plan for."""
    s = summary(kb, result, limit)
    head, why, why_not = titles(s, bool(result.get("done", True)))
    lines = [f"*{head}*", lead_text(s), *fit_lines(s)]
    if s["why"]:
        lines.append(f"*{why}*")
        lines += [f"• {r['text']} — from {source_name(r['source'])}" for r in s["why"]]
    if s["why_not"]:
        lines.append(f"*{why_not}*")
        lines += ["• " + why_not_text(fw, item) for fw, item in s["why_not"].items()]
    lines.append("*What would change it*")
    lines += ["• " + line for line in change_lines(kb, s, limit)]
    if s["caveats"]:
        lines.append("*You will need*")
        lines += [f"• {c['text']} — from {source_name(c['source'])}" for c in s["caveats"]]
    lines.append(f"_{FIT_NOTE}_")
    return "\n".join(lines)


def why_winner(kb: KnowledgeBase, result: dict) -> str:
    """What the Why? button says: every counted reason for the winner and against the others, with sources."""
    s = summary(kb, result, limit=99)
    top = s["top"]
    lines = [f"*Why {fw_name(top)}*" + ("" if s["recommendation"] else " leads (no clear winner yet)"), lead_text(s)]
    lines += [f"• {r['text']} — from {source_name(r['source'])}" for r in s["why"]] or ["• No reason for it yet."]
    against = [r for r in result["reasons"] if r.get("counted", True) and r["framework"] != top and r["effect"] < 0]
    if against:
        lines.append("*Against the others*")
        lines += [f"• {fw_name(r['framework'])}: {r['text']} — from {source_name(r['source'])}" for r in against]
    lines.append("Type `how` for every rule that fired, with the answers behind it.")
    return "\n".join(lines)
