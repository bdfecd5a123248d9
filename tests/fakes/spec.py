"""What Slack's published Web API contract (OpenAPI 2, October 2020) says each method accepts.

The spec lives outside the repository (``../shared/slack-api-specs`` from the repo root) and is read,
never copied. Where it is absent, :func:`load_spec` returns ``None`` and the fake skips these checks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

SPEC_DIR = Path(__file__).resolve().parents[3] / "shared" / "slack-api-specs"
SPEC_FILE = "slack_web_openapi_v2_without_examples.json"


@dataclass(frozen=True)
class MethodSpec:
    """The parameters one Web API method accepts, and which of them it requires."""

    params: frozenset[str]
    required: frozenset[str] = field(default_factory=frozenset)


# Methods Slack added after the 2020 spec, with what their reference pages say they take.
NEWER_METHODS: dict[str, MethodSpec] = {
    "apps.connections.open": MethodSpec(frozenset({"token"})),
    "files.getUploadURLExternal": MethodSpec(
        frozenset({"token", "filename", "length", "alt_txt", "snippet_type"}),
        frozenset({"filename", "length"}),
    ),
    "files.completeUploadExternal": MethodSpec(
        frozenset({"token", "files", "channel_id", "channels", "initial_comment", "thread_ts", "blocks"}),
        frozenset({"files"}),
    ),
}

# Parameters slack_sdk 3.x sends (when the caller uses them) that the 2020 spec predates, found by
# running the calls the app makes. Keep this list short and explicit.
EXTRA_PARAMS: dict[str, frozenset[str]] = {
    # Returning message metadata in reads was added with metadata itself (2022).
    "conversations.replies": frozenset({"include_all_metadata"}),
    "conversations.history": frozenset({"include_all_metadata"}),
}

# `metadata` (2022) goes on chat.* calls. `team_id` is set by slack_sdk as a default parameter of every
# call from a `WebClient(team_id=...)`, which bolt builds per request (org-wide app support).
ALWAYS_ALLOWED = frozenset({"token", "metadata", "team_id"})

# The 2020 spec marks these optional, but Slack refuses the call without them (reference pages
# list them as required), so the fake does too.
EXTRA_REQUIRED: dict[str, frozenset[str]] = {
    "conversations.replies": frozenset({"channel", "ts"}),
    "conversations.history": frozenset({"channel"}),
    "conversations.info": frozenset({"channel"}),
    "conversations.join": frozenset({"channel"}),
    "chat.delete": frozenset({"channel", "ts"}),
    "users.info": frozenset({"user"}),
}


@lru_cache(maxsize=4)
def load_spec(spec_dir: Path = SPEC_DIR) -> dict[str, MethodSpec] | None:
    """Read the OpenAPI spec into ``{method: MethodSpec}``; ``None`` if the spec file is absent."""
    path = spec_dir / SPEC_FILE
    if not path.is_file():
        return None
    raw = json.loads(path.read_text(encoding="utf-8"))
    methods: dict[str, MethodSpec] = {}
    for route, operations in raw["paths"].items():
        names: set[str] = set()
        required: set[str] = set()
        for operation in operations.values():
            for param in operation.get("parameters", []):
                names.add(param["name"])
                if param.get("required"):
                    required.add(param["name"])
        methods[route.lstrip("/")] = MethodSpec(frozenset(names), frozenset(required))
    return methods


def method_spec(spec: dict[str, MethodSpec] | None, method: str) -> MethodSpec | None:
    """The effective contract of ``method``: the spec's entry (or NEWER_METHODS'), plus the allow-lists.

    Returns ``None`` when the method is unknown to both, i.e. Slack would answer ``unknown_method``.
    """
    base = NEWER_METHODS.get(method)
    if base is None and spec is not None:
        base = spec.get(method)
    if base is None:
        return None
    return MethodSpec(
        base.params | ALWAYS_ALLOWED | EXTRA_PARAMS.get(method, frozenset()),
        base.required | EXTRA_REQUIRED.get(method, frozenset()),
    )
