"""The HTTP API under ``/api/v1`` (OpenAPI at ``/openapi.json``, docs at ``/docs``)."""

from __future__ import annotations

import datetime as dt
import gc
from typing import Annotated, Any

import anyio
import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

from huiqi.clock import Clock
from huiqi.discover import filter_policies, industry_words
from huiqi.errors import Message
from huiqi.match import MatchResult, answer
from huiqi.profile import FIELDS, Profile, ProfileError, normalise, parse_profile
from huiqi.profile import industry as gbt4754
from huiqi.rules import Library, LibrarySource
from huiqi.web import catalog
from huiqi.web.limits import client_address
from huiqi.web.problems import (
    FieldError,
    Problem,
    field_error,
    invalid_input,
    problem_response,
    profile_errors,
)

#: The evaluation dates the calculator accepts.
EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(2100, 12, 31)

LEVEL_NAMES = {1: "门类", 2: "大类", 3: "中类", 4: "小类"}


def today(request: Request) -> dt.date:
    """The city's date on the app's clock (the one clock: see ``huiqi.clock``)."""
    clock: Clock = request.app.state.clock
    return clock.today()


def current_library(request: Request) -> Library:
    """Today's library: asked of the source every time (a publication may have swapped it)."""
    state = request.app.state
    source: LibrarySource = state.source
    lib = source.current()
    if state.freeze_gc and state.frozen_library != id(lib):
        gc.freeze()  # a newly published library: keep it out of the collector's walks too
        state.frozen_library = id(lib)
    return lib


#: Library builds running at once in a worker (each ~0.2 s of CPU), whoever asked.
_BUILDS = anyio.CapacityLimiter(1)


async def library(request: Request, as_of: dt.date | None = None) -> Library:
    """The library for this request. A past (or future) ``as_of`` gets the versions in
    force then, so old answers reproduce.

    A date whose set of versions is already built costs nothing. Any other date needs a
    build: it runs in a worker thread, one at a time, never on the event loop, and each
    client may cause only a few a minute (:class:`~huiqi.web.limits.RateLimiter`): a
    client that cycles through dates gets 429 instead of slowing everyone else down.
    """
    if as_of is None or as_of == today(request):
        return current_library(request)
    state = request.app.state
    source: LibrarySource = state.source
    found = source.cached_for(as_of)
    if found is not None:
        return found
    clock: Clock = state.clock
    state.as_of_builds.check(
        client_address(request),
        clock.now().timestamp(),
        Message(
            "短时间内查询的历史日期过多，请稍后再试",
            "too many different evaluation dates from this client; try again shortly",
        ),
    )
    return await anyio.to_thread.run_sync(source.library_for, as_of, limiter=_BUILDS)


async def library_dep(request: Request) -> Library:
    # async: FastAPI would run a plain ``def`` dependency in a worker thread (a thread hop
    # per request); ``current()`` is cheap by contract, so it runs inline.
    return current_library(request)


LibraryDep = Annotated[Library, Depends(library_dep)]


def _profile_schema() -> dict[str, Any]:
    schema = Profile.model_json_schema()
    schema["minProperties"] = 1
    schema["description"] = "企业画像：每一项都可不填（不填 = 未知，不按 0 算），但不能全部为空。金额单位为元。"
    return schema


def check_as_of(value: dt.date | None) -> dt.date | None:
    if value is not None and not EARLIEST <= value <= LATEST:
        raise ValueError(f"评估日期应在 {EARLIEST} 至 {LATEST} 之间 / as_of must be between {EARLIEST} and {LATEST}")
    return value


class MatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile: Annotated[dict[str, Any], WithJsonSchema(_profile_schema())]
    as_of: dt.date | None = Field(None, description=f"评估日期 YYYY-MM-DD（{EARLIEST} 至 {LATEST}），默认今天")

    @field_validator("as_of")
    @classmethod
    def _as_of(cls, v: dt.date | None) -> dt.date | None:
        return check_as_of(v)


def _wrong_json_types(profile: dict[str, Any]) -> list[FieldError]:
    """Values whose JSON type is not the one the published schema gives the field.

    pydantic's lax mode would read ``true`` as 1 employee, the number 0 as the date
    1970-01-01 and the string "25" as an integer; the API holds to its spec instead.
    """
    out = []
    for name, value in profile.items():
        spec = FIELDS.get(name)
        if spec is None or value is None:
            continue
        kind = spec.kind_spec
        if isinstance(value, bool) or not isinstance(value, kind.json_types):
            out.append(
                field_error(f"profile.{name}", kind.json_zh, f"expected {kind.json_en}, got {type(value).__name__}")
            )
    return out


class Industry(BaseModel):
    code: str
    name: str
    level: int = Field(description="1 门类, 2 大类, 3 中类, 4 小类")
    level_name: str
    path: list[str] = Field(description="门类起的各级名称")
    why: str = Field("", description="为什么给出这个行业（常用说法、名称或分类说明）")


class IndustryList(BaseModel):
    industries: list[Industry]


class Health(BaseModel):
    status: str
    policies: int


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": Problem, "description": "problem+json (RFC 9457)"} for code in codes}


router = APIRouter(prefix="/api/v1")


