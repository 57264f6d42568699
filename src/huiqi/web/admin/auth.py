"""Officers' login, sessions and CSRF, as FastAPI dependencies that raise.

A page that needs an officer declares it (model: datasette's ``ensure_permission``)::

    @router.get("/admin/x")
    def page(request: Request, me: Viewer) -> Response: ...

The dependency raises; the app's one error handler turns that into the answer: a page
asked for without a session redirects (303) to the login page, an API call or a form post
gets 401, a lacking role 403. State-changing forms declare :func:`posted` instead, which
also checks the session's CSRF token.

Sessions are server-side (``admin_sessions``); the cookie holds a random token, is
HttpOnly, SameSite=Strict, limited to ``/admin``, and ``Secure`` whenever the configured
base URL is https. The login form carries its own CSRF token (a random value in a
short-lived cookie and in the form, compared on post), so another site cannot log a
browser into an account of its choosing.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from huiqi import vocab
from huiqi.errors import Message, PermissionDenied, RateLimited, Unauthenticated
from huiqi.library import Lifecycle
from huiqi.library.officers import Officer, login, logout, session_officer
from huiqi.web.deps import Line, Token, lifecycle, settings
from huiqi.web.limits import client_address
from huiqi.web.templating import render

COOKIE = "huiqi_admin"
LOGIN_COOKIE = "huiqi_login"
COOKIE_PATH = "/admin"
SESSION_SECONDS = 8 * 3600

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class OfficerSession:
    lc: Lifecycle
    officer: Officer
    csrf: str


class LoginRequired(Unauthenticated):
    """No session: a page redirects to the login page (``location``)."""

    def __init__(self, location: str):
        super().__init__(Message("请先登录", "log in first"))
        self.location = location


def _session(request: Request) -> OfficerSession | None:
    lc = lifecycle(request)
    found = session_officer(lc.engine, request.cookies.get(COOKIE), clock=lc.clock)
    if found is None:
        return None
    officer, csrf = found
    return OfficerSession(lc, officer, csrf)


def require(role: str) -> Callable[[Request], OfficerSession]:
    """A dependency: the logged-in officer, who must hold ``role``."""

    def dependency(request: Request) -> OfficerSession:
        session = _session(request)
        if session is None:
            if request.method == "GET" and not request.url.path.startswith("/admin/api/"):
                raise LoginRequired(f"/admin/login?next={quote(request.url.path)}")
            raise Unauthenticated(Message("请先登录", "log in first"))
        if not session.officer.can(role):
            raise PermissionDenied(Message(f"需要{vocab.ROLES[role]}角色", f"needs the role {role}"))
        return session

    return dependency


def check_csrf(session: OfficerSession, token: str | None) -> None:
    if not token or not hmac.compare_digest(token, session.csrf):
        raise PermissionDenied(Message("表单已过期，请刷新页面后重试", "CSRF token missing or wrong"))


def posted(role: str) -> Callable[..., OfficerSession]:
    """A dependency for a state-changing form: the officer (with ``role``) and the form's CSRF token."""
    officer_with_role = require(role)

    def dependency(request: Request, csrf: Annotated[Token, Form()] = "") -> OfficerSession:
        session = officer_with_role(request)
        check_csrf(session, csrf)
        return session

    return dependency


Viewer = Annotated[OfficerSession, Depends(require("viewer"))]
Editor = Annotated[OfficerSession, Depends(require("editor"))]


def _next(value: str) -> str:
    """Where to go after logging in: a path of the officers' pages, nothing else."""
    return value if value.startswith("/admin") and "\\" not in value else "/admin"


def _login_page(request: Request, next_url: str, *, status: int = 200, error: str = "", name: str = "") -> Response:
    token = secrets.token_urlsafe(24)
    page = render(
        request,
        "admin/login.html",
        {"me": None, "csrf": token, "next": _next(next_url), "error": error, "name": name},
        status,
    )
    page.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=1800,
        httponly=True,
        samesite="strict",
        secure=settings(request).https,
        path=COOKIE_PATH,
    )
    return page


@router.get("/admin/login")
def login_page(request: Request, next: str = "/admin") -> Response:
    lifecycle(request)
    return _login_page(request, next[:500])


@router.post("/admin/login")
def login_submit(
    request: Request,
    name: Annotated[Line, Form()] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[Line, Form()] = "/admin",
    csrf: Annotated[Token, Form()] = "",
) -> Response:
    lc = lifecycle(request)
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not csrf or not expected or not hmac.compare_digest(csrf, expected):
        return _login_page(request, next, status=403, error="登录表单已过期，请重新输入", name=name)
    try:
        result = login(lc.engine, name.strip(), password, clock=lc.clock, address=client_address(request))
    except RateLimited as e:
        page = _login_page(request, next, status=429, error=e.message.zh, name=name)
        page.headers["Retry-After"] = str(e.retry_after)
        return page
    if result is None:
        return _login_page(request, next, status=401, error="用户名或密码不正确", name=name)
    token, _ = result
    response = RedirectResponse(_next(next), status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=settings(request).https,
        path=COOKIE_PATH,
        max_age=SESSION_SECONDS,
    )
    response.delete_cookie(LOGIN_COOKIE, path=COOKIE_PATH)
    return response


@router.post("/admin/logout")
def logout_submit(request: Request, me: Annotated[OfficerSession, Depends(posted("viewer"))]) -> Response:
    token = request.cookies.get(COOKIE)
    if token:
        logout(me.lc.engine, token, clock=me.lc.clock)
    response = RedirectResponse("/admin/login", status_code=303)
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response
