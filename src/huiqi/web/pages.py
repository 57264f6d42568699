"""The Chinese pages: 政策计算器 (``/``), 政策库 (``/policies``), one policy (``/policies/{id}``).

Server-rendered with Jinja2; they work without JavaScript. ``static/app.js`` only adds the
industry search box and re-runs the calculator in place (it posts the same form and
swaps in the new page's ``<main>``).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Engine
from starlette.datastructures import FormData

from huiqi import vocab
from huiqi.clock import Clock
from huiqi.discover import could_apply
from huiqi.discover import index as discover_index
from huiqi.discover import search as policy_search
from huiqi.discover.recommend import recommend
from huiqi.discover.similar import SimilarEnterprises
from huiqi.match import MatchResult, match
from huiqi.portal.similar import similar_enterprises
from huiqi.profile import ProfileError, check_registered, parse_profile
from huiqi.profile import industry as gbt4754
from huiqi.rules import Library
from huiqi.web import catalog, forms
from huiqi.web.api import current_library, library, region_code, today
from huiqi.web.templating import TEMPLATES, industry_text, money, render

TEMPLATES.env.globals.update(HINTS=forms.HINTS, FORM_GROUPS=forms.FORM_GROUPS, MONEY_FIELDS=forms.MONEY_FIELDS)

router = APIRouter(include_in_schema=False)
logger = logging.getLogger(__name__)


def totals_by_unit(result: MatchResult, conditional: bool = False) -> list[tuple[str, str]]:
    """The answer's totals per unit: [("每年", "12.00 万元/年"), …] — 可享受 only (exclusive
    groups once, no conditional policy), or with ``conditional`` the 满足前提即可享受 ones."""
    totals = result.totals
    sums = totals.conditional_amount_by_unit if conditional else totals.eligible_amount_by_unit
    return [(vocab.UNITS[u].group, money(sums[u])) for u in vocab.UNITS if u in sums]


def search_index(request: Request, lib: Library) -> policy_search.Backend:
    """The library's search index: PostgreSQL full text when the store is PostgreSQL."""
    return discover_index.library_index(lib, getattr(request.app.state.source, "engine", None))


class SimilarModels:
    """ "Similar enterprises also applied for": the ALS model of the portal's applications
    (huiqi.portal.similar), kept per app and retrained in a background thread when it is
    older than ``MAX_AGE`` on the app's clock — never in a request. Until the first training
    ends, and while the portal has too few applications, there is none: no blend, no words
    about it on the page."""

    MAX_AGE = dt.timedelta(hours=1)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._model: SimilarEnterprises | None = None
        self._trained_at: dt.datetime | None = None
        self._training = False

    def get(self, engine: Engine, library: Library, clock: Clock) -> SimilarEnterprises | None:
        now = clock.now()
        with self._lock:
            stale = self._trained_at is None or now - self._trained_at > self.MAX_AGE
            if stale and not self._training:
                self._training = True
                threading.Thread(target=self.train, args=(engine, library, clock), daemon=True).start()
            return self._model

    def train(self, engine: Engine, library: Library, clock: Clock) -> SimilarEnterprises | None:
        now = clock.now()
        try:
            model = similar_enterprises(engine, library, now.date())
        except Exception as e:  # no portal tables yet, a database hiccup: try again later, never break a page
            logger.warning("similar enterprises: training failed, no blend until the next try: %s", e)
            model = self._model
        with self._lock:
            self._model, self._trained_at, self._training = model, now, False
        return model


def similar_model(request: Request, lib: Library) -> SimilarEnterprises | None:
    state = request.app.state
    engine = getattr(state.source, "engine", None)
    if engine is None:
        return None
    models: SimilarModels | None = getattr(state, "similar_models", None)
    if models is None:
        models = state.similar_models = SimilarModels()
    return models.get(engine, lib, state.clock)


def _calculator(
    request: Request,
    state: forms.FormState,
    result: MatchResult | None,
    status: int = 200,
    lib: Library | None = None,
) -> HTMLResponse:
    groups: dict[str, list[Any]] = {group: [] for group in vocab.GROUPS}
    reasons: dict[str, str] = {}
    ask = None
    if result is not None and lib is not None and state.profile is not None:
        # Eligible and undetermined policies in order of relevance, each with its reason
        # (huiqi.discover.recommend); the ineligible keep the calculator's order.
        docs = discover_index.library_docs(lib)
        facts = parse_profile(state.profile).model_dump(exclude_none=True)
        recs = recommend(result, facts, docs, similar=similar_model(request, lib))
        reasons = {r.policy_id: r.reason for r in recs.items}
        ask = recs.ask
        for rec in recs.items:
            groups[vocab.group_of(rec.result.verdict, rec.result.detail)].append(rec.result)
        groups["ineligible"] = [r for r in result.results if r.verdict == "ineligible"]
    elif result is not None:
        for r in result.results:
            groups[vocab.group_of(r.verdict, r.detail)].append(r)
    return render(
        request,
        "calculator.html",
        {
            "state": state,
            "result": result,
            "groups": groups,
            "reasons": reasons,
            "ask": ask,
            "titles": {r.policy_id: r.title for r in result.results} if result else {},
            "by_unit": totals_by_unit(result) if result else [],
            "conditional_by_unit": totals_by_unit(result, conditional=True) if result else [],
            "today": today(request).isoformat(),
            "page": "calculator",
        },
        status,
    )


@router.get("/", response_class=HTMLResponse)
async def calculator_page(request: Request) -> HTMLResponse:
    return _calculator(request, forms.FormState(), None)


