"""Officer pages (``/admin``): login, YAML editor with live lint and tests, preview on
sample profiles, submit for review, review and publish (four-eyes), withdraw, impact
analysis, audit log; and the enterprise notification API (``/api/v1/inbox``,
``/api/v1/subscriptions``).

The pages need the lifecycle database: they work when the app's library source is a
``DbLibrarySource`` (``huiqi serve`` with ``HUIQI_DB``); otherwise they answer 503.
Sessions are server-side (``admin_sessions``), the cookie is HttpOnly and SameSite=Strict,
and every state-changing request carries the session's CSRF token.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from huiqi import vocab
from huiqi.library import Lifecycle, LifecycleError, NotFound
from huiqi.library import notify as notifications
from huiqi.library.impact import KINDS as IMPACT_KINDS
from huiqi.library.impact import impact, impact_svg
from huiqi.library.officers import Officer, login, logout, session_officer
from huiqi.match import match
from huiqi.profile import ProfileError, parse_profile
from huiqi.store.audit import entries, verify_chain

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
COOKIE = "huiqi_admin"
TEMPLATES.env.globals.update(
    STATES=vocab.STATES, ROLES=vocab.ROLES, verdict_label=vocab.verdict_label, IMPACT_KINDS=IMPACT_KINDS
)

router = APIRouter()


# --- plumbing ------------------------------------------------------------------------------
def _lifecycle(request: Request) -> Lifecycle:
    state = request.app.state
    lc = getattr(state, "lifecycle", None)
    if lc is None:
        engine = getattr(getattr(state, "source", None), "engine", None)
        if engine is None:
            raise HTTPException(503, "政策库未连接数据库：请设置 HUIQI_DB 后启动 / no lifecycle database")
        lc = Lifecycle(engine, state.clock)
        state.lifecycle = lc
    return lc


@dataclass
class Ctx:
    lc: Lifecycle
    officer: Officer
    csrf: str


def _ctx(request: Request, role: str = "viewer") -> Ctx | RedirectResponse:
    """The logged-in officer (who must hold ``role``), or a redirect to the login page."""
    lc = _lifecycle(request)
    found = session_officer(lc.engine, request.cookies.get(COOKIE), clock=lc.clock)
    if found is None:
        if request.method != "GET" or request.url.path.startswith("/admin/api/"):
            raise HTTPException(401, "请先登录 / log in first")
        return RedirectResponse(f"/admin/login?next={request.url.path}", status_code=303)
    officer, csrf = found
    if not officer.can(role):
        raise HTTPException(403, f"需要{vocab.ROLES[role]}角色 / needs role {role}")
    return Ctx(lc, officer, csrf)


def _check_csrf(ctx: Ctx, token: str | None) -> None:
    if not token or not hmac.compare_digest(token, ctx.csrf):
        raise HTTPException(403, "表单已过期，请刷新页面后重试 / CSRF token missing or wrong")


def _page(request: Request, template: str, ctx: Ctx | None, **values: Any) -> HTMLResponse:
    values.update(request=request, me=ctx.officer if ctx else None, csrf=ctx.csrf if ctx else "")
    values.setdefault("msg", request.query_params.get("msg"))
    values.setdefault("error", request.query_params.get("error"))
    return TEMPLATES.TemplateResponse(request, f"admin/{template}", values)


def _back(url: str, *, msg: str | None = None, error: str | None = None) -> RedirectResponse:
    from urllib.parse import urlencode

    query = urlencode({k: v for k, v in (("msg", msg), ("error", error)) if v})
    return RedirectResponse(f"{url}?{query}" if query else url, status_code=303)


def examples_dir() -> Path | None:
    env = os.environ.get("HUIQI_EXAMPLES")
    candidates = [Path(env)] if env else [Path("examples"), Path(__file__).resolve().parents[3] / "examples"]
    return next((p for p in candidates if p.is_dir()), None)


def _examples() -> list[tuple[str, dict[str, Any]]]:
    folder = examples_dir()
    if folder is None:
        return []
    out = []
    for f in sorted(folder.glob("*.json")):
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            out.append((str(data.get("name") or f.stem), data))
    return out


# --- login ---------------------------------------------------------------------------------
@router.get("/admin/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(request: Request, next: str = "/admin") -> HTMLResponse:
    _lifecycle(request)
    return _page(request, "login.html", None, next=next if next.startswith("/admin") else "/admin")


@router.post("/admin/login", include_in_schema=False)
def login_submit(
    request: Request,
    name: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/admin",
) -> Response:
    lc = _lifecycle(request)
    result = login(lc.engine, name.strip(), password, clock=lc.clock)
    if result is None:
        page = _page(request, "login.html", None, next=next, error="用户名或密码不正确", name=name)
        page.status_code = 401
        return page
    token, _ = result
    response = RedirectResponse(next if next.startswith("/admin") else "/admin", status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
        max_age=8 * 3600,
    )
    return response


@router.post("/admin/logout", include_in_schema=False)
def logout_submit(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    ctx = _ctx(request)
    if not isinstance(ctx, Ctx):
        return ctx
    _check_csrf(ctx, csrf)
    token = request.cookies.get(COOKIE)
    if token:
        logout(ctx.lc.engine, token, clock=ctx.lc.clock)
    response = RedirectResponse("/admin/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


# --- pages ---------------------------------------------------------------------------------
@router.get("/admin", response_class=HTMLResponse, include_in_schema=False)
def index(request: Request) -> Response:
    ctx = _ctx(request)
    if not isinstance(ctx, Ctx):
        return ctx
    today = ctx.lc.clock.today()
    in_force = {r.document_id: r for r in ctx.lc.in_force(today)}
    versions = ctx.lc.versions()
    pending = [v for v in versions if v.state == "in_review"]
    drafts = [v for v in versions if v.state == "draft" and v.author == ctx.officer.name]
    return _page(
        request,
        "index.html",
        ctx,
        documents=ctx.lc.documents(),
        in_force=in_force,
        pending=pending,
        drafts=drafts,
        today=today,
    )


@router.get("/admin/documents/{doc_id}", response_class=HTMLResponse, include_in_schema=False)
def document_page(request: Request, doc_id: str) -> Response:
    ctx = _ctx(request)
    if not isinstance(ctx, Ctx):
        return ctx
    try:
        doc = ctx.lc.document(doc_id)
    except NotFound as e:
        raise HTTPException(404, str(e.message)) from e
    in_force = {r.document_id: r.version_id for r in ctx.lc.in_force(ctx.lc.clock.today())}
    return _page(
        request,
        "document.html",
        ctx,
        doc=doc,
        versions=ctx.lc.versions(doc_id),
        current_id=in_force.get(doc_id),
    )


@router.get("/admin/edit", response_class=HTMLResponse, include_in_schema=False)
def edit_page(request: Request, doc: str | None = None, base: int | None = None) -> Response:
    ctx = _ctx(request, "editor")
    if not isinstance(ctx, Ctx):
        return ctx
    text, filename, title = "", "", "新建政策"
    if base is not None:
        try:
            v = ctx.lc.version(base)
        except NotFound as e:
            raise HTTPException(404, str(e.message)) from e
        text, doc = v.content, v.document_id
    elif doc is not None:
        latest = ctx.lc.latest_published(doc)
        if latest is None:
            raise HTTPException(404, f"没有已发布的 {doc} / nothing published")
        text = latest.content
    if doc is not None:
        d = ctx.lc.document(doc)
        filename, title = Path(d.path).name, d.title or d.id
    return _page(request, "edit.html", ctx, text=text, doc_id=doc, filename=filename, title=title)


@router.post("/admin/drafts", include_in_schema=False)
def create_draft(
    request: Request,
    text: Annotated[str, Form()],
    note: Annotated[str, Form()],
    csrf: Annotated[str, Form()],
    doc_id: Annotated[str, Form()] = "",
    filename: Annotated[str, Form()] = "",
    submit: Annotated[str, Form()] = "",
) -> Response:
    ctx = _ctx(request, "editor")
    if not isinstance(ctx, Ctx):
        return ctx
    _check_csrf(ctx, csrf)
    text = text.replace("\r\n", "\n")
    try:
        if submit:  # check first: a change that cannot be submitted leaves no stray draft
            _, report = ctx.lc.check_text(text, filename=filename or None, display=filename or None)
            if not report.ok:
                raise LifecycleError("未通过检查，不能提交审核 / it does not pass lint and tests", report.problems)
        v = ctx.lc.create_draft(
            text,
            author=ctx.officer.name,
            note=note,
            filename=filename or None,
            document_id=doc_id or None,
        )
        if submit:
            v = ctx.lc.submit(v.id, actor=ctx.officer.name)
    except LifecycleError as e:
        return _page(
            request,
            "edit.html",
            ctx,
            text=text,
            doc_id=doc_id or None,
            filename=filename,
            title=doc_id or "新建政策",
            note=note,
            error=str(e.message),
            problems=e.problems,
        )
    msg = "已提交审核" if v.state == "in_review" else "草稿已保存"
    return _back(f"/admin/versions/{v.id}", msg=msg)


@router.get("/admin/versions/{version_id}", response_class=HTMLResponse, include_in_schema=False)
def version_page(request: Request, version_id: int) -> Response:
    ctx = _ctx(request)
    if not isinstance(ctx, Ctx):
        return ctx
    try:
        v = ctx.lc.version(version_id)
    except NotFound as e:
        raise HTTPException(404, str(e.message)) from e
    doc = ctx.lc.document(v.document_id)
    report = None
    if v.state in ("draft", "in_review"):
        _, report = ctx.lc.check_text(v.content, filename=Path(doc.path).name, display=doc.path)
    return _page(
        request,
        "version.html",
        ctx,
        v=v,
        doc=doc,
        report=report,
        today=ctx.lc.clock.today(),
        four_eyes=v.author == ctx.officer.name,
    )


def _version_action(request: Request, version_id: int, csrf: str, action: str, **kwargs: Any) -> Response:
    role = "editor" if action == "submit" else "publisher"
    ctx = _ctx(request, role if action != "withdraw" else "editor")
    if not isinstance(ctx, Ctx):
        return ctx
    _check_csrf(ctx, csrf)
    url = f"/admin/versions/{version_id}"
    try:
        method = getattr(ctx.lc, action)
        method(version_id, actor=ctx.officer.name, **kwargs)
    except LifecycleError as e:
        return _back(url, error=" ".join([str(e.message), *e.problems])[:1500])
    labels = {"submit": "已提交审核", "publish": "已发布", "reject": "已退回修改", "withdraw": "已撤回"}
    return _back(url, msg=labels[action])


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        raise HTTPException(422, f"日期格式应为 YYYY-MM-DD：{text}") from None


@router.post("/admin/versions/{version_id}/submit", include_in_schema=False)
def submit_version(request: Request, version_id: int, csrf: Annotated[str, Form()]) -> Response:
    return _version_action(request, version_id, csrf, "submit")


@router.post("/admin/versions/{version_id}/publish", include_in_schema=False)
def publish_version(
    request: Request,
    version_id: int,
    csrf: Annotated[str, Form()],
    effective: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    return _version_action(request, version_id, csrf, "publish", effective=_date(effective), note=note)


@router.post("/admin/versions/{version_id}/reject", include_in_schema=False)
def reject_version(
    request: Request, version_id: int, csrf: Annotated[str, Form()], note: Annotated[str, Form()] = ""
) -> Response:
    return _version_action(request, version_id, csrf, "reject", note=note)


@router.post("/admin/versions/{version_id}/withdraw", include_in_schema=False)
def withdraw_version(
    request: Request,
    version_id: int,
    csrf: Annotated[str, Form()],
    note: Annotated[str, Form()] = "",
    effective: Annotated[str, Form()] = "",
) -> Response:
    return _version_action(request, version_id, csrf, "withdraw", note=note, effective=_date(effective))


@router.get("/admin/versions/{version_id}/impact", response_class=HTMLResponse, include_in_schema=False)
def impact_page(request: Request, version_id: int, as_of: str = "") -> Response:
    ctx = _ctx(request)
    if not isinstance(ctx, Ctx):
        return ctx
    try:
        v = ctx.lc.version(version_id)
    except NotFound as e:
        raise HTTPException(404, str(e.message)) from e
    doc = ctx.lc.document(v.document_id)
    date = _date(as_of) or v.effective_from or ctx.lc.clock.today()
    registry = os.environ.get("HUIQI_REGISTRY")
    source = Path(registry) if registry and Path(registry).exists() else examples_dir()
    _, report = ctx.lc.check_text(v.content, filename=Path(doc.path).name, as_of=date, display=doc.path)
    result = None
    if report.library is not None and source is not None:
        current = ctx.lc.library_for(date)
        ids = [doc.id] if doc.kind == "policy" else None
        result = impact(current, report.library, source, date, policy_ids=ids, limit=20)
    return _page(
        request,
        "impact.html",
        ctx,
        v=v,
        doc=doc,
        result=result,
        svg=impact_svg(result) if result else "",
        source=source,
        as_of=date,
        problems=report.problems,
    )


@router.get("/admin/audit", response_class=HTMLResponse, include_in_schema=False)
def audit_page(request: Request) -> Response:
    ctx = _ctx(request)
    if not isinstance(ctx, Ctx):
        return ctx
    rows = list(entries(ctx.lc.engine))
    return _page(request, "audit.html", ctx, rows=rows[-200:][::-1], chain=verify_chain(ctx.lc.engine))


# --- live lint API -------------------------------------------------------------------------
class LintRequest(BaseModel):
    text: str = Field(max_length=200_000, description="政策 YAML 全文")
    filename: str | None = Field(None, description="共享文件须给出文件名 _parameters.yaml / _variables.yaml")
    document_id: str | None = None
    as_of: dt.date | None = None


@router.post("/admin/api/lint", tags=["officers"])
def lint_api(request: Request, body: LintRequest) -> Response:
    """检查一段政策 YAML：与现行政策库一起加载、类型检查、运行全部测试用例，并在示例企业上预览结论。"""
    ctx = _ctx(request, "editor")
    if not isinstance(ctx, Ctx):
        return ctx
    _check_csrf(ctx, request.headers.get("X-CSRF-Token"))
    ref, report = ctx.lc.check_text(body.text, filename=body.filename, as_of=body.as_of)
    preview = []
    if report.library is not None and ref is not None and ref.kind == "policy":
        as_of = body.as_of or ctx.lc.clock.today()
        for name, data in _examples():
            try:
                result = match(parse_profile(data), as_of, report.library, [ref.id])
            except ProfileError:
                continue
            for r in result.results:
                unmet = [c.reason for c in r.conditions if c.outcome != "met"]
                preview.append(
                    {
                        "enterprise": name,
                        "verdict": r.verdict,
                        "verdict_zh": vocab.verdict_label(r.verdict),
                        "amount": r.benefit.amount if r.benefit else None,
                        "reasons": unmet[:3],
                    }
                )
    return JSONResponse(
        {
            "ok": report.ok,
            "document_id": ref.id if ref else None,
            "id_changed": bool(ref and body.document_id and ref.id != body.document_id),
            "errors": report.errors,
            "warnings": report.warnings,
            "cases_passed": report.cases_passed,
            "cases_failed": report.cases_failed,
            "preview": preview,
        }
    )


# --- enterprise notifications API ----------------------------------------------------------
class InboxItem(BaseModel):
    id: int
    policy_id: str
    title: str
    body: str
    verdict: str | None
    created_at: dt.datetime
    read: bool


class SubscriptionRequest(BaseModel):
    uscc: str = Field(description="统一社会信用代码")
    profile: dict[str, Any] = Field(description="企业画像（用于判断新符合的政策）")
    kind: str = Field(description="category（订阅类别）或 new_eligible（新符合条件的政策）")
    category: str | None = Field(None, description="tax | subsidy | reward | finance | talent | employment")
    webhook_url: str | None = None
    webhook_secret: str | None = Field(None, description="HMAC-SHA256 签名密钥，至少16位")
    email: str | None = None


@router.get("/api/v1/inbox/{uscc}", tags=["notifications"], response_model=list[InboxItem])
def inbox_api(request: Request, uscc: str) -> list[InboxItem]:
    """企业站内信：政策发布或撤回后，与该企业有关的通知（最新在前）。"""
    lc = _lifecycle(request)
    return [
        InboxItem(
            id=m.id,
            policy_id=m.policy_id,
            title=m.title,
            body=m.body,
            verdict=m.verdict,
            created_at=m.created_at,
            read=m.read_at is not None,
        )
        for m in notifications.inbox(lc.engine, uscc)
    ]


@router.post("/api/v1/subscriptions", tags=["notifications"], status_code=201)
def subscribe_api(request: Request, body: SubscriptionRequest) -> dict[str, Any]:
    """订阅：某一类别的政策更新，或“任何我新符合条件的政策”。"""
    lc = _lifecycle(request)
    try:
        sub = notifications.subscribe(
            lc.engine,
            body.uscc,
            body.profile,
            kind=body.kind,
            category=body.category,
            webhook_url=body.webhook_url,
            webhook_secret=body.webhook_secret,
            email=body.email,
            clock=lc.clock,
        )
    except LifecycleError as e:
        raise HTTPException(422, " ".join([str(e.message), *e.problems])) from e
    return {"id": sub.id, "uscc": sub.uscc, "kind": sub.kind, "category": sub.category}
