"""Prefill by USCC: the calculator's profile from the departments, with where each fact came from.

For the calculator (``platform/huiqi``, purpose 政策匹配) the platform asks, at once:

* 法人库 for name, industry, region and registration date (their legal basis is the public
  disclosure of registration data);
* 税务局 and 人社局 for the fields the enterprise's consent lets it read;
* and, for the fields the enterprise let it *ask about* but not read (可用不可见), the policy
  library's conditions over them — answered met / unmet / unknown, never the value.

Each fact carries its provenance (value, department, date, consent reference, log entry).
A department that cannot be reached is named (``暂时无法获取（税务局）``) and its fields are
left for the enterprise to fill in; nothing is guessed.

:func:`apply_conditions` folds the condition answers into a match result with the
calculator's three-valued semantics: a met condition no longer holds a policy
undetermined, an unmet one makes it ineligible; the amount, which needs the value, stays
unknown.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from huiqi.rules import Library
from huiqi.sharing.catalogue import Catalogue
from huiqi.sharing.client import GatewayClient
from huiqi.sharing.consent import Consent
from huiqi.sharing.errors import ProviderUnavailable
from huiqi.sharing.gateway import BadRequestLogged, RefusedRequest
from huiqi.sharing.members import MEMBERS, PURPOSES
from huiqi.sharing.registers import REGISTERS
from huiqi.sharing.wire import LogRef

CONSUMER = "platform/huiqi"
#: Departments whose registers fill the calculator's profile.
SOURCES = ("samr", "tax", "hrss")


@dataclass
class Provenance:
    value: Any
    member: str
    source: str  # 税务局
    as_of: dt.date | None
    consent_ref: str | None
    legal_basis: str | None
    log: LogRef | None

    def to_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "member": self.member,
            "source": self.source,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "consent_ref": self.consent_ref,
            "legal_basis": self.legal_basis,
            "log": self.log.model_dump() if self.log else None,
        }


@dataclass
class Verified:
    """A condition a department answered without giving the value (可用不可见)."""

    policy_ids: list[str]
    label: str
    text: str
    outcome: str
    member: str
    source: str
    consent_ref: str | None
    log: LogRef | None

    def to_json(self) -> dict[str, Any]:
        return {
            "policy_ids": self.policy_ids,
            "label": self.label,
            "text": self.text,
            "outcome": self.outcome,
            "member": self.member,
            "source": self.source,
            "consent_ref": self.consent_ref,
            "log": self.log.model_dump() if self.log else None,
        }


@dataclass
class Prefill:
    uscc: str
    purpose: str
    profile: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Provenance] = field(default_factory=dict)
    verified: list[Verified] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)  # member → 暂时无法获取（税务局）
    refused: dict[str, dict[str, str]] = field(default_factory=dict)  # field → {member, code, message}
    missing: list[str] = field(default_factory=list)  # profile fields no department gave: ask the enterprise

    def to_json(self) -> dict[str, Any]:
        return {
            "uscc": self.uscc,
            "purpose": self.purpose,
            "purpose_label": PURPOSES.get(self.purpose, self.purpose),
            "profile": self.profile,
            "provenance": {k: v.to_json() for k, v in self.provenance.items()},
            "verified": [v.to_json() for v in self.verified],
            "unavailable": [{"member": m, "message": msg} for m, msg in self.unavailable.items()],
            "refused": self.refused,
            "missing": self.missing,
        }


def profile_fields(member: str) -> list[str]:
    return [f.name for f in REGISTERS[member].fields.values() if f.profile is not None]


def library_conditions(library: Library, as_of: dt.date, fields: set[str]) -> dict[str, tuple[str, list[str]]]:
    """Distinct condition texts of the policies in force that read only ``fields``: text → (label, policy ids)."""
    out: dict[str, tuple[str, list[str]]] = {}
    params = library.params_at(as_of)
    for policy in library.in_force(as_of):
        for c in policy.evaluated:
            if c.expr is not None and c.fields and c.fields <= fields:
                out.setdefault(c.expr.text, (c.text(params), []))[1].append(policy.id)
    return out


async def prefill(
    client: GatewayClient,
    catalogue: Catalogue,
    uscc: str,
    *,
    consent: Consent | None,
    library: Library,
    as_of: dt.date,
    official: str,
    case_id: str,
    purpose: str = "policy_match",
) -> Prefill:
    """Ask the departments at once; never raises for one department's fault."""
    result = Prefill(uscc, purpose)
    jobs: list[tuple[str, str, Any]] = []  # (member, what, coroutine)
    for member in SOURCES:
        service = REGISTERS[member].service
        decl = catalogue.purpose_for(client.system, purpose, service)
        if decl is None:
            continue
        wanted = [f for f in profile_fields(member) if f in decl.fields]
        ref = None
        ask: list[str] = []
        if decl.basis == "consent":
            scope = consent.scope.get(service, {}) if consent is not None else {}
            ref = consent.ref if consent is not None and scope else None
            readable = set(scope.get("read", ()))
            ask = [f for f in scope.get("ask", ()) if f not in readable]
            wanted = [f for f in wanted if f in readable]
        if wanted:
            jobs.append(
                (
                    member,
                    "read",
                    client.aquery(
                        member,
                        purpose=purpose,
                        subject={"uscc": uscc},
                        fields=wanted,
                        official=official,
                        case_id=case_id,
                        consent_ref=ref,
                        as_of=as_of,
                    ),
                )
            )
        if ask and ref is not None:
            for text, (label, ids) in library_conditions(library, as_of, set(ask)).items():
                jobs.append(
                    (
                        member,
                        f"ask:{label}|{'/'.join(ids)}|{text}",
                        client.aquery(
                            member,
                            purpose=purpose,
                            subject={"uscc": uscc},
                            condition=text,
                            official=official,
                            case_id=case_id,
                            consent_ref=ref,
                            as_of=as_of,
                        ),
                    )
                )
    answers = await asyncio.gather(*(job for _, _, job in jobs), return_exceptions=True)
    for (member, what, _), answer in zip(jobs, answers, strict=True):
        short = MEMBERS[member].short
        if isinstance(answer, ProviderUnavailable):
            result.unavailable[member] = answer.message.zh
            continue
        if isinstance(answer, RefusedRequest | BadRequestLogged):
            if what == "read":
                for name in profile_fields(member):
                    result.refused.setdefault(
                        name, {"member": member, "code": answer.code, "message": answer.message.zh}
                    )
            continue
        if isinstance(answer, BaseException):
            raise answer
        decl = catalogue.purpose_for(client.system, purpose, REGISTERS[member].service)
        basis = decl.legal_basis.text if decl is not None and decl.legal_basis is not None else None
        ref_used = consent.ref if consent is not None and decl is not None and decl.basis == "consent" else None
        if what == "read":
            for name, released in answer.fields.items():
                if released.value is None:
                    continue  # the register holds no value: unknown, the enterprise may say
                result.profile[name] = released.value
                result.provenance[name] = Provenance(
                    released.value, member, short, released.as_of, ref_used, basis, answer.log
                )
            for name, reason in answer.refused.items():
                result.refused[name] = {"member": member, "code": reason.code, "message": reason.message_zh}
        elif answer.condition is not None:
            label, policy_ids, text = what[4:].split("|", 2)
            result.verified.append(
                Verified(
                    policy_ids.split("/"), label, text, answer.condition.outcome, member, short, ref_used, answer.log
                )
            )
    wanted_all = [f for m in SOURCES for f in profile_fields(m)]
    result.missing = [f for f in wanted_all if f not in result.profile]
    return result


