"""huiqi.discover: the catalogue's filters, on a small library written for the test."""

from __future__ import annotations

import datetime as dt

import pytest

from huiqi import discover as catalog
from huiqi.rules import Library, load_library
from tests.web.conftest import VARIABLES, policy


@pytest.fixture(scope="module")
def lib() -> Library:
    files = {
        "_variables.yaml": VARIABLES,
        "cn/a.yaml": policy("cn.test.anyone", ["employees > 0"], category="tax", tags="就业, 小微企业"),
        "cn/b.yaml": policy("cn.test.catering", ["industry LIKE 'H62%'", "employees <= 100"]),
        "cn/c.yaml": policy("cn.test.no-retail", ["industry_section NOT IN ('F', 'H')"], category="reward"),
        "cn/d.yaml": policy("cn.test.exact-c39", ["industry = 'C39'"], valid_to="2025-12-31"),
        "lj/e.yaml": policy("lj.test.district", ["region = '339901'"], region="339900", summary="临江区专属。"),
        "lj/f.yaml": policy("lj.test.high-zone", ["employees > 0"], region="339903", valid_from="2026-01-01"),
        "cn/g.yaml": policy("cn.test.either", ["industry LIKE 'A%' OR employees > 5"]),
    }
    return load_library(files=files)


TODAY = dt.date(2025, 6, 1)  # what the filters take as today when no date is given


def ids(policies: list[object]) -> set[str]:
    return {p.id for p in policies}  # type: ignore[attr-defined]


def test_no_filter_lists_everything(lib: Library) -> None:
    assert ids(catalog.filter_policies(lib, today=TODAY)) == {p.id for p in lib.policies}


def test_category(lib: Library) -> None:
    assert ids(catalog.filter_policies(lib, category="tax", today=TODAY)) == {"cn.test.anyone"}
    assert ids(catalog.filter_policies(lib, category="reward", today=TODAY)) == {"cn.test.no-retail"}


def test_text_matches_title_summary_tags_every_word(lib: Library) -> None:
    assert ids(catalog.filter_policies(lib, q="小微企业", today=TODAY)) == {"cn.test.anyone"}
    assert ids(catalog.filter_policies(lib, q="临江区", today=TODAY)) == {"lj.test.district"}
    assert ids(catalog.filter_policies(lib, q="临江区 就业", today=TODAY)) == set()
    assert ids(catalog.filter_policies(lib, q="CN.TEST.CATERING", today=TODAY)) == {"cn.test.catering"}


def test_in_force_on(lib: Library) -> None:
    on_2025 = ids(catalog.filter_policies(lib, in_force_on=dt.date(2025, 6, 1), today=TODAY))
    assert "lj.test.high-zone" not in on_2025 and "cn.test.exact-c39" in on_2025
    on_2026 = ids(catalog.filter_policies(lib, in_force_on=dt.date(2026, 6, 1), today=TODAY))
    assert "lj.test.high-zone" in on_2026 and "cn.test.exact-c39" not in on_2026
    assert ids(catalog.filter_policies(lib, in_force_on=dt.date(2024, 12, 31), today=TODAY)) == set()


@pytest.mark.parametrize(
    ("industry", "expected_in", "expected_out"),
    [
        ("H6210", {"cn.test.catering", "cn.test.anyone", "cn.test.either"}, {"cn.test.no-retail"}),
        ("C3911", {"cn.test.no-retail", "cn.test.either"}, {"cn.test.catering", "cn.test.exact-c39"}),
        # A coarse code: the policy could apply to one of the codes under it.
        ("H", {"cn.test.catering"}, {"cn.test.no-retail"}),
        ("H62", {"cn.test.catering"}, {"cn.test.no-retail"}),
        ("H61", set(), {"cn.test.catering", "cn.test.no-retail"}),
        # `industry = 'C39'` holds for exactly that code, so C and C39 list it, C3911 does not.
        ("C", {"cn.test.exact-c39", "cn.test.no-retail"}, {"cn.test.catering"}),
        ("C39", {"cn.test.exact-c39"}, set()),
    ],
)
def test_industry_could_apply(lib: Library, industry: str, expected_in: set[str], expected_out: set[str]) -> None:
    found = ids(catalog.filter_policies(lib, industry=industry, today=dt.date(2025, 6, 1)))
    assert expected_in <= found
    assert not (expected_out & found)


def test_industry_filter_ignores_policies_without_industry_conditions(lib: Library) -> None:
    for code in ("A0111", "T", "S80"):
        assert {"cn.test.anyone", "lj.test.district"} <= ids(catalog.filter_policies(lib, industry=code, today=TODAY))


def test_region_metadata_and_conditions(lib: Library) -> None:
    in_district = ids(catalog.filter_policies(lib, region="339901", today=TODAY))
    assert "lj.test.district" in in_district
    assert "lj.test.high-zone" not in in_district  # metadata: 339903 only
    in_jiangbei = ids(catalog.filter_policies(lib, region="339902", today=TODAY))
    assert "lj.test.district" not in in_jiangbei  # metadata says 339900, the condition 339901
    elsewhere = ids(catalog.filter_policies(lib, region="110101", today=TODAY))
    assert elsewhere == {p.id for p in lib.policies if p.id.startswith("cn.")}


def test_region_and_industry_together(lib: Library) -> None:
    found = ids(catalog.filter_policies(lib, region="339901", industry="H6210", today=TODAY))
    assert {"cn.test.catering", "lj.test.district", "cn.test.anyone"} <= found
    assert "cn.test.no-retail" not in found


def test_region_prefix() -> None:
    assert catalog.region_prefix("000000") == ""
    assert catalog.region_prefix("339900") == "3399"
    assert catalog.region_prefix("330000") == "33"
    assert catalog.region_prefix("339901") == "339901"
