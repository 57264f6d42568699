"""E-licence verification over HTTP: ``POST /api/v1/certs/verify`` and the public pages under ``/certs``.

* ``/certs/v/{证照标识}?k=…`` — the page a QR code on a licence opens: 有效 / 已注销 / 伪造 with the reasons.
  ``k`` shows the scanner holds the licence; the access is logged (``cert.lookup``, 用证事由 ``qr_scan``).
* ``/certs/verify`` — verify by 证照标识 (a 用证事由 and the 查验单位 are required, and logged) or by
  uploading a licence file (verified as shown, nothing looked up).
* ``/certs/status/{dept}/{n}`` — a department's signed Bitstring Status List (the URL in each credential).
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from huiqi.certs import PURPOSES, CertError, Licences, NotFoundError, Verification
from huiqi.certs.config import licences_from_env
from huiqi.certs.qr import qr_svg, verify_url
from huiqi.certs.verify import load_package
from huiqi.errors import Message, PermissionDenied, Unavailable
from huiqi.web.limits import client_address
from huiqi.web.templating import TEMPLATES

router = APIRouter()

_TOO_MANY_LOOKUPS = Message(
    "按证照标识查询过于频繁，请稍后再试（持证照者请扫描二维码）",
    "too many lookups by licence identifier; try again later (holders: scan the QR code)",
)


def _limit_lookups(request: Request) -> None:
    """Bound lookups by identifier per client: 证照标识 are sequential, so without a bound one
    client could walk the whole register (each lookup is still logged with its purpose)."""
    now = float(request.app.state.clock.now().timestamp())
    request.app.state.cert_lookups.check(client_address(request), now, _TOO_MANY_LOOKUPS)


def licences(request: Request) -> Licences:
    """The app's register (built on first use from the library database and the environment)."""
    state = request.app.state
    found: Licences | None = getattr(state, "certs", None)
    if found is None:
        engine = getattr(getattr(state, "source", None), "engine", None)
        if engine is None:  # policies from files: the register is still in the platform database (HUIQI_DB)
            from huiqi.store import make_engine, upgrade

            engine = make_engine()
            upgrade(engine)
        found = licences_from_env(engine, state.clock)
        state.certs = found
    if found.anchors is None:
        raise Unavailable(
            Message("未配置信任策略（HUIQI_TRUST_POLICY），无法核验", "no trust policy configured: cannot verify")
        )
    return found


class ReasonOut(BaseModel):
    code: str = Field(description="stable code: tampered, unknown_key, quorum, split_view, backdated, revoked …")
    zh: str
    en: str


class VerificationOut(BaseModel):
    verdict: str = Field(description="valid | revoked | superseded | expired | forged | unverified")
    label: str = Field(description="有效 / 已注销 / 已吊销 / 已变更 / 已过期 / 伪造 / 无法核验")
    id: str | None = Field(description="证照标识")
    reasons: list[ReasonOut]
    checks: list[str] = Field(description="what was verified, in Chinese")
    licence: dict[str, Any] | None = Field(description="type, holder, USCC, issuer, validity and fields as shown")
    event: dict[str, Any] | None = Field(description="the event that ended validity: kind, time, effective, reason")
    log_index: int | None = Field(description="log index of the cert.lookup entry recording this access")


class VerifyRequest(BaseModel):
    """Either a licence (``package`` or bare ``credential``) to verify as shown, or an ``id`` to look up."""

    package: dict[str, Any] | None = None
    credential: dict[str, Any] | None = None
    id: str | None = Field(None, description="证照标识; needs purpose and requester")
    purpose: str | None = Field(None, description="用证事由: " + ", ".join(PURPOSES))
    requester: str | None = Field(None, description="查验单位或查验人")


@router.post("/api/v1/certs/verify", response_model=VerificationOut, tags=["电子证照"])
def verify_api(body: VerifyRequest, request: Request) -> dict[str, Any]:
    """核验电子证照：提交证照文件（离线可验证的证照包）或按证照标识查询（须写明用证事由，查询记入透明日志）。"""
    lic = licences(request)
    if body.package is not None or body.credential is not None:
        return lic.verify(body.package if body.package is not None else body.credential).to_dict()
    if body.id is None:
        raise CertError("请提交证照（package 或 credential）或证照标识（id）", "give a package, a credential or an id")
    _limit_lookups(request)
    return lic.lookup(body.id, purpose=body.purpose or "", requester=body.requester or "").to_dict()


