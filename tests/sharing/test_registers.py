"""The five registers: each its own database, consistent with the others, with gaps, sealed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa
from stdnum.cn import ric

from huiqi.sharing.registers import hrss, mps, nhc, samr, tax
from huiqi.sharing.registers.fill import person_id

AS_OF = dt.date(2026, 11, 30)


def test_every_department_has_its_own_database(world, registers):
    urls = {m: str(r.engine.url) for m, r in registers.items()}
    assert len(set(urls.values())) == 5
    for member, reg in registers.items():
        tables = set(sa.inspect(reg.engine).get_table_names())
        others = {t for m, r in registers.items() if m != member for t in r.metadata.tables}
        assert set(reg.metadata.tables) <= tables
        assert not (others & tables), f"{member} holds another department's table"


def test_same_uscc_everywhere_and_every_legal_representative_is_a_person(registers, raw_registry: pa.Table):
    usccs = set(raw_registry.column("uscc").to_pylist())
    with registers["samr"].engine.connect() as c:
        assert set(c.execute(sa.select(samr.enterprises.c.uscc)).scalars()) == usccs
    with registers["tax"].engine.connect() as c:
        assert set(c.execute(sa.select(tax.taxpayers.c.uscc)).scalars()) < usccs  # the tax feed has gaps
    with registers["hrss"].engine.connect() as c:
        assert set(c.execute(sa.select(hrss.contributions.c.uscc)).scalars()) < usccs
    reg = registers["samr"]
    with reg.engine.connect() as sc, registers["mps"].engine.connect() as pc:
        for uscc in sorted(usccs)[:60]:
            rep = reg.read(sc, uscc, AS_OF, frozenset({"legal_rep_id_number", "legal_rep_name"}))
            assert rep is not None
            number = rep["legal_rep_id_number"][0]
            assert ric.is_valid(number), number  # GB 11643 check digit, birth date and place
            person = registers["mps"].read(pc, number, AS_OF, frozenset({"name", "birth_date"}))
            assert person is not None, f"legal representative of {uscc} missing from 人口库"
            assert person["name"][0] == rep["legal_rep_name"][0]
            assert person["birth_date"][0] == ric.get_birth_date(number)


def test_tax_register_holds_the_registry_figures_exactly(registers, raw_registry: pa.Table):
    rows = {r["uscc"]: r for r in raw_registry.to_pylist()}
    reg = registers["tax"]
    names = frozenset({"taxable_income", "revenue", "taxpayer_type", "credit_rating"})
    with reg.engine.connect() as c:
        page = reg.read_many(c, AS_OF, names, limit=1000)
    assert len(page) > 300
    for uscc, record in page:
        for name in names:
            want = rows[uscc][name]
            got = record[name][0]
            assert got == (Decimal(want) if isinstance(want, Decimal) else want), (uscc, name)


def test_sensitive_values_are_sealed_at_rest(registers):
    """No 身份证号, name or amount is stored in clear: the database file does not contain them."""
    reg = registers["samr"]
    with reg.engine.connect() as c:
        uscc = c.execute(sa.select(samr.enterprises.c.uscc).limit(1)).scalar_one()
        rep = reg.read(c, uscc, AS_OF, frozenset({"legal_rep_id_number", "legal_rep_name"}))
    number, name = rep["legal_rep_id_number"][0], rep["legal_rep_name"][0]
    for member in ("samr", "mps"):
        blob = Path(registers[member].engine.url.database).read_bytes()
        assert number.encode() not in blob and name.encode("utf-8") not in blob, member
    with registers["mps"].engine.connect() as c:
        row = c.execute(sa.select(mps.persons).limit(1)).first()
        assert row.id_number.startswith("hq1.") and row.name.startswith("hq1.")
        assert len(row.id_index) < 32 and not row.id_index.isdigit()  # a blind index, not the number


def test_a_ciphertext_moved_to_another_row_does_not_decrypt(registers):
    reg = registers["tax"]
    with reg.engine.connect() as c:
        a, b = c.execute(sa.select(tax.taxpayers.c.uscc, tax.taxpayers.c.revenue).limit(2)).all()
    import pytest

    from huiqi.trust import CryptoError

    with pytest.raises(CryptoError):
        reg.unseal("taxpayers", "revenue", b.uscc, a.revenue, "money")


def test_insured_headcount_is_the_mean_of_the_months_on_record(registers):
    reg = registers["hrss"]
    with reg.engine.connect() as c:
        uscc = c.execute(sa.select(hrss.contributions.c.uscc).limit(1)).scalar_one()
        months = (
            c.execute(sa.select(hrss.contributions.c.insured_employees).where(hrss.contributions.c.uscc == uscc))
            .scalars()
            .all()
        )
        got = reg.read(c, uscc, AS_OF, frozenset({"employees", "wage_total"}))
    assert 1 <= len(months) <= 12
    mean = Decimal(sum(months)) / len(months)
    assert abs(got["employees"][0] - mean) <= Decimal("0.5")
    assert got["wage_total"][0] > 0


def test_unknown_subjects_have_no_record(registers):
    with registers["tax"].engine.connect() as c:
        assert registers["tax"].read(c, "91339900MA00000000", AS_OF, frozenset({"revenue"})) is None
    with registers["mps"].engine.connect() as c:
        assert registers["mps"].read(c, person_id(99_999_999), AS_OF, frozenset({"name"})) is None


def test_health_certificates_count_only_valid_ones(registers):
    reg = registers["nhc"]
    with reg.engine.connect() as c:
        businesses = c.execute(sa.select(nhc.food_businesses)).all()
        assert businesses, "the registry has food businesses"
        some_unmet = False
        for b in businesses:
            facts = reg.read(c, b.uscc, AS_OF, frozenset(reg.fields))
            valid = c.execute(
                sa.select(sa.func.count())
                .select_from(nhc.certificates)
                .where(
                    nhc.certificates.c.uscc == b.uscc,
                    nhc.certificates.c.issued_on <= AS_OF,
                    nhc.certificates.c.expires_on >= AS_OF,
                )
            ).scalar_one()
            assert facts["certified_food_handlers"][0] == valid
            assert facts["all_food_handlers_certified"][0] == (valid >= b.food_handlers)
            some_unmet |= not facts["all_food_handlers_certified"][0]
    assert some_unmet, "some business lacks certificates (expired or never issued)"


def test_person_ids_are_distinct_and_valid():
    ids = [person_id(k) for k in range(5000)] + [person_id(100_000_000 + k) for k in range(5000)]
    assert len(set(ids)) == len(ids)
    assert all(ric.is_valid(i) for i in ids[:2000:7])


def test_registers_and_their_logs_on_postgresql(tmp_path, raw_registry, clock):
    """A department may keep its register on PostgreSQL (``--register-db tax=postgresql://…``)."""
    import json
    import uuid

    from huiqi.match import default_library
    from huiqi.sharing.catalogue import Catalogue, parse_declaration, shipped_declarations
    from huiqi.sharing.consent import ConsentCheck
    from huiqi.sharing.decisions import DecisionLog
    from huiqi.sharing.deployment import init
    from huiqi.sharing.gateway import SecurityServer, StaticCatalogue
    from tests.postgres import require, temporary_database

    require("postgresql")
    with temporary_database("postgresql", tmp_path) as tax_url, temporary_database("postgresql", tmp_path) as mps_url:
        batches = raw_registry.slice(0, 80).to_batches()
        deployment, report = init(
            tmp_path / "dep", batches, clock=clock, platform_db="sqlite://", databases={"tax": tax_url, "mps": mps_url}
        )
        assert report.enterprises == 80
        tax_reg = deployment.register("tax", clock=clock)
        assert tax_reg.engine.dialect.name == "postgresql"
        with tax_reg.engine.connect() as c:
            page = tax_reg.read_many(c, AS_OF, frozenset({"revenue"}), limit=1000)
        rows = {r["uscc"]: r for r in raw_registry.slice(0, 80).to_pylist()}
        assert page and all(rec["revenue"][0] == rows[u]["revenue"] for u, rec in page)

        class Consented:
            def check(self, ref, **kw):
                return ConsentCheck(True, frozenset({"revenue"}))

        catalogue = Catalogue.of([parse_declaration(t) for t in shipped_declarations().values()])
        log = DecisionLog(tax_reg.engine, "tax", clock=clock)
        server = SecurityServer(tax_reg, StaticCatalogue(catalogue), Consented(), log, default_library, clock)
        answer = server.handle(
            {
                "request_id": uuid.uuid4().hex,
                "consumer": "platform/huiqi",
                "official": "o",
                "case_id": "c",
                "purpose": "policy_match",
                "service": "tax.taxpayer",
                "subject": {"uscc": page[0][0]},
                "fields": ["revenue"],
                "consent_ref": "CR-x",
            },
            peer="platform/huiqi",
        )
        assert answer.fields["revenue"].value == str(page[0][1]["revenue"][0])
        assert json.loads(log.log.entry("2026", answer.log.index))["released"] == ["revenue"]
        log.close()
        tax_reg.engine.dispose()


def test_a_failed_init_leaves_nothing_behind(tmp_path, raw_registry, clock):
    from huiqi.errors import InputError
    from huiqi.sharing.deployment import init

    def broken():
        yield from raw_registry.slice(0, 30).to_batches()
        raise OSError("disk full")

    root = tmp_path / "dep"
    with pytest.raises(OSError):
        init(root, broken(), clock=clock, platform_db="sqlite://")
    assert not root.exists()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x").write_text("keep")
    with pytest.raises(InputError):
        init(tmp_path / "other", raw_registry.slice(0, 5).to_batches(), clock=clock, platform_db="sqlite://")
    assert (tmp_path / "other" / "x").read_text() == "keep"
