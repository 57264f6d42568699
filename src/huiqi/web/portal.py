"""企业空间 on the web: the enterprise's pages under ``/my``, its JSON API under ``/api/v1/my``,
and the officers' application queue under ``/admin/queue``.

Identity is a server-side session (``huiqi_my`` cookie: HttpOnly, SameSite=Strict, Secure on
https) opened by password + TOTP or by an e-licence presentation (``huiqi.portal.accounts``).
Nothing here is anonymous except the login and registration pages and a saved answer's
share link (``/shared/{hash}``, which carries no identifying data). Forms carry the session's
CSRF token; API calls that change something send it as ``X-CSRF-Token``. Every enterprise
route answers 401 without a session (``tests/portal/test_anonymous.py`` walks the OpenAPI
spec to check each one).
"""

from __future__ import annotations

import datetime as dt
import hmac
import io
import os
import secrets
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from huiqi import vocab
from huiqi.errors import HuiqiError, InputError, Message, PermissionDenied, Unauthenticated, Unavailable
from huiqi.library.officers import Officer
from huiqi.match.engine import answer as match_answer
from huiqi.portal import AUDIENCE, RIGHTS, STATUSES, TRANSITIONS, Actor, Portal, open_vault
from huiqi.portal.accounts import Session_
from huiqi.portal.applications import APPLICABLE_MODES, DECLARATION
from huiqi.portal.feedback import APPEAL_KINDS, ASPECTS, GRADES
from huiqi.portal.identity import SYSTEM as PORTAL_SYSTEM
from huiqi.portal.identity import GatewayIdentity
from huiqi.portal.profile import check_fact, deadlines
from huiqi.profile import FIELDS
from huiqi.rules import Library
from huiqi.sharing import prefill as prefilling
from huiqi.web import sharing as web_sharing
from huiqi.web.admin.auth import require
from huiqi.web.problems import Problem
from huiqi.web.sessions import COOKIE, CSRF_HEADER

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
router = APIRouter()
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": "problem+json (RFC 9457)"}
    for code in (400, 401, 403, 404, 409, 413, 422, 429)
}
api = APIRouter(prefix="/api/v1/my", tags=["企业空间"], responses=_ERRORS)
VERDICTS = {"eligible": "符合", "undetermined": "需补充信息", "ineligible": "不符合"}
#: The consent the profile page asks for: the calculator's facts from 税务局 and 人社局.
DEFAULT_SCOPE = {
    "tax.taxpayer": {
        "read": [
            "taxpayer_type",
            "credit_rating",
            "revenue",
            "taxable_income",
            "rd_expense",
            "total_assets",
            "monthly_sales",
        ]
    },
    "hrss.insurance": {"read": ["employees"]},
}


def _money(value: Any) -> str:
    if value in (None, ""):
        return "—"
    return f"{Decimal(str(value)):,.2f} 元"


