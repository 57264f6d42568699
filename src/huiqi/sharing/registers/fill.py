"""Fill the five registers from the synthetic enterprise registry, consistently and with gaps.

The input is the registry's record batches (``huiqi.batch.registry.iter_batches`` or a
Parquet file of it: one column per profile field). Each department receives only what it
would hold, and every department uses the same USCC for the same enterprise:

* 法人库 (samr): every enterprise — name, industry, region, registration date, a
  registered capital and address, status, licences, and its legal representative;
* 人口库 (mps): every legal representative and every food handler, with a valid GB 11643
  身份证号 (real county codes, the check digit from ``stdnum.cn.ric``);
* 税务局: the tax fields of the registry; an enterprise missing from the tax feed (all of
  them NULL) has no row at all;
* 人社局: twelve months of contributions before the snapshot, the headcount varying
  around the registry's ``employees``; no rows where that is unknown, and a few months
  missing for some enterprises (no declaration that month);
* 卫健委: food businesses (餐饮, 食品制造, 食品零售) with their food handlers' certificates,
  most valid, some expired, some never issued.

Everything is derived from the seed and the USCC, so the same registry gives the same
registers. Values the registry does not have (names of people, capital, addresses) are
synthetic like the registry itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from stdnum.cn import ric

from huiqi.profile.regions import SAMPLE_REGIONS
from huiqi.sharing.registers.base import Register
from huiqi.sharing.registers.hrss import InsuranceRegister
from huiqi.sharing.registers.mps import PopulationRegister
from huiqi.sharing.registers.nhc import HealthRegister
from huiqi.sharing.registers.samr import EnterpriseRegister
from huiqi.sharing.registers.tax import TaxRegister

#: County codes of GB/T 2260 valid for every birth year drawn (1956–2004), so every
#: generated 身份证号 passes ``stdnum.cn.ric.validate`` (check digit, date and place).
COUNTIES = (
    "330122", "330127", "310101", "310104", "310105", "310106", "310107", "310109", "310110",
    "110101", "110102", "110105", "110106", "110107", "110108", "110109",
    "440221", "350121", "340121", "340221", "340421", "340621", "340721",
)  # fmt: skip
FIRST_BIRTH = dt.date(1956, 1, 1)
BIRTH_DAYS = (dt.date(2004, 6, 30) - FIRST_BIRTH).days + 1
_SPACE = len(COUNTIES) * BIRTH_DAYS * 999
_STRIDE = 2_654_435_761  # odd and not a multiple of 3, 7, 23 or 37: a permutation of the space
STAFF_BASE = 100_000_000  # person numbers of food handlers start here (legal reps use row numbers)

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红燕鹏辉建国文斌宇浩凯晨阳"
    "欣怡婷雪琳佳丹晶颖倩梅海波宁峰亮飞鑫瑞嘉子轩梓涵一诺雨桐思远"
)
STREETS = (
    "人民路",
    "解放路",
    "江滨路",
    "建设路",
    "和平路",
    "新华路",
    "中山路",
    "湖滨路",
    "科技路",
    "工业大道",
    "创业路",
    "文化路",
)
FOOD_INDUSTRIES = ("H62", "H61", "C13", "C14", "C15", "F522")
LICENCES = {
    "H62": ["食品经营许可证"],
    "H61": ["食品经营许可证", "特种行业许可证"],
    "C13": ["食品生产许可证"],
    "C14": ["食品生产许可证"],
    "C15": ["食品生产许可证"],
    "F522": ["食品经营许可证"],
    "Q84": ["医疗机构执业许可证"],
    "E47": ["建筑业企业资质证书"],
    "E48": ["建筑业企业资质证书"],
}


def person_id(k: int) -> str:
    """The 身份证号 of synthetic person number ``k``: distinct for distinct k (a permutation)."""
    j = (k * _STRIDE + 97) % _SPACE
    county = COUNTIES[j % len(COUNTIES)]
    day = FIRST_BIRTH + dt.timedelta(days=(j // len(COUNTIES)) % BIRTH_DAYS)
    seq = j // (len(COUNTIES) * BIRTH_DAYS) + 1
    body = f"{county}{day:%Y%m%d}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")


def person_name(k: int) -> str:
    h = int.from_bytes(hashlib.blake2b(k.to_bytes(8, "big"), digest_size=8).digest(), "big")
    given = GIVEN[(h >> 8) % len(GIVEN)] + (GIVEN[(h >> 20) % len(GIVEN)] if h % 3 else "")
    return SURNAMES[h % len(SURNAMES)] + given


def _food_kind(industry: str | None) -> str | None:
    if not industry:
        return None
    return next((p for p in FOOD_INDUSTRIES if industry.startswith(p)), None)


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(Decimal("0.01"), ROUND_HALF_UP)


@dataclass
class FillReport:
    enterprises: int = 0
    persons: int = 0
    taxpayers: int = 0
    insured: int = 0
    food_businesses: int = 0
    certificates: int = 0
    gaps: dict[str, int] = field(default_factory=dict)

    def gap(self, what: str) -> None:
        self.gaps[what] = self.gaps.get(what, 0) + 1


@dataclass
class Registers:
    """One instance of each register (each on its own engine and keys)."""

    samr: EnterpriseRegister
    mps: PopulationRegister
    tax: TaxRegister
    hrss: InsuranceRegister
    nhc: HealthRegister

    def all(self) -> list[Register]:
        return [self.samr, self.mps, self.tax, self.hrss, self.nhc]


def fill(
    registers: Registers,
    batches: Iterable[Any],
    *,
    snapshot: dt.date,
    seed: int = 0,
    on_progress: Callable[[int], None] | None = None,
) -> FillReport:
    """Write every enterprise of ``batches`` (pyarrow record batches) into the registers.

    ``snapshot`` is the day the registers describe: the last insured month is the one before
    it, certificates are valid around it, the tax year is the year before it. Each batch is
    one transaction per register; a failure stops the fill with the earlier batches kept
    (the registers are filled once, by ``huiqi departments init``, into empty databases).
    """
    for reg in registers.all():
        reg.create()
    report = FillReport()
    persons_seen: set[int] = set()
    staff_next = STAFF_BASE
    tax_year_end = dt.date(snapshot.year - 1, 12, 31)
    first_month = (snapshot.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    months = [_add_months(first_month, -i) for i in range(12)]
    for batch in batches:
        rows: dict[str, dict[str, list[Mapping[str, Any]]]] = {m: {} for m in ("samr", "mps", "tax", "hrss", "nhc")}

        def put(member: str, table: str, row: Mapping[str, Any], rows: dict[str, Any] = rows) -> None:
            rows[member].setdefault(table, []).append(row)

        def add_person(k: int, home_region: str | None) -> str:
            pid = person_id(k)
            if k not in persons_seen:
                persons_seen.add(k)
                put("mps", "persons", _person_row(registers.mps, k, pid, home_region, snapshot))
                report.persons += 1
            return pid

        for e in batch.to_pylist():
            uscc: str = e["uscc"]
            rng = random.Random(f"{seed}/{uscc}")
            row_no = report.enterprises  # the enterprise's row number: its legal representative's person number
            report.enterprises += 1
            # --- 法人库 and its legal representative in 人口库 ---------------------------------
            rep = row_no if rng.random() > 0.08 or row_no < 5 else row_no - 1 - rng.randrange(5)
            rep_id = add_person(rep, e["region"])
            food = _food_kind(e["industry"])
            licences = LICENCES.get(food or "", LICENCES.get((e["industry"] or "")[:3], []))
            assets = e["total_assets"]
            capital = None
            if assets is not None:
                capital = max(
                    Decimal(10_000),
                    (Decimal(assets) * Decimal(rng.choice((0.1, 0.2, 0.5, 1)))).quantize(Decimal(10_000)),
                )
            status = "存续" if rng.random() > 0.02 else "吊销"
            put(
                "samr",
                "enterprises",
                {
                    "uscc": uscc,
                    "name": e["name"],
                    "legal_rep_index": registers.samr.index("enterprises", "legal_rep_id", rep_id),
                    "legal_rep_id": registers.samr.seal("enterprises", "legal_rep_id", uscc, rep_id),
                    "legal_rep_name": registers.samr.seal("enterprises", "legal_rep_name", uscc, person_name(rep)),
                    "registered_capital": capital,
                    "address": _address(rng, e["region"]),
                    "industry": e["industry"],
                    "region": e["region"],
                    "registered_on": e["registered_on"],
                    "status": status,
                    "licences": json.dumps(licences, ensure_ascii=False),
                    "updated_on": snapshot,
                },
            )
            # --- 税务局 ---------------------------------------------------------------------------
            tax_values = [
                e[f]
                for f in (
                    "taxpayer_type",
                    "credit_rating",
                    "monthly_sales",
                    "revenue",
                    "taxable_income",
                    "rd_expense",
                    "total_assets",
                )
            ]
            if all(v is None for v in tax_values[:-1]):
                report.gap("tax_feed_missing")
            else:
                report.taxpayers += 1
                tax = registers.tax
                put(
                    "tax",
                    "taxpayers",
                    {
                        "uscc": uscc,
                        "taxpayer_type": e["taxpayer_type"],
                        "credit_rating": e["credit_rating"],
                        "rated_on": dt.date(snapshot.year - 1, 12, 31) if e["credit_rating"] else None,
                        "monthly_sales": tax.seal("taxpayers", "monthly_sales", uscc, _money(e["monthly_sales"])),
                        "sales_month_end": _month_end(months[0]),
                        "tax_year_end": tax_year_end,
                        **{
                            f: tax.seal("taxpayers", f, uscc, _money(e[f]))
                            for f in ("revenue", "taxable_income", "rd_expense", "total_assets")
                        },
                    },
                )
            # --- 人社局 ---------------------------------------------------------------------------
            employees = e["employees"]
            if employees is None:
                report.gap("no_insurance_record")
            else:
                report.insured += 1
                skipped = set(rng.sample(range(1, 12), rng.randint(1, 3))) if rng.random() < 0.05 else set()
                if skipped:
                    report.gap("months_missing")
                wage = Decimal(rng.choice((4200, 5600, 6800, 8200, 11000)))
                for i, month in enumerate(months):
                    if i in skipped:
                        continue
                    insured = max(0, round(employees * (1 + rng.uniform(-0.06, 0.06))))
                    key = f"{uscc}/{month:%Y-%m}"
                    put(
                        "hrss",
                        "contributions",
                        {
                            "id": key,
                            "uscc": uscc,
                            "month": f"{month:%Y-%m}",
                            "insured_employees": insured,
                            "wage_total": registers.hrss.seal(
                                "contributions",
                                "wage_total",
                                key,
                                (wage * insured * Decimal(rng.uniform(0.9, 1.1))).quantize(
                                    Decimal("0.01"), ROUND_HALF_UP
                                ),
                            ),
                        },
                    )
            # --- 卫健委 ---------------------------------------------------------------------------
            if food is not None and status == "存续":
                handlers = max(1, min(30, round((employees or 3) * 0.6)))
                report.food_businesses += 1
                put("nhc", "food_businesses", {"uscc": uscc, "food_handlers": handlers, "updated_on": snapshot})
                for h in range(handlers):
                    holder = staff_next
                    staff_next += 1
                    holder_id = add_person(holder, e["region"])
                    roll = rng.random()
                    if roll < 0.06:
                        report.gap("certificate_never_issued")
                        continue
                    if roll < 0.14:  # expired before the snapshot
                        issued = snapshot - dt.timedelta(days=rng.randint(370, 700))
                    else:
                        issued = snapshot - dt.timedelta(days=rng.randint(0, 330))
                    expires = issued + dt.timedelta(days=365)
                    number = f"JKZ{issued:%Y}{uscc[8:17]}{h:03d}"
                    report.certificates += 1
                    put(
                        "nhc",
                        "health_certificates",
                        {
                            "number": number,
                            "uscc": uscc,
                            "holder_index": registers.nhc.index("health_certificates", "holder_id", holder_id),
                            "holder_id": registers.nhc.seal("health_certificates", "holder_id", number, holder_id),
                            "issued_on": issued,
                            "expires_on": expires,
                        },
                    )
        for reg in registers.all():
            with reg.engine.begin() as conn:
                reg.insert(conn, rows[reg.member])
        if on_progress is not None:
            on_progress(report.enterprises)
    return report


def _person_row(mps: PopulationRegister, k: int, pid: str, region: str | None, snapshot: dt.date) -> dict[str, Any]:
    key = mps.index("persons", "id_number", pid)
    rng = random.Random(k)
    address = None if rng.random() < 0.01 else _address(rng, region)
    return {
        "id_index": key,
        "id_number": mps.seal("persons", "id_number", key, pid),
        "name": mps.seal("persons", "name", key, person_name(k)),
        "birth_date": mps.seal("persons", "birth_date", key, ric.get_birth_date(pid)),
        "household_address": mps.seal("persons", "household_address", key, address),
        "updated_on": snapshot,
    }


def _address(rng: random.Random, region: str | None) -> str:
    district = SAMPLE_REGIONS.get(region or "", "") if region != "339900" else ""
    return f"临江市{district}{rng.choice(STREETS)}{rng.randint(1, 999)}号"


def _add_months(first: dt.date, n: int) -> dt.date:
    index = first.year * 12 + first.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def _month_end(first: dt.date) -> dt.date:
    return _add_months(first, 1) - dt.timedelta(days=1)
