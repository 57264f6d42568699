"""What an enterprise reads and sets about itself: its inbox and its subscriptions.

Never anonymous. Every call names the enterprise it acts for by credential, not by
USCC (a USCC is printed on every licence): ``Authorization: Bearer hqe_…``, a token an
officer issued for that enterprise (``huiqi enterprise token issue``). Endpoints ask for an
:class:`~huiqi.library.enterprises.EnterpriseIdentity` through :func:`enterprise`, the one
place that knows how identities are proved: the token, or a session of the enterprise
space (``/my``, ``huiqi.web.portal``). Failed authentications are rate-limited per client address.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, field_validator

from huiqi.errors import InputError, Message, PermissionDenied, Unauthenticated
from huiqi.library import notify
from huiqi.library.enterprises import EnterpriseIdentity, from_token
from huiqi.web.deps import PRINTABLE, Line, Token, has_control, lifecycle
from huiqi.web.limits import RateLimiter, guarded
from huiqi.web.problems import Problem
from huiqi.web.sessions import enterprise_of

router = APIRouter(prefix="/api/v1", tags=["enterprise"])
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="enterprise-token",
    description="主管部门为企业签发的令牌（hqe_…），放在 Authorization: Bearer 中 / a token an officer issued",
)
USCC = r"^[0-9A-HJ-NP-RTUWXY]{18}$"
TOO_MANY = Message("失败次数过多，请稍后再试", "too many failed attempts from this address; try again later")
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": "problem+json (RFC 9457)"} for code in (400, 401, 403, 404, 413, 422, 429)
}


def enterprise(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> EnterpriseIdentity:
    """The enterprise the caller has proved to be; 401 otherwise."""
    if credentials is None:
        uscc = enterprise_of(request)  # the enterprise space's session (huiqi.web.portal)
        if uscc is not None:
            return EnterpriseIdentity(uscc, "session")
    lc = lifecycle(request)
    failures: RateLimiter = request.app.state.auth_failures
    client, now = guarded(request, failures, TOO_MANY)
    token = credentials.credentials if credentials is not None else None
    identity = from_token(lc.engine, token, clock=lc.clock)
    if identity is None:
        failures.take(client, now)
        raise Unauthenticated(
            Message("需要主管部门签发的企业令牌", "an enterprise token (Authorization: Bearer hqe_…) is required")
        )
    return identity


Enterprise = Annotated[EnterpriseIdentity, Depends(enterprise)]


def same_enterprise(identity: EnterpriseIdentity, uscc: str) -> None:
    """Refuse (403) when the enterprise a call names is not the one its credential proved."""
    if uscc != identity.uscc:
        raise PermissionDenied(Message("令牌不属于这家企业", "the token belongs to another enterprise"))


class InboxItem(BaseModel):
    id: int
    policy_id: str
    title: str
    body: str
    verdict: str | None
    created_at: dt.datetime
    read: bool


class SubscriptionRequest(BaseModel):
    uscc: str | None = Field(None, pattern=USCC, description="统一社会信用代码（可省略；须与令牌的企业相同）")
    profile: dict[str, Any] = Field(description="企业画像（用于判断新符合的政策）")
    kind: Line = Field(description="category（订阅类别）或 new_eligible（新符合条件的政策）")
    category: Line | None = Field(None, description="tax | subsidy | reward | finance | talent | employment")
    webhook_url: str | None = Field(None, max_length=1000, pattern=PRINTABLE, description="https://… 公网地址")
    webhook_secret: Token | None = Field(None, description="HMAC-SHA256 签名密钥，16–128位")
    email: str | None = Field(None, max_length=254, pattern=PRINTABLE, description="确认前不会收到通知")

    @field_validator("profile")
    @classmethod
    def _storable(cls, value: dict[str, Any]) -> dict[str, Any]:
        if has_control(value):
            raise ValueError("企业画像不能包含控制字符 / the profile must not contain control characters")
        return value


class Subscription(BaseModel):
    id: int
    uscc: str
    kind: str
    category: str | None
    email_pending: bool = Field(description="true: 已向邮箱发送确认码，确认前不发通知")


class EmailCode(BaseModel):
    code: Token = Field(description="邮件中的确认码")


def _inbox(request: Request, uscc: str) -> list[InboxItem]:
    lc = lifecycle(request)
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
        for m in notify.inbox(lc.engine, uscc)
    ]


@router.get("/inbox", response_model=list[InboxItem], responses=_ERRORS)
def my_inbox(request: Request, me: Enterprise) -> list[InboxItem]:
    """本企业的站内信：政策发布或撤回后与本企业有关的通知（最新在前）。"""
    return _inbox(request, me.uscc)


@router.get("/inbox/{uscc}", response_model=list[InboxItem], responses=_ERRORS)
def inbox_api(
    request: Request,
    me: Enterprise,
    uscc: Annotated[str, Path(pattern=USCC, description="统一社会信用代码，须与令牌的企业相同")],
) -> list[InboxItem]:
    """企业站内信（同 /api/v1/inbox；路径中的代码须是令牌所属的企业）。"""
    same_enterprise(me, uscc)
    return _inbox(request, uscc)


@router.post("/subscriptions", status_code=201, response_model=Subscription, responses=_ERRORS)
def subscribe_api(request: Request, me: Enterprise, body: SubscriptionRequest) -> Subscription:
    """订阅：某一类别的政策更新，或“任何我新符合条件的政策”。每家企业每小时最多新增10个。"""
    if body.uscc is not None:
        same_enterprise(me, body.uscc)
    lc = lifecycle(request)
    sub = notify.subscribe(
        lc.engine,
        me.uscc,
        body.profile,
        kind=body.kind,
        category=body.category,
        webhook_url=body.webhook_url,
        webhook_secret=body.webhook_secret,
        email=body.email,
        clock=lc.clock,
    )
    return Subscription(id=sub.id, uscc=sub.uscc, kind=sub.kind, category=sub.category, email_pending=sub.email_pending)


@router.post("/subscriptions/{subscription_id}/email-verification", status_code=204, responses=_ERRORS)
def verify_email_api(
    request: Request,
    me: Enterprise,
    subscription_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    body: EmailCode,
) -> None:
    """确认邮箱：提交邮件中的确认码。确认后此邮箱才会收到通知。"""
    lc = lifecycle(request)
    failures: RateLimiter = request.app.state.auth_failures
    client, now = guarded(request, failures, TOO_MANY)
    try:
        notify.verify_email(lc.engine, me.uscc, subscription_id, body.code, clock=lc.clock)
    except InputError:
        failures.take(client, now)
        raise
