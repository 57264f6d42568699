"""The processes of data sharing: each department's security server and the platform's
central services, as HTTP apps over mutual TLS.

* :func:`department_app` — a department's security server in front of its register:
  ``POST /v1/query`` (one subject: fields or a condition), ``POST /v1/bulk`` (免申即享),
  and, for the platform's systems only, ``GET /v1/decisions`` (the data tracker),
  ``GET /v1/log`` (the monitor) and ``GET /v1/summary`` (the department's page).
* :func:`central_app` — the platform's catalogue (``GET /v1/catalogue``) and consent
  service (``POST /v1/consents/check``, for providers only).

Who is calling is what the client's certificate says (``huiqi.trust.tls``: the member in
OU, the system in the SPIFFE URI). uvicorn does not hand the peer certificate to the
app, so :class:`PeerProtocol` reads it from the TLS connection and puts the identity in
the request's state; an app behind it never trusts a header for it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import anyio
import anyio.to_thread
import httpx
import orjson
from cryptography import x509
from fastapi import FastAPI, Request
from fastapi.responses import Response
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from huiqi.errors import Message
from huiqi.rules import Library
from huiqi.sharing.catalogue import Catalogue
from huiqi.sharing.consent import ConsentCheck, ConsentService
from huiqi.sharing.errors import BadRequest
from huiqi.sharing.gateway import BadRequestLogged, RefusedRequest, SecurityServer
from huiqi.sharing.members import MEMBERS, PROVIDERS
from huiqi.trust import CertificateError
from huiqi.trust.tls import identity_of

PEER = "huiqi_peer"


def peer_of_transport(transport: Any) -> str | None:
    """``member/system`` of the client certificate on a TLS transport, or None."""
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None
    try:
        identity = identity_of(x509.load_der_x509_certificate(der))
    except (CertificateError, ValueError):
        return None
    return f"{identity.member}/{identity.system}"


class PeerProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, plus the verified client identity in ``scope["state"]``."""

    _peer: str | None = None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._peer = peer_of_transport(transport)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope["state"][PEER] = self._peer


def _peer(request: Request) -> str | None:
    return request.scope.get("state", {}).get(PEER)


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _problem(status: int, code: str, message: Message, *, field: str | None = None, **extra: Any) -> Response:
    body = {
        "type": f"urn:huiqi:problem:{code.replace('_', '-')}",
        "title": str(message),
        "status": status,
        "code": code,
        "field": field,
        "message_zh": message.zh,
        "message_en": message.en,
        **extra,
    }
    return Response(orjson.dumps(body), status_code=status, media_type="application/problem+json")


_NO_PEER = Message("需要平台 CA 签发的客户端证书", "a client certificate of the platform CA is required")


def _platform_only(request: Request) -> str | Response:
    peer = _peer(request)
    if peer is None:
        return _problem(401, "no_certificate", _NO_PEER)
    if not peer.startswith("platform/"):
        return _problem(403, "platform_only", Message("只有平台系统可以调用", "platform systems only"))
    return peer


async def _body(request: Request) -> Any:
    raw = await request.body()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")


