"""The lean answer (``huiqi match`` from the disk cache) is the full answer, byte for byte."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from huiqi.match import answer, lean
from huiqi.match.result import MatchResult
from huiqi.profile import parse_profile, plain
from huiqi.rules import Library, default_library_path, load_library

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))
#: Before and after the 2026 VAT change, and past most of the library's end dates.
DATES = [dt.date(2025, 12, 31), dt.date(2026, 6, 30), dt.date(2027, 1, 1), dt.date(2029, 12, 31)]


@pytest.fixture(scope="module")
def library() -> Library:
    return load_library(default_library_path())


@pytest.fixture(scope="module")
def lean_library(library: Library) -> lean.Lean:
    return lean.Lean(lean.build(library))


def profiles() -> list[tuple[str, dict[str, Any]]]:
    """Every example, and every example with one fact left out (undetermined policies, the
    missing facts they name, variables that are only narrowed)."""
    out = []
    for path in EXAMPLES:
        data = json.loads(path.read_text("utf-8"))
        out.append((path.stem, data))
        out += [(f"{path.stem}-{name}", {k: v for k, v in data.items() if k != name}) for name in data]
    return out


PROFILES = profiles()


@pytest.mark.parametrize("as_of", DATES, ids=str)
def test_lean_answers_are_the_full_answers(library: Library, lean_library: lean.Lean, as_of: dt.date) -> None:
    compared = 0
    for name, data in PROFILES:
        facts = plain.facts(data)
        assert facts is not None, name
        if facts["registered_on"] is not None and facts["registered_on"] > as_of:
            continue
        full = answer(data, as_of, library)
        quick = lean_library.answer(facts, as_of)
        assert quick == full, name
        assert lean_library.dumps(quick) == MatchResult.model_validate(full).model_dump_json(indent=2), name
        compared += 1
    assert compared >= len(EXAMPLES) * 10


def test_every_verdict_and_group_is_compared(library: Library) -> None:
    """The profiles above reach every verdict, conditional results and exclusive groups."""
    verdicts, details, groups = set(), set(), 0
    for _, data in PROFILES:
        result = answer(data, dt.date(2026, 6, 30), library)
        verdicts |= {r["verdict"] for r in result["results"]}
        details |= {r["detail"] for r in result["results"]}
        groups += len(result["alternatives"])
    assert verdicts == {"eligible", "undetermined", "ineligible"}
    assert "conditional" in details and groups


def test_the_plain_profile_reader_gives_the_models_facts_or_leaves_it_to_them() -> None:
    base = json.loads((ROOT / "examples" / "manufacturer.json").read_text("utf-8"))
    variants: list[Any] = [
        base,
        {**base, "employees": "260"},  # lax pydantic reads it; the plain reader leaves it
        {**base, "employees": True},
        {**base, "employees": -1},
        {**base, "employees": 10_000_001},
        {**base, "revenue": 1200},
        {**base, "revenue": 12.5},
        {**base, "revenue": "12.345"},
        {**base, "revenue": "０１２"},
        {**base, "revenue": "1e6"},
        {**base, "revenue": "  300 "},
        {**base, "registered_on": "2016-02-30"},
        {**base, "registered_on": "２０１６-04-12"},
        {**base, "registered_on": 20160412},
        {**base, "uscc": "91339903ma2k7q3b37"},
        {**base, "uscc": "91339903MA2K7Q3B38"},
        {**base, "uscc": "91339903-MA2K7Q3B37"},
        {**base, "industry": "c3911"},
        {**base, "industry": "C9999"},
        {**base, "region": "339999"},
        {**base, "name": ""},
        {**base, "name": " 临江 "},
        {**base, "certifications": ["tech_sme", "high_tech", "tech_sme"]},
        {**base, "certifications": []},
        {**base, "certifications": ["nobel"]},
        {**base, "credit_rating": "a"},
        {**base, "colour": "red"},
        {"employees": None},
        {},
        [],
    ]
    vouched = 0
    for data in variants:
        facts = plain.facts(data)
        if facts is None:
            continue
        assert facts == parse_profile(data).facts(), data
        assert {k: repr(v) for k, v in facts.items()} == {k: repr(v) for k, v in parse_profile(data).facts().items()}
        vouched += 1
    assert vouched >= 6


def test_a_stale_or_corrupt_entry_is_ignored(tmp_path: Path, library: Library) -> None:
    root = tmp_path / "policies"
    shutil.copytree(default_library_path(), root)
    cache = tmp_path / "cache"
    assert lean.load(root, cache) is None  # cold
    lean.store(library, root, cache)
    (entry,) = cache.glob("*.lean")
    assert lean.load(root, cache) is not None
    for damage in [b"", b"not a pickle", b"\x80\x05\x95garbage", entry.read_bytes()[:-100]]:
        entry.write_bytes(damage)
        assert lean.load(root, cache) is None
    lean.store(library, root, cache)
    assert lean.load(root, cache) is not None
    # Another text is another key: the entry of the old texts is not read.
    policy = next(root.rglob("hr.job-stabilization.yaml"))
    policy.write_text(policy.read_text("utf-8").replace("title:", "title: 改", 1), "utf-8")
    assert lean.load(root, cache) is None
    # Nor is an entry in a directory others may write.
    lean.store(library, root, cache)
    cache.chmod(0o777)
    assert lean.load(root, cache) is None


def test_lean_answers_agree_on_synthetic_registry_enterprises(library: Library, lean_library: lean.Lean) -> None:
    """Enterprises of the synthetic registry (missing facts, every size and industry), as JSON."""
    from huiqi.batch.registry import iter_batches

    def as_json(value: Any) -> Any:
        return str(value) if isinstance(value, Decimal) else value.isoformat() if isinstance(value, dt.date) else value

    compared = 0
    for batch in iter_batches(150, 20260630):
        for row in batch.to_pylist():
            data = {k: as_json(v) for k, v in row.items() if v is not None}
            facts = plain.facts(data)
            assert facts is not None, data
            for as_of in (dt.date(2025, 12, 31), dt.date(2026, 6, 30)):
                if facts["registered_on"] is None or facts["registered_on"] <= as_of:
                    full = answer(data, as_of, library)
                    assert lean_library.answer(facts, as_of) == full, data
                    compared += 1
    assert compared >= 250
