"""The consumer side: how a platform system asks the departments (the public API of sharing).

::

    from huiqi.sharing.client import GatewayClient
    client = GatewayClient.for_system(deployment, "platform/huiqi", clock=clock)
    answer = client.query("tax", purpose="policy_match", subject={"uscc": uscc},
                          fields=["taxable_income"], official="zhangwei", case_id="MATCH-1",
                          consent_ref="CR-…")
    answer.fields["taxable_income"].value       # "1234.00", with .source "税务局", .as_of
    client.query("tax", …, condition="taxable_income <= 3000000").condition.outcome   # met/unmet/unknown
    for rows in client.bulk("tax", purpose="auto_grant", fields=[…], official="batch", case_id="RUN-1"): …

Every call goes over mutual TLS with the system's own certificate. A refusal raises
:class:`~huiqi.sharing.gateway.RefusedRequest` (403) or
:class:`~huiqi.sharing.gateway.BadRequestLogged` (422), each with where the refusal is on the
provider's log; a provider that cannot be reached raises
:class:`~huiqi.sharing.errors.ProviderUnavailable` (``暂时无法获取（税务局）``). Async
twins (``aquery``) let a page ask several departments at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from huiqi.clock import Clock
from huiqi.errors import Message
from huiqi.sharing.deployment import Deployment
from huiqi.sharing.errors import BadRequest, ProviderUnavailable
from huiqi.sharing.gateway import BadRequestLogged, RefusedRequest
from huiqi.sharing.members import MEMBERS
from huiqi.sharing.registers import REGISTERS
from huiqi.sharing.wire import GatewayAnswer, LogRef, Reason
from huiqi.trust.tls import client_context

#: Connections per department per event loop.
MAX_CONNECTIONS = 16


def _error(member: str, response: httpx.Response) -> Exception:
    short = MEMBERS[member].short
    try:
        body = response.json()
    except ValueError:
        return ProviderUnavailable(member, short, f"HTTP {response.status_code}")
    message = Message(str(body.get("message_zh", "")), str(body.get("message_en", "")))
    log = LogRef.model_validate(body["log"]) if body.get("log") else None
    if response.status_code == 403:
        refused = {k: Reason.model_validate(v) for k, v in (body.get("refused") or {}).items()}
        return RefusedRequest(
            str(body.get("code", "refused")), message, field=body.get("field"), log=log, refused=refused
        )
    if response.status_code == 422:
        return BadRequestLogged(
            str(body.get("code", "bad_request")), message, field=str(body.get("field") or ""), log=log
        )
    if response.status_code == 401:
        return RefusedRequest(str(body.get("code", "no_certificate")), message, field=None, log=None)
    return ProviderUnavailable(member, short, f"HTTP {response.status_code}")


@dataclass
class GatewayClient:
    """One consumer system's calls to the departments' security servers."""

    system: str  # member/system, as in its certificate
    urls: Mapping[str, str]
    ssl_context: ssl.SSLContext
    clock: Clock
    timeout: float = 5.0
    _sync: httpx.Client | None = field(default=None, init=False, repr=False)
    _async: dict[tuple[int, str], httpx.AsyncClient] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def for_system(cls, deployment: Deployment, system: str, *, clock: Clock, timeout: float = 5.0) -> GatewayClient:
        tls = deployment.tls(system)
        return cls(system, deployment.urls(), client_context(tls.cert, tls.key, tls.ca), clock, timeout)

    # --- plumbing ------------------------------------------------------------------------------
    def _url(self, member: str, path: str) -> str:
        base = self.urls.get(member)
        if base is None:
            raise ProviderUnavailable(member, MEMBERS[member].short if member in MEMBERS else member, "not deployed")
        return base.rstrip("/") + path

    @property
    def http(self) -> httpx.Client:
        if self._sync is None:
            self._sync = httpx.Client(verify=self.ssl_context, timeout=self.timeout)
        return self._sync

    def ahttp(self, member: str) -> httpx.AsyncClient:
        """An async client for one department in the running event loop (httpx pools are loop-bound).

        One small pool per department: httpcore matches each request against every
        connection of its pool, so one big pool for all departments costs quadratic time
        under load (measured: most of the client's CPU at 50 concurrent prefills). A
        security server answers a few requests at a time anyway; more wait in the pool.
        """
        key = (id(asyncio.get_running_loop()), member)
        found = self._async.get(key)
        if found is None:
            limits = httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS)
            found = self._async[key] = httpx.AsyncClient(verify=self.ssl_context, timeout=self.timeout, limits=limits)
        return found

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()

    def _body(
        self,
        member: str,
        *,
        purpose: str,
        subject: Mapping[str, str],
        official: str,
        case_id: str,
        fields: Sequence[str] | None,
        condition: str | None,
        consent_ref: str | None,
        as_of: dt.date | None,
        request_id: str | None,
        service: str | None,
    ) -> dict[str, Any]:
        if member not in REGISTERS:
            raise BadRequest(
                "unknown_member", Message(f"{member} 没有登记服务", f"{member} keeps no register"), field="member"
            )
        body: dict[str, Any] = {
            "request_id": request_id or uuid.uuid4().hex,
            "consumer": self.system,
            "official": official,
            "case_id": case_id,
            "purpose": purpose,
            "service": service or REGISTERS[member].service,
            "subject": dict(subject),
        }
        if fields is not None:
            body["fields"] = list(fields)
        if condition is not None:
            body["condition"] = condition
        if consent_ref:
            body["consent_ref"] = consent_ref
        if as_of is not None:
            body["as_of"] = as_of.isoformat()
        return body

    # --- one subject -----------------------------------------------------------------------------
    def query(
        self,
        member: str,
        *,
        purpose: str,
        subject: Mapping[str, str],
        official: str,
        case_id: str,
        fields: Sequence[str] | None = None,
        condition: str | None = None,
        consent_ref: str | None = None,
        as_of: dt.date | None = None,
        request_id: str | None = None,
        service: str | None = None,
    ) -> GatewayAnswer:
        body = self._body(
            member,
            purpose=purpose,
            subject=subject,
            official=official,
            case_id=case_id,
            fields=fields,
            condition=condition,
            consent_ref=consent_ref,
            as_of=as_of,
            request_id=request_id,
            service=service,
        )
        try:
            r = self.http.post(self._url(member, "/v1/query"), json=body)
        except httpx.HTTPError as e:
            raise ProviderUnavailable(member, MEMBERS[member].short, type(e).__name__) from None
        if r.status_code != 200:
            raise _error(member, r)
        return GatewayAnswer.model_validate(r.json())

    async def aquery(
        self,
        member: str,
        *,
        purpose: str,
        subject: Mapping[str, str],
        official: str,
        case_id: str,
        fields: Sequence[str] | None = None,
        condition: str | None = None,
        consent_ref: str | None = None,
        as_of: dt.date | None = None,
        request_id: str | None = None,
        service: str | None = None,
    ) -> GatewayAnswer:
        body = self._body(
            member,
            purpose=purpose,
            subject=subject,
            official=official,
            case_id=case_id,
            fields=fields,
            condition=condition,
            consent_ref=consent_ref,
            as_of=as_of,
            request_id=request_id,
            service=service,
        )
        try:
            r = await self.ahttp(member).post(self._url(member, "/v1/query"), json=body)
        except httpx.HTTPError as e:
            raise ProviderUnavailable(member, MEMBERS[member].short, type(e).__name__) from None
        if r.status_code != 200:
            raise _error(member, r)
        return GatewayAnswer.model_validate(r.json())

    # --- 免申即享: every subject, page by page ------------------------------------------------------
    def bulk(
        self,
        member: str,
        *,
        purpose: str,
        fields: Sequence[str],
        official: str,
        case_id: str,
        as_of: dt.date | None = None,
        page: int = 10_000,
    ) -> Iterator[tuple[list[dict[str, Any]], LogRef]]:
        """Pages of ``(rows, log entry)``; each page is one logged decision."""
        after: str | None = None
        while True:
            body: dict[str, Any] = {
                "request_id": uuid.uuid4().hex,
                "consumer": self.system,
                "official": official,
                "case_id": case_id,
                "purpose": purpose,
                "service": REGISTERS[member].service,
                "fields": list(fields),
                "limit": page,
            }
            if after is not None:
                body["after"] = after
            if as_of is not None:
                body["as_of"] = as_of.isoformat()
            try:
                r = self.http.post(self._url(member, "/v1/bulk"), json=body, timeout=max(self.timeout, 120.0))
            except httpx.HTTPError as e:
                raise ProviderUnavailable(member, MEMBERS[member].short, type(e).__name__) from None
            if r.status_code != 200:
                raise _error(member, r)
            data = orjson.loads(r.content)
            yield data["rows"], LogRef.model_validate(data["log"])
            after = data.get("next")
            if not after:
                return

    # --- what the platform may read of a department ---------------------------------------------
    def _get(self, member: str, path: str, params: Mapping[str, Any]) -> Any:
        try:
            r = self.http.get(self._url(member, path), params=dict(params))
        except httpx.HTTPError as e:
            raise ProviderUnavailable(member, MEMBERS[member].short, type(e).__name__) from None
        if r.status_code != 200:
            raise _error(member, r)
        return r.json()

    def decisions(self, member: str, subject: str, *, limit: int = 200) -> list[dict[str, Any]]:
        """Logged decisions about ``subject`` (``uscc:<code>``), newest first: the data tracker's source."""
        result: list[dict[str, Any]] = self._get(member, "/v1/decisions", {"subject": subject, "limit": limit})
        return result

    def summary(self, member: str, *, limit: int = 50) -> dict[str, Any]:
        result: dict[str, Any] = self._get(member, "/v1/summary", {"limit": limit})
        return result

    def log_entries(self, member: str, shard: str, start: int, limit: int = 1000) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._get(member, "/v1/log", {"shard": shard, "start": start, "limit": limit})[
            "entries"
        ]
        return result
