"""The provider's security server (X-Road's model): every request to a department's register
passes here, and is answered only as far as the catalogue, consent and Cedar allow.

For each request, in order:

1. the consumer named in the request must be the system whose mTLS certificate made the
   call (no one can ask in another system's name);
2. a request id already on the log is a replay: refused;
3. purpose, service, subject and fields must exist — an unknown one is refused, named;
4. a published Purpose Declaration must let this consumer use this service for this
   purpose (deny by default);
5. consent-based purposes need a consent reference that the consent service confirms on
   this very call (bound to consumer, subject, service and purpose; withdrawn or expired
   ones are refused with the reason); statutory ones carry the legal basis recorded in
   their declaration;
6. Cedar decides each field (forbids override permits); only allowed fields are read
   from the register, decrypted and released, masked where the declaration says so; a
   condition is evaluated on the register's own data and only met / unmet / unknown leaves;
7. the decision — allowed, partly allowed or denied — is one entry on the provider's
   transparency log before the answer is sent, and the answer says where.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import ValidationError
from stdnum.cn import ric

from huiqi.clock import CITY_TZ, Clock
from huiqi.errors import Message
from huiqi.profile.uscc import is_valid as uscc_valid
from huiqi.rules import Library
from huiqi.sharing.access import AccessEngine, Principal, Resource
from huiqi.sharing.catalogue import Catalogue, PurposeDeclaration
from huiqi.sharing.conditions import Condition, compile_condition, outcome
from huiqi.sharing.consent import ConsentCheck
from huiqi.sharing.decisions import ENTRY_TYPE, DecisionLog
from huiqi.sharing.errors import BadRequest, Refused
from huiqi.sharing.masking import apply_mask
from huiqi.sharing.members import MEMBERS, PURPOSES, purpose_code
from huiqi.sharing.registers import Register
from huiqi.sharing.wire import (
    BulkRequest,
    ConditionAnswer,
    GatewayAnswer,
    GatewayRequest,
    LogRef,
    Reason,
    Released,
    digest,
    json_value,
)
from huiqi.trust import format_time


class CatalogueSource(Protocol):
    def current(self) -> Catalogue: ...


class ConsentChecker(Protocol):
    def check(
        self, ref: str, *, consumer: str, subject: str, service: str, purpose: str, action: str
    ) -> ConsentCheck: ...


@dataclass
class StaticCatalogue:
    catalogue: Catalogue

    def current(self) -> Catalogue:
        return self.catalogue


REASONS: dict[str, Message] = {
    "not_declared": Message("此用途的声明不包含该字段", "the purpose declaration does not include this field"),
    "no_consent": Message("企业未同意提供该字段", "the enterprise has not consented to this field"),
    "no_record": Message("登记中没有此主体的记录", "the register holds no record of this subject"),
    "denied": Message("访问策略不允许（默认拒绝）", "not permitted by the access policy (deny by default)"),
    "never_leaves": Message("该字段不出域，只能条件查询", "this field never leaves its department: ask a condition"),
    "suspended": Message("该工作人员的访问已被暂停", "this official's access is suspended"),
    "population_never_bulk": Message("人口库不提供批量读取", "the population register is never read in bulk"),
}
_FORBID_CODES = {
    "baseline/never-leaves": "never_leaves",
    "baseline/suspended-official": "suspended",
    "baseline/population-never-bulk": "population_never_bulk",
    "baseline/sensitive-needs-basis": "no_consent",
}


class RefusedRequest(Refused):
    """A refusal that is already on the log (``log`` says where)."""

    def __init__(
        self,
        code: str,
        message: Message,
        *,
        field: str | None,
        log: LogRef | None,
        refused: Mapping[str, Reason] | None = None,
    ):
        super().__init__(code, message, field=field)
        self.log = log
        self.refused = dict(refused or {})


class BadRequestLogged(BadRequest):
    def __init__(self, code: str, message: Message, *, field: str, log: LogRef | None):
        super().__init__(code, message, field=field)
        self.log = log


@dataclass
class SecurityServer:
    """One department's security server in front of its register."""

    register: Register
    catalogue: CatalogueSource
    consents: ConsentChecker
    log: DecisionLog
    library: Callable[[], Library]
    clock: Clock
    _engines: dict[int, tuple[int, AccessEngine]] = field(default_factory=dict)
    _conditions: dict[tuple[int, str], Condition] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def member(self) -> str:
        return self.register.member

    @property
    def source_name(self) -> str:
        return MEMBERS[self.member].short

    def access(self, catalogue: Catalogue) -> AccessEngine:
        """The Cedar engine of the catalogue generation in force (rebuilt when it changes)."""
        cached = self._engines.get(0)
        if cached is None or cached[0] != catalogue.generation:
            with self._lock:
                cached = self._engines.get(0)
                if cached is None or cached[0] != catalogue.generation:
                    cached = (catalogue.generation, AccessEngine.for_catalogue(catalogue))
                    self._engines[0] = cached
                    self._conditions.clear()
        return cached[1]

    # --- helpers ------------------------------------------------------------------------------
    def _subject_key(self, kind: str, value: str) -> str:
        if kind == "uscc":
            return f"uscc:{value}"
        # No 身份证号 on the log: the register's blind index stands for the person.
        return "person:" + self.register.index("persons", "id_number", value) if self.member == "mps" else "person:?"

    def _append(self, entry: dict[str, Any], request_id: str | None) -> LogRef:
        logged = self.log.append(entry, request_id=request_id)
        return LogRef(origin=logged.origin, index=logged.index, leaf_hash=logged.leaf_hash.hex())

    def _deny(
        self,
        entry: dict[str, Any],
        code: str,
        message: Message,
        *,
        field: str | None,
        request_id: str | None,
        bad: bool = False,
        refused: Mapping[str, Reason] | None = None,
        request_hash: str | None = None,
    ) -> None:
        """Log a denial of the whole request, then raise it."""
        body = {"code": code, "message_zh": message.zh, "message_en": message.en, "field": field}
        entry.update(
            decision="deny",
            code=code,
            fields=entry.get("fields", []),
            released=[],
            refused={k: v.code for k, v in (refused or {}).items()},
            request_hash=request_hash or entry.get("request_hash", ""),
            response_hash=digest(body),
        )
        log = self._append(entry, request_id)
        if bad:
            raise BadRequestLogged(code, message, field=field or "", log=log)
        raise RefusedRequest(code, message, field=field, log=log, refused=refused)

    def _context(self, purpose: str, consent: bool, decl: PurposeDeclaration | None) -> dict[str, Any]:
        local = self.clock.now().astimezone(CITY_TZ)
        basis = decl.legal_basis.text if decl is not None and decl.basis == "legal_basis" and decl.legal_basis else ""
        return {
            "purpose": purpose,
            "consent": consent,
            "legal_basis": basis,
            "hour": local.hour,
            "weekday": local.isoweekday(),
        }

    # --- one request ----------------------------------------------------------------------------
    def handle(self, raw: Mapping[str, Any], *, peer: str) -> GatewayAnswer:
        """Answer (or refuse) one request from the system ``peer`` (``member/system`` of its certificate)."""
        request_hash = digest(raw) if isinstance(raw, Mapping) else digest(str(raw))
        try:
            req = GatewayRequest.model_validate(raw)
        except ValidationError as e:
            err = e.errors()[0]
            where = ".".join(str(x) for x in err["loc"]) or "request"
            entry: dict[str, Any] = {
                "type": ENTRY_TYPE,
                "time": format_time(self.clock.now()),
                "provider": self.member,
                "peer": peer,
                "consumer": peer,
                "action": "read",
                "request_hash": request_hash,
            }
            self._deny(
                entry,
                "bad_request",
                Message(f"{where}：{err['msg']}", f"{where}: {err['msg']}"),
                field=where,
                request_id=None,
                bad=True,
            )
            raise AssertionError("unreachable") from None
        action = "ask" if req.condition is not None else "read"
        entry = {
            "type": ENTRY_TYPE,
            "time": format_time(self.clock.now()),
            "provider": self.member,
            "service": req.service,
            "request_id": req.request_id,
            "consumer": req.consumer,
            "peer": peer,
            "official": f"{req.consumer}/{req.official}",
            "case_id": req.case_id,
            "purpose": req.purpose,
            "subject": "",
            "action": action,
            "fields": list(req.fields or []),
            "request_hash": request_hash,
        }
        if req.consent_ref:
            entry["consent_ref"] = req.consent_ref
        # 1. the consumer is the caller
        if req.consumer != peer:
            self._deny(
                entry,
                "consumer_mismatch",
                Message(
                    f"请求以 {req.consumer} 的名义发出，但证书属于 {peer}",
                    f"request names consumer {req.consumer} but the certificate is {peer}",
                ),
                field="consumer",
                request_id=None,
            )
        # 2. replay
        earlier = self.log.seen(req.request_id)
        if earlier is not None:
            self._deny(
                entry,
                "replayed_request",
                Message(
                    f"请求编号 {req.request_id} 已在日志第 {earlier.index} 条使用过（重放）",
                    f"request id {req.request_id} was already used (entry {earlier.index}): replay",
                ),
                field="request_id",
                request_id=None,
            )
        # 3. what is named must exist
        try:
            purpose = purpose_code(req.purpose)
        except BadRequest as e:
            self._deny(entry, e.code, e.message, field="purpose", request_id=req.request_id, bad=True)
        entry["purpose"] = purpose
        register = self.register
        if req.service != register.service:
            self._deny(
                entry,
                "unknown_service",
                Message(
                    f"{self.source_name}没有服务 {req.service}（有：{register.service}）",
                    f"{self.member} offers no service {req.service} (only {register.service})",
                ),
                field="service",
                request_id=req.request_id,
                bad=True,
            )
        subject = req.subject
        if subject.kind != register.subject or not _subject_valid(subject.kind, subject.value):
            what = "统一社会信用代码" if register.subject == "uscc" else "身份证号"
            self._deny(
                entry,
                "unknown_subject",
                Message(
                    f"主体应为有效的{what}：{subject.value}",
                    f"the subject must be a valid {register.subject}: {subject.value}",
                ),
                field=f"subject.{subject.kind}",
                request_id=req.request_id,
                bad=True,
            )
        entry["subject"] = self._subject_key(subject.kind, subject.value)
        catalogue = self.catalogue.current()
        service_decl = catalogue.services.get(register.service)
        condition: Condition | None = None
        if req.fields is not None:
            unknown = [f for f in req.fields if f not in register.fields]
            if unknown:
                self._deny(
                    entry,
                    "unknown_field",
                    Message(
                        f"{register.title}没有字段：{'、'.join(unknown)}",
                        f"{register.service} has no field(s): {', '.join(unknown)}",
                    ),
                    field="fields",
                    request_id=req.request_id,
                    bad=True,
                )
            wanted = list(dict.fromkeys(req.fields))
        else:
            offered = service_decl.conditions if service_decl is not None else []
            try:
                condition = self._condition(catalogue, req.condition or "", offered)
            except BadRequest as e:
                self._deny(entry, e.code, e.message, field="condition", request_id=req.request_id, bad=True)
            assert condition is not None
            wanted = sorted(condition.reads)
            entry["fields"] = wanted
            entry["condition_hash"] = digest(req.condition)
        # 4. a published declaration
        if service_decl is None:
            self._deny(
                entry,
                "service_not_declared",
                Message(f"{register.service} 未在目录中发布", f"{register.service} is not published"),
                field="service",
                request_id=req.request_id,
            )
        assert service_decl is not None
        decl = catalogue.purpose_for(req.consumer, purpose, register.service)
        if decl is None:
            self._deny(
                entry,
                "no_declaration",
                Message(
                    f"{req.consumer} 没有用途为“{PURPOSES[purpose]}”的 {register.service} 用途声明（默认拒绝）",
                    f"{req.consumer} has no purpose declaration for {purpose} on {register.service}",
                ),
                field="purpose",
                request_id=req.request_id,
            )
        assert decl is not None
        entry["declaration"] = decl.id
        if decl.basis == "legal_basis" and decl.legal_basis is not None:
            entry["legal_basis"] = decl.legal_basis.text
        # 5. consent, checked now
        covered: frozenset[str] = frozenset()
        if decl.basis == "consent":
            if not req.consent_ref:
                self._deny(
                    entry,
                    "consent_required",
                    Message(
                        "此用途须经企业同意：请求未附同意编号",
                        "this purpose needs the enterprise's consent: no consent_ref",
                    ),
                    field="consent_ref",
                    request_id=req.request_id,
                )
            check = self.consents.check(
                req.consent_ref or "",
                consumer=req.consumer,
                subject=subject.value,
                service=register.service,
                purpose=purpose,
                action=action,
            )
            if not check.ok:
                self._deny(
                    entry,
                    check.code,
                    check.message or Message("同意无效", "invalid consent"),
                    field="consent_ref",
                    request_id=req.request_id,
                )
            covered = check.covered
        # 6. Cedar, field by field
        principal = Principal.of(
            req.consumer, req.official, suspended=f"{req.consumer}/{req.official}" in catalogue.suspended
        )
        resources = [Resource(self.member, f, register.fields[f].sensitivity) for f in wanted]
        contexts = [self._context(purpose, f in covered, decl) for f in wanted]
        decisions = self.access(catalogue).decide(principal, action, resources, contexts)
        allowed: list[str] = []
        refused: dict[str, Reason] = {}
        for f, d in zip(wanted, decisions, strict=True):
            if d.allowed:
                allowed.append(f)
                continue
            declared = decl.fields if action == "read" else (service_decl.conditions if decl.conditions else [])
            code = next((_FORBID_CODES[r] for r in d.reasons if r in _FORBID_CODES), None)
            if f not in declared and code in (None, "no_consent"):
                code = "not_declared"
            elif code is None:
                code = "no_consent" if decl.basis == "consent" and f not in covered else "denied"
            elif code == "no_consent" and decl.basis == "legal_basis":
                code = "denied"
            msg = REASONS[code]
            refused[f] = Reason(code=code, message_zh=msg.zh, message_en=msg.en)
        entry["decision_reasons"] = sorted({r for d in decisions for r in d.reasons})
        if condition is not None and refused:
            # A condition is answered whole or not at all: one fact it may not read refuses it.
            names = "、".join(refused)
            self._deny(
                entry,
                "condition_refused",
                Message(
                    f"条件读取了不允许的字段：{names}", f"the condition reads fields not allowed: {', '.join(refused)}"
                ),
                field="condition",
                request_id=req.request_id,
                refused=refused,
            )
        if not allowed:
            first = next(iter(refused.values()))
            self._deny(
                entry,
                first.code,
                Message(first.message_zh, first.message_en),
                field="fields",
                request_id=req.request_id,
                refused=refused,
            )
        # 7. read, mask or evaluate, log, answer
        as_of = req.as_of or self.clock.today()
        with register.engine.connect() as conn:
            record = register.read(conn, subject.value, as_of, frozenset(allowed))
        answer = GatewayAnswer(
            request_id=req.request_id, provider=self.member, service=register.service, purpose=purpose, refused=refused
        )
        if condition is not None:
            values = {} if record is None else {k: v for k, (v, _) in record.items()}
            answer.condition = ConditionAnswer(
                text=condition.text, outcome=outcome(condition.evaluate(values, as_of)), reads=sorted(condition.reads)
            )
        elif record is None:
            msg = REASONS["no_record"]
            answer.refused.update({f: Reason(code="no_record", message_zh=msg.zh, message_en=msg.en) for f in allowed})
            allowed = []
        else:
            for f in allowed:
                value, at = record[f]
                rule = decl.masked.get(f)
                if rule is not None:
                    value = apply_mask(rule, value)
                answer.fields[f] = Released(
                    value=json_value(value), source=self.source_name, as_of=at, masked=rule is not None
                )
        entry.update(
            decision="allow" if not answer.refused else ("partial" if allowed or condition else "deny"),
            code="" if not answer.refused else "partial",
            released=sorted(answer.fields) if condition is None else [],
            refused={k: v.code for k, v in answer.refused.items()},
            response_hash=digest(answer.model_dump(mode="json", exclude={"log"})),
        )
        answer.log = self._append(entry, req.request_id)
        return answer

    def _condition(self, catalogue: Catalogue, text: str, offered: list[str]) -> Condition:
        key = (catalogue.generation, text)
        found = self._conditions.get(key)
        if found is None:
            found = compile_condition(text, type(self.register), offered, self.library())
            if len(self._conditions) > 10_000:
                self._conditions.clear()
            self._conditions[key] = found
        return found

    # --- bulk (免申即享) ----------------------------------------------------------------------
    def bulk(self, raw: Mapping[str, Any], *, peer: str) -> tuple[list[dict[str, Any]], str | None, LogRef]:
        """One page of every subject's allowed fields: (rows, cursor of the next page, log entry)."""
        request_hash = digest(raw) if isinstance(raw, Mapping) else digest(str(raw))
        try:
            req = BulkRequest.model_validate(raw)
        except ValidationError as e:
            err = e.errors()[0]
            where = ".".join(str(x) for x in err["loc"]) or "request"
            entry: dict[str, Any] = {
                "type": ENTRY_TYPE,
                "time": format_time(self.clock.now()),
                "provider": self.member,
                "peer": peer,
                "consumer": peer,
                "action": "bulk",
                "request_hash": request_hash,
            }
            self._deny(
                entry,
                "bad_request",
                Message(f"{where}：{err['msg']}", f"{where}: {err['msg']}"),
                field=where,
                request_id=None,
                bad=True,
            )
            raise AssertionError("unreachable") from None
        entry = {
            "type": ENTRY_TYPE,
            "time": format_time(self.clock.now()),
            "provider": self.member,
            "service": req.service,
            "request_id": req.request_id,
            "consumer": req.consumer,
            "peer": peer,
            "official": f"{req.consumer}/{req.official}",
            "case_id": req.case_id,
            "purpose": req.purpose,
            "subject": "*",
            "action": "bulk",
            "fields": list(req.fields),
            "request_hash": request_hash,
            "after": req.after or "",
            "limit": req.limit,
        }
        if req.consumer != peer:
            self._deny(
                entry,
                "consumer_mismatch",
                Message(
                    f"请求以 {req.consumer} 的名义发出，但证书属于 {peer}",
                    f"request names consumer {req.consumer} but the certificate is {peer}",
                ),
                field="consumer",
                request_id=None,
            )
        if self.log.seen(req.request_id) is not None:
            self._deny(
                entry,
                "replayed_request",
                Message(f"请求编号 {req.request_id} 已使用过（重放）", f"request id {req.request_id} was already used"),
                field="request_id",
                request_id=None,
            )
        try:
            purpose = purpose_code(req.purpose)
        except BadRequest as e:
            self._deny(entry, e.code, e.message, field="purpose", request_id=req.request_id, bad=True)
        entry["purpose"] = purpose
        register = self.register
        if req.service != register.service:
            self._deny(
                entry,
                "unknown_service",
                Message(f"{self.source_name}没有服务 {req.service}", f"{self.member} offers no service {req.service}"),
                field="service",
                request_id=req.request_id,
                bad=True,
            )
        unknown = [f for f in req.fields if f not in register.fields]
        if unknown:
            self._deny(
                entry,
                "unknown_field",
                Message(f"{register.title}没有字段：{'、'.join(unknown)}", f"no field(s): {', '.join(unknown)}"),
                field="fields",
                request_id=req.request_id,
                bad=True,
            )
        catalogue = self.catalogue.current()
        service_decl = catalogue.services.get(register.service)
        decl = catalogue.purpose_for(req.consumer, purpose, register.service)
        if service_decl is None or not service_decl.bulk or decl is None or not decl.bulk:
            self._deny(
                entry,
                "no_declaration",
                Message(
                    f"{req.consumer} 没有 {register.service} 的批量读取声明（默认拒绝）",
                    f"{req.consumer} has no bulk declaration for {register.service}",
                ),
                field="purpose",
                request_id=req.request_id,
            )
        assert decl is not None
        entry["declaration"] = decl.id
        if decl.legal_basis is not None:
            entry["legal_basis"] = decl.legal_basis.text
        wanted = list(dict.fromkeys(req.fields))
        principal = Principal.of(
            req.consumer, req.official, suspended=f"{req.consumer}/{req.official}" in catalogue.suspended
        )
        resources = [Resource(self.member, f, register.fields[f].sensitivity) for f in wanted]
        decisions = self.access(catalogue).decide(
            principal, "bulk", resources, [self._context(purpose, False, decl) for _ in wanted]
        )
        refused = {f: d for f, d in zip(wanted, decisions, strict=True) if not d.allowed}
        entry["decision_reasons"] = sorted({r for d in decisions for r in d.reasons})
        if refused:
            reasons = {}
            for f, d in refused.items():
                code = next((_FORBID_CODES[r] for r in d.reasons if r in _FORBID_CODES), "denied")
                reasons[f] = Reason(code=code, message_zh=REASONS[code].zh, message_en=REASONS[code].en)
            self._deny(
                entry,
                "fields_refused",
                Message(f"批量读取不允许的字段：{'、'.join(refused)}", f"bulk read refused for: {', '.join(refused)}"),
                field="fields",
                request_id=req.request_id,
                refused=reasons,
            )
        as_of = req.as_of or self.clock.today()
        with register.engine.connect() as conn:
            page = register.read_many(conn, as_of, frozenset(wanted), after=req.after, limit=req.limit)
        rows = [
            {"subject": key, **{f: {"value": json_value(v), "as_of": json_value(at)} for f, (v, at) in rec.items()}}
            for key, rec in page
        ]
        cursor = page[-1][0] if len(page) == req.limit else None
        entry.update(
            decision="allow",
            code="",
            released=wanted,
            refused={},
            count=len(rows),
            response_hash=digest({"rows": rows, "next": cursor}),
        )
        return rows, cursor, self._append(entry, req.request_id)


def _subject_valid(kind: str, value: str) -> bool:
    if kind == "uscc":
        return uscc_valid(value)
    return bool(ric.is_valid(value))


def new_request_id() -> str:
    return uuid.uuid4().hex
