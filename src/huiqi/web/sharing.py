"""数据共享 on the web: what an enterprise sees of its data, and the officers' pages.

Enterprise (its own token, ``Authorization: Bearer hqe_…``, the stop-gap of the inbox API
until enterprise accounts exist):

* ``GET  /api/v1/enterprises/{uscc}/profile?purpose=政策匹配`` — the calculator profile
  prefilled from the departments, with provenance per field (``huiqi.sharing.prefill``);
* ``GET/POST /api/v1/enterprises/{uscc}/consents`` and ``…/consents/{ref}/approve|refuse|withdraw``;
* ``GET  /api/v1/enterprises/{uscc}/data-usage`` — 数据使用记录, from the departments' logs;
* ``POST /api/v1/enterprises/{uscc}/match`` — the calculator with the departments' facts and
  the 可用不可见 answers folded in;
* ``/enterprise/data`` — the page of all of the above.

Officers (the ``/admin`` session): ``/admin/sharing`` (catalogue and its review, the
departments), ``/admin/sharing/departments/{member}`` (a department's declarations, the
requests it answered and refused, its alerts), ``/admin/sharing/alerts`` (the security
page: alerts of the monitor, marked true or false).

The departments are found through ``HUIQI_DEPARTMENTS`` (the deployment directory that
``huiqi departments up`` runs); the catalogue, consents and alerts live in the app's database.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import Engine

from huiqi.errors import HuiqiError, InputError, Message, NotFound, Unavailable
from huiqi.match.engine import answer as match_answer
from huiqi.profile import ProfileError, parse_profile
from huiqi.sharing import prefill as prefilling
from huiqi.sharing.catalogue_store import STATE_LABELS, CatalogueStore
from huiqi.sharing.client import GatewayClient
from huiqi.sharing.consent import STATE_LABELS as CONSENT_LABELS
from huiqi.sharing.consent import Consent, ConsentService
from huiqi.sharing.deployment import Deployment
from huiqi.sharing.errors import ProviderUnavailable
from huiqi.sharing.members import MEMBERS, PROVIDERS, PURPOSES, purpose_code
from huiqi.sharing.monitor import Monitor
from huiqi.sharing.registers import REGISTERS, SENSITIVITY_LABELS
from huiqi.web.admin.auth import OfficerSession, Viewer, posted
from huiqi.web.admin.pages import DONE
from huiqi.web.api import check_as_of, current_library, library
from huiqi.web.enterprise import Enterprise, same_enterprise
from huiqi.web.forms import yuan_to_wan
from huiqi.web.problems import Problem

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TEMPLATES.env.globals.update(
    MEMBERS=MEMBERS,
    PURPOSES=PURPOSES,
    STATE_LABELS=STATE_LABELS,
    CONSENT_LABELS=CONSENT_LABELS,
    SENSITIVITY_LABELS=SENSITIVITY_LABELS,
)
CONSUMER = prefilling.CONSUMER
USCC = r"^[0-9A-HJ-NP-RTUWXY]{18}$"
#: Every error these endpoints can answer, as problem+json (the app's one error handler).
router = APIRouter(
    responses={c: {"model": Problem, "description": "problem+json (RFC 9457)"} for c in (400, 401, 403, 404, 422, 503)}
)


# --- the app's sharing context ------------------------------------------------------------------
@dataclass
class Sharing:
    engine: Engine
    deployment: Deployment | None
    consents: ConsentService
    store: CatalogueStore
    monitor: Monitor
    clock: Any
    _clients: dict[str, GatewayClient]

    def client(self, system: str = CONSUMER) -> GatewayClient:
        if self.deployment is None:
            raise Unavailable(
                Message(
                    "未配置部门数据共享（HUIQI_DEPARTMENTS）", "data sharing is not configured: set HUIQI_DEPARTMENTS"
                )
            )
        found = self._clients.get(system)
        if found is None:
            found = self._clients[system] = GatewayClient.for_system(self.deployment, system, clock=self.clock)
        return found


def sharing(request: Request) -> Sharing:
    state = request.app.state
    found: Sharing | None = getattr(state, "sharing", None)
    if found is None:
        engine = getattr(getattr(state, "source", None), "engine", None)
        if engine is None:
            raise Unavailable(
                Message(
                    "数据共享需要平台数据库：请设置 HUIQI_DB 后启动",
                    "data sharing needs the platform database: start with HUIQI_DB",
                )
            )
        directory = getattr(state, "departments", None) or os.environ.get("HUIQI_DEPARTMENTS")
        deployment = Deployment.load(Path(directory)) if directory else None
        clock = state.clock
        found = Sharing(
            engine,
            deployment,
            ConsentService(engine, clock=clock),
            CatalogueStore(engine, clock=clock),
            Monitor(engine, clock=clock),
            clock,
            {},
        )
        state.sharing = found
    return found


SharingDep = Annotated[Sharing, Depends(sharing)]


# --- who is asking ---------------------------------------------------------------------------
def enterprise_uscc(uscc: Annotated[str, PathParam(pattern=USCC)], me: Enterprise) -> str:
    """The enterprise proved by its credential (``huiqi.web.enterprise``: the one place that
    knows how, and that limits failed attempts per address), which must be the one in the path."""
    same_enterprise(me, uscc)
    return uscc


EnterpriseDep = Annotated[str, Depends(enterprise_uscc)]
#: Officers: the session of the /admin login (``huiqi.web.admin.auth``), which redirects a
#: page without one to the login page; state-changing forms also check the session's CSRF token.
OfficerDep = Viewer
PostedBy = Annotated[OfficerSession, Depends(posted("viewer"))]
EditorPosted = Annotated[OfficerSession, Depends(posted("editor"))]


# --- enterprise API ------------------------------------------------------------------------------
def _granted(ctx: Sharing, uscc: str, purpose: str) -> Consent | None:
    now = ctx.clock.now()
    for c in ctx.consents.of_enterprise(uscc):
        if c.consumer == CONSUMER and c.purpose == purpose and c.status(now) == "granted":
            return c
    return None


def _form_values(profile: dict[str, Any]) -> dict[str, str]:
    """The profile as the calculator form shows it (money in 万元)."""
    from huiqi.profile import FIELDS

    out = {}
    for name, value in profile.items():
        if name in FIELDS and value is not None:
            out[name] = yuan_to_wan(value) if FIELDS[name].kind == "money" else str(value)
    return out


async def _prefill(ctx: Sharing, uscc: str, purpose: str, request: Request) -> prefilling.Prefill:
    return await prefilling.prefill(
        ctx.client(),
        ctx.store.published(),
        uscc,
        consent=_granted(ctx, uscc, purpose),
        library=current_library(request),
        as_of=ctx.clock.today(),
        official="portal",
        case_id=f"PREFILL-{uuid.uuid4().hex[:12]}",
        purpose=purpose,
    )


@router.get("/api/v1/enterprises/{uscc}/profile", tags=["sharing"])
async def enterprise_profile(
    request: Request, uscc: EnterpriseDep, purpose: Annotated[str, Query(max_length=32)] = "policy_match"
) -> dict[str, Any]:
    """企业画像预填：从市场监管、税务、人社部门取数（经企业同意或依法定依据），每项注明来源、日期、同意编号和日志位置。"""
    ctx = sharing(request)
    code = purpose_code(purpose)
    result = await _prefill(ctx, uscc, code, request)
    consent = _granted(ctx, uscc, code)
    return {
        **result.to_json(),
        "form": _form_values(result.profile),
        "labels": {name: _label(name) for name in result.provenance},
        "display": {name: _display(name, value) for name, value in result.profile.items()},
        "consent": None if consent is None else _consent_json(consent, ctx),
    }


def _label(name: str) -> str:
    from huiqi.profile import FIELDS

    return FIELDS[name].label if name in FIELDS else name


def _display(name: str, value: Any) -> str:
    """A fact as a person reads it: 一般纳税人, 文化艺术业（R8820）, 1,580,548.65 元."""
    from huiqi.profile import FIELDS, industry
    from huiqi.profile.regions import region_name

    spec = FIELDS.get(name)
    if spec is None or value is None:
        return "" if value is None else str(value)
    if spec.values:
        return spec.label_of(str(value))
    if name == "industry":
        found = industry.lookup(str(value))
        return f"{found.name}（{value}）" if found else str(value)
    if name == "region":
        return f"{region_name(str(value)) or ''}（{value}）"
    if spec.kind == "money":
        return f"{Decimal(str(value)):,.2f} 元"
    return str(value)


class MatchRequest(BaseModel):
    corrections: dict[str, Any] = Field(
        default_factory=dict, description="企业更正的事实（只用于本次计算，不回写登记库）"
    )
    as_of: dt.date | None = Field(None, description="评估日期 YYYY-MM-DD，默认今天")

    @field_validator("as_of")
    @classmethod
    def _as_of(cls, v: dt.date | None) -> dt.date | None:
        return check_as_of(v)


@router.post("/api/v1/enterprises/{uscc}/match", tags=["sharing"])
async def enterprise_match(request: Request, uscc: EnterpriseDep, body: MatchRequest) -> dict[str, Any]:
    """用部门数据（含可用不可见的条件核验）与企业的更正计算政策匹配结果。"""
    ctx = sharing(request)
    result = await _prefill(ctx, uscc, "policy_match", request)
    profile = {**result.profile, **body.corrections}
    try:
        checked = parse_profile(profile)
    except ProfileError as e:
        raise InputError(
            Message("企业更正的事实有误", "a corrected fact is invalid"), fields=e.field_errors()
        ) from None
    lib = await library(request, body.as_of)  # a past date: the versions then in force, as /api/v1/match
    as_of = body.as_of or ctx.clock.today()
    folded = prefilling.apply_conditions(match_answer(checked, as_of, lib), lib, result.verified)
    return {"match": folded, "prefill": result.to_json(), "corrected": sorted(body.corrections)}


def _consent_json(c: Consent, ctx: Sharing) -> dict[str, Any]:
    status = c.status(ctx.clock.now())
    parts = []
    for service, scope in c.scope.items():
        fields = REGISTERS[service.split(".")[0]].fields
        read = "、".join(fields[f].label for f in scope.get("read", ()) if f in fields)
        ask = "、".join(fields[f].label for f in scope.get("ask", ()) if f in fields)
        who = MEMBERS[service.split(".")[0]].short
        parts.append(
            f"{who}：" + "；".join(x for x in (f"读取 {read}" if read else "", f"只核验 {ask}" if ask else "") if x)
        )
    return {
        "scope_text": "　".join(parts),
        "ref": c.ref,
        "consumer": c.consumer,
        "purpose": c.purpose,
        "purpose_label": c.purpose_label,
        "scope": c.scope,
        "state": status,
        "state_label": CONSENT_LABELS[status],
        "requested_by": c.requested_by,
        "requested_at": c.requested_at.isoformat(),
        "expires_at": c.expires_at.isoformat() if c.expires_at else None,
        "withdrawn_at": c.withdrawn_at.isoformat() if c.withdrawn_at else None,
    }


@router.get("/api/v1/enterprises/{uscc}/consents", tags=["sharing"])
def enterprise_consents(request: Request, uscc: EnterpriseDep) -> list[dict[str, Any]]:
    """本企业的同意记录：谁请求了、范围、状态、有效期。"""
    ctx = sharing(request)
    return [_consent_json(c, ctx) for c in ctx.consents.of_enterprise(uscc)]


class ConsentAsk(BaseModel):
    purpose: str = Field("policy_match", max_length=32)
    scope: dict[str, dict[str, list[Annotated[str, Field(max_length=64)]]]] = Field(
        description="每个服务允许读取（read）与只允许条件核验（ask）的字段，"
        "如 {'tax.taxpayer': {'read': […], 'ask': […]}}"
    )


@router.post("/api/v1/enterprises/{uscc}/consents", status_code=201, tags=["sharing"])
def enterprise_consent_request(request: Request, uscc: EnterpriseDep, body: ConsentAsk) -> dict[str, Any]:
    """惠企平台（政策计算器）向本企业请求同意；企业随后在本页确认。"""
    ctx = sharing(request)
    c = ctx.consents.request(
        ctx.store.published(), uscc=uscc, consumer=CONSUMER, purpose=body.purpose, scope=body.scope, official="portal"
    )
    return _consent_json(c, ctx)


@router.post("/api/v1/enterprises/{uscc}/consents/{ref}/{action}", tags=["sharing"])
def enterprise_consent_decide(request: Request, uscc: EnterpriseDep, ref: str, action: str) -> dict[str, Any]:
    """同意（approve）、拒绝（refuse）或撤回（withdraw）；撤回从下一次调用起生效。"""
    ctx = sharing(request)
    act = {"approve": ctx.consents.approve, "refuse": ctx.consents.refuse, "withdraw": ctx.consents.withdraw}.get(
        action
    )
    if act is None:
        raise NotFound(Message(f"没有操作 {action}", f"no action {action}"))
    return _consent_json(act(ref, uscc=uscc), ctx)


def usage_records(ctx: Sharing, uscc: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """数据使用记录: every logged decision about the enterprise, newest first; departments down are named."""
    rows: list[dict[str, Any]] = []
    down: dict[str, str] = {}
    client = ctx.client()
    for member in PROVIDERS:
        if REGISTERS[member].subject != "uscc":
            continue
        fields = REGISTERS[member].fields
        try:
            for item in client.decisions(member, f"uscc:{uscc}"):
                e = item["entry"]
                rows.append(
                    {
                        "time": e["time"],
                        "provider": member,
                        "provider_name": MEMBERS[member].short,
                        "consumer": e.get("consumer", ""),
                        "consumer_name": MEMBERS.get(e.get("consumer", "/").split("/")[0], MEMBERS["platform"]).short,
                        "official": e.get("official", ""),
                        "purpose": e.get("purpose", ""),
                        "purpose_label": PURPOSES.get(e.get("purpose", ""), e.get("purpose", "")),
                        "action": e.get("action", ""),
                        "decision": e.get("decision", ""),
                        "code": e.get("code", ""),
                        "fields": e.get("released") or e.get("fields", []),
                        "field_labels": [
                            fields[f].label if f in fields else f for f in (e.get("released") or e.get("fields", []))
                        ],
                        "asked": e.get("fields", []),
                        "consent_ref": e.get("consent_ref"),
                        "legal_basis": e.get("legal_basis"),
                        "case_id": e.get("case_id", ""),
                        "log": {k: item[k] for k in ("origin", "index", "leaf_hash")},
                    }
                )
        except ProviderUnavailable as e:
            down[member] = e.message.zh
    rows.sort(key=lambda r: r["time"], reverse=True)
    return rows, down


@router.get("/api/v1/enterprises/{uscc}/data-usage", tags=["sharing"])
def enterprise_data_usage(request: Request, uscc: EnterpriseDep) -> dict[str, Any]:
    """数据使用记录：谁在何时、为何用途、依据什么读取了本企业的哪些数据（直接取自各部门的透明日志）。"""
    rows, down = usage_records(sharing(request), uscc)
    return {"records": rows, "unavailable": [{"member": m, "message": msg} for m, msg in down.items()]}


@router.get("/enterprise/data", response_class=HTMLResponse, include_in_schema=False)
def enterprise_page(request: Request) -> Response:
    """企业数据空间：同意、预填的画像（含来源）、数据使用记录。数据由页面脚本凭企业令牌读取。"""
    return TEMPLATES.TemplateResponse(request, "sharing/enterprise.html", {"page": "enterprise"})


# --- officers' pages --------------------------------------------------------------------------------
#: What a finished action says, by the ``done`` code of its redirect (never text from the URL).
SHARING_DONE = {**DONE, "mark": "已标记", "poll": "已读取日志"}


def _done(request: Request) -> str | None:
    code = request.query_params.get("done", "")
    raised = request.query_params.get("raised", "")
    if code == "poll" and raised.isascii() and raised.isdigit():
        return f"已读取日志，新告警 {int(raised)} 条"
    return SHARING_DONE.get(code)


def _page(request: Request, name: str, me: OfficerSession, **values: Any) -> Response:
    values.update(me=me.officer, csrf=me.csrf, msg=_done(request))
    return TEMPLATES.TemplateResponse(request, f"sharing/{name}", values)


@router.get("/admin/sharing", response_class=HTMLResponse, include_in_schema=False)
def admin_sharing(request: Request, me: OfficerDep) -> Response:
    ctx = sharing(request)
    versions = ctx.store.versions()
    return _page(
        request,
        "index.html",
        me,
        versions=versions,
        configured=ctx.deployment is not None,
        generation=ctx.store.generation(),
    )


@router.get("/admin/sharing/departments/{member}", response_class=HTMLResponse, include_in_schema=False)
def admin_department(request: Request, me: OfficerDep, member: str) -> Response:
    if member not in PROVIDERS:
        raise NotFound(Message(f"没有部门 {member}", f"no department {member}"))
    ctx = sharing(request)
    catalogue = ctx.store.published()
    service = REGISTERS[member].service
    declarations = [d for d in catalogue.all() if getattr(d, "service", getattr(d, "id", "")) == service]
    summary: dict[str, Any] | None = None
    down = ""
    try:
        summary = ctx.client().summary(member, limit=100)
    except (ProviderUnavailable, Unavailable) as e:
        down = e.message.zh
    alerts = [a for a in ctx.monitor.list(limit=500) if a["provider"] == member]
    return _page(
        request,
        "department.html",
        me,
        member=MEMBERS[member],
        register=REGISTERS[member],
        declarations=declarations,
        summary=summary,
        down=down,
        alerts=alerts,
    )


@router.get("/admin/sharing/alerts", response_class=HTMLResponse, include_in_schema=False)
def admin_alerts(request: Request, me: OfficerDep, state: str | None = None) -> Response:
    ctx = sharing(request)
    rows = ctx.monitor.list(state=state if state in ("open", "true", "false") else None, limit=500)
    return _page(request, "alerts.html", me, alerts=rows, state=state)


@router.post("/admin/sharing/alerts/poll", include_in_schema=False)
def admin_alerts_poll(request: Request, me: PostedBy) -> Response:
    ctx = sharing(request)
    raised = ctx.monitor.poll(ctx.client("platform/monitor"), PROVIDERS)
    return RedirectResponse(f"/admin/sharing/alerts?done=poll&raised={len(raised)}", status_code=303)


@router.post("/admin/sharing/alerts/{alert_id}/mark", include_in_schema=False)
def admin_alert_mark(
    request: Request,
    me: EditorPosted,
    alert_id: int,
    verdict: Annotated[str, Form()] = "",
) -> Response:
    if verdict not in ("true", "false"):
        raise InputError(Message("请选择“属实”或“误报”", "verdict must be true or false"), field="verdict")
    sharing(request).monitor.mark(alert_id, true=verdict == "true", actor=me.officer.name)
    return RedirectResponse("/admin/sharing/alerts?done=mark", status_code=303)


@router.post("/admin/sharing/declarations/{action}", include_in_schema=False)
def admin_declaration_action(
    request: Request,
    me: PostedBy,
    action: str,
    version_id: Annotated[int, Form()] = 0,
    declaration_id: Annotated[str, Form(max_length=128)] = "",
    content: Annotated[str, Form(max_length=50_000)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Draft, submit, publish (four-eyes), reject or withdraw a declaration."""
    store = sharing(request).store
    who = me.officer.name
    try:
        if action == "draft":
            store.create_draft(content, author=who, note=note)
        elif action == "submit":
            store.submit(version_id, actor=who)
        elif action == "publish":
            store.publish(version_id, actor=who, note=note)
        elif action == "reject":
            store.reject(version_id, actor=who, note=note or "退回修改")
        elif action == "withdraw":
            store.withdraw(declaration_id, actor=who, note=note or "撤回")
        else:
            raise NotFound(Message(f"没有操作 {action}", f"no action {action}"))
    except HuiqiError as e:
        versions = store.versions()
        response = _page(
            request, "index.html", me, versions=versions, configured=True, generation=store.generation(), error=str(e)
        )
        response.status_code = e.status
        return response
    return RedirectResponse(f"/admin/sharing?done={action}", status_code=303)
