"""What changed between two knowledge bases (`framework-advisor knowledge diff OLD NEW`)."""

from __future__ import annotations

from knowledge.models import KnowledgeBase

_KINDS = ("sections", "claims", "questions", "facts", "rules")


def _by_id(kb: KnowledgeBase, kind: str) -> dict[str, dict]:
    return {item.id: item.model_dump() for item in getattr(kb, kind)}


def diff(old: KnowledgeBase, new: KnowledgeBase) -> list[str]:
    """One line per added, removed or changed record (and changed settings or profiles)."""
    lines: list[str] = []
    if old.version != new.version:
        lines.append(f"knowledge version {old.version} -> {new.version}")
    for kind in _KINDS:
        a, b = _by_id(old, kind), _by_id(new, kind)
        noun = kind.rstrip("s")
        lines += [f"+ {noun} {i}" for i in sorted(b.keys() - a.keys())]
        lines += [f"- {noun} {i}" for i in sorted(a.keys() - b.keys())]
        for i in sorted(a.keys() & b.keys()):
            if a[i] != b[i]:
                fields = sorted(k for k in a[i].keys() | b[i].keys() if a[i].get(k) != b[i].get(k))
                lines.append(f"~ {noun} {i}: {', '.join(fields)}")
    pa = {p.framework: p.model_dump() for p in old.profiles}
    pb = {p.framework: p.model_dump() for p in new.profiles}
    for fw in sorted(pa.keys() | pb.keys()):
        if pa.get(fw) != pb.get(fw):
            lines.append(f"~ profile {fw}")
    if old.settings != new.settings:
        lines.append("~ settings")
    return lines
