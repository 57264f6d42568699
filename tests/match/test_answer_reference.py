"""``answer()`` fills templates worded once per library and date and shares the parts
that do not change; the JSON it gives must be byte for byte the straightforward rendering
(``reference_answer``) — for the shipped library and a synthetic one, on several dates,
for enterprises with facts missing at the synthetic registry's rates."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from huiqi.batch.registry import iter_batches
from huiqi.match.engine import answer
from huiqi.profile import ProfileError, parse_profile
from huiqi.rules import Library, load_library
from tests.match.reference_answer import reference_answer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DATES = [dt.date(2026, 6, 30), dt.date(2024, 1, 1), dt.date(2029, 12, 31)]


def registry_profiles(count: int, seed: int) -> list[dict[str, Any]]:
    rows = [r for batch in iter_batches(count, seed) for r in batch.to_pylist()]
    return [{k: v for k, v in r.items() if v is not None} for r in rows]


def example_profiles() -> list[dict[str, Any]]:
    out = [json.loads(p.read_text("utf-8")) for p in sorted(EXAMPLES.glob("*.json"))]
    assert out
    # a coarse industry, a list field, almost nothing known
    return [*out, {"industry": "C", "employees": 12, "certifications": []}, {"region": "339903"}]


def same_bytes(profile: dict[str, Any], as_of: dt.date, library: Library, policy_ids: list[str] | None = None) -> bool:
    try:
        parse_profile(profile, as_of=as_of)
    except ProfileError:
        return False  # registered after as_of: answer() refuses it, nothing to compare
    fast = orjson.dumps(answer(profile, as_of, library, policy_ids))
    slow = orjson.dumps(reference_answer(profile, as_of, library, policy_ids))
    assert fast == slow, (profile, as_of)
    return True


@pytest.fixture(scope="module")
def shipped() -> Library:
    return load_library()


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Library:
    from bench.synthetic_library import write_synthetic_library

    root = tmp_path_factory.mktemp("synthetic")
    write_synthetic_library(root, 60, 20260630)
    return load_library(root)


@pytest.mark.parametrize("as_of", DATES, ids=str)
def test_shipped_library_answers_are_the_reference_bytes(shipped: Library, as_of: dt.date) -> None:
    profiles = example_profiles() + registry_profiles(150, 11)
    compared = sum(same_bytes(p, as_of, shipped) for p in profiles)
    assert compared > 100


def test_synthetic_library_answers_are_the_reference_bytes(synthetic: Library) -> None:
    compared = sum(same_bytes(p, DATES[0], synthetic) for p in registry_profiles(200, 7))
    assert compared > 150


def test_a_subset_of_policies_is_the_reference_bytes(shipped: Library) -> None:
    ids = [p.id for p in shipped.policies[::3]]
    for profile in example_profiles():
        assert same_bytes(profile, DATES[0], shipped, ids)


def test_two_dates_in_one_process_word_their_own_parameters(shipped: Library) -> None:
    """Templates are per date: a threshold changed in between is quoted as it was then."""
    compared = 0
    for profile in example_profiles():
        for as_of in (DATES[1], DATES[0], DATES[1]):
            compared += same_bytes(profile, as_of, shipped)
    assert compared > 15


def test_a_label_that_looks_like_code_stays_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Labels are written into the code generated per date as literals: quotes, backslashes
    and newlines in a label must come out as typed, and never run."""
    import shutil

    root = tmp_path / "policies"
    shutil.copytree(Path(__file__).resolve().parents[2] / "policies", root)
    path = root / "lj" / "sci.rd-subsidy.yaml"
    crafted = "注册地在临江市'''\\\"); __import__('os').system('touch PWNED') #\\n"
    text = path.read_text("utf-8")
    assert "label: 注册地在临江市\n" in text
    quoted = json.dumps(crafted, ensure_ascii=False)
    path.write_text(text.replace("label: 注册地在临江市\n", f"label: {quoted}\n"), "utf-8")
    monkeypatch.chdir(tmp_path)
    library = load_library(root)
    profile = json.loads((EXAMPLES / "manufacturer.json").read_text("utf-8"))
    assert same_bytes(profile, DATES[0], library)
    (result,) = [r for r in answer(profile, DATES[0], library)["results"] if r["policy_id"] == "lj.sci.rd-subsidy"]
    assert crafted in [c["text"] for c in result["conditions"]]
    assert not (tmp_path / "PWNED").exists()


def test_policies_filed_out_of_id_order_are_answered_in_id_order() -> None:
    from tests.builders import files_for, policy_yaml

    # files cn/p0..p2 hold ids z, m, a: the library's order is not id order
    docs = [
        policy_yaml(["employees <= 10"], formula="employees * 100", id=f"cn.test.{name}", title=f"政策{name}")
        for name in ("z", "m", "a")
    ]
    library = load_library(files=files_for(*docs))
    for employees in (5, 50):
        assert same_bytes({"employees": employees, "region": "339901"}, DATES[0], library)
    ids = [r["policy_id"] for r in answer({"employees": 50}, DATES[0], library)["results"]]
    assert ids == ["cn.test.a", "cn.test.m", "cn.test.z"]