def _date(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        return f"{value.year}年{value.month}月{value.day}日 {value:%H:%M}"
    return f"{value.year}年{value.month}月{value.day}日"


def _fact(name: str, value: Any) -> str:
    if value in (None, ""):
        return "（未填）"
    spec = FIELDS.get(name)
    if spec is None:
        return str(value)
    if isinstance(value, list):
        return "、".join(spec.label_of(str(v)) if spec.values else str(v) for v in value) or "无"
    if spec.values:
        return spec.label_of(str(value))
    if spec.kind == "money":
        return _money(value)
    return str(value) + (spec.unit if spec.unit and spec.unit not in ("元",) else "")


TEMPLATES.env.globals.update(
    money=_money,
    date_zh=_date,
    fact=_fact,
    STATUSES=STATUSES,
    TRANSITIONS=TRANSITIONS,
    RIGHTS=RIGHTS,
    GRADES=GRADES,
    ASPECTS=ASPECTS,
    APPEAL_KINDS=APPEAL_KINDS,
    VERDICTS=VERDICTS,
    FIELDS=FIELDS,
    DECLARATION=DECLARATION,
    ROLES=vocab.ROLES,
)


# --- the app's portal ---------------------------------------------------------------------------
def portal(request: Request) -> Portal:
    """The app's Portal over its platform database (made on first use)."""
    state = request.app.state
    found: Portal | None = getattr(state, "portal", None)
    if found is None:
        engine = getattr(getattr(state, "source", None), "engine", None)
        if engine is None:
            raise Unavailable(Message("企业空间需要平台数据库：请设置 HUIQI_DB 后启动", "the portal needs HUIQI_DB"))
        clock = state.clock
        keyring = Path(os.environ.get("HUIQI_PORTAL_KEYRING", "var/portal-keyring.json"))
        vault = open_vault(engine, clock=clock, keyring_file=keyring)
        identity = None
        try:
            ctx = web_sharing.sharing(request)
            if ctx.deployment is not None:
                identity = GatewayIdentity(ctx.client(PORTAL_SYSTEM))
        except HuiqiError:
            identity = None
        found = Portal(engine, clock, _library(request), vault, identity)
        state.portal = found
    return found


def _library(request: Request) -> Callable[[], Library]:
    source = request.app.state.source
    return source.current


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


# --- who is asking ------------------------------------------------------------------------------------
def _session(request: Request) -> Session_ | None:
    token = request.cookies.get(COOKIE)
    return portal(request).accounts.session(token) if token else None


def me(request: Request) -> Session_:
    """The enterprise account behind the session (a full one); 401 otherwise, or the login page."""
    found = _session(request)
    if found is None or found.stage != "full":
        error = Unauthenticated(Message("请先登录企业空间", "log in to the enterprise space first"))
        error.location = f"/my/login?next={quote(request.url.path)}"  # type: ignore[attr-defined]
        raise error
    if request.method not in ("GET", "HEAD") and request.url.path.startswith("/api/"):
        token = request.headers.get(CSRF_HEADER, "")
        if not token or not hmac.compare_digest(token, found.csrf):
            raise PermissionDenied(Message(f"缺少或错误的 {CSRF_HEADER}", f"{CSRF_HEADER} missing or wrong"))
    return found


Me = Annotated[Session_, Depends(me)]


def _csrf(session: Session_, token: str) -> None:
    if not token or not hmac.compare_digest(token, session.csrf):
        raise PermissionDenied(Message("表单已过期，请刷新页面后重试", "CSRF token missing or wrong"))


def _page(request: Request, name: str, session: Session_ | None, **values: Any) -> HTMLResponse:
    values.update(me=session, csrf=session.csrf if session else "", page="my")
    values.setdefault("msg", request.query_params.get("msg"))
    values.setdefault("error", request.query_params.get("error"))
    return TEMPLATES.TemplateResponse(request, name, values)


def _back(url: str, *, msg: str | None = None, error: str | None = None) -> RedirectResponse:
    query = urlencode({k: v for k, v in (("msg", msg), ("error", error)) if v})
    return RedirectResponse(f"{url}{'&' if '?' in url else '?'}{query}" if query else url, status_code=303)


def _set_cookie(request: Request, response: Response, token: str, hours: float) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(hours * 3600),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


def _next(value: str | None) -> str:
    return value if value and value.startswith("/my") and "//" not in value else "/my"


# --- login, 2FA, registration ------------------------------------------------------------------------
LOGIN_COOKIE = "huiqi_my_login"


def _login_page(request: Request, next: str, **values: Any) -> HTMLResponse:
    """The login page with a fresh form token, also set as a cookie: a login form posted
    from another site (login CSRF) has neither."""
    token = secrets.token_urlsafe(24)
    page = _page(
        request,
        "my/login.html",
        None,
        next=_next(next),
        nonce=portal(request).accounts.nonce(),
        audience=AUDIENCE,
        form_token=token,
        **values,
    )
    page.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=1800,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/my",
    )
    return page


def _login_form_ok(request: Request, token: str) -> bool:
    expected = request.cookies.get(LOGIN_COOKIE, "")
    return bool(token and expected and hmac.compare_digest(token, expected))


