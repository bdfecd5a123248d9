"""Load the knowledge base from the TOML files shipped inside this package, validated by pydantic."""

from __future__ import annotations

import hashlib
import json
import tomllib
from functools import lru_cache
from pathlib import Path

from knowledge.models import KnowledgeBase

DATA_DIR = Path(__file__).resolve().parent

FILES = {
    "sections": ("sections.toml", "section"),
    "claims": ("claims.toml", "claim"),
    "questions": ("questions.toml", "question"),
    "facts": ("rules.toml", "fact"),
    "rules": ("rules.toml", "rule"),
    "profiles": ("profiles.toml", "profile"),
}


class KnowledgeError(Exception):
    """The knowledge files are missing, unreadable or invalid."""


def _read(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise KnowledgeError(f"missing knowledge file {path}") from e
    except tomllib.TOMLDecodeError as e:
        raise KnowledgeError(f"{path.name}: {e}") from e


def load_raw(data_dir: Path = DATA_DIR) -> dict:
    """The knowledge files as plain data (before validation)."""
    raw: dict = {}
    cache: dict[str, dict] = {}
    for key, (fname, table) in FILES.items():
        doc = cache.setdefault(fname, _read(data_dir / fname))
        raw[key] = doc.get(table, [])
    raw["settings"] = _read(data_dir / "settings.toml")
    return raw


def version_of(raw: dict) -> str:
    """A content hash of the knowledge: changes whenever any claim, question or rule changes."""
    canonical = json.dumps({k: v for k, v in raw.items() if k != "version"}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


def load(data_dir: Path = DATA_DIR) -> KnowledgeBase:
    """Read and validate the knowledge base (raises KnowledgeError with a readable message)."""
    raw = load_raw(data_dir)
    raw["version"] = version_of(raw)
    try:
        return KnowledgeBase.model_validate(raw)
    except ValueError as e:
        raise KnowledgeError(str(e)) from e


@lru_cache(maxsize=1)
def default() -> KnowledgeBase:
    """The packaged knowledge base, loaded once per process."""
    return load()