def department_app(server: SecurityServer) -> FastAPI:
    """A department's security server (one process per department)."""
    app = FastAPI(title=f"huiqi {server.member} security server", docs_url=None, redoc_url=None, openapi_url=None)
    register = server.register

    @app.get("/v1/health")
    def health() -> Response:
        return _json({"member": server.member, "service": register.service, "register": register.title})

    @app.post("/v1/query")
    async def query(request: Request) -> Response:
        peer = _peer(request)
        if peer is None:
            return _problem(401, "no_certificate", _NO_PEER)
        body = await _body(request)
        return await _run(lambda: _answer(lambda: server.handle(body, peer=peer).model_dump(mode="json")))

    @app.post("/v1/bulk")
    async def bulk(request: Request) -> Response:
        peer = _peer(request)
        if peer is None:
            return _problem(401, "no_certificate", _NO_PEER)
        body = await _body(request)

        def page() -> dict[str, Any]:
            rows, cursor, log = server.bulk(body, peer=peer)
            return {"rows": rows, "next": cursor, "log": log.model_dump()}

        return await _run(lambda: _answer(page))

    @app.get("/v1/decisions")
    def decisions(request: Request, subject: str, limit: int = 200) -> Response:
        who = _platform_only(request)
        if isinstance(who, Response):
            return who
        rows = server.log.entries_for(subject, limit=max(1, min(limit, 1000)))
        return _json([_entry(server, shard, idx, data) for shard, idx, data in rows])

    @app.get("/v1/log")
    def log(request: Request, shard: str, start: int = 0, limit: int = 1000) -> Response:
        who = _platform_only(request)
        if isinstance(who, Response):
            return who
        entries = server.log.range(shard, max(0, start), max(1, min(limit, 5000)))
        return _json({"shard": shard, "start": start, "entries": [orjson.loads(e) for e in entries]})

    @app.get("/v1/summary")
    def summary(request: Request, limit: int = 50) -> Response:
        who = _platform_only(request)
        if isinstance(who, Response):
            return who
        recent = [_entry(server, s, i, d) for s, i, d in server.log.recent(limit=max(1, min(limit, 500)))]
        catalogue = server.catalogue.current()
        return _json(
            {
                "member": server.member,
                "name": MEMBERS[server.member].name,
                "register": register.title,
                "service": register.service,
                "subjects": register.count(),
                "counts": server.log.counts(),
                "shards": server.log.log.shards(),
                "declarations": [
                    d.model_dump(mode="json")
                    for d in catalogue.all()
                    if getattr(d, "service", getattr(d, "id", "")) == register.service
                ],
                "recent": recent,
            }
        )

    return app


def _entry(server: SecurityServer, shard: str, index: int, data: bytes) -> dict[str, Any]:
    from huiqi.trust import leaf_hash

    return {
        "origin": server.log.log.origin(shard),
        "index": index,
        "leaf_hash": leaf_hash(data).hex(),
        "entry": orjson.loads(data),
    }


def _answer(make: Callable[[], Any]) -> Response:
    try:
        return _json(make())
    except RefusedRequest as e:
        return _problem(
            403,
            e.code,
            e.message,
            field=e.field,
            log=e.log.model_dump() if e.log else None,
            refused={k: v.model_dump() for k, v in e.refused.items()},
        )
    except BadRequestLogged as e:
        return _problem(422, e.code, e.message, field=e.field, log=e.log.model_dump() if e.log else None)
    except BadRequest as e:
        return _problem(422, e.code, e.message, field=e.field)


#: Threads that answer at once. Answering is CPU work under the GIL (Cedar, decryption, SQL):
#: dozens of threads would only take the GIL from each other and from the event loop that
#: reads and writes the TLS connections (a convoy: measured, 50 clients got a quarter of the
#: throughput of 10). Requests beyond these wait their turn in the event loop.
WORKERS = 4
_limiter: anyio.CapacityLimiter | None = None


async def _run(fn: Callable[[], Response]) -> Response:
    global _limiter
    if _limiter is None:
        _limiter = anyio.CapacityLimiter(WORKERS)
    return await anyio.to_thread.run_sync(fn, limiter=_limiter)


# --- the platform's central services ----------------------------------------------------------
def central_app(catalogue: Callable[[], Catalogue], consents: ConsentService) -> FastAPI:
    """The catalogue and the consent service, for the departments' security servers."""
    app = FastAPI(title="huiqi central services", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/v1/health")
    def health() -> Response:
        return _json({"member": "platform", "services": ["catalogue", "consent"]})

    @app.get("/v1/catalogue")
    def get_catalogue(request: Request) -> Response:
        if _peer(request) is None:
            return _problem(401, "no_certificate", _NO_PEER)
        cat = catalogue()
        etag = f'"{cat.generation}"'
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"etag": etag})
        return Response(orjson.dumps(cat.to_json()), media_type="application/json", headers={"etag": etag})

    @app.post("/v1/consents/check")
    async def check(request: Request) -> Response:
        peer = _peer(request)
        if peer is None:
            return _problem(401, "no_certificate", _NO_PEER)
        if peer.split("/", 1)[0] not in PROVIDERS:
            return _problem(403, "providers_only", Message("只有数据提供部门可以核验同意", "providers only"))
        body = await _body(request)
        try:
            ref, consumer, subject, service, purpose, action = (
                str(body[k]) for k in ("consent_ref", "consumer", "subject", "service", "purpose", "action")
            )
        except (KeyError, TypeError):
            return _problem(422, "bad_request", Message("缺少核验参数", "missing check parameters"))
        if not service.startswith(peer.split("/", 1)[0] + "."):
            # A provider checks consents for its own services only.
            return _problem(403, "not_your_service", Message("只能核验本部门服务的同意", "own services only"))
        result = consents.check(
            ref, consumer=consumer, subject=subject, service=service, purpose=purpose, action=action
        )
        return _json(
            {
                "ok": result.ok,
                "covered": sorted(result.covered),
                "code": result.code,
                "message_zh": result.message.zh if result.message else "",
                "message_en": result.message.en if result.message else "",
            }
        )

    return app


