"""Synthetic enterprise registry (企业画像样本库) for the demo city 临江市.

``generate_registry`` writes a Parquet file with one row per enterprise and one column per
field of the profile contract (``huiqi.profile.FIELDS``). The data are synthetic: the
distributions are plausible for a Chinese prefecture-level city, loosely calibrated to
published national shares, but no row describes a real enterprise. docs/registry.md
documents every assumption; the numbers live in the constants below.

Properties:

* deterministic: the same ``seed`` and ``count`` give the same rows whatever the
  ``chunk_size`` (rows are drawn in fixed blocks of ``BLOCK_ROWS``, each from its own
  random stream), and the same bytes for the same ``chunk_size`` and library versions;
* vectorised with numpy and pyarrow, and memory-bounded: at most one Parquet row group
  (``chunk_size`` rows) plus one block is held in memory;
* every ``uscc`` carries a valid GB 32100-2015 check character and is unique, every
  ``name`` is unique (both by construction, not by rejection);
* the file appears whole or not at all (written to a temporary file, then renamed).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import pathlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from huiqi.profile import FIELDS
from huiqi.profile import industry as _industry
from huiqi.profile import uscc as _uscc
from huiqi.profile.kinds import KINDS

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]

#: The registry's snapshot date: 上年 (last year) means 2025, nothing is registered later.
REFERENCE_DATE = dt.date(2026, 6, 30)
FIRST_YEAR = 1990
#: Rows drawn from one random stream. Fixed, so the data do not depend on ``chunk_size``.
BLOCK_ROWS = 1 << 16
#: The USCC organisation-code space of pre-2015 codes is 10^8 (8 digits), the limit.
MAX_COUNT = 100_000_000

#: 临江市 (fictional; the 3399 prefix is unused in GB/T 2260) and its six districts.
CITY_REGION = "339900"
DISTRICT_REGIONS = ("339901", "339902", "339903", "339904", "339905", "339906")
DISTRICT_WEIGHTS = (0.24, 0.21, 0.18, 0.15, 0.12, 0.10)
#: Share registered with the city-level authority: ordinary firms / large firms.
CITY_LEVEL_SHARE = 0.05
CITY_LEVEL_SHARE_LARGE = 0.35

#: NULL (unknown) rates drawn independently per field. The tax fields are also NULL
#: together for TAX_FEED_MISSING of the enterprises (no record in the tax feed), and
#: ``credit_rating`` is NULL for enterprises registered in the reference year (not yet
#: rated). ``uscc`` and ``name`` are never NULL.
MISSING_RATES: dict[str, float] = {
    "uscc": 0.0,
    "name": 0.0,
    "region": 0.02,
    "industry": 0.03,
    "registered_on": 0.01,
    "employees": 0.07,
    "revenue": 0.06,
    "total_assets": 0.10,
    "taxable_income": 0.12,
    "rd_expense": 0.10,
    "taxpayer_type": 0.02,
    "monthly_sales": 0.08,
    "certifications": 0.05,
    "credit_rating": 0.04,
    "entity_type": 0.01,
    "staff_on_payroll": 0.12,
}
TAX_FEED_MISSING = 0.03
#: 在职职工 / 从业人数 is at least 1 − this (the rest: 劳务派遣, contracts under a year).
STAFF_NOT_ON_PAYROLL_MAX = 0.25
TAX_FIELDS = ("revenue", "taxable_income", "rd_expense", "taxpayer_type", "monthly_sales", "credit_rating")

# ----------------------------------------------------------------------------------------
# Industry mix and per-industry economics
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SectionParams:
    weight: float  # share of enterprises, percent
    employees: float  # median 从业人数
    revenue_per_employee: float  # median yuan per employee per year
    assets_to_revenue: float  # median 资产总额 / 营业收入


#: Section shares loosely follow the enterprise legal entities of the 4th national economic
#: census (第四次全国经济普查, 2018) plus agriculture; S (public administration) and T
#: (international organisations) are not enterprises and are left out.
SECTIONS: dict[str, SectionParams] = {
    "A": SectionParams(3.5, 4, 250_000, 1.5),
    "B": SectionParams(0.3, 14, 600_000, 1.8),
    "C": SectionParams(12.0, 11, 450_000, 1.0),
    "D": SectionParams(0.7, 10, 2_000_000, 2.5),
    "E": SectionParams(6.5, 7, 400_000, 0.9),
    "F": SectionParams(28.0, 3, 600_000, 0.5),
    "G": SectionParams(3.0, 6, 400_000, 0.9),
    "H": SectionParams(3.0, 6, 150_000, 0.7),
    "I": SectionParams(6.5, 5, 300_000, 0.8),
    "J": SectionParams(1.0, 4, 800_000, 5.0),
    "K": SectionParams(3.0, 5, 1_200_000, 3.0),
    "L": SectionParams(14.0, 3, 300_000, 1.2),
    "M": SectionParams(8.0, 4, 300_000, 0.9),
    "N": SectionParams(1.2, 6, 250_000, 1.5),
    "O": SectionParams(2.5, 3, 150_000, 0.6),
    "P": SectionParams(1.0, 5, 120_000, 0.8),
    "Q": SectionParams(0.7, 8, 200_000, 1.0),
    "R": SectionParams(2.5, 3, 250_000, 1.0),
}

#: Relative weight of a 大类 within its section (default 1); 小类 are uniform within it.
DIVISION_WEIGHTS: dict[str, float] = {
    "A01": 45, "A02": 10, "A03": 25, "A04": 8, "A05": 12,
    "B06": 2, "B07": 0.3, "B08": 1, "B09": 1, "B10": 5, "B11": 1, "B12": 0.5,
    "C13": 3, "C14": 2, "C15": 1.5, "C16": 0.05, "C17": 4, "C18": 4, "C19": 2, "C20": 2,
    "C21": 3, "C22": 1.5, "C23": 2, "C24": 2, "C25": 0.3, "C26": 4, "C27": 2, "C28": 0.5,
    "C29": 5, "C30": 5, "C31": 0.5, "C32": 1, "C33": 7, "C34": 8, "C35": 6, "C36": 3,
    "C37": 1, "C38": 6, "C39": 5, "C40": 2, "C41": 1, "C42": 0.5, "C43": 1,
    "D44": 5, "D45": 2, "D46": 2,
    "E47": 30, "E48": 30, "E49": 15, "E50": 25,
    "F51": 55, "F52": 45,
    "G53": 0.2, "G54": 55, "G55": 2, "G56": 0.5, "G57": 0.1, "G58": 15, "G59": 20, "G60": 5,
    "H61": 25, "H62": 75,
    "I63": 10, "I64": 30, "I65": 60,
    "J66": 10, "J67": 35, "J68": 20, "J69": 35,
    "K70": 1,
    "L71": 10, "L72": 90,
    "M73": 20, "M74": 30, "M75": 50,
    "N76": 5, "N77": 45, "N78": 45, "N79": 5,
    "O80": 45, "O81": 35, "O82": 20,
    "P83": 1,
    "Q84": 70, "Q85": 30,
    "R86": 10, "R87": 20, "R88": 30, "R89": 20, "R90": 20,
}  # fmt: skip

#: Division overrides of the section economics: (employees, revenue per employee, assets/revenue).
DIVISION_ECONOMICS: dict[str, tuple[float, float, float]] = {
    "F51": (3, 900_000, 0.5),
    "F52": (3, 300_000, 0.5),
    "I65": (5, 280_000, 0.7),
    "L71": (3, 500_000, 2.5),
    "M73": (6, 250_000, 1.0),
    "G59": (6, 400_000, 1.5),
}

#: Technology intensity per 大类 (0..1): drives R&D and the certifications. Default 0.02
#: (0.2 in manufacturing).
TECH_INTENSITY: dict[str, float] = {
    "I63": 0.5, "I64": 0.6, "I65": 1.0,
    "M73": 1.0, "M74": 0.5, "M75": 0.8,
    "C26": 0.6, "C27": 0.9, "C29": 0.35, "C30": 0.3, "C31": 0.3, "C32": 0.3, "C33": 0.35,
    "C34": 0.6, "C35": 0.7, "C36": 0.6, "C37": 0.6, "C38": 0.7, "C39": 1.0, "C40": 0.9,
    "D44": 0.2, "N77": 0.4, "Q84": 0.1, "R86": 0.1, "R87": 0.15,
}  # fmt: skip

# ----------------------------------------------------------------------------------------
# Names
# ----------------------------------------------------------------------------------------

NAME_PREFIX = "临江市"
#: 字号 characters: a 2-character 字号 is FIRST + SECOND; longer ones put LEAD characters in
#: front. LEAD shares no character with FIRST, which makes every 字号 — and so every name
#: (fixed prefix + 字号 + …) — distinct for distinct sequence numbers.
ZIHAO_FIRST = (
    "华瑞鑫源达恒泰盛兴宏信通德丰汇昌隆祥和安康佳美嘉诚远博创新天锦明光辉腾飞龙海江山峰林森"
    "润泽浩宇星辰阳晨旭东方众合联立智慧思维卓越优品尚雅致志坤乾益利福乐富荣耀启弘毅铭凯捷迅"
    "聚融拓展骏驰胜晟鼎晶睿哲欣悦怡宁清澜涛蓝青虹云霖霞永长久鸿庆瀚淼蓉桂兰梅竹松柏川岳晋豪"
    "春秋夏振奥凌锐瑾琳珂璐翠蔚茂莱菲蕾薇溢涌湘沁沐洲湾"
)
ZIHAO_SECOND = (
    "瑞鑫源达恒泰盛兴宏信通德丰汇昌隆祥和安康佳美嘉诚远航博创新科中天金银锦绣明光辉腾飞龙凤"
    "海江川山峰林森润泽浩瀚宇星辰阳晨旭东方南北众合联立智慧思维卓越优品尚雅致志坤乾益利福禄"
    "喜乐富贵荣耀启弘毅力铭凯捷迅聚融拓展骏驰胜晟鼎晶琪璟睿哲欣悦怡宁静清澜涛波蓝绿青红紫彩"
    "兰梅竹松柏岳晋豪鸿庆蓉桂淼永长久霞云虹霖春秋振奥锐"
)
ZIHAO_LEAD = (
    "一三五九中大正元本同国世宝金银亚欧环宇万千百亿佰仟新金玉铂钰璞琦琨炜烨焱煜熠灿烁"
    "朗昊旻昕晔皓曜翔翊羽逸轩宸宏勤敏俊杰英豪雄伟顺畅达畅博广纳恒远"
    "西北南红紫彩绿诺赛威斯特克尔迪普奇拉卡伦索尼"
)
#: Industry words of the name (行业表述), by 大类, falling back to the section.
SECTION_PHRASES: dict[str, tuple[str, ...]] = {
    "A": ("农业开发", "生态农业", "农业科技", "农业发展"),
    "B": ("矿业", "矿产品开发"),
    "C": ("实业", "制造", "工贸"),
    "D": ("能源", "电力"),
    "E": ("建设工程", "建筑工程", "工程"),
    "F": ("贸易", "商贸"),
    "G": ("物流", "运输"),
    "H": ("餐饮管理", "酒店管理"),
    "I": ("信息技术", "网络科技"),
    "J": ("投资", "金融服务"),
    "K": ("房地产开发", "置业"),
    "L": ("企业管理咨询", "商务咨询"),
    "M": ("科技", "技术服务"),
    "N": ("环保科技", "环境工程"),
    "O": ("家政服务", "生活服务"),
    "P": ("教育咨询", "培训"),
    "Q": ("医疗管理", "健康管理"),
    "R": ("文化传媒", "文化发展"),
}
DIVISION_PHRASES: dict[str, tuple[str, ...]] = {
    "A01": ("农业开发", "种植", "果蔬", "茶业", "农业科技"),
    "A02": ("林业", "苗木", "园林"),
    "A03": ("畜牧", "养殖", "牧业"),
    "A04": ("水产", "渔业"),
    "A05": ("农业服务", "农机服务"),
    "C13": ("食品", "粮油", "农产品加工"),
    "C14": ("食品", "食品科技"),
    "C15": ("酒业", "饮品", "茶业"),
    "C16": ("卷烟",),
    "C17": ("纺织",),
    "C18": ("服饰", "制衣"),
    "C19": ("鞋业", "皮革制品"),
    "C20": ("木业", "竹木制品"),
    "C21": ("家具",),
    "C22": ("纸业", "包装"),
    "C23": ("印务", "印刷"),
    "C24": ("文体用品", "工艺品", "玩具"),
    "C25": ("石化", "燃料"),
    "C26": ("化工", "新材料"),
    "C27": ("药业", "生物医药", "制药"),
    "C28": ("化纤",),
    "C29": ("塑业", "橡塑制品", "塑料制品"),
    "C30": ("建材", "新型建材", "玻璃制品"),
    "C31": ("钢铁", "特钢"),
    "C32": ("有色金属", "铝业", "铜业"),
    "C33": ("金属制品", "五金"),
    "C34": ("机械", "机械制造", "泵业", "阀门"),
    "C35": ("机械设备", "智能装备", "医疗器械"),
    "C36": ("汽车零部件", "汽车部件"),
    "C37": ("船舶", "交通设备"),
    "C38": ("电气", "电器", "电机", "新能源科技"),
    "C39": ("电子", "电子科技", "光电", "智能科技"),
    "C40": ("仪器仪表", "仪表"),
    "C41": ("实业", "制品"),
    "C42": ("再生资源", "资源回收利用"),
    "C43": ("设备维修", "机电维修"),
    "D44": ("电力", "热力", "新能源"),
    "D45": ("燃气",),
    "D46": ("水务", "供水"),
    "E47": ("建设", "建筑工程"),
    "E48": ("市政工程", "路桥工程", "水利工程"),
    "E49": ("安装工程", "机电安装"),
    "E50": ("装饰工程", "建筑装饰", "装饰设计工程"),
    "F51": ("贸易", "商贸", "供应链管理", "进出口"),
    "F52": ("商贸", "百货", "超市", "商业"),
    "G53": ("铁路运输",),
    "G54": ("运输", "物流", "客运", "货运"),
    "G55": ("航运", "船务"),
    "G56": ("航空服务",),
    "G57": ("管道运输",),
    "G58": ("货运代理", "国际物流", "供应链"),
    "G59": ("仓储", "物流", "仓储服务"),
    "G60": ("快递", "速递"),
    "H61": ("酒店管理", "宾馆", "酒店"),
    "H62": ("餐饮管理", "餐饮", "食品"),
    "I63": ("通信技术", "通信工程"),
    "I64": ("网络科技", "互联网科技", "网络技术"),
    "I65": ("信息技术", "软件", "数据科技", "智能科技"),
    "J66": ("小额贷款",),
    "J67": ("投资管理", "资产管理"),
    "J68": ("保险代理", "保险经纪"),
    "J69": ("融资租赁", "投资", "金融信息服务"),
    "K70": ("房地产开发", "置业", "物业管理", "房产经纪"),
    "L71": ("租赁", "设备租赁", "汽车租赁"),
    "L72": ("企业管理", "商务咨询", "广告", "人力资源", "会展服务", "企业管理咨询", "品牌管理"),
    "M73": ("生物科技", "科技", "研究院"),
    "M74": ("检测技术", "工程设计", "规划设计", "工程咨询", "技术服务"),
    "M75": ("科技", "技术服务", "科技发展", "信息科技"),
    "N76": ("水利工程管理",),
    "N77": ("环保科技", "环境工程", "生态环境"),
    "N78": ("园林绿化", "市政设施管理", "旅游开发"),
    "N79": ("土地整理",),
    "O80": ("家政服务", "洗涤服务", "美容", "摄影"),
    "O81": ("汽车维修", "电器维修"),
    "O82": ("清洁服务", "生活服务"),
    "P83": ("教育科技", "培训", "教育咨询"),
    "Q84": ("医疗管理", "健康管理", "医疗"),
    "Q85": ("养老服务", "康养"),
    "R86": ("文化传播", "出版"),
    "R87": ("影视传媒", "影视文化"),
    "R88": ("文化艺术", "文化传媒"),
    "R89": ("体育发展", "健身"),
    "R90": ("娱乐", "文化娱乐", "游乐"),
}
#: 农民专业合作社 (USCC 93…) names: 字号 + one of these, by 大类.
COOP_PHRASES: dict[str, tuple[str, ...]] = {
    "A01": ("蔬菜种植专业合作社", "水果种植专业合作社", "粮食种植专业合作社", "茶叶专业合作社"),
    "A02": ("苗木专业合作社", "林业专业合作社"),
    "A03": ("生猪养殖专业合作社", "家禽养殖专业合作社", "畜牧专业合作社"),
    "A04": ("水产养殖专业合作社",),
    "A05": ("农机专业合作社", "植保专业合作社"),
}
COLLECTIVE_SUFFIX = "村股份经济合作社"
#: 组织形式 of companies: 有限公司 / 有限责任公司 / 股份有限公司 (more likely when large).
COMPANY_FORMS = ("有限公司", "有限责任公司", "股份有限公司")
COMPANY_FORM_WEIGHTS = (0.81, 0.17, 0.02)

#: Entity kinds (USCC characters 1–2): 91 企业, 93 农民专业合作社 (agriculture only),
#: N2 村级集体经济组织 (agriculture only). Shares within section A:
COOP_SHARE_OF_A = 0.35
COLLECTIVE_SHARE_OF_A = 0.05

# ----------------------------------------------------------------------------------------
# Other behaviour
# ----------------------------------------------------------------------------------------

#: Registration year weights grow by this rate per year (enterprise stock is young).
REGISTRATION_GROWTH = 0.12
#: 2015-10-01: new registrations get USCCs whose organisation code starts with "MA".
MA_CODES_FROM = dt.date(2015, 10, 1)
#: Enterprises registered at least a year ago with no business (零申报): no revenue.
DORMANT_SHARE = 0.10
LATENT_SIGMA = 1.2  # std of the latent size in log employees
LATENT_DF = 5  # Student-t degrees of freedom of the latent size: a fatter tail of large firms
LATENT_MAX = 5.5
TAXPAYER_GENERAL_THRESHOLD = 5_000_000  # 年应税销售额 500 万元
MAX_MONEY = 500_000_000_000  # cap of any amount (5000 亿元), far below decimal(18,2)
MAX_EMPLOYEES = 200_000

CERTIFICATIONS = ("high_tech", "little_giant", "specialized_new", "tech_sme")  # sorted, as Profile does

_STREAM_GLOBAL = 0
_STREAM_ROWS = 1


# ----------------------------------------------------------------------------------------
# Schema
# ----------------------------------------------------------------------------------------

MONEY = KINDS["money"].arrow(pa)


def arrow_schema(metadata: dict[str, str] | None = None) -> pa.Schema:
    """The Parquet schema: one column per profile field, in ``FIELDS`` order."""
    schema = pa.schema([pa.field(f.name, f.kind_spec.arrow(pa), nullable=True) for f in FIELDS.values()])
    return schema.with_metadata(metadata) if metadata else schema


# ----------------------------------------------------------------------------------------
# Reference tables (built once)
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Tables:
    codes: Any  # pa.StringArray of 4-digit 小类 codes
    cdf: F64
    section: npt.NDArray[np.int64]  # index into SECTION_LETTERS
    division: Any  # pa.StringArray of 大类 codes
    is_agri: Bool
    emp_mu: F64  # log median employees
    log_rpe: F64
    log_ar: F64
    tech: F64
    general_bias: F64  # extra propensity to register as a general VAT taxpayer
    manufacturing: Bool
    phrase_off: I64
    phrase_cnt: I64
    phrases: Any
    coop_off: I64
    coop_cnt: I64
    coop_phrases: Any
    year_cdf: F64
    year_start: I64  # days since 1970-01-01
    year_len: I64
    zihao_first: Any
    zihao_second: Any
    zihao_lead: Any  # with "" appended as the last entry
    forms: Any
    uscc_ascii: npt.NDArray[np.uint8]
    org_values: I64  # GB 11714 value of each USCC alphabet character


SECTION_LETTERS = "".join(SECTIONS)


def _unique_chars(text: str) -> str:
    return "".join(dict.fromkeys(text))


@cache
def _tables() -> _Tables:
    inds = _industry.industries()
    codes = sorted(c for c, i in inds.items() if i.level == 4 and c[0] in SECTIONS)
    div_count: dict[str, int] = {}
    for c in codes:
        div_count[c[:3]] = div_count.get(c[:3], 0) + 1
    sec_div_weight: dict[str, float] = {}
    for d in div_count:
        sec_div_weight[d[0]] = sec_div_weight.get(d[0], 0.0) + DIVISION_WEIGHTS.get(d, 1.0)
    weights = np.array(
        [
            SECTIONS[c[0]].weight * DIVISION_WEIGHTS.get(c[:3], 1.0) / sec_div_weight[c[0]] / div_count[c[:3]]
            for c in codes
        ]
    )
    cdf = np.cumsum(weights / weights.sum())
    cdf[-1] = 1.0

    def econ(c: str) -> tuple[float, float, float]:
        s = SECTIONS[c[0]]
        return DIVISION_ECONOMICS.get(c[:3], (s.employees, s.revenue_per_employee, s.assets_to_revenue))

    ec = np.array([econ(c) for c in codes], dtype=np.float64)
    tech = np.array([TECH_INTENSITY.get(c[:3], 0.2 if c[0] == "C" else 0.02) for c in codes], dtype=np.float64)
    general_bias = np.array([0.12 if c[0] in "CE" or c[:3] == "F51" else 0.0 for c in codes], dtype=np.float64)

    phrase_list: list[str] = []
    off: list[int] = []
    cnt: list[int] = []
    index: dict[tuple[str, ...], int] = {}
    for c in codes:
        ph = DIVISION_PHRASES.get(c[:3], SECTION_PHRASES[c[0]])
        if ph not in index:
            index[ph] = len(phrase_list)
            phrase_list.extend(ph)
        off.append(index[ph])
        cnt.append(len(ph))
    coop_list: list[str] = []
    coop_off: list[int] = []
    coop_cnt: list[int] = []
    coop_index: dict[tuple[str, ...], int] = {}
    for c in codes:
        ph = COOP_PHRASES.get(c[:3], ("专业合作社",))
        if ph not in coop_index:
            coop_index[ph] = len(coop_list)
            coop_list.extend(ph)
        coop_off.append(coop_index[ph])
        coop_cnt.append(len(ph))

    years = np.arange(FIRST_YEAR, REFERENCE_DATE.year + 1)
    epoch = dt.date(1970, 1, 1)
    start = np.array([(dt.date(int(y), 1, 1) - epoch).days for y in years], dtype=np.int64)
    end = np.array(
        [
            (min(dt.date(int(y), 12, 31), REFERENCE_DATE) - epoch).days + 1  # exclusive
            for y in years
        ],
        dtype=np.int64,
    )
    length = end - start
    yw = np.exp(REGISTRATION_GROWTH * (years - REFERENCE_DATE.year)) * length / 365.0
    year_cdf = np.cumsum(yw / yw.sum())
    year_cdf[-1] = 1.0

    first = _unique_chars(ZIHAO_FIRST)
    second = _unique_chars(ZIHAO_SECOND)
    lead = "".join(ch for ch in _unique_chars(ZIHAO_LEAD) if ch not in first)
    z2 = len(first) * len(second)
    if z2 * (1 + len(lead) + len(lead) ** 2) < MAX_COUNT:  # pragma: no cover - a constants error
        raise AssertionError("字号 character pools too small for MAX_COUNT unique names")
    alphabet = _uscc.ALPHABET
    return _Tables(
        codes=pa.array(codes, pa.string()),
        cdf=cdf,
        section=np.array([SECTION_LETTERS.index(c[0]) for c in codes], dtype=np.int64),
        division=pa.array([c[:3] for c in codes], pa.string()),
        is_agri=np.array([c[0] == "A" for c in codes]),
        emp_mu=np.log(ec[:, 0]),
        log_rpe=np.log(ec[:, 1]),
        log_ar=np.log(ec[:, 2]),
        tech=tech,
        general_bias=general_bias,
        manufacturing=np.array([c[0] == "C" for c in codes]),
        phrase_off=np.array(off, dtype=np.int64),
        phrase_cnt=np.array(cnt, dtype=np.int64),
        phrases=pa.array(phrase_list, pa.string()),
        coop_off=np.array(coop_off, dtype=np.int64),
        coop_cnt=np.array(coop_cnt, dtype=np.int64),
        coop_phrases=pa.array(coop_list, pa.string()),
        year_cdf=year_cdf,
        year_start=start,
        year_len=length,
        zihao_first=pa.array(list(first), pa.string()),
        zihao_second=pa.array(list(second), pa.string()),
        zihao_lead=pa.array([*lead, ""], pa.string()),
        forms=pa.array(list(COMPANY_FORMS), pa.string()),
        uscc_ascii=np.frombuffer(alphabet.encode("ascii"), dtype=np.uint8),
        org_values=np.array([int(ch, 36) for ch in alphabet], dtype=np.int64),
    )


# ----------------------------------------------------------------------------------------
# Global, count-dependent parameters: bijections row number → unique code / name number
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Affine:
    """x ↦ (a·x + b) mod m, a bijection on [0, m) because gcd(a, m) = 1."""

    a: int
    b: int
    m: int

    def __call__(self, x: I64) -> I64:
        return (x * self.a + self.b) % self.m

    @staticmethod
    def draw(rng: np.random.Generator, m: int) -> _Affine:
        if m <= 2:
            return _Affine(1, 0, max(m, 1))
        while True:  # about half of all candidates are coprime to m: few draws
            a = int(rng.integers(m // 3 + 1, m))
            if math.gcd(a, m) == 1:
                return _Affine(a, int(rng.integers(0, m)), m)


@dataclass(frozen=True, slots=True)
class _Global:
    old_code: _Affine  # pre-2015 organisation codes: 8 digits
    ma_code: _Affine  # "MA" + 6 characters of the USCC alphabet
    name: _Affine  # 字号 sequence number


def _global(seed: int, count: int) -> _Global:
    rng = np.random.default_rng([seed, _STREAM_GLOBAL])
    return _Global(
        old_code=_Affine.draw(rng, 10**8),
        ma_code=_Affine.draw(rng, 31**6),
        name=_Affine.draw(rng, count),
    )


# ----------------------------------------------------------------------------------------
# Vectorised helpers
# ----------------------------------------------------------------------------------------


def _pick(rng: np.random.Generator, off: I64, cnt: I64) -> I64:
    """A uniform index into off[i] .. off[i] + cnt[i] - 1, per row."""
    return off + np.minimum((rng.random(off.shape[0]) * cnt).astype(np.int64), cnt - 1)


def _digits(x: I64, base: int, width: int) -> I64:
    """Most-significant-first base-``base`` digits of x, shape (n, width)."""
    powers = base ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (x[:, None] // powers[None, :]) % base


def _ascii_strings(codes: npt.NDArray[np.uint8]) -> pa.Array:
    """Equal-length ASCII strings from an (n, w) uint8 matrix, without a Python loop."""
    n, w = codes.shape
    offsets = np.arange(0, (n + 1) * w, w, dtype=np.int32)
    data = np.ascontiguousarray(codes).tobytes()
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data))


#: GB 32100-2015 weights 3^(i-1) mod 31 and GB 11714-1997 weights.
_USCC_WEIGHTS = np.array([pow(3, i, 31) for i in range(17)], dtype=np.int64)
_ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)


def uscc_check_indices(first17: I64) -> I64:
    """GB 32100-2015 check characters, vectorised.

    ``first17`` is an (n, 17) matrix of indices into ``huiqi.profile.uscc.ALPHABET``; the
    result is the index of the 18th character (the same as ``uscc.check_character``).
    """
    return (-(first17 @ _USCC_WEIGHTS)) % 31


def _uscc_codes(t: _Tables, g: _Global, row: I64, kind: I64, region_idx: I64, ma: Bool) -> pa.Array:
    n = row.shape[0]
    alpha = _uscc.ALPHABET
    m = np.empty((n, 17), dtype=np.int64)
    # 1–2: registration authority and entity type: 91, 93 or N2
    m[:, 0] = np.where(kind == 2, alpha.index("N"), 9)
    m[:, 1] = np.choose(kind, [1, 3, 2])
    # 3–8: region code (the registering authority's)
    regions = np.array([int(CITY_REGION), *(int(r) for r in DISTRICT_REGIONS)], dtype=np.int64)
    m[:, 2:8] = _digits(regions[region_idx], 10, 6)
    # 9–16: organisation code body, 17: its GB 11714 check character
    body = np.empty((n, 8), dtype=np.int64)
    body[:] = _digits(g.old_code(row), 10, 8)
    if ma.any():
        ma_body = np.empty((int(ma.sum()), 8), dtype=np.int64)
        ma_body[:, 0] = alpha.index("M")
        ma_body[:, 1] = alpha.index("A")
        ma_body[:, 2:] = _digits(g.ma_code(row[ma]), 31, 6)
        body[ma] = ma_body
    org = (11 - (t.org_values[body] @ _ORG_WEIGHTS) % 11) % 11  # 0..10, 10 = "X"
    m[:, 8:16] = body
    m[:, 16] = np.where(org == 10, alpha.index("X"), org)
    check = uscc_check_indices(m)
    full = np.concatenate([m, check[:, None]], axis=1)
    return _ascii_strings(t.uscc_ascii[full])


def _money(values: F64, null: Bool) -> pa.Array:
    """decimal128(18, 2) from float yuan, rounded to the fen; no Python loop."""
    cents = np.round(np.clip(values, 0, MAX_MONEY) * 100).astype(np.int64)
    n = cents.shape[0]
    data = np.zeros((n, 2), dtype=np.int64)  # little-endian 128-bit: low word, high word (≥ 0)
    data[:, 0] = cents
    data[null] = 0
    validity = pa.py_buffer(np.packbits(~null, bitorder="little").tobytes())
    return pa.Array.from_buffers(MONEY, n, [validity, pa.py_buffer(data.tobytes())], null_count=int(null.sum()))


def _strings(pool: pa.Array, idx: I64, null: Bool | None = None) -> pa.Array:
    out = pool.take(pa.array(idx))
    if null is not None and null.any():
        out = pc.if_else(pa.array(null), pa.scalar(None, pa.string()), out)
    return out


# ----------------------------------------------------------------------------------------
# One block of rows
# ----------------------------------------------------------------------------------------


class _Draw:
    """The block's random stream. Every step below draws from it in a fixed order: the
    steps must run in the order ``_block`` calls them, or the same seed gives other rows."""

    def __init__(self, seed: int, block: int, n: int):
        self.rng = np.random.default_rng([seed, _STREAM_ROWS, block])
        self.n = n

    def uniform(self) -> F64:
        return self.rng.random(self.n)

    def normal(self) -> F64:
        return self.rng.standard_normal(self.n)

    def chance(self, p: float | F64) -> Bool:
        return self.rng.random(self.n) < p


@dataclass(frozen=True, slots=True)
class _Registration:
    day: I64  # days since 1970-01-01
    year: I64
    age: F64  # years at the reference date
    operated: F64  # share of last year the enterprise existed (上年营业收入 covers last year only)
    ma: Bool  # registered after 2015-10: an "MA" organisation code


@dataclass(frozen=True, slots=True)
class _Economics:
    z: F64  # latent size, unit variance
    dormant: Bool
    employees: I64
    rev_potential: F64
    revenue: F64
    assets: F64
    taxable: F64
    has_rd: Bool
    rd: F64
    rd_ratio: F64
    monthly: F64


def _industry_and_kind(d: _Draw, t: _Tables) -> tuple[I64, I64]:
    """Industry (index into ``t.codes``) and entity kind (0: 91 company, 1: 93 coop, 2: N2 collective)."""
    ind = np.minimum(np.searchsorted(t.cdf, d.uniform(), side="right"), t.cdf.shape[0] - 1)
    agri = t.is_agri[ind]
    u_kind = d.uniform()
    kind = np.zeros(d.n, dtype=np.int64)
    kind[agri & (u_kind < COOP_SHARE_OF_A)] = 1
    kind[agri & (u_kind >= 1 - COLLECTIVE_SHARE_OF_A)] = 2
    return ind, kind


def _registration(d: _Draw, t: _Tables) -> _Registration:
    yi = np.minimum(np.searchsorted(t.year_cdf, d.uniform(), side="right"), t.year_cdf.shape[0] - 1)
    day = t.year_start[yi] + (d.uniform() * t.year_len[yi]).astype(np.int64)
    ref_day = (REFERENCE_DATE - dt.date(1970, 1, 1)).days
    start_of_ref_year = int(t.year_start[-1])
    return _Registration(
        day=day,
        year=FIRST_YEAR + yi,
        age=(ref_day - day) / 365.25,
        operated=np.clip((start_of_ref_year - day) / 365.0, 0.0, 1.0),
        ma=day >= (MA_CODES_FROM - dt.date(1970, 1, 1)).days,
    )


def _economics(d: _Draw, t: _Tables, ind: I64, company: Bool, reg: _Registration) -> _Economics:
    """Latent size, then employees, revenue, assets, profit, R&D and monthly sales."""
    n, rng = d.n, d.rng
    # unit variance, fat upper tail, clipped so that no city firm is absurdly large
    z = np.clip(rng.standard_t(LATENT_DF, n) * math.sqrt((LATENT_DF - 2) / LATENT_DF), -4.0, LATENT_MAX)
    log_emp = t.emp_mu[ind] + LATENT_SIGMA * z + 0.3 * (np.log1p(reg.age) - math.log1p(8.0)) + 0.35 * d.normal()
    log_emp = np.where(company, log_emp, log_emp - 0.7)  # coops, collectives: few staff
    emp_cont = np.exp(log_emp)
    dormant = d.chance(DORMANT_SHARE) & (reg.year < REFERENCE_DATE.year - 1)
    employees = np.clip(np.floor(emp_cont + 0.5), 1, MAX_EMPLOYEES).astype(np.int64)
    employees = np.where(dormant, rng.integers(0, 2, n), employees)

    rev_potential = np.exp(np.log(emp_cont) + t.log_rpe[ind] + 0.15 * z + 0.75 * d.normal())
    rev_potential = np.clip(rev_potential, 1_000.0, MAX_MONEY)
    revenue = np.where(dormant, 0.0, rev_potential * reg.operated)
    assets = np.exp(np.log(rev_potential) + t.log_ar[ind] + 0.6 * d.normal())
    shell_assets = np.exp(math.log(50_000) + d.normal())
    assets = np.where(dormant, shell_assets, assets)

    loss = d.chance(np.clip(0.32 - 0.06 * z, 0.05, 0.7))
    margin = np.minimum(np.exp(math.log(0.06) + 0.7 * d.normal()), 0.6)
    taxable = np.where(loss, 0.0, revenue * margin)

    tech = t.tech[ind]
    has_rd = d.chance(tech * np.clip(0.45 + 0.2 * z, 0.05, 0.95)) & (revenue > 0) & company
    rd_ratio = np.minimum(np.exp(np.log(0.015 + 0.05 * tech) + 0.7 * d.normal()), 0.6)
    monthly = np.where(dormant, 0.0, rev_potential / 12 * np.exp(0.3 * d.normal()))
    return _Economics(
        z=z,
        dormant=dormant,
        employees=employees,
        rev_potential=rev_potential,
        revenue=revenue,
        assets=assets,
        taxable=taxable,
        has_rd=has_rd,
        rd=np.where(has_rd, revenue * rd_ratio, 0.0),
        rd_ratio=np.where(has_rd, rd_ratio, 0.0),
        monthly=monthly,
    )


def _general_taxpayer(d: _Draw, t: _Tables, ind: I64, company: Bool, reg: _Registration, e: _Economics) -> Bool:
    annual_sales = np.maximum(e.revenue, e.rev_potential * (reg.year >= REFERENCE_DATE.year))
    p_general = np.where(
        annual_sales > TAXPAYER_GENERAL_THRESHOLD,
        0.97,
        0.06 + t.general_bias[ind] + 0.2 * (annual_sales > 2_000_000),
    )
    p_general = np.where(e.dormant, 0.05, p_general)
    p_general = np.where(company, p_general, 0.02)
    return d.chance(p_general)


def _certifications(d: _Draw, t: _Tables, ind: I64, reg: _Registration, e: _Economics) -> Bool:
    """An (n, 4) matrix, columns in ``CERTIFICATIONS`` order."""
    tech = t.tech[ind]
    # 高新技术企业: R&D ≥ 5% / 4% / 3% of revenue (≤ 5000万, ≤ 2亿, above), ≥ 1 year old
    ht_min_ratio = np.where(e.revenue <= 5e7, 0.05, np.where(e.revenue <= 2e8, 0.04, 0.03))
    ht_ok = e.has_rd & (e.rd_ratio >= ht_min_ratio) & (reg.age >= 1) & (e.employees >= 5) & (tech >= 0.3)
    high_tech = ht_ok & d.chance(np.clip(0.45 + 0.1 * e.z, 0.1, 0.9))
    # 科技型中小企业: ≤ 500 staff, revenue and assets ≤ 2 亿, doing R&D
    sme = (e.employees <= 500) & (e.revenue <= 2e8) & (e.assets <= 2e8)
    tsme_ok = sme & e.has_rd & (e.rd_ratio >= 0.03) & (tech >= 0.3)
    tech_sme = tsme_ok & d.chance(np.where(high_tech, 0.6, 0.25))
    # 专精特新中小企业: ≥ 2 years, revenue ≥ 1000万, R&D ≥ 3%, mostly manufacturing
    sn_ok = (e.employees < 1000) & (e.revenue >= 1e7) & (e.revenue <= 4e8) & (e.rd_ratio >= 0.03) & (reg.age >= 2)
    specialized = sn_ok & d.chance(np.where(t.manufacturing[ind], 0.3, 0.06) * (1 + high_tech))
    # 专精特新"小巨人": a specialized_new enterprise with revenue ≥ 5000 万 (1 亿 or financing)
    little_giant = specialized & (e.revenue >= 5e7) & (reg.age >= 3) & d.chance(0.4)
    certs: Bool = np.stack([high_tech, little_giant, specialized, tech_sme], axis=1)
    return certs


def _credit_rating(d: _Draw, reg: _Registration, e: _Economics) -> tuple[I64, Bool]:
    """Index into "ABMCD", and whether the enterprise is too new to be rated."""
    score = 0.45 * e.z + 0.25 * np.log1p(reg.age) + d.normal() - 0.5
    rating = np.select([score > 1.15, score > -1.6, score > -2.0], [0, 1, 3], default=4)  # 0 A, 1 B, 2 M, 3 C, 4 D
    rating = np.where(reg.year == REFERENCE_DATE.year - 1, 2, rating)  # 新设立: M
    u_dorm = d.uniform()
    rating = np.where(e.dormant, np.select([u_dorm < 0.6, u_dorm < 0.75, u_dorm < 0.9], [2, 1, 3], 4), rating)
    return rating, reg.year >= REFERENCE_DATE.year


def _staff_on_payroll(d: _Draw, e: _Economics) -> I64:
    """在职职工 (残保金): 从业人数 without the dispatched workers and contracts under a year.
    A share of 75–100 %, most enterprises near 100 % (1 − 0.25 u², u uniform)."""
    share = 1.0 - STAFF_NOT_ON_PAYROLL_MAX * d.uniform() ** 2
    staff: I64 = np.minimum(np.floor(e.employees * share + 0.5), e.employees).astype(np.int64)
    return staff


def _region(d: _Draw, z: F64) -> I64:
    """0: the city-level authority, 1…: a district (index into DISTRICT_REGIONS + 1)."""
    p_city = np.where(z > 1.8, CITY_LEVEL_SHARE_LARGE, CITY_LEVEL_SHARE)
    district = np.searchsorted(np.cumsum(DISTRICT_WEIGHTS) / sum(DISTRICT_WEIGHTS), d.uniform(), side="right")
    region: I64 = np.where(d.chance(p_city), 0, 1 + np.minimum(district, len(DISTRICT_REGIONS) - 1))
    return region


def _names(d: _Draw, t: _Tables, g: _Global, row: I64, ind: I64, kind: I64, z: F64) -> pa.Array:
    """临江市 + a unique 字号 (the row's number through a bijection) + an industry phrase + a form."""
    k = g.name(row)
    nf = len(t.zihao_first)
    ns = len(t.zihao_second)
    nl = len(t.zihao_lead) - 1  # last entry is ""
    z2 = nf * ns
    rest = k - z2
    three = (rest >= 0) & (rest < z2 * nl)
    four = rest >= z2 * nl
    rest4 = rest - z2 * nl
    base = np.where(four, rest4 % (z2 * nl), np.where(three, rest, k))
    pair = base % z2
    lead1 = np.where(four | three, base // z2, nl)
    lead0 = np.where(four, rest4 // (z2 * nl), nl)  # capacity z2·(1 + nl + nl²) ≥ MAX_COUNT
    form_idx = np.searchsorted(np.cumsum(COMPANY_FORM_WEIGHTS), d.uniform(), side="right")
    form_idx = np.where(z > 2.3, np.where(d.chance(0.3), 2, form_idx), form_idx)
    form_idx = np.minimum(form_idx, len(COMPANY_FORMS) - 1)
    company_tail = pc.binary_join_element_wise(
        _strings(t.phrases, _pick(d.rng, t.phrase_off[ind], t.phrase_cnt[ind])),
        _strings(t.forms, form_idx),
        "",
    )
    coop_tail = _strings(t.coop_phrases, _pick(d.rng, t.coop_off[ind], t.coop_cnt[ind]))
    tail = pc.if_else(
        pa.array(kind == 0),
        company_tail,
        pc.if_else(pa.array(kind == 1), coop_tail, pa.scalar(COLLECTIVE_SUFFIX)),
    )
    return pc.binary_join_element_wise(
        pa.scalar(NAME_PREFIX),
        _strings(t.zihao_lead, lead0),
        _strings(t.zihao_lead, lead1),
        _strings(t.zihao_first, pair % nf),
        _strings(t.zihao_second, pair // nf),
        tail,
        "",
    )


def _nulls(d: _Draw, unrated: Bool) -> dict[str, Bool]:
    """Which facts are unknown, per field (MISSING_RATES, the tax-feed gap, not yet rated)."""
    tax_gap = d.chance(TAX_FEED_MISSING)
    null = {f: d.chance(r) if r > 0 else np.zeros(d.n, dtype=np.bool_) for f, r in MISSING_RATES.items()}
    for f in TAX_FIELDS:
        null[f] |= tax_gap
    null["credit_rating"] |= unrated
    return null


def _certification_lists(certs: Bool, null: Bool) -> pa.Array:
    """list<string> per row from the (n, 4) matrix, NULL where the fact is unknown."""
    certs = certs.copy()
    certs[null] = False
    offsets = np.zeros(certs.shape[0] + 1, dtype=np.int32)
    np.cumsum(certs.sum(axis=1), out=offsets[1:])
    flat = np.nonzero(certs.ravel())[0] % len(CERTIFICATIONS)
    values = pa.array(list(CERTIFICATIONS), pa.string()).take(pa.array(flat, pa.int64()))
    return pa.ListArray.from_arrays(pa.array(offsets), values, mask=pa.array(null))


def _block(seed: int, block: int, start: int, n: int, g: _Global) -> pa.RecordBatch:
    """Rows ``start … start + n - 1``, drawn from block ``block``'s own random stream."""
    t = _tables()
    d = _Draw(seed, block, n)
    row = np.arange(start, start + n, dtype=np.int64)
    ind, kind = _industry_and_kind(d, t)
    company = kind == 0
    reg = _registration(d, t)
    e = _economics(d, t, ind, company, reg)
    general = _general_taxpayer(d, t, ind, company, reg, e)
    certs = _certifications(d, t, ind, reg, e)
    rating, unrated = _credit_rating(d, reg, e)
    region_idx = _region(d, e.z)
    name = _names(d, t, g, row, ind, kind, e.z)
    uscc = _uscc_codes(t, g, row, kind, region_idx, reg.ma)
    null = _nulls(d, unrated)
    staff = _staff_on_payroll(d, e)  # drawn last: the other fields stay as they were

    regions = pa.array([CITY_REGION, *DISTRICT_REGIONS], pa.string())
    columns: dict[str, pa.Array] = {
        "uscc": uscc,
        "name": name,
        "region": _strings(regions, region_idx, null["region"]),
        "industry": _strings(t.codes, ind, null["industry"]),
        "registered_on": pa.array(reg.day.astype(np.int32), pa.int32(), mask=null["registered_on"]).cast(pa.date32()),
        "employees": pa.array(e.employees, pa.int64(), mask=null["employees"]),
        "revenue": _money(e.revenue, null["revenue"]),
        "total_assets": _money(e.assets, null["total_assets"]),
        "taxable_income": _money(e.taxable, null["taxable_income"]),
        "rd_expense": _money(e.rd, null["rd_expense"]),
        "taxpayer_type": _strings(
            pa.array(["small_scale", "general"], pa.string()), general.astype(np.int64), null["taxpayer_type"]
        ),
        "monthly_sales": _money(e.monthly, null["monthly_sales"]),
        "certifications": _certification_lists(certs, null["certifications"]),
        "credit_rating": _strings(pa.array(list("ABMCD"), pa.string()), rating, null["credit_rating"]),
        # Every row is a legal entity (USCC 91, 93, N2): 个体工商户 (92) are not in this registry.
        "entity_type": _strings(pa.array(["enterprise"], pa.string()), np.zeros(n, np.int64), null["entity_type"]),
        "staff_on_payroll": pa.array(staff, pa.int64(), mask=null["staff_on_payroll"]),
    }
    schema = arrow_schema()
    arrays = [
        columns[f.name] if f.name in columns else pa.nulls(n, f.type) for f in schema
    ]  # fields added to the contract later stay NULL (unknown) until generated
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


# ----------------------------------------------------------------------------------------
# Public entry point
# ----------------------------------------------------------------------------------------


def iter_batches(count: int, seed: int) -> Iterator[pa.RecordBatch]:
    """Yield the registry as record batches of at most ``BLOCK_ROWS`` rows, in order."""
    _check(count, seed, 1)
    return _batches(count, seed)


def _batches(count: int, seed: int) -> Iterator[pa.RecordBatch]:
    g = _global(seed, count)
    for block, start in enumerate(range(0, count, BLOCK_ROWS)):
        yield _block(seed, block, start, min(BLOCK_ROWS, count - start), g)


def _check(count: int, seed: int, chunk_size: int) -> None:
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_COUNT:
        raise ValueError(f"count must be an integer in 0..{MAX_COUNT}, got {count!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ValueError(f"seed must be a non-negative integer below 2**63, got {seed!r}")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")


def generate_registry(
    count: int,
    seed: int,
    out: pathlib.Path,
    *,
    chunk_size: int = 250_000,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Write ``count`` synthetic 临江市 enterprises to the Parquet file ``out``.

    Row groups hold ``chunk_size`` rows (the last one fewer); ``on_progress`` is called
    with the number of rows written so far after each row group. The file is written to a
    temporary name beside ``out`` and renamed when complete, so a failure leaves no
    partial file. Returns the number of rows written.
    """
    _check(count, seed, chunk_size)
    out = pathlib.Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "huiqi.registry": json.dumps(
            {
                "generator": "huiqi.batch.registry",
                "format": 1,
                "synthetic": True,
                "city": "临江市",
                "seed": seed,
                "count": count,
                "reference_date": REFERENCE_DATE.isoformat(),
            },
            ensure_ascii=False,
            sort_keys=True,
        )
    }
    schema = arrow_schema(meta)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    written = 0
    try:
        with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
            pending: list[pa.RecordBatch] = []
            pending_rows = 0

            def flush(rows: int) -> None:
                nonlocal pending, pending_rows, written
                table = pa.Table.from_batches(pending, schema=schema)
                writer.write_table(table.slice(0, rows), row_group_size=rows)
                rest = table.slice(rows)
                pending = rest.to_batches() if rest.num_rows else []
                pending_rows = rest.num_rows
                written += rows
                if on_progress is not None:
                    on_progress(written)

            for batch in iter_batches(count, seed):
                pending.append(batch.replace_schema_metadata(meta))
                pending_rows += batch.num_rows
                while pending_rows >= chunk_size:
                    flush(chunk_size)
            if pending_rows:
                flush(pending_rows)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return written