@router.post(
    "/match",
    response_model=MatchResult,
    summary="政策计算器：企业画像进，全部政策的判断结果出",
    responses=_problems(400, 413, 422, 429, 503),
)
async def match_endpoint(request: Request, body: MatchRequest) -> Response:
    """Every policy in force on ``as_of``, each ``eligible`` / ``undetermined`` / ``ineligible``,
    with the reason for each condition, the missing facts and the estimated amount."""
    errors = _wrong_json_types(body.profile)
    as_of = body.as_of or today(request)
    try:
        profile = parse_profile(body.profile, as_of=as_of)  # also: not registered after as_of
    except ProfileError as e:
        typed = {x.field for x in errors}
        errors += [x for x in profile_errors(e.problems) if ".".join(x.field.split(".")[:2]) not in typed]
    if errors:
        return invalid_input(request, errors)  # 422 problem naming every field
    data = answer(profile, as_of, await library(request, body.as_of))
    return Response(orjson.dumps(data), media_type="application/json")


@router.get(
    "/policies",
    response_model=catalog.PolicyList,
    summary="政策库：按类别、地区、行业、有效日期和关键词筛选",
    responses=_problems(422),
)
async def policies_endpoint(
    request: Request,
    lib: LibraryDep,
    category: Annotated[catalog.Category | None, Query(description="政策类别")] = None,
    region: Annotated[
        str | None,
        Query(
            max_length=20,
            description="企业所在地区（6位行政区划代码，全角数字按半角处理）：只列出可能适用于该地区的政策",
        ),
    ] = None,
    industry: Annotated[
        str | None,
        Query(
            pattern=r"^[A-Ta-t]([0-9]{2}([0-9]{1,2})?)?$",
            description="GB/T 4754-2017 行业代码（C、C39、C3911）：只列出条件不排除该行业的政策",
        ),
    ] = None,
    in_force_on: Annotated[dt.date | None, Query(description="只列出在这一天有效的政策")] = None,
    q: Annotated[str | None, Query(max_length=100, description="关键词（标题、摘要、标签、文号）")] = None,
) -> catalog.PolicyList | Response:
    errors = []
    if region is not None:
        region = region_code(region)
        if region is None:
            errors.append(field_error("region", "应为6位数字的行政区划代码", "expected 6 digits (0-9)"))
    if industry is not None:
        industry = industry.upper()
        if gbt4754.lookup(industry) is None:
            errors.append(
                field_error(
                    "industry",
                    f"GB/T 4754-2017 中没有代码 {industry}",
                    f"{industry} is not a GB/T 4754-2017 code",
                )
            )
    try:
        check_as_of(in_force_on)
    except ValueError as e:
        message = Message.parse(str(e))
        errors.append(field_error("in_force_on", message.zh, message.en))
    if errors:
        return invalid_input(request, errors)
    found = filter_policies(
        lib, category=category, region=region, industry=industry, in_force_on=in_force_on, q=q, today=today(request)
    )
    return catalog.PolicyList(
        count=len(found),
        in_force_on=in_force_on,
        policies=[catalog.summary(p, lib, in_force_on or today(request)) for p in found],
    )


@router.get(
    "/policies/{policy_id}",
    response_model=catalog.PolicyDetail,
    summary="一项政策：条件、金额算法、怎么申请、原文出处",
    responses=_problems(404, 422),
)
async def policy_endpoint(
    request: Request, lib: LibraryDep, policy_id: Annotated[str, Field(max_length=200)]
) -> catalog.PolicyDetail | Response:
    policy = lib.by_id.get(policy_id)
    if policy is None:
        return problem_response(
            request,
            404,
            "policy-not-found",
            "找不到该政策 / Policy not found",
            f"政策库中没有编号为 {policy_id} 的政策 / no policy with id {policy_id!r}",
            [field_error("policy_id", "政策库中没有这个编号", "no policy with this id")],
        )
    return catalog.detail(policy, lib, today(request))


@router.get(
    "/industries",
    response_model=IndustryList,
    summary="国民经济行业分类（GB/T 4754-2017）查询：按代码开头或名称",
    responses=_problems(422),
)
async def industries_endpoint(
    q: Annotated[str, Query(max_length=50, description="代码开头（C39）或名称中的字（计算机）")] = "",
    limit: Annotated[int, Query(ge=1, le=100, description="最多返回几条")] = 20,
) -> IndustryList:
    out = []
    # Everyday words first (饭馆 → 正餐服务), then the standard's names and notes: huiqi.discover.
    for c in industry_words.suggest(q, limit):
        out.append(
            Industry(
                code=c.code,
                name=c.name,
                level=c.level,
                level_name=LEVEL_NAMES.get(c.level, ""),
                path=list(c.path),
                why=c.why,
            )
        )
    return IndustryList(industries=out)


@router.get("/health", response_model=Health, summary="运行状态")
async def health_endpoint(lib: LibraryDep) -> Health:
    return Health(status="ok", policies=len(lib.policies))


def region_code(text: str) -> str | None:
    """A region code as typed, read as the profile reads it (``huiqi.profile.normalise``:
    ３３９９０１ and ٣٣٩٩٠١ are 339901); None unless it is then six digits. The API and the
    pages read region filters through this one function."""
    code = str(normalise(text)).strip()
    return code if len(code) == 6 and code.isascii() and code.isdigit() else None
