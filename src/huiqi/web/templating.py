"""One Jinja environment for every page (public and officers'), and the helpers pages use.

Autoescaping is on for all templates. Links whose address comes from policy data go
through :func:`http_url`: anything but ``http(s)://host/…`` (``javascript:``, ``data:``,
relative paths) is never rendered as a link. Page addresses are relative (``/static/…``),
never built from the request's Host header.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from huiqi import vocab
from huiqi.discover import region_label
from huiqi.match.explain import size_label, yuan
from huiqi.profile import FIELDS
from huiqi.profile import industry as gbt4754
from huiqi.profile.regions import SAMPLE_REGIONS

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status)


def http_url(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) address with a host, else None (not a link)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if any(ord(c) < 32 or c == "\x7f" for c in url):
        return None
    return url.strip()


def is_portal(url: str | None) -> bool:
    """A site's front page (no path): a search portal or home page, not the document itself.

    Such a link must not read "查看原文": it only leads to where the document can be searched.
    """
    safe = http_url(url)
    return safe is not None and urlsplit(safe).path in ("", "/") and not urlsplit(safe).query


def money(amount: str | None, unit: str = "yuan") -> str:
    if amount is None:
        return "金额待定"
    return yuan(Decimal(amount)) + vocab.unit_suffix(unit)


def field_label(name: str) -> str:
    spec = FIELDS.get(name)
    return spec.label if spec else name


def date_zh(value: dt.date | str | None) -> str:
    if value is None:
        return "长期有效"
    if isinstance(value, str):
        value = dt.date.fromisoformat(value)
    return f"{value.year}年{value.month}月{value.day}日"


def industry_text(code: str | None) -> str:
    if not code:
        return ""
    found = gbt4754.lookup(code)
    return f"{found.code} {found.name}" if found else code


def param_text(value: Any, unit: str = "") -> str:
    """A named value as a person reads it: 30 万元, 0.05, 2025年1月1日, 是."""
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    if isinstance(value, bool):
        return "是" if value else "否"
    text = str(value)
    if unit == "元":
        try:
            return yuan(Decimal(text))
        except ArithmeticError:
            return f"{text} 元"
    return f"{text} {unit}".strip()


def district_options() -> list[tuple[str, str]]:
    """The sample city's districts as (code, name), for the 所在地区 lists."""
    return [(code, name) for code, name in SAMPLE_REGIONS.items() if not code.endswith("00")]


TEMPLATES.env.filters["http_url"] = http_url
TEMPLATES.env.globals.update(
    param_text=param_text,
    money=money,
    field_label=field_label,
    date_zh=date_zh,
    size_label=size_label,
    region_label=region_label,
    industry_text=industry_text,
    is_portal=is_portal,
    district_options=district_options,
    FIELDS=FIELDS,
    VERDICTS=vocab.VERDICTS,
    GROUPS=vocab.GROUPS,
    precondition_text=vocab.precondition_text,
    OUTCOMES=vocab.OUTCOMES,
    CATEGORIES=vocab.CATEGORIES,
    APPLY_MODES=vocab.APPLY_MODES,
    STATES=vocab.STATES,
    ROLES=vocab.ROLES,
    verdict_label=vocab.verdict_label,
)