# --- clients of the central services, used inside a security server ------------------------------
class RemoteCatalogue:
    """The catalogue as the central services publish it, refetched when older than ``ttl``
    seconds (conditional GET: a 304 costs little). If the central services cannot be
    reached, the last catalogue stays in force for ``grace`` seconds, then everything is
    refused (fail closed), as X-Road's global configuration expires."""

    def __init__(self, client: httpx.Client, url: str, *, ttl: float = 2.0, grace: float = 600.0):
        self.client = client
        self.url = url.rstrip("/") + "/v1/catalogue"
        self.ttl = ttl
        self.grace = grace
        self._catalogue: Catalogue | None = None
        self._fetched = 0.0
        self._lock = threading.Lock()

    def current(self) -> Catalogue:
        now = time.monotonic()
        if self._catalogue is not None and now - self._fetched < self.ttl:
            return self._catalogue
        with self._lock:
            if self._catalogue is not None and time.monotonic() - self._fetched < self.ttl:
                return self._catalogue
            headers = {"if-none-match": f'"{self._catalogue.generation}"'} if self._catalogue else {}
            try:
                r = self.client.get(self.url, headers=headers)
                if r.status_code == 304 and self._catalogue is not None:
                    self._fetched = time.monotonic()
                elif r.status_code == 200:
                    self._catalogue = Catalogue.from_json(r.json())
                    self._fetched = time.monotonic()
                else:
                    raise httpx.HTTPError(f"catalogue: HTTP {r.status_code}")
            except httpx.HTTPError:
                if self._catalogue is None or time.monotonic() - self._fetched > self.grace:
                    return Catalogue()  # nothing declared: every request is refused
            return self._catalogue


class RemoteConsents:
    """The consent service, asked on every call (a withdrawal counts from the next one)."""

    def __init__(self, client: httpx.Client, url: str):
        self.client = client
        self.url = url.rstrip("/") + "/v1/consents/check"

    def check(self, ref: str, *, consumer: str, subject: str, service: str, purpose: str, action: str) -> ConsentCheck:
        body = {
            "consent_ref": ref,
            "consumer": consumer,
            "subject": subject,
            "service": service,
            "purpose": purpose,
            "action": action,
        }
        try:
            r = self.client.post(self.url, json=body)
            data = r.json()
            if r.status_code != 200:
                raise httpx.HTTPError(str(data.get("message_en", r.status_code)))
        except (httpx.HTTPError, ValueError) as e:
            return ConsentCheck(
                False,
                frozenset(),
                "consent_unverifiable",
                Message("暂时无法核验同意（平台同意服务不可用）", f"consent cannot be verified now: {e}"),
            )
        message = Message(data["message_zh"], data["message_en"]) if data.get("code") else None
        return ConsentCheck(bool(data["ok"]), frozenset(data.get("covered", ())), data.get("code", ""), message)


def library_loader(load: Callable[[], Library]) -> Callable[[], Library]:
    """The policy library, loaded once on first need (variables and parameters of conditions)."""
    box: dict[str, Library] = {}
    lock = threading.Lock()

    def get() -> Library:
        if "lib" not in box:
            with lock:
                if "lib" not in box:
                    box["lib"] = load()
        return box["lib"]

    return get
