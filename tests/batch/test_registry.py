"""The synthetic enterprise registry: schema, validity, determinism, distributions."""

from __future__ import annotations

import datetime as dt
import math
import pathlib
import random

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from huiqi.batch.registry import (
    CITY_REGION,
    DISTRICT_REGIONS,
    MISSING_RATES,
    REFERENCE_DATE,
    TAX_FEED_MISSING,
    TAX_FIELDS,
    generate_registry,
    iter_batches,
    uscc_check_indices,
)
from huiqi.profile import FIELDS, parse_profile
from huiqi.profile import industry as industry_ref
from huiqi.profile.uscc import ALPHABET, check_character, is_valid

COUNT = 20_000
SEED = 20260630


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> pa.Table:
    out = tmp_path_factory.mktemp("registry") / "registry.parquet"
    assert generate_registry(COUNT, SEED, out, chunk_size=7_000) == COUNT
    assert pq.ParquetFile(out).num_row_groups == 3
    return pq.read_table(out)


def _col(table: pa.Table, name: str) -> list:
    return table.column(name).to_pylist()


def _null_rate(table: pa.Table, name: str) -> float:
    return table.column(name).null_count / table.num_rows


def _present(table: pa.Table, *names: str) -> pa.Table:
    """The rows where every named field is known."""
    mask = pc.is_valid(table.column(names[0]))
    for name in names[1:]:
        mask = pc.and_(mask, pc.is_valid(table.column(name)))
    return table.filter(mask)


# --- schema ----------------------------------------------------------------------------------


def test_schema_has_every_profile_field_with_its_arrow_type(registry: pa.Table) -> None:
    expected = {
        "string": pa.string(),
        "integer": pa.int64(),
        "money": pa.decimal128(18, 2),
        "date": pa.date32(),
        "list": pa.list_(pa.string()),
    }
    assert registry.schema.names == list(FIELDS)
    for spec in FIELDS.values():
        assert registry.schema.field(spec.name).type == expected[spec.kind], spec.name
    assert registry.num_rows == COUNT