def _token_ok(lic: Licences, licence_id: str, token: str | None) -> dict[str, Any]:
    credential = lic.credential(licence_id)
    if not token or not hmac.compare_digest(lic.access_token(credential), token):
        raise PermissionDenied(
            Message("访问码不对：请扫描证照上的二维码", "wrong access code: scan the licence's QR code")
        )
    return credential


@router.get("/api/v1/certs/{licence_id}/package", tags=["电子证照"])
def package_api(licence_id: str, request: Request, k: str | None = Query(None, description="二维码中的访问码")) -> Any:
    """持证企业取回证照包（证照、日志证明、状态列表快照），供离线核验。"""
    lic = licences(request)
    _token_ok(lic, licence_id, k)
    return lic.package(licence_id)


@router.get("/certs/status/{department}/{number}", tags=["电子证照"])
def status_list(department: str, number: int, request: Request) -> Any:
    """发证部门签名的 Bitstring Status List（最新检查点的快照）。"""
    lic = licences(request)
    snap = lic.status_list(f"{lic.base_url}/certs/status/{department}/{number}")
    if snap is None:
        raise NotFoundError("状态列表尚未生成", "no status list snapshot yet", field="url")
    return JSONResponse(snap, media_type="application/vc+ld+json")


def _page(request: Request, result: Verification | None = None, **extra: Any) -> HTMLResponse:
    context = {"page": "certs", "result": result, "purposes": PURPOSES, **extra}
    return TEMPLATES.TemplateResponse(request, "certs/verify.html", context)


@router.get("/certs/v/{licence_id}", response_class=HTMLResponse, include_in_schema=False)
def scanned(licence_id: str, request: Request, k: str | None = None) -> HTMLResponse:
    lic = licences(request)
    try:
        result = lic.lookup(licence_id, purpose="qr_scan", requester="扫码查验", access_code=k or "")
    except (CertError, PermissionDenied) as e:
        # Without the licence in hand, the lookup needs a stated purpose: show the form.
        return _page(request, form={"id": licence_id}, error=e.message.zh)
    return _page(request, result)


@router.get("/certs/verify", response_class=HTMLResponse, include_in_schema=False)
def verify_form(request: Request) -> HTMLResponse:
    return _page(request, form={})


@router.post("/certs/verify", response_class=HTMLResponse, include_in_schema=False)
async def verify_submit(request: Request) -> HTMLResponse:
    lic = licences(request)
    form = await request.form()
    values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    upload = form.get("file")
    try:
        if upload is not None and not isinstance(upload, str) and upload.filename:
            data = await upload.read()
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as e:
                raise CertError("文件不是 UTF-8 文本", "the file is not UTF-8 text", field="file") from e
            return _page(request, lic.verify(load_package(text)), form={})
        _limit_lookups(request)
        result = lic.lookup(
            values.get("id", ""), purpose=values.get("purpose", ""), requester=values.get("requester", "")
        )
    except CertError as e:
        return _page(request, form=values, error=e.message_zh, error_field=e.field)
    return _page(request, result, form=values)


@router.get("/certs/{licence_id}/qr.svg", include_in_schema=False)
def qr(licence_id: str, request: Request, k: str | None = None) -> Response:
    lic = licences(request)
    _token_ok(lic, licence_id, k)
    svg = qr_svg(verify_url(lic.base_url, licence_id, str(k)))
    return Response(svg, media_type="image/svg+xml")


@router.get("/certs/{licence_id}/licence", response_class=HTMLResponse, include_in_schema=False)
def licence_page(licence_id: str, request: Request, k: str | None = None) -> HTMLResponse:
    """The licence as printed, with its QR code (the holder's copy: needs the access code)."""
    lic = licences(request)
    credential = _token_ok(lic, licence_id, k)
    from huiqi.certs.verify import summary

    return TEMPLATES.TemplateResponse(
        request,
        "certs/licence.html",
        {
            "page": "certs",
            "id": licence_id,
            "k": k,
            "licence": summary(credential),
            "url": verify_url(lic.base_url, licence_id, str(k)),
            "raw": json.dumps(credential, ensure_ascii=False, indent=2),
        },
    )