@router.post("/", response_class=HTMLResponse)
async def calculator_submit(request: Request) -> HTMLResponse:
    try:
        form = await request.form(max_files=0, max_fields=200, max_part_size=64 * 1024)
    except Exception:  # malformed multipart or urlencoded body: show the empty form again
        form = FormData()
    state = forms.parse_form(form)
    if state.profile is not None:
        try:
            check_registered(parse_profile(state.profile), state.as_of_date or today(request))
        except ProfileError as e:
            state.errors["registered_on"] = e.problems[0].message_zh
            state.profile = None
    if state.profile is None:
        return _calculator(request, state, None, 422 if state.filled or state.errors else 200)
    lib = await library(request, state.as_of_date)
    result = match(state.profile, state.as_of_date or today(request), lib)
    return _calculator(request, state, result, lib=lib)


@router.get("/policies", response_class=HTMLResponse)
async def policies_page(request: Request) -> HTMLResponse:
    """政策库: the discover search (every word typed, synonyms, highlighted) with the
    catalogue's filters; region and industry keep the policies that could apply there."""
    params = request.query_params
    names = ("q", "category", "region", "industry", "in_force_on", "sort")
    values = {k: params.get(k, "").strip()[:100] for k in names}
    errors: dict[str, str] = {}
    category = values["category"] or None
    if category is not None and category not in vocab.CATEGORIES:
        errors["category"] = "没有这个类别"
        category = None
    sort = values["sort"] or "relevance"
    if sort not in policy_search.SORTS:
        errors["sort"] = "排序方式只能是：" + "、".join(policy_search.SORTS.values())
        sort = "relevance"
    region = None
    if values["region"]:
        region = region_code(values["region"].split()[0])
        if region is None:
            errors["region"] = "请从列表中选择所在地区"
    industry = None
    if values["industry"]:
        try:
            industry = forms.resolve_industry(values["industry"])
        except ValueError as e:
            errors["industry"] = forms.message_zh(e)
        else:
            if gbt4754.lookup(industry) is None:
                errors["industry"] = f"GB/T 4754-2017 中没有代码 {industry}"
                industry = None
            else:
                values["industry"] = industry_text(industry)
    in_force_on = None
    if values["in_force_on"]:
        try:
            in_force_on = dt.date.fromisoformat(values["in_force_on"])
        except ValueError:
            errors["in_force_on"] = "应为日期，格式 YYYY-MM-DD"
    lib = current_library(request)
    day = today(request)
    on = in_force_on or day  # the day the cards' summaries quote the parameters of
    only = None
    if region is not None or industry is not None:
        only = {p.id for p in lib.policies if could_apply(lib, p, on, region, industry)}
    result = None
    try:
        result = policy_search.search(
            search_index(request, lib),
            values["q"],
            today=day,
            category=category,
            in_force_on=in_force_on,
            only=only,
            sort=sort,  # type: ignore[arg-type]
            limit=len(lib.policies),
        )
    except policy_search.SearchError as e:
        errors[e.field] = e.message_zh
    return render(
        request,
        "policies.html",
        {
            "cards": [(catalog.summary(lib.by_id[h.doc.policy_id], lib, on), h) for h in result.hits] if result else [],
            "result": result,
            "total": len(lib.policies),
            "values": values,
            "errors": errors,
            "filtered": any(v for k, v in values.items() if k != "sort"),
            "SORTS": policy_search.SORTS,
            "today": day,
            "page": "policies",
        },
        422 if errors else 200,
    )


@router.get("/search", response_class=HTMLResponse)
async def search_page(request: Request) -> HTMLResponse:
    """政策搜索: every word typed must be found; 即将截止 and sorts as links (huiqi.discover.search)."""
    params = request.query_params
    q = params.get("q", "").strip()[:200]
    sort = params.get("sort", "relevance")
    closing = params.get("closing") == "1"
    errors: dict[str, str] = {}
    if sort not in policy_search.SORTS:
        errors["sort"] = "排序方式只能是：" + "、".join(policy_search.SORTS.values())
        sort = "relevance"
    lib = current_library(request)
    result = None
    try:
        result = policy_search.search(
            search_index(request, lib),
            q,
            today=today(request),
            sort=sort,  # type: ignore[arg-type]
            closing_within=policy_search.CLOSING_SOON_DAYS if closing else None,
        )
    except policy_search.SearchError as e:
        errors[e.field] = e.message_zh
    return render(
        request,
        "search.html",
        {
            "q": q,
            "sort": sort,
            "closing": closing,
            "result": result,
            "errors": errors,
            "SORTS": policy_search.SORTS,
            "closing_days": policy_search.CLOSING_SOON_DAYS,
            "page": "search",
        },
        422 if errors else 200,
    )


@router.get("/policies/{policy_id}", response_class=HTMLResponse)
async def policy_page(request: Request, policy_id: str) -> Response:
    lib = current_library(request)
    policy = lib.by_id.get(policy_id)
    if policy is None:
        return error_page(request, 404, f"政策库中没有编号为“{policy_id[:100]}”的政策。")
    info = catalog.detail(policy, lib, today(request))
    return render(
        request,
        "policy.html",
        {"p": info, "in_force": policy.definition.in_force(today(request)), "page": "policies"},
    )


_ERROR_TITLES = {
    401: "需要登录",
    403: "没有权限",
    404: "找不到这个页面",
    405: "不支持这种访问方式",
    409: "操作未被接受",
    413: "提交的内容太大",
    429: "请求过于频繁",
    503: "服务暂不可用",
}


def error_page(request: Request, status: int, detail: str = "") -> Response:
    title = _ERROR_TITLES.get(status, "请求有误")
    if not detail or detail in ("Not Found", "Method Not Allowed"):
        detail = ""
    return render(request, "error.html", {"status": status, "title": title, "detail": detail}, status)