@router.get("/my/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(request: Request, next: str = "/my") -> HTMLResponse:
    return _login_page(request, next)


@router.post("/my/login", include_in_schema=False)
def login_submit(
    request: Request,
    login: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form()] = "/my",
    form_token: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    accounts = portal(request).accounts
    if not _login_form_ok(request, form_token):
        return _login_page(request, next, error="登录表单已过期，请重新输入", login=login)
    try:
        token, _ = accounts.login(login, password, address=_address(request), allow_unconfirmed=True)
    except HuiqiError as e:
        page = _login_page(request, next, error=e.message.zh, login=login)
        page.status_code = e.status
        return page
    response = RedirectResponse(f"/my/2fa?next={quote(_next(next))}", status_code=303)
    _set_cookie(request, response, token, 0.1)
    return response


@router.get("/my/2fa", response_class=HTMLResponse, include_in_schema=False)
def totp_page(request: Request, next: str = "/my") -> Response:
    found = _session(request)
    if found is None:
        return RedirectResponse("/my/login", status_code=303)
    return _page(request, "my/totp.html", None, next=_next(next), person=found.actor.name)


@router.post("/my/2fa", include_in_schema=False)
def totp_submit(
    request: Request, code: Annotated[str, Form(max_length=16)] = "", next: Annotated[str, Form()] = "/my"
) -> Response:
    accounts = portal(request).accounts
    try:
        token, _ = accounts.second_factor(request.cookies.get(COOKIE, ""), code, address=_address(request))
    except HuiqiError as e:
        if isinstance(e, Unauthenticated) and _session(request) is None:
            return _back("/my/login", error=e.message.zh)
        return _page(request, "my/totp.html", None, next=_next(next), error=e.message.zh)
    response = RedirectResponse(_next(next), status_code=303)
    _set_cookie(request, response, token, 8)
    return response


@router.post("/my/login/licence", include_in_schema=False)
def licence_submit(
    request: Request,
    presentation: Annotated[str, Form(max_length=20000)] = "",
    nonce: Annotated[str, Form(max_length=64)] = "",
    form_token: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    from huiqi.web.certs import licences

    accounts = portal(request).accounts
    if not _login_form_ok(request, form_token):
        return _back("/my/login", error="登录表单已过期，请重新输入")
    try:
        token, _ = accounts.login_with_licence(presentation, nonce, licences(request), address=_address(request))
    except HuiqiError as e:
        return _back("/my/login", error=e.message.zh)
    response = RedirectResponse("/my", status_code=303)
    _set_cookie(request, response, token, 8)
    return response


@router.post("/my/logout", include_in_schema=False)
def logout_submit(request: Request, session: Me, csrf: Annotated[str, Form()] = "") -> Response:
    _csrf(session, csrf)
    portal(request).accounts.logout(request.cookies.get(COOKIE, ""))
    response = RedirectResponse("/my/login?msg=" + quote("已退出"), status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/my/register", response_class=HTMLResponse, include_in_schema=False)
def register_page(request: Request) -> HTMLResponse:
    return _page(request, "my/register.html", None, values={})


@router.post("/my/register", include_in_schema=False)
def register_submit(
    request: Request,
    uscc: Annotated[str, Form(max_length=32)] = "",
    name: Annotated[str, Form(max_length=64)] = "",
    id_number: Annotated[str, Form(max_length=32)] = "",
    login: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    invite: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    accounts = portal(request).accounts
    try:
        if invite:
            _, secret = accounts.accept_invite(invite, login, password)
        else:
            _, secret = accounts.register(uscc, name, id_number, login, password)
    except HuiqiError as e:
        fields = [f.field for f in e.field_errors()]
        return _page(
            request,
            "my/register.html",
            None,
            error=e.message.zh,
            bad=fields,
            values={"uscc": uscc, "name": name, "id_number": id_number, "login": login, "invite": invite},
        )
    return _setup_page(request, login, secret)


def _setup_page(request: Request, login: str, secret: str) -> HTMLResponse:
    import segno

    uri = portal(request).accounts.provisioning_uri(secret, login)
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", scale=4, xmldecl=False, svgns=True)
    return _page(request, "my/setup.html", None, login=login, secret=secret, qr=buffer.getvalue().decode(), uri=uri)


# --- my space ---------------------------------------------------------------------------------------
def _my_results(request: Request, uscc: str) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    p = portal(request)
    profile = p.profiles.profile(uscc)
    library = p.library()
    today = p.clock.today()
    try:
        result = match_answer(profile, today, library)
    except HuiqiError:
        result = match_answer({"uscc": uscc}, today, library)
    return profile, deadlines(library, result["results"], today), result


@router.get("/my", response_class=HTMLResponse, include_in_schema=False)
def home(request: Request, session: Me) -> HTMLResponse:
    p = portal(request)
    uscc = session.actor.uscc or ""
    profile, due, result = _my_results(request, uscc)
    library = p.library()
    results = [r for r in result["results"] if r["verdict"] != "ineligible"]
    for r in results:
        policy = library.by_id.get(r["policy_id"])
        r["mode"] = policy.definition.apply.mode if policy else ""
    return _page(
        request,
        "my/home.html",
        session,
        account=p.accounts.account(session.actor.account_id or 0),
        results=results,
        totals=result["totals"],
        deadlines=due,
        notices=p.profiles.notices(uscc, 20),
        grants=p.grants.of_enterprise(uscc),
        applications=p.applications.of_enterprise(uscc)[:5],
        facts=len(profile) - 1,
        saved=p.profiles.saved_of(uscc)[:5],
        as_of=p.clock.today(),
        subscriptions=p.profiles.subscriptions(uscc),
        categories=vocab.CATEGORIES,
    )


@router.post("/my/save", include_in_schema=False)
def save_result(request: Request, session: Me, csrf: Annotated[str, Form()] = "") -> Response:
    _csrf(session, csrf)
    p = portal(request)
    digest = p.profiles.save(session.actor, p.profiles.profile(session.actor.uscc or ""), p.clock.today())
    return _back(f"/shared/{digest}", msg="已保存。复制本页地址即可分享：链接中不含企业名称和代码。")


@router.get("/shared/{digest}", response_class=HTMLResponse, include_in_schema=False)
def shared_page(request: Request, digest: Annotated[str, PathParam(pattern=r"^[0-9a-f]{64}$")]) -> HTMLResponse:
    p = portal(request)
    profile, as_of = p.profiles.saved(digest)
    result = match_answer(profile, as_of, p.library())
    return _page(request, "my/shared.html", None, profile=profile, as_of=as_of, result=result, digest=digest)


@router.post("/my/subscriptions", include_in_schema=False)
def subscribe_submit(
    request: Request,
    session: Me,
    csrf: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "new_eligible",
    category: Annotated[str, Form()] = "",
) -> Response:
    _csrf(session, csrf)
    try:
        portal(request).profiles.subscribe(session.actor, kind, category or None)
    except HuiqiError as e:
        return _back("/my", error=e.message.zh)
    return _back("/my", msg="已订阅")


@router.post("/my/notices/read", include_in_schema=False)
def notices_read(
    request: Request,
    session: Me,
    csrf: Annotated[str, Form()] = "",
    source: Annotated[str, Form()] = "portal",
    notice_id: Annotated[int, Form(ge=1)] = 1,
) -> Response:
    _csrf(session, csrf)
    portal(request).profiles.mark_read(session.actor, source, notice_id)
    return _back("/my")


# --- my profile ------------------------------------------------------------------------------------------
def _consent(request: Request, uscc: str) -> Any:
    try:
        ctx = web_sharing.sharing(request)
    except HuiqiError:
        return None
    return web_sharing._granted(ctx, uscc, "policy_match")


@router.get("/my/profile", response_class=HTMLResponse, include_in_schema=False)
def profile_page(request: Request, session: Me) -> HTMLResponse:
    p = portal(request)
    uscc = session.actor.uscc or ""
    return _page(
        request,
        "my/profile.html",
        session,
        facts=p.profiles.facts(uscc),
        history=p.profiles.history(uscc)[:50],
        consent=_consent(request, uscc),
        editable=[f for f in FIELDS.values() if f.name not in ("uscc",)],
    )


@router.post("/my/profile/consent", include_in_schema=False)
async def consent_submit(
    request: Request, session: Me, csrf: Annotated[str, Form()] = "", action: Annotated[str, Form()] = "grant"
) -> Response:
    """Give (or withdraw) consent to the calculator's use of tax and insurance facts, then prefill."""
    _csrf(session, csrf)
    session.actor.need("profile")
    uscc = session.actor.uscc or ""
    ctx = web_sharing.sharing(request)
    current = web_sharing._granted(ctx, uscc, "policy_match")
    if action == "withdraw":
        if current is not None:
            ctx.consents.withdraw(current.ref, uscc=uscc)
        return _back("/my/profile", msg="已撤回同意：税务、社保数据不再读取")
    if current is None:
        asked = ctx.consents.request(
            ctx.store.published(),
            uscc=uscc,
            consumer=web_sharing.CONSUMER,
            purpose="policy_match",
            scope=DEFAULT_SCOPE,
            official=_official(session),
        )
        ctx.consents.approve(asked.ref, uscc=uscc)
    return await _refresh(request, session)


@router.post("/my/profile/refresh", include_in_schema=False)
async def refresh_submit(request: Request, session: Me, csrf: Annotated[str, Form()] = "") -> Response:
    _csrf(session, csrf)
    return await _refresh(request, session)


async def _refresh(request: Request, session: Me) -> Response:
    result = await _prefill(request, session)
    changed = portal(request).profiles.store_prefill(session.actor, result.to_json())
    gone = "；".join(result.unavailable.values())
    if not result.profile:
        why = gone or "；".join(sorted({r["message"] for r in result.refused.values()})) or "部门没有该企业的数据"
        return _back("/my/profile", error=f"未能从部门获取数据：{why}")
    return _back("/my/profile", msg=f"已从部门获取数据，{changed} 项有更新" + (f"（{gone}）" if gone else ""))


def _official(session: Session_) -> str:
    """Who asks the departments, as their logs record it: the portal account (a login name)."""
    return f"portal.{session.actor.name}"[:64]


async def _prefill(request: Request, session: Session_) -> prefilling.Prefill:
    session.actor.need("profile")
    ctx = web_sharing.sharing(request)
    uscc = session.actor.uscc or ""
    return await prefilling.prefill(
        ctx.client(),
        ctx.store.published(),
        uscc,
        consent=web_sharing._granted(ctx, uscc, "policy_match"),
        library=portal(request).library(),
        as_of=ctx.clock.today(),
        official=_official(session),
        case_id=f"MY-{uuid.uuid4().hex[:12]}",
    )


@router.post("/my/profile/facts", include_in_schema=False)
def correct_submit(
    request: Request,
    session: Me,
    csrf: Annotated[str, Form()] = "",
    field: Annotated[str, Form(max_length=64)] = "",
    value: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    _csrf(session, csrf)
    raw: Any = value.strip()
    spec = FIELDS.get(field)
    if spec is not None and spec.kind == "list" and raw:
        raw = [v.strip() for v in raw.replace("，", ",").split(",") if v.strip()]
    try:
        portal(request).profiles.correct(session.actor, field, raw)
    except HuiqiError as e:
        return _back("/my/profile", error=e.message.zh)
    return _back("/my/profile", msg=f"已更正：{spec.label if spec else field}（企业更正，不回写登记库）")


# --- applications --------------------------------------------------------------------------------------
@router.get("/my/applications", response_class=HTMLResponse, include_in_schema=False)
def applications_page(request: Request, session: Me) -> HTMLResponse:
    p = portal(request)
    library = p.library()
    today = p.clock.today()
    open_policies = [
        x for x in library.policies if x.definition.apply.mode in APPLICABLE_MODES and x.definition.in_force(today)
    ]
    return _page(
        request,
        "my/applications.html",
        session,
        applications=p.applications.of_enterprise(session.actor.uscc or ""),
        policies=open_policies,
    )


@router.post("/my/applications", include_in_schema=False)
def application_create(
    request: Request,
    session: Me,
    csrf: Annotated[str, Form()] = "",
    policy_id: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    _csrf(session, csrf)
    p = portal(request)
    try:
        app_id = p.applications.create(session.actor, policy_id, p.profiles.profile(session.actor.uscc or ""))
    except HuiqiError as e:
        return _back("/my/applications", error=e.message.zh)
    return _back(f"/my/applications/{app_id}", msg="已生成申报表，事实已按企业画像预填")


@router.get("/my/applications/{app_id}", response_class=HTMLResponse, include_in_schema=False)
def application_page(
    request: Request, session: Me, app_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)]
) -> HTMLResponse:
    p = portal(request)
    view = p.applications.get(session.actor, app_id)
    return _page(
        request,
        "my/application.html",
        session,
        app=view,
        rating=p.feedback.rating(app_id),
        person=p.accounts.account(session.actor.account_id or 0)["person_name"],
    )


@router.post("/my/applications/{app_id}/form", include_in_schema=False)
async def application_form(
    request: Request, session: Me, app_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)]
) -> Response:
    form = await request.form()
    _csrf(session, str(form.get("csrf", "")))
    p = portal(request)
    view = p.applications.get(session.actor, app_id)
    values: dict[str, Any] = {}
    for name in view["form"]:
        raw = str(form.get(name, "")).strip()
        if FIELDS[name].kind == "list":
            values[name] = [v.strip() for v in raw.replace("，", ",").split(",") if v.strip()] if raw else None
        else:
            values[name] = check_fact(name, raw) if raw else None
    try:
        p.applications.update_form(session.actor, app_id, values, form.get("amount_requested") or None)
    except HuiqiError as e:
        return _back(f"/my/applications/{app_id}", error=e.message.zh)
    return _back(f"/my/applications/{app_id}", msg="已保存")


@router.post("/my/applications/{app_id}/attachments", include_in_schema=False)
async def application_attach(
    request: Request,
    session: Me,
    app_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)],
    file: Annotated[UploadFile, File()],
    csrf: Annotated[str, Form()] = "",
    material: Annotated[str, Form(max_length=255)] = "",
) -> Response:
    _csrf(session, csrf)
    from huiqi.portal.applications import MAX_ATTACHMENT

    content = await file.read(MAX_ATTACHMENT + 1)
    try:
        portal(request).applications.attach(session.actor, app_id, material, file.filename or "附件", content)
    except HuiqiError as e:
        return _back(f"/my/applications/{app_id}", error=e.message.zh)
    return _back(f"/my/applications/{app_id}", msg=f"已上传：{material}")


