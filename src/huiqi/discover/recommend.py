"""Recommendation: which of an enterprise's policies to show first, and why.

Eligibility stays with the rules: only policies the calculator found eligible or
undetermined are ranked, from its answer (:class:`huiqi.match.MatchResult`), never by
reaching into the engine. The order is by relevance to this enterprise, each feature a
plain reason (weights in ``WEIGHTS``, chosen on the training part of the gold set):

* industry — the policy is written for an industry (``industry LIKE 'H62%'``) and the
  enterprise is in it; a narrower prefix counts more;
* region — a district's or the city's own policy, and the enterprise is registered there;
* 资质 — the policy asks for a certification the enterprise holds;
* stage — the policy is of the kind an enterprise of its 发展阶段 looks for;
* size — the policy is for small and micro enterprises and it is one;
* eligibility — eligible counts; each missing fact counts against;
* deadline — an application deadline within 30 (or 90) days;
* amount — last, a tie-breaker.

"Similar enterprises also applied for" (:mod:`huiqi.discover.similar`) may be blended in:
it reorders policies of the same verdict among themselves only (each verdict keeps the
places relevance gave it), so it never lifts an undetermined policy over an eligible one,
and never brings back an ineligible one. A strong blend is said in the reason (同类企业也常申请).
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from huiqi.discover.documents import PolicyDoc
from huiqi.match.result import MatchResult, PolicyResult
from huiqi.profile import FIELDS
from huiqi.profile import industry as gbt4754

WEIGHTS: dict[str, float] = {
    "industry": 1.0,  # a section (I); a 大类 or finer (I65) adds industry_narrow
    "industry_narrow": 1.0,
    "district": 1.0,
    "city": 0.5,
    "certification": 1.5,
    "stage": 1.0,
    "size": 0.5,
    "specific": 0.5,  # per met condition on a fact few enterprises share (纳税信用A级, 研发费用…)
    "eligible": 0.6,
    "missing": -0.3,
    "closing": 0.5,
    "closing_later": 0.2,
    "amount": 0.05,
    "similar": 0.5,  # times a 0..1 score: below the eligibility step (see the module docstring)
}
MAX_MISSING_PENALTY = 1.5
MAX_SPECIFIC = 1.5
#: Facts whose met conditions make a policy specific to the enterprise (region, industry,
#: size and certifications have features of their own; 从业人数 alone is no distinction).
SPECIFIC_FACTS = frozenset({"credit_rating", "rd_expense", "taxpayer_type", "monthly_sales", "taxable_income",
                            "registered_on", "age_years", "revenue"})  # fmt: skip

#: What an enterprise of each 发展阶段 looks for, as words in a policy's title, summary or tags.
STAGE_WORDS: dict[str, tuple[str, ...]] = {
    "初创期": ("开办", "创业", "初创", "新注册", "首贷", "担保", "房租", "租金"),
    "成长期": ("研发", "高新", "专精特新", "科技", "数字化", "小升规", "软件", "人才", "成长", "技术合同"),
    "成熟期": ("上市", "挂牌", "首台", "规模以上", "资质升级", "技术改造", "纳税信用"),
}
SIZE_VARIABLES = frozenset({"size_class", "is_small_low_profit"})
CERTIFICATION_LABELS = {
    "high_tech": "高新技术企业",
    "tech_sme": "科技型中小企业",
    "specialized_new": "专精特新中小企业",
    "little_giant": "专精特新“小巨人”企业",
}
SIZE_LABELS = {"large": "大型", "medium": "中型", "small": "小型", "micro": "微型"}
SIMILAR_WORDS = "同类企业也常申请"
#: A blend score from which the reason line says so (the policy is among what enterprises
#: like this one apply for most).
SIMILAR_SAID = 0.5


@dataclass(frozen=True)
class Feature:
    name: str
    weight: float
    words: str  # how a person reads it: 面向餐饮业


@dataclass(frozen=True)
class Recommendation:
    result: PolicyResult
    score: float
    features: tuple[Feature, ...]
    reason: str  # one line: 因为您是成长期的软件企业…

    @property
    def policy_id(self) -> str:
        return self.result.policy_id


@dataclass(frozen=True)
class MissingFacts:
    """The few facts that, once given, decide the most undetermined policies."""

    fields: tuple[str, ...]
    decides: tuple[str, ...]  # policy ids all of whose missing facts are among ``fields``

    @property
    def labels(self) -> list[str]:
        return [FIELDS[f].label if f in FIELDS else f for f in self.fields]

    @property
    def headline(self) -> str:
        return f"补充这 {len(self.fields)} 项即可再确定 {len(self.decides)} 项政策"


@dataclass(frozen=True)
class Recommendations:
    items: list[Recommendation]
    ask: MissingFacts | None
    stage: str | None
    blended: bool = False
    notes: list[str] = field(default_factory=list)

    def reason_of(self, policy_id: str) -> str | None:
        return next((r.reason for r in self.items if r.policy_id == policy_id), None)


#: Scores "similar enterprises also applied for", 0..1 per policy id (huiqi.discover.similar).
SimilarScores = Callable[[Mapping[str, Any], Mapping[str, Any], Sequence[str]], Mapping[str, float]]


def _industry_words(prefix: str) -> str:
    node = gbt4754.lookup(prefix)
    if node is None:
        return prefix
    name = node.name.split("、")[0]
    return name[:-1] if name.endswith("业") and len(name) > 2 else name


def _region_covers(policy_region: str, region: str | None) -> str | None:
    """'district' / 'city' when the policy is local and covers the region, else None."""
    if not region or policy_region == "000000":
        return None
    prefix = policy_region
    while prefix.endswith("00"):
        prefix = prefix[:-2]
    if not region.startswith(prefix):
        return None
    return "district" if len(prefix) == 6 else "city"


def _condition_met(result: PolicyResult, names: frozenset[str]) -> bool | None:
    """True when every condition reading one of ``names`` is met, None when none reads them."""
    seen = [c for c in result.conditions if names & set(c.values)]
    if not seen:
        return None
    return all(c.outcome == "met" for c in seen)


def features(
    result: PolicyResult, doc: PolicyDoc | None, facts: Mapping[str, Any], variables: Mapping[str, Any], today: dt.date
) -> list[Feature]:
    out: list[Feature] = []
    industry = facts.get("industry")
    if doc is not None and doc.industries and industry:
        hits = [p for p in doc.industries if str(industry).startswith(p)]
        if hits and _condition_met(result, frozenset({"industry", "industry_section"})) is not False:
            best = max(hits, key=len)
            # Name the enterprise's own 大类 when the policy names only a section (I → 软件和信息技术服务).
            trade = _industry_words(str(industry)[: max(len(best), 3)])
            out.append(Feature("industry", WEIGHTS["industry"], f"专门面向{trade}企业"))
            if len(best) >= 3:
                out.append(Feature("industry_narrow", WEIGHTS["industry_narrow"], ""))
    where = _region_covers(result.region, facts.get("region"))
    if where is not None:
        place = "本区" if where == "district" else "本市"
        out.append(Feature(where, WEIGHTS[where], f"是{place}政策"))
    held = set(facts.get("certifications") or [])
    certified = held and doc is not None and "certifications" in doc.reads
    if certified and _condition_met(result, frozenset({"certifications"})):
        names = "、".join(CERTIFICATION_LABELS.get(c, c) for c in sorted(held) if c in CERTIFICATION_LABELS)
        out.append(Feature("certification", WEIGHTS["certification"], f"面向{names}" if names else "面向您的资质"))
    specific = [c for c in result.conditions if c.outcome == "met" and SPECIFIC_FACTS & set(c.values)]
    if specific:
        weight = min(WEIGHTS["specific"] * len(specific), MAX_SPECIFIC)
        out.append(Feature("specific", weight, f"符合“{specific[0].text}”"))
    stage = variables.get("stage")
    if stage and doc is not None:
        hay = doc.title + doc.summary
        if any(w in hay for w in STAGE_WORDS.get(str(stage), ())):
            out.append(Feature("stage", WEIGHTS["stage"], f"适合{stage}企业"))
    size = variables.get("size_class")
    sized = doc is not None and size in ("small", "micro") and doc.reads & SIZE_VARIABLES
    if sized and _condition_met(result, SIZE_VARIABLES):
        out.append(Feature("size", WEIGHTS["size"], "面向小微企业"))
    if result.verdict == "eligible":
        out.append(Feature("eligible", WEIGHTS["eligible"], "条件已全部符合"))
    elif result.missing:
        penalty = max(WEIGHTS["missing"] * len(result.missing), -MAX_MISSING_PENALTY)
        out.append(Feature("missing", penalty, f"还差 {len(result.missing)} 项信息"))
    deadline = doc.deadline(today) if doc is not None else None
    if deadline is not None:
        days = (deadline - today).days
        if days <= 30:
            out.append(Feature("closing", WEIGHTS["closing"], f"{days} 天后截止" if days else "今天截止"))
        elif days <= 90:
            out.append(Feature("closing_later", WEIGHTS["closing_later"], f"{deadline.month}月{deadline.day}日截止"))
    amount = _amount(result, doc)
    if amount is not None and amount > 0:
        out.append(Feature("amount", WEIGHTS["amount"] * math.log10(1 + float(amount)) / 7, ""))
    return out


def _amount(result: PolicyResult, doc: PolicyDoc | None) -> Decimal | None:
    if result.benefit is not None and result.benefit.amount is not None:
        return Decimal(result.benefit.amount)
    return doc.max_amount if doc is not None else None


def reason(feats: Sequence[Feature], facts: Mapping[str, Any], variables: Mapping[str, Any]) -> str:
    """One line in plain Chinese from the strongest features: 因为您是成长期的软件企业，…"""
    names = {f.name for f in feats}
    stage = variables.get("stage") if "stage" in names else None
    who = ""
    if "industry" in names:
        industry_feature = next(f for f in feats if f.name == "industry")
        trade = industry_feature.words.removeprefix("专门面向").removesuffix("企业")
        who = f"{stage}的{trade}企业" if stage else f"{trade}企业"
    elif stage:
        who = f"{stage}企业"
    elif "size" in names:
        who = f"{SIZE_LABELS.get(str(variables.get('size_class')), '')}企业"
    parts = [f"因为您是{who}" if who else ""]
    for f in feats:
        if f.name in ("district", "city", "certification"):
            parts.append(f.words)
    if "eligible" in names:
        parts.append("条件已全部符合")
    missing = next((f for f in feats if f.name == "missing"), None)
    if missing is not None:
        parts.append(missing.words)
    for f in feats:
        if f.name in ("closing", "closing_later"):
            parts.append(f.words)
    if any(f.name == "similar" and f.weight >= WEIGHTS["similar"] * SIMILAR_SAID for f in feats):
        parts.append(SIMILAR_WORDS)
    text = "，".join(p for p in parts if p)
    return (text or "符合您的情况") + "。"


def missing_facts(results: Sequence[PolicyResult], most: int = 3) -> MissingFacts | None:
    """Up to ``most`` facts that together decide the most undetermined policies (all of a
    policy's missing facts must be among them); ties go to fewer facts, then to facts that
    more policies ask for. Exhaustive over combinations: a profile has few fields."""
    pending = [r for r in results if r.verdict == "undetermined" and r.missing]
    if not pending:
        return None
    asked: dict[str, int] = {}
    for r in pending:
        for f in r.missing:
            asked[f] = asked.get(f, 0) + 1
    candidates = sorted(asked, key=lambda f: (-asked[f], list(FIELDS).index(f) if f in FIELDS else 99))
    best: tuple[tuple[int, int, int], tuple[str, ...], tuple[str, ...]] | None = None
    for k in range(1, min(most, len(candidates)) + 1):
        for combo in itertools.combinations(candidates, k):
            chosen = set(combo)
            decided = tuple(r.policy_id for r in pending if set(r.missing) <= chosen)
            key = (len(decided), -k, sum(asked[f] for f in combo))
            if decided and (best is None or key > best[0]):
                best = (key, combo, decided)
    if best is None:
        return None
    order = list(FIELDS)
    return MissingFacts(tuple(sorted(best[1], key=lambda f: order.index(f) if f in order else 99)), best[2])


def _blend_within_verdicts(scored: Sequence[tuple[float, float, Recommendation]]) -> list[Recommendation]:
    """ "Similar enterprises" reorder policies of one verdict among themselves only: the
    places the relevance order gives eligible and undetermined policies stay theirs, so the
    blend never lifts an undetermined policy over an eligible one (or the reverse)."""
    places: dict[str, list[int]] = {}
    for place, (_, _, rec) in enumerate(scored):
        places.setdefault(rec.result.verdict, []).append(place)
    out: list[Recommendation | None] = [None] * len(scored)
    for group in places.values():
        ranked = sorted((scored[p] for p in group), key=lambda t: (-t[1], -t[0], t[2].policy_id))
        for place, (_, _, rec) in zip(group, ranked, strict=True):
            out[place] = rec
    return [rec for rec in out if rec is not None]


def recommend(
    answer: MatchResult,
    facts: Mapping[str, Any],
    docs: Mapping[str, PolicyDoc],
    *,
    similar: SimilarScores | None = None,
    limit: int | None = None,
) -> Recommendations:
    """Eligible and undetermined policies of ``answer``, most relevant first, each with its reason.

    ``facts`` is the profile the answer was computed for (its industry, region and
    certifications are read); ``docs`` the policies as :func:`huiqi.discover.documents.policy_doc`
    describes them. ``similar`` blends in "similar enterprises also applied for".
    """
    variables = answer.variables
    open_results = [r for r in answer.results if r.verdict != "ineligible"]
    blend = dict(similar(facts, variables, [r.policy_id for r in open_results])) if similar is not None else {}
    scored: list[tuple[float, float, Recommendation]] = []  # relevance, with the blend, recommendation
    for r in open_results:
        doc = docs.get(r.policy_id)
        feats = features(r, doc, facts, variables, answer.as_of)
        relevance = sum(f.weight for f in feats)
        s = min(max(blend.get(r.policy_id, 0.0), 0.0), 1.0)
        if s > 0:
            feats.append(Feature("similar", WEIGHTS["similar"] * s, SIMILAR_WORDS))
        score = sum(f.weight for f in feats)
        scored.append((relevance, score, Recommendation(r, score, tuple(feats), reason(feats, facts, variables))))
    scored.sort(key=lambda t: (-t[0], t[2].result.verdict != "eligible", t[2].policy_id))
    items = [rec for _, _, rec in scored]
    if blend:
        items = _blend_within_verdicts(scored)
    return Recommendations(
        items[:limit] if limit else items,
        missing_facts(answer.results),
        variables.get("stage"),
        blended=similar is not None,
    )
