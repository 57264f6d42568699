"""The words for huiqi's codes: verdicts, condition outcomes, policy categories, benefit
units, application modes, version states and officer roles — each written once, here.

Pages, the CLI, notifications and exports read these tables; none keeps its own copy
(they used to, and disagreed: 税费优惠 / 税收优惠, 融资支持 / 金融支持). Region names are
reference data of the profile (``huiqi.profile.regions``), like GB/T 4754 industries.
The codes themselves are contracts (ARCHITECTURE.md) and never change; the words may.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    label: str  # the heading of a group of results: 可享受
    meaning: str  # one line saying what it means: 符合全部条件


#: A policy's verdict for one enterprise (the match contract), in reading order.
VERDICTS: dict[str, Verdict] = {
    "eligible": Verdict("可享受", "符合全部条件"),
    "undetermined": Verdict("需补充信息", "还差几项信息才能判断"),
    "ineligible": Verdict("不符合", "有条件不满足"),
}
#: 满足前提即可享受: an eligible result whose ``detail`` is ``conditional`` — the known facts
#: meet every condition, but the policy waits on an action the enterprise may not have taken
#: (已招用退役士兵). Shown as a group of its own, apart from 可享受 and its total.
CONDITIONAL = Verdict("满足前提即可享受", "已知条件都符合，做到前提即可享受")
#: The groups a list of results is shown in, in reading order (``conditional`` is a detail
#: of ``eligible``, not a verdict: the contract's three verdicts stay as they are).
GROUPS: dict[str, Verdict] = {
    "eligible": VERDICTS["eligible"],
    "conditional": CONDITIONAL,
    "undetermined": VERDICTS["undetermined"],
    "ineligible": VERDICTS["ineligible"],
}


def group_of(verdict: str, detail: str | None) -> str:
    """The group a result is shown in: its verdict, or ``conditional``."""
    return "conditional" if verdict == "eligible" and detail == "conditional" else verdict


def precondition_text(preconditions: list[str] | tuple[str, ...]) -> str:
    """可享受，前提是已招用自主就业退役士兵 — what a conditional result says."""
    return "可享受，前提是" + "；".join(preconditions)


#: Where a policy was not in force at all (before/after a change).
NOT_APPLICABLE = "不适用"


def verdict_label(verdict: str | None) -> str:
    return VERDICTS[verdict].label if verdict in VERDICTS else NOT_APPLICABLE


@dataclass(frozen=True)
class Outcome:
    mark: str
    label: str


#: One condition's outcome.
OUTCOMES: dict[str, Outcome] = {
    "met": Outcome("✓", "符合"),
    "unmet": Outcome("✗", "不符合"),
    "unknown": Outcome("?", "待补充"),
}

#: Policy categories (``category:`` of a policy file), in the order lists show them.
CATEGORIES: dict[str, str] = {
    "tax": "税费优惠",
    "subsidy": "补贴",
    "reward": "奖励",
    "finance": "融资支持",
    "talent": "人才",
    "employment": "就业",
}


@dataclass(frozen=True)
class Unit:
    label: str  # 元/年: next to a formula
    suffix: str  # /年: after an amount
    group: str  # 每年: heading of a total


#: Benefit units (``benefit.unit``): amounts of different units are never added together.
#: Totals are listed in this order, recurring amounts first.
UNITS: dict[str, Unit] = {
    "yuan/year": Unit("元/年", "/年", "每年"),
    "yuan/month": Unit("元/月", "/月", "每月"),
    "yuan": Unit("元（一次性）", "", "一次性"),
    "yuan/person": Unit("元/人", "/人", "每人"),
    "none": Unit("", "", ""),
}


def unit_suffix(unit: str) -> str:
    return UNITS[unit].suffix if unit in UNITS else ""


#: How an enterprise gets a benefit (``apply.mode``), explained in plain words.
APPLY_MODES: dict[str, str] = {
    "免申即享": "不用申请，符合条件的由部门直接兑现",
    "申报享受": "在申报或办理时自己勾选享受，留存资料备查",
    "申请审批": "需要提交申请，经部门审核后兑现",
}

#: Version states of the policy lifecycle, in lifecycle order.
STATES: dict[str, str] = {
    "draft": "草稿",
    "in_review": "待审核",
    "published": "已发布",
    "superseded": "已被取代",
    "withdrawn": "已撤回",
}

#: Officer roles, weakest first: each may do what the ones before it may.
ROLES: dict[str, str] = {"viewer": "查看员", "editor": "编辑", "publisher": "发布人"}