@router.get("/my/applications/{app_id}/attachments/{att_id}", include_in_schema=False)
def application_attachment(
    request: Request,
    session: Me,
    app_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)],
    att_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)],
) -> Response:
    name, kind, content = portal(request).applications.attachment(session.actor, app_id, att_id)
    return _download(name, kind, content)


def _download(name: str, kind: str, content: bytes) -> Response:
    return Response(
        content,
        media_type=kind,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
        },
    )


@router.post("/my/applications/{app_id}/sign", include_in_schema=False)
def application_sign(
    request: Request,
    session: Me,
    app_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)],
    csrf: Annotated[str, Form()] = "",
    signer: Annotated[str, Form(max_length=64)] = "",
    agree: Annotated[str, Form()] = "",
) -> Response:
    _csrf(session, csrf)
    if agree != "yes":
        return _back(f"/my/applications/{app_id}", error="请勾选“我已阅读并承诺”")
    try:
        portal(request).applications.sign(session.actor, app_id, signer_name=signer)
    except HuiqiError as e:
        return _back(f"/my/applications/{app_id}", error=e.message.zh)
    return _back(f"/my/applications/{app_id}", msg="已签署告知承诺书")


@router.post("/my/applications/{app_id}/act", include_in_schema=False)
def application_act(
    request: Request,
    session: Me,
    app_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)],
    csrf: Annotated[str, Form()] = "",
    action: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    _csrf(session, csrf)
    p = portal(request)
    try:
        if action not in ("submit", "withdraw", "revise"):
            raise PermissionDenied(Message("企业不能执行此操作", "not an enterprise action"))
        p.applications.act(session.actor, app_id, action)
        if action == "submit":
            p.applications.precheck(app_id)
    except HuiqiError as e:
        return _back(f"/my/applications/{app_id}", error=e.message.zh)
    return _back(f"/my/applications/{app_id}", msg=f"已{TRANSITIONS[action].label}")


