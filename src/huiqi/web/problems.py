"""Errors as ``application/problem+json`` (RFC 9457), naming each bad field in Chinese and English.

Every error the API returns has the same shape::

    {"type": "urn:huiqi:problem:invalid-input", "title": "输入有误 / Invalid input",
     "status": 422, "detail": "…", "instance": "/api/v1/match",
     "errors": [{"field": "profile.employees", "label": "从业人数", "pointer": "#/profile/employees",
                 "message_zh": "应为整数", "message_en": "Input should be a valid integer"}]}

``errors`` is RFC 9457's extension member for per-field problems (its section 3 example).
Every :class:`huiqi.errors.HuiqiError` (profile, lifecycle, permission, rate limit…) and
FastAPI's own request validation errors are translated here, in one handler, so that no
input shape yields a 5xx.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from huiqi.errors import HuiqiError, Message, RateLimited
from huiqi.profile import FIELDS, FieldProblem

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)


class FieldError(BaseModel):
    field: str = Field(description="dotted path of the bad input, e.g. profile.employees; '' for the whole body")
    label: str = Field(description="该项的中文名称")
    pointer: str = Field(description="JSON Pointer (RFC 6901) into the request, as a URI fragment")
    message_zh: str
    message_en: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(description="URI identifying the kind of problem")
    title: str = Field(description="中文 / English summary of the kind of problem")
    status: int
    detail: str = Field(description="what went wrong in this request, Chinese / English")
    instance: str = Field(description="the request path")
    errors: list[FieldError] = Field(default_factory=list)


#: Chinese names of the request parameters that are not profile fields.
PARAM_LABELS = {
    "profile": "企业画像",
    "as_of": "评估日期",
    "category": "政策类别",
    "region": "所在地区",
    "industry": "所属行业",
    "in_force_on": "有效日期",
    "q": "关键词",
    "limit": "返回条数",
    "policy_id": "政策编号",
}

_ZH = {
    "missing": "缺少此项",
    "extra_forbidden": "不认识这一项（字段名写错了？）",
    "json_invalid": "不是有效的 JSON",
    "json_type": "不是有效的 JSON",
    "model_attributes_type": "应为 JSON 对象",
    "model_type": "应为 JSON 对象",
    "dict_type": "应为 JSON 对象",
    "date_from_datetime_parsing": "应为日期，格式 YYYY-MM-DD",
    "date_from_datetime_inexact": "应为日期，格式 YYYY-MM-DD",
    "date_parsing": "应为日期，格式 YYYY-MM-DD",
    "date_type": "应为日期，格式 YYYY-MM-DD",
    "string_type": "应为文字",
    "string_pattern_mismatch": "格式不对",
    "string_too_short": "不能为空",
    "string_too_long": "过长",
    "literal_error": "取值不在允许范围内",
    "enum": "取值不在允许范围内",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "int_from_float": "应为整数",
    "greater_than_equal": "太小",
    "less_than_equal": "太大",
    "list_type": "应为列表",
    "recursion_loop": "嵌套层数过多",
}


def pointer(field: str) -> str:
    parts = [p.replace("~", "~0").replace("/", "~1") for p in field.split(".") if p != ""]
    return "#/" + "/".join(parts) if parts else "#"


def label_of(field: str) -> str:
    """Chinese name of a request field: a profile field's label, a parameter's, or the body."""
    parts = field.split(".")
    if parts[0] == "profile" and len(parts) > 1 and parts[1] in FIELDS:
        return FIELDS[parts[1]].label
    if parts[0] in FIELDS:
        return FIELDS[parts[0]].label
    return PARAM_LABELS.get(parts[0], field or "请求正文")


def field_error(field: str, message_zh: str, message_en: str) -> FieldError:
    return FieldError(
        field=field, label=label_of(field), pointer=pointer(field), message_zh=message_zh, message_en=message_en
    )


def profile_errors(problems: Iterable[FieldProblem], prefix: str = "profile") -> list[FieldError]:
    out = []
    for p in problems:
        field = ".".join(x for x in (prefix, p.field) if x)
        out.append(field_error(field, p.message_zh, p.message_en))
    return out


def validation_errors(errors: Sequence[Any]) -> list[FieldError]:
    """FastAPI/pydantic validation errors (``loc`` = where, then the path) as field errors."""
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())]
        where = loc[0] if loc else "body"
        kind = str(err.get("type", ""))
        rest = loc[1:] if where in ("body", "query", "path", "header", "cookie") else loc
        if kind == "json_invalid":
            # loc is ("body", character offset): not a field.
            offset = rest[0] if rest else "?"
            ctx = err.get("ctx") or {}
            out.append(
                field_error(
                    "",
                    f"请求正文不是有效的 JSON（第 {offset} 个字符附近）",
                    f"the request body is not valid JSON (near character {offset}): {ctx.get('error', '')}",
                )
            )
            continue
        field = ".".join(rest)
        en = str(err.get("msg", kind)).removeprefix("Value error, ")
        if kind == "value_error":
            message = Message.parse(str((err.get("ctx") or {}).get("error", en)))
            out.append(field_error(field, message.zh, en if message.en == message.zh else message.en))
            continue
        zh = _ZH.get(kind, "取值无效")
        if field == "" and isinstance(err.get("input"), bytes | bytearray):
            zh = "请求正文应为 JSON 对象（请求头 Content-Type: application/json）"
            en = "the body must be a JSON object sent as Content-Type: application/json"
        elif kind == "missing" and field == "":
            zh, en = "缺少请求正文", "the request body is missing"
        out.append(field_error(field, zh, en))
    return out


def problem_response(
    request: Request,
    status: int,
    kind: str,
    title: str,
    detail: str,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = Problem(
        type=f"urn:huiqi:problem:{kind}",
        title=title,
        status=status,
        detail=detail,
        instance=request.url.path,
        errors=errors or [],
    )
    return JSONResponse(body.model_dump(), status_code=status, media_type=PROBLEM_JSON, headers=headers)


def invalid_input(request: Request, errors: list[FieldError]) -> Response:
    names = "、".join(dict.fromkeys(e.label for e in errors))
    return problem_response(
        request,
        422,
        "invalid-input",
        "输入有误 / Invalid input",
        f"有 {len(errors)} 处输入需要修改：{names} / {len(errors)} problem(s) in the request",
        errors,
    )


_HTTP_TITLES = {
    400: Message("请求无法解析", "Bad request"),
    401: Message("需要登录", "Authentication required"),
    403: Message("无权进行此操作", "Forbidden"),
    404: Message("找不到", "Not found"),
    405: Message("不支持此请求方法", "Method not allowed"),
    406: Message("无法提供所要的格式", "Not acceptable"),
    413: Message("请求正文太大", "Request body too large"),
    415: Message("不支持的内容类型", "Unsupported media type"),
}


def is_api(request: Request) -> bool:
    """Machine clients (problem+json) rather than people (an HTML page)."""
    path = request.url.path
    return path.startswith(("/api/", "/admin/api/")) or path in ("/openapi.json", "/docs")


def huiqi_problem(request: Request, exc: HuiqiError) -> Response:
    """A :class:`HuiqiError` as problem+json: its class gives status, type and title."""
    detail = " ".join([str(exc.message), *exc.details()])
    errors = [field_error(f.field, f.message.zh, f.message.en) for f in exc.field_errors()]
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    return problem_response(request, exc.status, exc.kind, str(exc.title), detail, errors, headers)


def _http_problem(request: Request, exc: StarletteHTTPException) -> Response:
    title = _HTTP_TITLES.get(exc.status_code, Message("请求有误", "Request error"))
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail else title.en
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"没有这个地址 / no such address: {request.url.path}"
    elif exc.status_code == 400 and detail == "There was an error parsing the body":
        detail = "请求正文无法解析（格式错误、嵌套过深或数字过长） / the request body could not be parsed"
    headers = dict(exc.headers) if exc.headers else None
    return problem_response(request, exc.status_code, f"http-{exc.status_code}", str(title), detail, headers=headers)


HtmlErrorPage = Callable[[Request, int, str], Response]


def install(app: FastAPI, html: HtmlErrorPage | None = None) -> None:
    """Register the one handler that turns every error a request can end in into
    problem+json (API paths) or, through ``html``, an error page in Chinese (pages).

    Model: datasette's ``handle_exception``. :class:`HuiqiError` subclasses say their own
    status; a page that needs a login redirects to it (``Unauthenticated.location``).
    """

    async def handle_exception(request: Request, exc: Exception) -> Response:
        if isinstance(exc, RequestValidationError):
            return invalid_input(request, validation_errors(exc.errors()))
        if isinstance(exc, RecursionError):
            return problem_response(
                request, 400, "http-400", str(_HTTP_TITLES[400]), "请求嵌套过深 / the request is nested too deeply"
            )
        if isinstance(exc, DataError):
            # Input the database cannot store (a NUL byte, an over-long text) that the edge
            # did not catch: still the client's input, never a 500.
            log.warning("database refused a value: %s", type(exc.orig).__name__)
            return problem_response(
                request,
                422,
                "invalid-input",
                "输入有误 / Invalid input",
                "输入含有无法保存的字符或过长 / the input has characters or a length the database cannot store",
            )
        page = html is not None and not is_api(request)
        if isinstance(exc, HuiqiError):
            location = getattr(exc, "location", None)
            if page and location and request.method == "GET":
                return RedirectResponse(location, status_code=303)
            if page and html is not None:
                return html(request, exc.status, exc.message.zh)
            return huiqi_problem(request, exc)
        assert isinstance(exc, StarletteHTTPException)
        if page and html is not None:
            detail = exc.detail if isinstance(exc.detail, str) else ""
            response = html(request, exc.status_code, detail)
            for name, value in (exc.headers or {}).items():
                response.headers[name] = value  # e.g. Allow on a 405
            return response
        return _http_problem(request, exc)

    for kind in (HuiqiError, StarletteHTTPException, RequestValidationError, RecursionError, DataError):
        app.add_exception_handler(kind, handle_exception)
