"""The catalogue: what each provider offers (Service Declarations) and what each consumer may
ask, for which purpose, on which basis (Purpose Declarations) — X-Road's service
descriptions and access rights, as versioned YAML documents published with four-eyes review.

A Service Declaration (``kind: service``) names a register service and the fields it
releases as values and those a condition may read (可用不可见). A Purpose Declaration
(``kind: purpose``) names a consumer system (``member/system``), a purpose, a service, the
fields it needs (each in full or masked), whether it may ask conditions or read in bulk,
and its basis: ``consent`` of the enterprise, or a recorded ``legal_basis`` (文号 and
article). Anything not declared is refused (deny by default).

Declarations are checked against the registers' own field lists, so a declaration can
never name a field that does not exist or release one that never leaves its department.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from huiqi.errors import FieldMessage, InputError, Message
from huiqi.sharing.masking import MASKS
from huiqi.sharing.members import MEMBERS, PURPOSES
from huiqi.sharing.registers import SERVICES

DECLARATIONS_DIR = Path(__file__).parent / "declarations"
SYSTEM = re.compile(r"^[a-z]+/[a-z][a-z0-9_-]{1,31}$")
ID = re.compile(r"^[a-z][a-z0-9_.-]{2,127}$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LegalBasis(_Model):
    """A statutory basis: the document (with its 文号) and the article that allows the use."""

    document: Annotated[str, Field(min_length=2, max_length=200)]  # 《…》 with its 文号
    article: Annotated[str, Field(min_length=1, max_length=100)]
    #: True for the sample city's own documents: they are samples written for the demo.
    sample: bool = False

    @property
    def text(self) -> str:
        return f"{self.document}{self.article}"


class ServiceDeclaration(_Model):
    kind: Literal["service"]
    id: Annotated[str, Field(pattern=ID.pattern)]
    provider: str
    title: Annotated[str, Field(min_length=2, max_length=100)]
    release: list[str] = []
    conditions: list[str] = []
    bulk: bool = False
    note: str = ""


class PurposeDeclaration(_Model):
    kind: Literal["purpose"]
    id: Annotated[str, Field(pattern=ID.pattern)]
    consumer: Annotated[str, Field(pattern=SYSTEM.pattern)]
    purpose: str
    service: str
    title: Annotated[str, Field(min_length=2, max_length=100)]
    fields: list[str] = []
    #: field → masking rule: the field is released only in that form (身份证号 110101********1234).
    masked: dict[str, str] = {}
    conditions: bool = False
    bulk: bool = False
    basis: Literal["consent", "legal_basis"]
    legal_basis: LegalBasis | None = None
    #: The longest consent an enterprise can give for this purpose.
    consent_days: Annotated[int, Field(ge=1, le=1095)] = 365
    note: str = ""

    @property
    def consumer_member(self) -> str:
        return self.consumer.split("/", 1)[0]


Declaration = ServiceDeclaration | PurposeDeclaration


class DeclarationError(InputError):
    """A declaration that cannot be published: every problem, each naming its field."""

    def __init__(self, source: str, problems: list[FieldMessage]):
        super().__init__(
            Message(
                f"{source}：声明有 {len(problems)} 处错误", f"{source}: the declaration has {len(problems)} errors"
            ),
            fields=problems,
        )
        self.source = source
        self.problems = problems

    def details(self) -> list[str]:
        return [f"{p.field}: {p.message}" for p in self.problems]


def _problem(path: str, zh: str, en: str) -> FieldMessage:
    return FieldMessage(path, Message(zh, en))


def parse_declaration(text: str, *, source: str = "声明") -> Declaration:
    """Parse one YAML declaration and check it against the registers; raise DeclarationError."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"第{mark.line + 1}行" if mark is not None else ""
        raise DeclarationError(source, [_problem("", f"YAML 无法解析{where}", f"invalid YAML: {e}")]) from None
    if not isinstance(doc, dict):
        raise DeclarationError(source, [_problem("", "应为 YAML 映射", "must be a YAML mapping")])
    kind = str(doc.get("kind"))
    if kind not in ("service", "purpose"):
        raise DeclarationError(
            source, [_problem("kind", "kind 应为 service 或 purpose", "kind must be service or purpose")]
        )
    try:
        decl: Declaration = (
            ServiceDeclaration.model_validate(doc) if kind == "service" else PurposeDeclaration.model_validate(doc)
        )
    except ValidationError as e:
        raise DeclarationError(
            source,
            [_problem(".".join(str(x) for x in err["loc"]), err["msg"], err["msg"]) for err in e.errors()],
        ) from None
    problems = _check(decl)
    if problems:
        raise DeclarationError(source, problems)
    return decl