@router.post("/my/applications/{app_id}/rating", include_in_schema=False)
async def application_rate(
    request: Request, session: Me, app_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)]
) -> Response:
    form = await request.form()
    _csrf(session, str(form.get("csrf", "")))
    try:
        grade = int(str(form.get("grade", "0")))
        portal(request).feedback.rate(
            session.actor, app_id, grade, [str(a) for a in form.getlist("aspects")], str(form.get("comment", ""))
        )
    except (HuiqiError, ValueError) as e:
        return _back(
            f"/my/applications/{app_id}", error=e.message.zh if isinstance(e, HuiqiError) else "请选择评价等级"
        )
    return _back(f"/my/applications/{app_id}", msg="感谢您的评价")


# --- grants, ledger, appeals, agents --------------------------------------------------------------------
@router.get("/my/grants", response_class=HTMLResponse, include_in_schema=False)
def grants_page(request: Request, session: Me) -> HTMLResponse:
    return _page(
        request, "my/grants.html", session, grants=portal(request).grants.of_enterprise(session.actor.uscc or "")
    )


@router.post("/my/grants/{grant_id}/account", include_in_schema=False)
def grant_account(
    request: Request,
    session: Me,
    grant_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)],
    csrf: Annotated[str, Form()] = "",
    account: Annotated[str, Form(max_length=64)] = "",
    holder: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    _csrf(session, csrf)
    try:
        portal(request).grants.confirm_account(session.actor, grant_id, account, holder)
    except HuiqiError as e:
        return _back("/my/grants", error=e.message.zh)
    return _back("/my/grants", msg="收款账户已确认")


