"""The knowledge base covers the seed document: every section and table row is encoded and cited.

Reads knowledge/sections.toml and knowledge/claims.toml directly (not through knowledge.loader,
which needs the other knowledge files) and validates them with the pydantic models.
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from pathlib import Path

import pytest

from knowledge.models import Claim, Section

REPO = Path(__file__).resolve().parents[2]
KNOWLEDGE = REPO / "knowledge"
SEED = Path(__file__).resolve().parents[3] / "shared/seeds/000_269ddbc67b3b8822.txt"

TABLES = {"dvf": ("dvf-table", 17), "fvn": ("flask-vs-node", 13)}
OURS = {
    "ours-node-no-builtin-admin": "default-admin",
    "ours-django-realtime-channels": "flask-vs-node",
    "ours-node-vs-django-js-team": "flask-vs-node",
    "ours-node-orm-addon": "databases-orms",
    "ours-node-conventions": "flexibility",
    "ours-flask-rest-extensions": "dvf-table",
    "ours-node-serverless": "django-vs-flask",
}


def _load(fname: str, table: str) -> list[dict]:
    return tomllib.loads((KNOWLEDGE / fname).read_text(encoding="utf-8"))[table]


@pytest.fixture(scope="module")
def sections() -> list[Section]:
    return [Section.model_validate(raw) for raw in _load("sections.toml", "section")]


@pytest.fixture(scope="module")
def claims() -> list[Claim]:
    return [Claim.model_validate(raw) for raw in _load("claims.toml", "claim")]


@pytest.fixture(scope="module")
def seed() -> str:
    if not SEED.is_file():
        pytest.skip(f"seed document not available at {SEED} (it lives outside the repository)")
    return SEED.read_text(encoding="utf-8")


def _table_of(claim: Claim) -> str:
    return claim.id.split("-", 1)[0]


def test_ids_unique(sections: list[Section], claims: list[Claim]) -> None:
    for kind, ids in (("section", [s.id for s in sections]), ("claim", [c.id for c in claims])):
        dupes = [i for i, n in Counter(ids).items() if n > 1]
        assert not dupes, f"duplicate {kind} ids: {dupes}"


def test_claims_cite_existing_sections(sections: list[Section], claims: list[Claim]) -> None:
    known = {s.id for s in sections}
    dangling = [(c.id, c.section) for c in claims if c.section not in known]
    assert not dangling, f"claims citing unknown sections: {dangling}"


def test_every_section_has_a_claim(sections: list[Section], claims: list[Claim]) -> None:
    cited = {c.section for c in claims}
    bare = [s.id for s in sections if s.id not in cited]
    assert not bare, f"sections without any claim: {bare}"


@pytest.mark.parametrize("prefix", sorted(TABLES))
def test_table_rows_each_present_once(prefix: str, claims: list[Claim]) -> None:
    section, n_rows = TABLES[prefix]
    rows = [c for c in claims if c.row is not None and _table_of(c) == prefix]
    assert sorted(c.row for c in rows) == list(range(1, n_rows + 1))
    for c in rows:
        assert c.section == section, f"{c.id} should cite {section}"
        assert c.origin == "seed", f"{c.id} is a seed table row"
        assert re.fullmatch(rf"{prefix}-{c.row:02d}-[a-z0-9-]+", c.id), f"{c.id} does not match its row"


def test_rows_belong_to_the_two_tables(claims: list[Claim]) -> None:
    stray = [c.id for c in claims if c.row is not None and _table_of(c) not in TABLES]
    assert not stray, f"table rows outside the dvf/fvn tables: {stray}"


def test_conflicts_exist_and_are_symmetric(claims: list[Claim]) -> None:
    by_id = {c.id: c for c in claims}
    for c in claims:
        for other in c.conflicts_with:
            assert other in by_id, f"{c.id} conflicts with unknown claim {other}"
            assert other != c.id, f"{c.id} conflicts with itself"
            assert c.id in by_id[other].conflicts_with, f"{c.id} -> {other} is not linked back"
            assert by_id[other].resolution, f"{other} lacks a resolution"


def test_known_conflicts_are_recorded(claims: list[Claim]) -> None:
    by_id = {c.id: c for c in claims}
    assert set(by_id["learning-curve-same"].conflicts_with) >= {
        "faq-1-flask-first",
        "conclusion-start-flask-first",
    }
    assert by_id["performance-negligible"].conflicts_with == ["dvf-15-performance"]


def test_our_additions(claims: list[Claim]) -> None:
    by_id = {c.id: c for c in claims}
    for cid, section in OURS.items():
        assert cid in by_id, f"missing our addition {cid}"
        assert by_id[cid].origin == "ours"
        assert by_id[cid].section == section
        assert by_id[cid].row is None
    for c in claims:
        if c.origin == "ours":
            assert c.text.lower().startswith("our addition"), f"{c.id} does not say it is our addition"
            assert not c.incomplete, f"{c.id}: our own claims are not seed cells"


def test_seed_imperfections_flagged(claims: list[Claim]) -> None:
    incomplete = {c.id for c in claims if c.incomplete}
    expected = {
        "dvf-02-enable-default-admin",
        "dvf-03-create-admin-user",
        "dvf-05-views-routes",
        "dvf-06-render-templates",
        "dvf-14-restful-applications",
        "fvn-09-real-time-applications",
        "open-source-both-open",
    }
    assert expected <= incomplete, f"not flagged incomplete: {sorted(expected - incomplete)}"


def test_sections_found_in_seed(sections: list[Section], seed: str) -> None:
    lines = [line.strip() for line in seed.splitlines()]
    for s in sections:
        assert s.heading in lines, f"{s.id}: heading {s.heading!r} is not a line of the seed"
        if s.first_words:
            start = lines.index(s.heading)
            assert any(line.startswith(s.first_words) for line in lines[start + 1 :]), (
                f"{s.id}: no paragraph after {s.heading!r} starts with {s.first_words!r}"
            )


def test_criteria_found_in_seed(claims: list[Claim], seed: str) -> None:
    lines = [line.strip() for line in seed.splitlines()]
    split = lines.index("Flask Vs Node")
    spans = {"dvf": lines[:split], "fvn": lines[split:]}
    for c in claims:
        if c.criterion is None:
            continue
        assert c.criterion in seed, f"{c.id}: criterion {c.criterion!r} not in the seed"
        # The table rows run the row number into the criterion, e.g. "15Performance...".
        span = spans[_table_of(c)]
        assert any(line.startswith(f"{c.row}{c.criterion}") for line in span), (
            f"{c.id}: no row starting with {c.row}{c.criterion!r} in its table"
        )


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower().replace("\u2019", "'"))


def test_claims_are_paraphrased(claims: list[Claim], seed: str) -> None:
    n = 8
    seed_words = _words(seed)
    seed_grams = {tuple(seed_words[i : i + n]) for i in range(len(seed_words) - n + 1)}
    for c in claims:
        words = _words(c.text)
        copied = [
            " ".join(words[i : i + n])
            for i in range(len(words) - n + 1)
            if tuple(words[i : i + n]) in seed_grams
        ]
        assert not copied, f"{c.id} copies the seed verbatim: {copied[0]!r}"
