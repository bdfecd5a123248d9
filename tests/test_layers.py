"""The layers import one way: Slack code may use the core, the core never uses Slack code.

Read from the source (every import, module level or inside a function), not from what happens to be
loaded: a lazy import that closes a loop is still a loop.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Block Kit builders may use slack_sdk's models (they validate Slack's limits), nothing else of Slack.
BLOCK_KIT = {"bot.render.blocks", "bot.render.decide_view", "bot.render.poll_view"}
SLACK = ("slack_bolt", "slack_sdk", "bot.slack")
# The entry point wires every layer together, so it may name the Slack layer.
ENTRY = {"bot.cli"}


def _modules() -> dict[str, Path]:
    out = {}
    for top in ("bot", "rules", "knowledge"):
        for p in (ROOT / top).rglob("*.py"):
            name = ".".join(p.relative_to(ROOT).with_suffix("").parts)
            out[name.removesuffix(".__init__")] = p
    return out


MODULES = _modules()


def imports(path: Path) -> set[str]:
    """Every module a file imports, anywhere in it (`from a import b` is a.b when a.b is a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                full = f"{node.module}.{a.name}"
                found.add(full if full in MODULES else node.module)
    return found


def _is_slack(name: str) -> bool:
    return any(name == s or name.startswith(s + ".") for s in SLACK)


CORE = sorted(m for m in MODULES if not m.startswith("bot.slack") and m not in ENTRY)


@pytest.mark.parametrize("module", CORE)
def test_the_core_never_imports_slack(module: str) -> None:
    used = {i for i in imports(MODULES[module]) if _is_slack(i)}
    if module in BLOCK_KIT:
        used = {i for i in used if not i.startswith("slack_sdk.models")}
    assert used == set(), f"{module} imports {sorted(used)}"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_anywhere() -> None:
    graph = {m: {i for i in imports(p) if i in MODULES and i != m} for m, p in MODULES.items()}
    assert _cycles(graph) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    # The check itself can fail: a loop of three is found, a chain is not.
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_only_the_engine_imports_durable_rules() -> None:
    users = sorted(m for m, p in MODULES.items() if any(i.split(".")[0] == "durable" for i in imports(p)))
    assert users == ["rules.engine"]


def test_every_package_is_shipped() -> None:
    # A package missing from pyproject's list builds a wheel (and an image) without it.
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for top in ("bot", "rules", "knowledge")
             for p in (ROOT / top).rglob("__init__.py")}
    assert found - listed == set()