@router.get("/my/ledger", response_class=HTMLResponse, include_in_schema=False)
def ledger_page(request: Request, session: Me) -> HTMLResponse:
    from huiqi.portal.applications import total

    rows = portal(request).applications.ledger(session.actor.uscc or "")
    return _page(request, "my/ledger.html", session, rows=rows, total=total(rows))


@router.get("/my/appeals", response_class=HTMLResponse, include_in_schema=False)
def appeals_page(request: Request, session: Me, policy: str = "") -> HTMLResponse:
    p = portal(request)
    return _page(
        request,
        "my/appeals.html",
        session,
        appeals=p.feedback.appeals(uscc=session.actor.uscc),
        policies=p.library().policies,
        chosen=policy,
    )


@router.post("/my/appeals", include_in_schema=False)
def appeal_submit(
    request: Request,
    session: Me,
    csrf: Annotated[str, Form()] = "",
    policy_id: Annotated[str, Form(max_length=128)] = "",
    kind: Annotated[str, Form(max_length=16)] = "question",
    text: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    _csrf(session, csrf)
    try:
        portal(request).feedback.appeal(session.actor, policy_id, kind, text)
    except HuiqiError as e:
        return _back("/my/appeals", error=e.message.zh)
    return _back("/my/appeals", msg="已提交，受理部门将在 5 个工作日内答复")


@router.get("/my/agents", response_class=HTMLResponse, include_in_schema=False)
def agents_page(request: Request, session: Me) -> HTMLResponse:
    p = portal(request)
    return _page(
        request,
        "my/agents.html",
        session,
        accounts=p.accounts.of_enterprise(session.actor.uscc or ""),
        agent_rights=[r for r in RIGHTS if r not in ("agents", "bank", "view")],
        code=None,
    )


@router.post("/my/agents", include_in_schema=False)
async def agents_submit(request: Request, session: Me) -> Response:
    form = await request.form()
    _csrf(session, str(form.get("csrf", "")))
    p = portal(request)
    try:
        if form.get("disable"):
            p.accounts.disable(session.actor, int(str(form["disable"])))
            return _back("/my/agents", msg="已取消授权")
        code = p.accounts.invite_agent(
            session.actor,
            str(form.get("name", "")),
            str(form.get("id_number", "")),
            [str(r) for r in form.getlist("rights")],
        )
    except HuiqiError as e:
        return _back("/my/agents", error=e.message.zh)
    return _page(
        request,
        "my/agents.html",
        session,
        accounts=p.accounts.of_enterprise(session.actor.uscc or ""),
        agent_rights=[r for r in RIGHTS if r not in ("agents", "bank", "view")],
        code=code,
    )


# --- the JSON API -------------------------------------------------------------------------------------------
class Fact(BaseModel):
    value: Any = Field(description="新的值；null 或空字符串表示撤销企业更正")


class NewApplication(BaseModel):
    policy_id: str = Field(max_length=128)


class Subscribe(BaseModel):
    kind: str = Field("new_eligible", max_length=16, description="category | new_eligible")
    category: str | None = Field(None, max_length=32)


class Account(BaseModel):
    account: str = Field(max_length=64, description="对公账户（8–32 位数字）")
    holder: str = Field(max_length=100, description="账户名称")


def _json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items() if k != "content"}
    if isinstance(value, list):
        return [_json(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


@api.get("/profile")
def api_profile(request: Request, session: Me) -> dict[str, Any]:
    """我的企业画像：每项事实的值、来源（部门、日期、同意或法定依据、日志位置）、是否企业更正，以及变更记录。"""
    p = portal(request)
    uscc = session.actor.uscc or ""
    return _json(
        {
            "uscc": uscc,
            "profile": p.profiles.profile(uscc),
            "facts": p.profiles.facts(uscc),
            "history": p.profiles.history(uscc),
        }
    )


@api.put("/profile/facts/{field}", status_code=204)
def api_correct(request: Request, session: Me, field: Annotated[str, PathParam(max_length=64)], body: Fact) -> None:
    """企业更正一项事实（不回写任何登记库）；值为空则撤销更正。"""
    portal(request).profiles.correct(session.actor, field, body.value)


@api.get("/policies")
def api_policies(request: Request, session: Me) -> dict[str, Any]:
    """我的政策：按企业画像计算的结果（与 /api/v1/match 相同的格式）和申报截止提醒（工作日）。"""
    _, due, result = _my_results(request, session.actor.uscc or "")
    return _json({"match": result, "deadlines": due})


@api.get("/notices")
def api_notices(request: Request, session: Me) -> list[dict[str, Any]]:
    """站内通知：新符合的政策、免申即享、申报进度、诉求答复（最新在前）。"""
    return _json(portal(request).profiles.notices(session.actor.uscc or ""))


@api.get("/subscriptions")
def api_subscriptions(request: Request, session: Me) -> list[dict[str, Any]]:
    """本企业的订阅。"""
    return _json(portal(request).profiles.subscriptions(session.actor.uscc or ""))


@api.post("/subscriptions", status_code=201)
def api_subscribe(request: Request, session: Me, body: Subscribe) -> dict[str, int]:
    """订阅“新符合条件的政策”或某一类别的政策（用已保存的企业画像计算）。"""
    return {"id": portal(request).profiles.subscribe(session.actor, body.kind, body.category)}


@api.delete("/subscriptions/{sub_id}", status_code=204)
def api_unsubscribe(request: Request, session: Me, sub_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)]) -> None:
    """取消一项订阅。"""
    portal(request).profiles.unsubscribe(session.actor, sub_id)


