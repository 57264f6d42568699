"""What search and recommendation know about a policy: its text by field, dates, amount."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from sqlglot import exp

from huiqi.rules import Library, Policy

#: Searchable fields, most telling first, with their BM25 weights (a word in the title
#: counts ten times one in the policy's long text).
FIELDS: dict[str, float] = {"title": 10.0, "summary": 5.0, "conditions": 3.0, "apply": 2.0, "text": 1.0}
FIELD_LABELS = {"title": "标题", "summary": "摘要", "conditions": "条件", "apply": "申报", "text": "正文"}

_DATE = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")
_YEARLY = re.compile(r"(?:每年|次年)(\d{1,2})月(\d{1,2}|底)日?")
_NUMBER = r"(\d+(?:\.\d+)?)\s*(亿|万)?元"
#: A cap (最高40万元) or a sum right after the word for what is paid (奖励5万元, 补贴3000元):
#: thresholds such as 营业收入500万元以上 are neither.
_CAP = re.compile(r"最高" + _NUMBER)
_PAID = re.compile(r"(?:奖励|补贴|补助|贴息|再补|奖)" + _NUMBER)
_PAID_WORD = re.compile(r"奖励|补贴|补助|贴息")
#: Words that make a sum a threshold or a rate rather than what is paid.
_NOT_PAID = re.compile(r"以上|以内|以下|超过|不足|额度|收入|费用|投资|每")
_AMOUNT = re.compile(_NUMBER)


@dataclass(frozen=True, slots=True)
class PolicyDoc:
    """One policy as search sees it. ``max_amount`` is the largest sum its benefit text names
    (最高40万元 → 400000), None when it names none — never 0."""

    policy_id: str
    title: str
    summary: str
    conditions: str
    apply: str
    text: str
    category: str
    region: str
    valid_from: dt.date
    valid_to: dt.date | None
    deadline_text: str
    max_amount: Decimal | None
    sample: bool = False
    #: GB/T 4754 code prefixes the conditions require (``industry LIKE 'H62%'`` → H62);
    #: empty when the policy is for every industry.
    industries: tuple[str, ...] = ()
    #: what the conditions read: profile fields and derived variables.
    reads: frozenset[str] = frozenset()

    def field(self, name: str) -> str:
        return str(getattr(self, name))

    def in_force(self, on: dt.date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)

    def deadline(self, today: dt.date) -> dt.date | None:
        """The next date by which an application must be in, on or after ``today``: a date
        written in the how-to-apply text (2026年12月15日前), the next yearly one (每年5月31日前),
        or the end of validity — whichever comes first. None: no known deadline (常年受理)."""
        dates = [d for d in (written_deadline(self.deadline_text, today), self.valid_to) if d and d >= today]
        return min(dates) if dates else None


@lru_cache(maxsize=4096)
def written_deadline(text: str, today: dt.date) -> dt.date | None:
    """The deadline a how-to-apply text names, the next one on or after ``today``."""
    found: list[dt.date] = []
    for y, m, d in _DATE.findall(text):
        try:
            found.append(dt.date(int(y), int(m), int(d)))
        except ValueError:
            continue
    for m, d in _YEARLY.findall(text):
        month = int(m)
        if not 1 <= month <= 12:
            continue
        for year in (today.year, today.year + 1):
            day = calendar.monthrange(year, month)[1] if d == "底" else int(d)
            try:
                when = dt.date(year, month, day)
            except ValueError:
                break
            if when >= today:
                found.append(when)
                break
    upcoming = [d for d in found if d >= today]
    return min(upcoming) if upcoming else None


def max_amount(text: str) -> Decimal | None:
    """The largest sum a benefit text says is paid: its caps if it names any (最高40万元), else
    the sums written right after 奖励/补贴/补助/贴息, else the sums of a sentence about what
    is paid that names no threshold or rate. None when it names none: unknown, not 0."""
    found = _CAP.findall(text) or _PAID.findall(text)
    if not found:
        for part in re.split(r"[。；;]", text):
            if _PAID_WORD.search(part) and not _NOT_PAID.search(part):
                found.extend(_AMOUNT.findall(part))
    amounts = []
    for number, unit in found:
        value = Decimal(number) * {"亿": Decimal(100_000_000), "万": Decimal(10_000), "": Decimal(1)}[unit]
        amounts.append(value)
    return max(amounts) if amounts else None


def industry_prefixes(tree: exp.Expr) -> set[str]:
    """The industry code prefixes a condition asks for, outside any NOT: ``industry LIKE
    'I65%'``, ``within(industry, 'H62')``, ``industry = 'C3911'``, ``industry_section IN ('B', 'C')``,
    ``substr(industry, 1, 3) IN ('G54', …)``."""
    out: set[str] = set()

    def strings(node: exp.Expr) -> list[str]:
        if isinstance(node, exp.Literal) and node.is_string:
            return [node.this]
        if isinstance(node, exp.In):
            return [x.this for x in node.expressions if isinstance(x, exp.Literal) and x.is_string]
        return []

    def reads_industry(node: exp.Expr) -> bool:
        if isinstance(node, exp.Column):
            return node.name in ("industry", "industry_section")
        if isinstance(node, exp.Substring):
            return isinstance(node.this, exp.Column) and node.this.name == "industry"
        return False

    def walk(node: exp.Expr) -> None:
        if isinstance(node, exp.Not) or node.args.get("negate"):  # NOT LIKE / NOT IN parse as negate=True
            return
        if isinstance(node, exp.Like) and reads_industry(node.this):
            out.update(s.rstrip("%") for s in strings(node.expression) if s.rstrip("%"))
            return
        if isinstance(node, exp.EQ) and reads_industry(node.this):
            out.update(strings(node.expression))
            return
        if isinstance(node, exp.In) and reads_industry(node.this):
            out.update(strings(node))
            return
        if isinstance(node, exp.Anonymous) and node.name.lower() == "within" and reads_industry(node.expressions[0]):
            out.update(strings(node.expressions[1]))  # within(industry, 'H62')
            return
        for child in node.iter_expressions():
            walk(child)

    walk(tree)
    return out


def policy_doc(policy: Policy, library: Library) -> PolicyDoc:
    """The words of a policy as the search reads them. An index is built once per library,
    without a date, so labels, summary and explanations are worded with the last parameter
    values in the policy's validity (what a reader meets from now on)."""
    texts = library.texts_of(policy, dt.date.max)
    d = policy.definition
    benefit = d.benefit
    apply = d.apply
    explain = texts.explain or ""
    return PolicyDoc(
        policy_id=d.id,
        title=d.title,
        summary="\n".join([texts.summary, " ".join(d.tags)]),
        conditions="\n".join(texts.labels),
        apply="\n".join([apply.mode, apply.channel, apply.office, "、".join(apply.materials), apply.deadline]),
        text="\n".join(
            [
                explain,
                texts.amount_note or "",
                d.issuer,
                d.document_number,
                *(f"{x.number} {x.note or ''}" for x in d.documents),
                *(p.label for p in d.parameters.values()),
            ]
        ),
        category=d.category,
        region=d.region,
        valid_from=d.valid_from,
        valid_to=d.valid_to,
        deadline_text=apply.deadline,
        max_amount=max_amount(explain) if benefit else None,
        sample=d.sample,
        industries=tuple(
            sorted(set().union(*(industry_prefixes(c.expr.tree) for c in policy.evaluated if c.expr is not None)))
        ),
        reads=frozenset().union(*(c.fields | c.expr.variables for c in policy.evaluated if c.expr is not None)),
    )