def apply_conditions(answer: Mapping[str, Any], library: Library, verified: Sequence[Verified]) -> dict[str, Any]:
    """The match ``answer`` (JSON of the contract) with the departments' condition answers folded in."""
    by_text = {v.text: v for v in verified if v.outcome != "unknown"}
    if not by_text:
        return dict(answer)
    out = dict(answer)
    results = []
    for r in answer["results"]:
        policy = library.by_id.get(r["policy_id"])
        if policy is None or r["verdict"] != "undetermined":
            results.append(r)
            continue
        exprs = {c.id: c for c in policy.evaluated}
        conditions = []
        changed = False
        for c in r["conditions"]:
            cond = exprs.get(c["id"])
            v = by_text.get(cond.expr.text) if cond is not None and cond.expr is not None else None
            if c["outcome"] == "unknown" and v is not None:
                word = "满足" if v.outcome == "met" else "不满足"
                c = {
                    **c,
                    "outcome": v.outcome,
                    "reason": f"{v.source}核验：{word}（可用不可见，未提供数值）",
                    "verified_by": v.member,
                }
                changed = True
            conditions.append(c)
        if not changed:
            results.append(r)
            continue
        outcomes = [c["outcome"] for c in conditions]
        verdict = "ineligible" if "unmet" in outcomes else ("undetermined" if "unknown" in outcomes else "eligible")
        still = {f for c in conditions if c["outcome"] == "unknown" and (e := exprs.get(c["id"])) for f in e.fields}
        results.append(
            {**r, "conditions": conditions, "verdict": verdict, "missing": [f for f in r["missing"] if f in still]}
        )
    order = {"eligible": 0, "undetermined": 1, "ineligible": 2}
    out["results"] = sorted(results, key=lambda r: order[r["verdict"]])
    counts = {k: sum(r["verdict"] == k for r in out["results"]) for k in order}
    by_unit: dict[str, Decimal] = {}
    for r in out["results"]:
        benefit = r.get("benefit") or {}
        if r["verdict"] == "eligible" and benefit.get("amount") is not None:
            by_unit[benefit["unit"]] = by_unit.get(benefit["unit"], Decimal("0.00")) + Decimal(benefit["amount"])
    out["totals"] = {
        **answer["totals"],
        **counts,
        "eligible_amount": str(sum(by_unit.values(), Decimal("0.00"))),
        "eligible_amount_by_unit": {k: str(v) for k, v in sorted(by_unit.items())},
    }
    return out