def _check(decl: Declaration, services: Mapping[str, ServiceDeclaration] | None = None) -> list[FieldMessage]:
    out: list[FieldMessage] = []
    if isinstance(decl, ServiceDeclaration):
        register = SERVICES.get(decl.id)
        if register is None:
            return [_problem("id", f"没有名为 {decl.id} 的登记服务", f"no register service {decl.id}")]
        if decl.provider != register.member:
            out.append(
                _problem("provider", f"{decl.id} 属于 {register.member}", f"{decl.id} belongs to {register.member}")
            )
        for i, name in enumerate(decl.release):
            f = register.fields.get(name)
            if f is None:
                out.append(
                    _problem(f"release.{i}", f"{register.title}没有字段 {name}", f"{decl.id} has no field {name}")
                )
            elif f.sensitivity >= 4:
                out.append(
                    _problem(
                        f"release.{i}",
                        f"{f.label}（{name}）不出域，只能用于条件查询",
                        f"{name} never leaves its department: conditions only",
                    )
                )
        for i, name in enumerate(decl.conditions):
            if name not in register.fields:
                out.append(
                    _problem(f"conditions.{i}", f"{register.title}没有字段 {name}", f"{decl.id} has no field {name}")
                )
        return out
    member = decl.consumer_member
    if member not in MEMBERS:
        out.append(_problem("consumer", f"未知的部门代码 {member}", f"unknown member code {member}"))
    if decl.purpose not in PURPOSES:
        out.append(_problem("purpose", f"未知的用途 {decl.purpose}", f"unknown purpose {decl.purpose}"))
    register = SERVICES.get(decl.service)
    if register is None:
        return [*out, _problem("service", f"没有名为 {decl.service} 的登记服务", f"no register service {decl.service}")]
    service = (services or {}).get(decl.service)
    offered = (
        set(service.release) if service is not None else {n for n, f in register.fields.items() if f.sensitivity < 4}
    )
    for i, name in enumerate(decl.fields):
        if name not in register.fields:
            out.append(
                _problem(f"fields.{i}", f"{register.title}没有字段 {name}", f"{decl.service} has no field {name}")
            )
        elif name not in offered:
            out.append(
                _problem(f"fields.{i}", f"{decl.service} 不提供 {name}", f"{decl.service} does not release {name}")
            )
    for name, rule in decl.masked.items():
        if name not in decl.fields:
            out.append(_problem(f"masked.{name}", "脱敏字段须在 fields 中", "a masked field must be in fields"))
        if rule not in MASKS:
            out.append(_problem(f"masked.{name}", f"未知的脱敏规则 {rule}", f"unknown masking rule {rule}"))
    if decl.basis == "legal_basis" and decl.legal_basis is None:
        out.append(
            _problem("legal_basis", "依法定职责共享须写明法律依据", "a legal_basis purpose must record its basis")
        )
    if decl.basis == "consent" and decl.legal_basis is not None:
        out.append(_problem("legal_basis", "基于同意的用途不写法律依据", "a consent purpose has no legal_basis"))
    if decl.bulk and decl.basis != "legal_basis":
        out.append(_problem("bulk", "批量读取只能基于法律依据", "bulk reads need a legal basis"))
    if service is not None and decl.bulk and not service.bulk:
        out.append(_problem("bulk", f"{decl.service} 不提供批量接口", f"{decl.service} offers no bulk interface"))
    return out


@dataclass
class Catalogue:
    """The published declarations: what every security server decides against.

    ``generation`` grows with every publication or withdrawal; ``suspended`` lists officials
    (``member/system/name``) whose access was cut after a confirmed incident.
    """

    services: dict[str, ServiceDeclaration] = field(default_factory=dict)
    purposes: dict[str, PurposeDeclaration] = field(default_factory=dict)
    generation: int = 0
    suspended: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls, declarations: Iterable[Declaration], *, generation: int = 0, suspended: Iterable[str] = ()
    ) -> Catalogue:
        cat = cls(generation=generation, suspended=frozenset(suspended))
        for d in declarations:
            if isinstance(d, ServiceDeclaration):
                cat.services[d.id] = d
            else:
                cat.purposes[d.id] = d
        return cat

    def purpose_for(self, consumer: str, purpose: str, service: str) -> PurposeDeclaration | None:
        """The one published declaration letting ``consumer`` use ``service`` for ``purpose``."""
        for d in self.purposes.values():
            if d.consumer == consumer and d.purpose == purpose and d.service == service:
                return d
        return None

    def services_of(self, provider: str) -> list[ServiceDeclaration]:
        return [s for s in self.services.values() if s.provider == provider]

    def to_json(self) -> dict[str, Any]:
        return {
            "generation": self.generation,
            "suspended": sorted(self.suspended),
            "declarations": [d.model_dump(mode="json", exclude_none=True) for d in self.all()],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Catalogue:
        decls: list[Declaration] = []
        for d in data.get("declarations", []):
            decls.append(
                ServiceDeclaration.model_validate(d)
                if d.get("kind") == "service"
                else PurposeDeclaration.model_validate(d)
            )
        return cls.of(decls, generation=int(data.get("generation", 0)), suspended=data.get("suspended", ()))

    def all(self) -> list[Declaration]:
        return [*self.services.values(), *self.purposes.values()]

    def problems(self) -> list[FieldMessage]:
        """Cross-declaration checks: purposes against the services as declared, no duplicates."""
        out: list[FieldMessage] = []
        seen: dict[tuple[str, str, str], str] = {}
        for d in self.purposes.values():
            out += [FieldMessage(f"{d.id}.{p.field}", p.message) for p in _check(d, self.services)]
            key = (d.consumer, d.purpose, d.service)
            if key in seen:
                out.append(
                    _problem(
                        d.id,
                        f"与 {seen[key]} 重复（同一系统、用途和服务）",
                        f"duplicates {seen[key]} (same consumer, purpose and service)",
                    )
                )
            seen[key] = d.id
            if d.service not in self.services:
                out.append(
                    _problem(f"{d.id}.service", f"服务 {d.service} 未发布", f"service {d.service} is not published")
                )
        return out


def shipped_declarations(root: Path = DECLARATIONS_DIR) -> dict[str, str]:
    """The declarations shipped with huiqi: relative path → YAML text."""
    return {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8") for p in sorted(root.rglob("*.yaml"))}
