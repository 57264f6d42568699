"""The web application: HTTP API, pages and static files in one FastAPI app.

Every response carries the security headers of :class:`SecurityHeaders` (a strict
Content-Security-Policy: scripts and styles only from this site, no inline script, no
framing), and every request body is bounded by :class:`BodyLimit`.
"""

from __future__ import annotations

import gc
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette import types as asgi

from huiqi import clock as clocks
from huiqi.errors import HuiqiError, Message
from huiqi.rules import LibrarySource
from huiqi.web import admin, api, certs, enterprise, pages, portal, problems, sharing
from huiqi.web.limits import RateLimiter
from huiqi.web.settings import Settings
from huiqi.web.templating import render

MAX_BODY_BYTES = 256 * 1024
#: Attachment uploads of the enterprise space (5 MB files) get a larger limit, by path.
UPLOAD_BODY_BYTES = 6 * 1024 * 1024
UPLOAD_PATHS = re.compile(r"^/my/applications/\d+/attachments$")


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with a 413 problem, before anyone parses them."""

    def __init__(self, app: asgi.ASGIApp, limit: int = MAX_BODY_BYTES):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: asgi.Scope, receive: asgi.Receive, send: asgi.Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = UPLOAD_BODY_BYTES if UPLOAD_PATHS.match(str(scope.get("path", ""))) else self.limit
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"")
        if declared and (not declared.isdigit() or int(declared) > limit):
            await self._too_large(scope, send)
            return
        seen = 0

        async def limited() -> asgi.Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited, send)

    async def _too_large(self, scope: asgi.Scope, send: asgi.Send) -> None:
        error = BodyTooLarge(self.limit)
        body = problems.Problem(
            type=f"urn:huiqi:problem:{error.kind}",
            title=str(error.title),
            status=error.status,
            detail=str(error.message),
            instance=str(scope.get("path", "")),
        ).model_dump_json()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", problems.PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body.encode())).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body.encode()})


class BodyTooLarge(HuiqiError):
    """A chunked body went over the limit while being read."""

    status = 413
    kind = "http-413"
    title = Message("请求正文太大", "Request body too large")

    def __init__(self, limit: int):
        super().__init__(Message(f"请求正文不能超过 {limit // 1024} KB", f"the body must not exceed {limit} bytes"))


#: Scripts and styles from this site only, no inline script, no plugins, never framed.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
#: Swagger UI (``/docs``) sets inline styles from its script.
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
#: Paths whose answers are private: never kept by a browser or a proxy. So is any answer to
#: a request that carries credentials (a cookie or an Authorization header), static files aside.
PRIVATE = (
    "/admin",
    "/api/v1/inbox",
    "/api/v1/subscriptions",
    "/api/v1/enterprises/",
    "/enterprise/",
    "/my",
    "/api/v1/my",
)


class SecurityHeaders:
    """Add the security headers to every HTTP response (pages, API, static files, errors)."""

    def __init__(self, app: asgi.ASGIApp, *, https: bool = False):
        self.app = app
        common = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
            (b"x-frame-options", b"DENY"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
        ]
        if https:
            common.append((b"strict-transport-security", b"max-age=31536000"))
        self.default = [*common, (b"content-security-policy", CSP.encode())]
        self.docs = [*common, (b"content-security-policy", DOCS_CSP.encode())]
        self.private = [(b"cache-control", b"no-store")]

    async def __call__(self, scope: asgi.Scope, receive: asgi.Receive, send: asgi.Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        extra = self.docs if path == "/docs" else self.default
        if path.startswith(PRIVATE) or (_credentials(scope) and not path.startswith("/static/")):
            extra = [*extra, *self.private]

        async def with_headers(message: asgi.Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in extra if h[0] not in names)]
            await send(message)

        await self.app(scope, receive, with_headers)


def _credentials(scope: asgi.Scope) -> bool:
    return any(name in (b"authorization", b"cookie") for name, _ in scope.get("headers") or ())


def create_app(
    source: LibrarySource,
    *,
    freeze_gc: bool = False,
    clock: clocks.Clock | None = None,
    settings: Settings | None = None,
) -> FastAPI:
    """The app. ``source.current()`` is asked for the library on every request, so a
    lifecycle source can publish a new library without a restart.

    ``freeze_gc`` (set by ``huiqi serve``): once started, move every object alive (the
    compiled library, the reference data, the framework) out of the garbage collector's
    sight with ``gc.freeze()``. Otherwise each full collection walks them all, a pause of
    ~80 ms that showed up as the p99.9 latency of the calculator. A newly published
    library is frozen too, on the first request that sees it.

    ``clock`` is the one clock of the app (default: ``HUIQI_NOW`` or the system clock);
    ``settings`` what the operator configured (default: from the environment).
    """
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if freeze_gc:
            gc.collect()
            gc.freeze()
            app.state.frozen_library = id(source.current())
        yield

    # FastAPIOffline serves Swagger UI's files itself: the default CDN is unreachable on a
    # government intranet (and on this machine), which would leave /docs blank.
    app = FastAPIOffline(
        lifespan=lifespan,
        title="惠企 huiqi API",
        version="1",
        description=(
            "临江市惠企政策计算器与政策库的 HTTP 接口。金额单位为元，以十进制字符串表示。"
            "错误以 application/problem+json（RFC 9457）返回，逐项写明出错的字段（中文 / English）。"
        ),
        docs_url=None,  # served below, without inline script
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.source = source
    app.state.clock = clock or clocks.from_env()
    app.state.freeze_gc = freeze_gc
    app.state.frozen_library = None
    app.state.settings = settings
    app.state.as_of_builds = RateLimiter(per_minute=settings.as_of_builds_per_minute, burst=5)
    app.state.auth_failures = RateLimiter(per_minute=10, burst=20)
    app.state.cert_lookups = RateLimiter(
        per_minute=settings.cert_lookups_per_minute, burst=settings.cert_lookups_per_minute
    )
    problems.install(app, html=pages.error_page)
    app.include_router(api.router)
    app.include_router(enterprise.router)
    app.include_router(pages.router)
    app.include_router(admin.router)
    app.include_router(certs.router)
    app.include_router(sharing.router)
    app.state.portal_factory = portal.portal
    app.include_router(portal.router)
    app.include_router(portal.api)
    app.add_api_route("/docs", _docs_page, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders, https=settings.https)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            _problem_media_types(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


async def _docs_page(request: Request) -> HTMLResponse:
    return render(request, "docs.html", {})


def _problem_media_types(schema: dict[str, Any]) -> None:
    """Error responses are served as application/problem+json: say so in the spec.

    FastAPI documents its own 422 body (``HTTPValidationError``) for every route with
    parameters; this app answers every validation error with a Problem instead, so the
    spec names the Problem schema there too, for routers that do not say so themselves.
    """
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    used_default = False
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status.startswith(("4", "5")) and "application/json" in content:
                    content[problems.PROBLEM_JSON] = content.pop("application/json")
                body = content.get(problems.PROBLEM_JSON)
                if status == "422" and body and "HTTPValidationError" in str(body.get("schema", {})):
                    body["schema"] = problem_ref
                    response["description"] = "problem+json (RFC 9457)"
                    used_default = True
    if used_default and "Problem" not in components:
        defs = problems.Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(defs.pop("$defs", {}))
        components["Problem"] = defs
    if "HTTPValidationError" not in str(schema.get("paths", {})):
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