@api.get("/applications")
def api_applications(request: Request, session: Me) -> list[dict[str, Any]]:
    """本企业的在线申报及其状态。"""
    return _json(portal(request).applications.of_enterprise(session.actor.uscc or ""))


@api.post("/applications", status_code=201)
def api_apply(request: Request, session: Me, body: NewApplication) -> dict[str, Any]:
    """按政策生成申报表（所需事实按企业画像预填）。"""
    p = portal(request)
    app_id = p.applications.create(session.actor, body.policy_id, p.profiles.profile(session.actor.uscc or ""))
    return _json(p.applications.get(session.actor, app_id))


@api.get("/applications/{app_id}")
def api_application(
    request: Request, session: Me, app_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)]
) -> dict[str, Any]:
    """一份申报：表单、附件、告知承诺、每一步的时间与理由。"""
    return _json(portal(request).applications.get(session.actor, app_id))


@api.post("/applications/{app_id}/{action}")
def api_application_act(
    request: Request,
    session: Me,
    app_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)],
    action: Annotated[str, PathParam(pattern="^(submit|withdraw|revise)$")],
) -> dict[str, Any]:
    """企业的操作：submit 提交（随即预审）、withdraw 撤回、revise 退回后重新填写。"""
    p = portal(request)
    p.applications.act(session.actor, app_id, action)
    if action == "submit":
        p.applications.precheck(app_id)
    return _json(p.applications.get(session.actor, app_id))


@api.get("/grants")
def api_grants(request: Request, session: Me) -> list[dict[str, Any]]:
    """免申即享：本企业获得的政策兑现（无需申请）。"""
    return _json(portal(request).grants.of_enterprise(session.actor.uscc or ""))


@api.put("/grants/{grant_id}/account", status_code=204)
def api_grant_account(
    request: Request, session: Me, grant_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)], body: Account
) -> None:
    """确认免申即享的收款账户（加密保存）。"""
    portal(request).grants.confirm_account(session.actor, grant_id, body.account, body.holder)


@api.get("/ledger")
def api_ledger(request: Request, session: Me) -> list[dict[str, Any]]:
    """兑现台账：已拨付的金额、日期、凭证，待兑现的承诺日期（60 个工作日）与逾期标记。"""
    return _json(portal(request).applications.ledger(session.actor.uscc or ""))


# --- the officers' queue --------------------------------------------------------------------------------------
def officer(request: Request) -> tuple[Officer, str, Actor]:
    """The logged-in officer (``/admin`` session), their CSRF token, and them as a portal actor."""
    session = require("viewer")(request)
    who = session.officer
    return who, session.csrf, portal(request).officer(who.name, who.role)


OfficerDep = Annotated[tuple[Officer, str, Actor], Depends(officer)]


def _queue_page(request: Request, name: str, who: tuple[Officer, str, Actor], **values: Any) -> HTMLResponse:
    values.update(me=who[0], csrf=who[1], actor=who[2])
    values.setdefault("msg", request.query_params.get("msg"))
    values.setdefault("error", request.query_params.get("error"))
    return TEMPLATES.TemplateResponse(request, name, values)


def _officer_csrf(who: tuple[Officer, str, Actor], token: str) -> None:
    if not token or not hmac.compare_digest(token, who[1]):
        raise PermissionDenied(Message("表单已过期，请刷新页面后重试", "CSRF token missing or wrong"))