def test_file_metadata_marks_the_data_synthetic(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "r.parquet"
    generate_registry(10, 3, out)
    meta = pq.read_schema(out).metadata[b"huiqi.registry"].decode()
    assert '"synthetic": true' in meta
    assert '"seed": 3' in meta


# --- determinism -----------------------------------------------------------------------------


def test_same_seed_same_bytes_and_rows_whatever_the_chunk_size(tmp_path: pathlib.Path) -> None:
    n = 70_000  # more than one internal block of 65,536 rows
    a, b, c = tmp_path / "a.parquet", tmp_path / "b.parquet", tmp_path / "c.parquet"
    generate_registry(n, 11, a, chunk_size=30_000)
    generate_registry(n, 11, b, chunk_size=30_000)
    generate_registry(n, 11, c, chunk_size=65_537)
    assert a.read_bytes() == b.read_bytes()
    assert pq.read_table(a).equals(pq.read_table(c))


def test_another_seed_gives_other_data(tmp_path: pathlib.Path) -> None:
    generate_registry(500, 1, tmp_path / "a.parquet")
    generate_registry(500, 2, tmp_path / "b.parquet")
    a, b = pq.read_table(tmp_path / "a.parquet"), pq.read_table(tmp_path / "b.parquet")
    assert _col(a, "uscc") != _col(b, "uscc")
    assert _col(a, "revenue") != _col(b, "revenue")


def test_iter_batches_matches_the_file(registry: pa.Table) -> None:
    table = pa.Table.from_batches(list(iter_batches(COUNT, SEED)))
    assert table.equals(registry.replace_schema_metadata(None))


# --- identifiers and codes -----------------------------------------------------------------


def test_every_uscc_is_valid_and_unique(registry: pa.Table) -> None:
    codes = _col(registry, "uscc")
    assert None not in codes
    assert all(is_valid(c) for c in codes)
    assert len(set(codes)) == len(codes)
    kinds = [c[:2] for c in codes]
    assert kinds.count("91") / len(codes) > 0.95
    assert set(kinds) <= {"91", "93", "N2"}
    # characters 3-8 are a 临江市 region code; MA codes only after the 2015 reform
    assert {c[2:8] for c in codes} <= {CITY_REGION, *DISTRICT_REGIONS}
    dates = _col(registry, "registered_on")
    for code, day in zip(codes, dates, strict=True):
        if day is not None:
            assert (code[8:10] == "MA") == (day >= dt.date(2015, 10, 1)), (code, day)


def test_uscc_region_matches_the_region_field(registry: pa.Table) -> None:
    for code, region in zip(_col(registry, "uscc"), _col(registry, "region"), strict=True):
        assert region is None or code[2:8] == region


def test_vectorised_check_character_agrees_with_the_reference() -> None:
    rnd = random.Random(5)
    rows = [[rnd.randrange(31) for _ in range(17)] for _ in range(2_000)]
    got = uscc_check_indices(np.array(rows, dtype=np.int64))
    for row, idx in zip(rows, got, strict=True):
        assert ALPHABET[int(idx)] == check_character("".join(ALPHABET[i] for i in row))


def test_names_are_unique_chinese_company_names(registry: pa.Table) -> None:
    names = _col(registry, "name")
    assert None not in names
    assert len(set(names)) == len(names)
    assert all(n.startswith("临江市") for n in names)
    companies = [n for n, c in zip(names, _col(registry, "uscc"), strict=True) if c.startswith("91")]
    assert all(n.endswith(("有限公司", "有限责任公司")) for n in companies)
    coops = [n for n, c in zip(names, _col(registry, "uscc"), strict=True) if c.startswith("93")]
    assert coops
    assert all(n.endswith("专业合作社") for n in coops)


def test_every_industry_is_a_valid_4754_subclass(registry: pa.Table) -> None:
    codes = [c for c in _col(registry, "industry") if c is not None]
    for code in set(codes):
        ref = industry_ref.lookup(code)
        assert ref is not None and ref.level == 4, code
        assert code[0] not in "ST"
    sections = {c[0] for c in codes}
    assert {"A", "C", "E", "F", "H", "I", "L", "M"} <= sections
    share = {s: sum(c[0] == s for c in codes) / len(codes) for s in sections}
    assert share["F"] == max(share.values())  # 批发和零售业 is the largest section
    assert 0.08 < share["C"] < 0.18


def test_regions_are_临江市_codes(registry: pa.Table) -> None:
    regions = {r for r in _col(registry, "region") if r is not None}
    assert regions == {CITY_REGION, *DISTRICT_REGIONS}


# --- the profile contract ----------------------------------------------------------------


def test_a_sample_of_rows_validates_as_profiles(registry: pa.Table) -> None:
    rnd = random.Random(1)
    for i in rnd.sample(range(registry.num_rows), 200):
        row = registry.slice(i, 1).to_pylist()[0]
        profile = parse_profile({k: v for k, v in row.items() if v is not None})
        assert profile.uscc == row["uscc"]
        assert profile.certifications == row["certifications"]


# --- distributions -----------------------------------------------------------------------------


def test_most_enterprises_are_small_or_micro(registry: pa.Table) -> None:
    employees = np.array([e for e in _col(registry, "employees") if e is not None])
    assert np.median(employees) < 20
    assert (employees < 300).mean() > 0.98
    assert (employees < 20).mean() > 0.8
    assert employees.min() >= 0
    assert employees.max() > 300  # but not only: a few medium and large firms exist


def test_dates_lie_in_range_and_skew_recent(registry: pa.Table) -> None:
    dates = [d for d in _col(registry, "registered_on") if d is not None]
    assert min(dates) >= dt.date(1990, 1, 1)
    assert max(dates) <= REFERENCE_DATE
    recent = sum(d.year >= 2016 for d in dates) / len(dates)
    assert recent > 0.6


def test_money_is_non_negative_and_consistent(registry: pa.Table) -> None:
    t = _present(registry, "revenue", "taxable_income", "rd_expense", "monthly_sales")
    revenue = np.array(_col(t, "revenue"), dtype=float)
    taxable = np.array(_col(t, "taxable_income"), dtype=float)
    rd = np.array(_col(t, "rd_expense"), dtype=float)
    monthly = np.array(_col(t, "monthly_sales"), dtype=float)
    assert (revenue >= 0).all() and (taxable >= 0).all() and (rd >= 0).all() and (monthly >= 0).all()
    assert (taxable <= revenue + 0.01).all()
    assert (rd <= revenue + 0.01).all()
    assert 0.1 < (taxable == 0).mean() < 0.6  # losses and 零申报 are common
    assert (rd > 0).mean() < 0.2  # R&D is rare
    active = revenue > 0
    ratio = np.median(monthly[active] / (revenue[active] / 12))
    assert 0.8 < ratio < 1.25
    amounts = [a for a in _col(registry, "total_assets") if a is not None]
    assert all(a.as_tuple().exponent == -2 for a in amounts[:100])


def test_rd_is_concentrated_in_technology_industries(registry: pa.Table) -> None:
    t = _present(registry, "rd_expense", "industry")
    rd = np.array(_col(t, "rd_expense"), dtype=float) > 0
    techy = np.array([c[:3] in {"I64", "I65", "M73", "M75", "C39", "C40"} for c in _col(t, "industry")])
    assert rd[techy].mean() > 5 * rd[~techy].mean()


def test_taxpayer_type_follows_annual_sales(registry: pa.Table) -> None:
    t = _present(registry, "revenue", "taxpayer_type")
    revenue = np.array(_col(t, "revenue"), dtype=float)
    general = np.array([x == "general" for x in _col(t, "taxpayer_type")])
    assert general[revenue > 5_000_000].mean() > 0.9
    assert (~general[revenue <= 5_000_000]).mean() > 0.75


def test_certifications_are_rare_and_coherent(registry: pa.Table) -> None:
    certs = [c for c in _col(registry, "certifications") if c is not None]
    allowed = set(FIELDS["certifications"].values)
    for c in certs:
        assert c == sorted(set(c)) and set(c) <= allowed
        if "little_giant" in c:
            assert "specialized_new" in c
    share = sum(bool(c) for c in certs) / len(certs)
    assert 0.005 < share < 0.06
    high_tech = sum("high_tech" in c for c in certs) / len(certs)
    assert 0.003 < high_tech < 0.03


def test_credit_ratings(registry: pa.Table) -> None:
    ratings = [r for r in _col(registry, "credit_rating") if r is not None]
    assert set(ratings) == {"A", "B", "M", "C", "D"}
    assert max(set(ratings), key=ratings.count) == "B"
    # enterprises registered in the reference year are not rated yet
    for r, d in zip(_col(registry, "credit_rating"), _col(registry, "registered_on"), strict=True):
        if d is not None and d.year == REFERENCE_DATE.year:
            assert r is None


def test_missing_rates_are_within_bounds(registry: pa.Table) -> None:
    n = registry.num_rows
    for name, rate in MISSING_RATES.items():
        expected = 1 - (1 - rate) * (1 - TAX_FEED_MISSING) if name in TAX_FIELDS else rate
        tolerance = 4 * math.sqrt(max(expected * (1 - expected), 1e-9) / n) + 0.002
        observed = _null_rate(registry, name)
        if name == "credit_rating":  # plus the enterprises not rated yet
            assert expected - tolerance <= observed <= 0.25
        else:
            assert abs(observed - expected) <= tolerance, (name, observed, expected)
    assert _null_rate(registry, "uscc") == 0 and _null_rate(registry, "name") == 0
    for name in FIELDS:
        if name not in ("uscc", "name"):
            assert 0.005 < _null_rate(registry, name) <= 0.25, name


# --- the writer ----------------------------------------------------------------------------


def test_progress_reports_rows_written_per_chunk(tmp_path: pathlib.Path) -> None:
    seen: list[int] = []
    assert generate_registry(2_500, 4, tmp_path / "r.parquet", chunk_size=1_000, on_progress=seen.append) == 2_500
    assert seen == [1_000, 2_000, 2_500]
    assert [pq.ParquetFile(tmp_path / "r.parquet").metadata.row_group(i).num_rows for i in range(3)] == [
        1_000,
        1_000,
        500,
    ]


def test_tiny_registries_have_unique_codes_and_names() -> None:
    for count in (1, 2, 3, 4, 6, 10, 30, 97, 360):
        table = pa.Table.from_batches(list(iter_batches(count, count)))
        assert table.num_rows == count
        for name in ("uscc", "name"):
            assert len(set(_col(table, name))) == count, (count, name)


def test_zero_rows_writes_an_empty_file_with_the_schema(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "empty.parquet"
    assert generate_registry(0, 1, out) == 0
    table = pq.read_table(out)
    assert table.num_rows == 0 and table.schema.names == list(FIELDS)


def test_a_failure_leaves_no_file(tmp_path: pathlib.Path) -> None:
    def boom(rows: int) -> None:
        raise RuntimeError("stop")

    out = tmp_path / "r.parquet"
    with pytest.raises(RuntimeError):
        generate_registry(3_000, 1, out, chunk_size=1_000, on_progress=boom)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("count", "seed", "chunk_size"),
    [(-1, 0, 10), (10, -1, 10), (10, 0, 0), (10**9, 0, 10), (1.5, 0, 10), (True, 0, 10)],
)
def test_bad_arguments_are_refused(tmp_path: pathlib.Path, count: object, seed: object, chunk_size: object) -> None:
    with pytest.raises(ValueError):
        generate_registry(count, seed, tmp_path / "r.parquet", chunk_size=chunk_size)  # type: ignore[arg-type]
    assert not (tmp_path / "r.parquet").exists()
