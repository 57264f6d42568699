"""Who takes part in data sharing: the departments (X-Road members) and the purposes (contract).

The member codes and purpose codes are ARCHITECTURE.md's contract; Chinese names are what
pages and refusals show. A purpose may be given by code (``policy_match``) or by its
Chinese name (``政策匹配``) wherever a person types it.
"""

from __future__ import annotations

from dataclasses import dataclass

from huiqi.errors import Message
from huiqi.sharing.errors import BadRequest


@dataclass(frozen=True)
class Member:
    code: str
    name: str  # 全称
    short: str  # 简称, as in "暂时无法获取（税务局）"
    register: str | None = None  # the register it keeps, if any


MEMBERS: dict[str, Member] = {
    m.code: m
    for m in (
        Member("samr", "市场监督管理局", "市场监管局", "法人库"),
        Member("mps", "公安局", "公安局", "人口库"),
        Member("tax", "税务局", "税务局", "纳税人信息"),
        Member("hrss", "人力资源和社会保障局", "人社局", "社会保险参保信息"),
        Member("nhc", "卫生健康委员会", "卫健委", "健康证"),
        Member("fin", "财政局", "财政局"),
        Member("platform", "惠企平台", "惠企平台"),
    )
}
#: Members that keep a register and run a provider security server.
PROVIDERS = ("samr", "mps", "tax", "hrss", "nhc")

PURPOSES: dict[str, str] = {
    "policy_match": "政策匹配",
    "auto_grant": "免申即享",
    "business_startup": "企业开办",
    "precheck": "预审",
    "supervision": "监管",
    "identity": "身份核验",
}
_BY_NAME = {zh: code for code, zh in PURPOSES.items()}


def member(code: str, *, field: str = "member") -> Member:
    found = MEMBERS.get(code)
    if found is None:
        raise BadRequest(
            "unknown_member",
            Message(
                f"未知的部门代码 “{code}”（可选：{'、'.join(MEMBERS)}）",
                f"unknown member code '{code}' (one of {', '.join(MEMBERS)})",
            ),
            field=field,
        )
    return found


def purpose_code(text: str, *, field: str = "purpose") -> str:
    """``policy_match`` for ``policy_match`` or ``政策匹配``; a clear refusal otherwise."""
    if text in PURPOSES:
        return text
    if text in _BY_NAME:
        return _BY_NAME[text]
    choices = "、".join(f"{zh}（{code}）" for code, zh in PURPOSES.items())
    raise BadRequest(
        "unknown_purpose",
        Message(f"未知的用途 “{text}”，可选：{choices}", f"unknown purpose '{text}' (one of {', '.join(PURPOSES)})"),
        field=field,
    )