@router.get("/admin/queue", response_class=HTMLResponse, include_in_schema=False)
def queue_page(request: Request, who: OfficerDep) -> HTMLResponse:
    p = portal(request)
    actor = who[2]
    return _queue_page(
        request,
        "queue/index.html",
        who,
        queue=p.applications.queue(actor),
        overdue=p.applications.overdue(sorted(actor.offices)),
        offices=p.offices(),
        desks=p.desks(),
        appeals=p.feedback.appeals(offices=actor.offices),
        ratings=[p.feedback.office_summary(o) for o in sorted(actor.offices)],
    )


@router.post("/admin/queue/desks", include_in_schema=False)
def queue_desk(
    request: Request,
    who: OfficerDep,
    csrf: Annotated[str, Form()] = "",
    office: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    _officer_csrf(who, csrf)
    p = portal(request)
    if office not in p.offices():
        return _back("/admin/queue", error="没有这个受理部门")
    p.assign(who[0].name, office, actor=who[0].name)
    return _back("/admin/queue", msg=f"已加入：{office}")


@router.get("/admin/queue/{app_id}", response_class=HTMLResponse, include_in_schema=False)
def queue_application(
    request: Request, who: OfficerDep, app_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)]
) -> HTMLResponse:
    p = portal(request)
    return _queue_page(request, "queue/application.html", who, app=p.applications.get(who[2], app_id))


@router.get("/admin/queue/{app_id}/attachments/{att_id}", include_in_schema=False)
def queue_attachment(
    request: Request,
    who: OfficerDep,
    app_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)],
    att_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)],
) -> Response:
    return _download(*portal(request).applications.attachment(who[2], app_id, att_id))


@router.post("/admin/queue/{app_id}", include_in_schema=False)
def queue_act(
    request: Request,
    who: OfficerDep,
    app_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)],
    csrf: Annotated[str, Form()] = "",
    action: Annotated[str, Form(max_length=16)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    amount: Annotated[str, Form(max_length=32)] = "",
    voucher: Annotated[str, Form(max_length=64)] = "",
    version: Annotated[int, Form(ge=0)] = 0,
) -> Response:
    _officer_csrf(who, csrf)
    apps = portal(request).applications
    try:
        if action == "propose":
            apps.propose(who[2], app_id, amount, reason=reason)
        elif action == "precheck":
            apps.precheck(app_id)
        else:
            apps.act(who[2], app_id, action, reason=reason, expected_version=version, voucher=voucher or None)
    except HuiqiError as e:
        return _back(f"/admin/queue/{app_id}", error=e.message.zh)
    label = "已核定金额，待另一位工作人员审核" if action == "propose" else f"已{TRANSITIONS[action].label}"
    return _back(f"/admin/queue/{app_id}", msg=label)


@router.post("/admin/queue/appeals/{appeal_id}", include_in_schema=False)
def queue_reply(
    request: Request,
    who: OfficerDep,
    appeal_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)],
    csrf: Annotated[str, Form()] = "",
    reply: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    _officer_csrf(who, csrf)
    try:
        portal(request).feedback.reply(who[2], appeal_id, reply)
    except HuiqiError as e:
        return _back("/admin/queue", error=e.message.zh)
    return _back("/admin/queue", msg="已答复")


@router.get("/admin/grants", response_class=HTMLResponse, include_in_schema=False)
def grants_admin(request: Request, who: OfficerDep) -> HTMLResponse:
    from sqlalchemy import select

    from huiqi.portal import schema
    from huiqi.store.db import read_session

    p = portal(request)
    with read_session(p.engine) as s:
        waiting = s.execute(
            select(schema.grants).where(schema.grants.c.state != "paid").order_by(schema.grants.c.id).limit(200)
        ).all()
    return _queue_page(request, "queue/grants.html", who, lists=p.grants.lists(), waiting=waiting)


@router.post("/admin/grants", include_in_schema=False)
def grants_admin_act(
    request: Request,
    who: OfficerDep,
    csrf: Annotated[str, Form()] = "",
    action: Annotated[str, Form(max_length=16)] = "",
    run: Annotated[str, Form(max_length=500)] = "",
    policy_id: Annotated[str, Form(max_length=128)] = "",
    list_id: Annotated[int, Form(ge=0)] = 0,
    grant_id: Annotated[int, Form(ge=0)] = 0,
    voucher: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    _officer_csrf(who, csrf)
    grants = portal(request).grants
    try:
        if action == "import":
            runs = Path(os.environ.get("HUIQI_RUNS", "runs")).resolve()
            path = (runs / run).resolve()
            if runs not in path.parents:
                raise InputError(
                    Message("运行目录须在 HUIQI_RUNS 之下", "the run must be under HUIQI_RUNS"), field="run"
                )
            grants.import_list(who[2], path, policy_id)
        elif action == "approve":
            grants.approve(who[2], list_id)
            grants.issue(list_id)
        elif action == "issue":
            grants.issue(list_id)
        elif action == "pay":
            grants.pay(who[2], grant_id, voucher=voucher)
        else:
            raise InputError(Message("未知的操作", "unknown action"), field="action")
    except HuiqiError as e:
        return _back("/admin/grants", error=e.message.zh)
    return _back("/admin/grants", msg="已完成")
