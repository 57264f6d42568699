"""The e-licence as a W3C Verifiable Credential 2.0 document, and issuer keys per department.

A credential is JSON as written: only the VC 2.0 context (its ``@vocab`` covers the
licence's own terms), the 证照标识 in ``id`` as ``urn:huiqi:licence:<标识>``, the department as
``issuer`` and the holder's fields in ``credentialSubject``. :class:`IssuerKeys` holds the
departments' private keys (a folder of ``<dept>.ed25519`` / ``<dept>.sm2`` files, each one
``secretKeyMultibase`` line); their public halves are registered on the log (``key.*``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huiqi.certs.catalog import DEPARTMENTS, LicenceType
from huiqi.certs.errors import CertError
from huiqi.certs.identifier import LicenceId, parse_licence_id
from huiqi.certs.integrity import EDDSA_JCS, SM2_JCS, add_proof, canonical, create_proof
from huiqi.certs.keys import Ed25519Private, PrivateKey, SM2Private, private_key

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
ID_PREFIX = "urn:huiqi:licence:"
DEFAULT_BASE_URL = "https://linjiang.example/huiqi"


def vc_time(at: dt.datetime) -> str:
    """XML Schema dateTime in UTC to the second, as VC documents write it."""
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_vc_time(text: Any, field: str) -> dt.datetime:
    try:
        if not isinstance(text, str) or not text.endswith("Z"):
            raise ValueError(text)
        return dt.datetime.fromisoformat(text[:-1]).replace(tzinfo=dt.UTC)
    except ValueError as e:
        raise CertError(
            f"{field} 应为 UTC 时间（以 Z 结尾）：{text!r}", f"{field} must be a UTC dateTime ending in Z", field=field
        ) from e


def credential_id(credential: Mapping[str, Any]) -> LicenceId:
    """The 证照标识 of a credential (its ``id``), checked."""
    value = credential.get("id") if isinstance(credential, Mapping) else None
    if not isinstance(value, str) or not value.startswith(ID_PREFIX):
        raise CertError(
            f"证照的 id 应为 {ID_PREFIX}<证照标识>",
            f"a licence's id is {ID_PREFIX}<identifier>",
            field="id",
            reason="malformed_id",
        )
    return parse_licence_id(value[len(ID_PREFIX) :])


def credential_digest(credential: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the signed credential's canonical JSON: what the log entry pins."""
    return hashlib.sha256(canonical(dict(credential))).hexdigest()


def status_list_url(base_url: str, department: str, list_no: int) -> str:
    return f"{base_url}/certs/status/{department}/{list_no}"


def build_credential(
    lid: LicenceId,
    kind: LicenceType,
    subject: Mapping[str, str],
    *,
    valid_from: dt.datetime,
    valid_until: dt.datetime | None,
    status_list: int,
    status_index: int,
    base_url: str = DEFAULT_BASE_URL,
) -> dict[str, Any]:
    dept = DEPARTMENTS[kind.department]
    status_url = status_list_url(base_url, dept.code, status_list)
    doc: dict[str, Any] = {
        "@context": [VC_CONTEXT],
        "id": f"{ID_PREFIX}{lid}",
        "type": ["VerifiableCredential", kind.vc_type],
        "name": kind.name,
        "issuer": {"id": dept.did, "name": dept.name},
        "validFrom": vc_time(valid_from),
        "credentialSubject": {
            "id": f"urn:uscc:{subject['uscc']}",
            "licenceType": kind.code,
            **{k: v for k, v in subject.items()},
        },
        "credentialStatus": {
            "id": f"{status_url}#{status_index}",
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            "statusListIndex": str(status_index),
            "statusListCredential": status_url,
        },
    }
    if valid_until is not None:
        doc["validUntil"] = vc_time(valid_until)
    return doc


@dataclass
class IssuerKeys:
    """Each department's signing keys: one Ed25519 (required to issue) and optionally one SM2."""

    ed25519: dict[str, PrivateKey] = field(default_factory=dict)
    sm2: dict[str, PrivateKey] = field(default_factory=dict)

    @classmethod
    def generate(cls, departments: list[str] | None = None, *, sm2: bool = False) -> IssuerKeys:
        codes = departments or list(DEPARTMENTS)
        return cls(
            {d: Ed25519Private.generate() for d in codes},
            {d: SM2Private.generate() for d in codes} if sm2 else {},
        )

    @classmethod
    def load(cls, folder: Path) -> IssuerKeys:
        if not folder.is_dir():
            raise CertError(f"找不到签发密钥目录 {folder}", f"issuer key folder not found: {folder}", field="keys")
        keys = cls()
        for path in sorted(folder.iterdir()):
            dept, _, suffix = path.name.partition(".")
            if dept not in DEPARTMENTS or suffix not in ("ed25519", "sm2"):
                continue
            key = private_key(path.read_text(encoding="utf-8").strip(), field=str(path))
            expected = "Ed25519" if suffix == "ed25519" else "SM2"
            if key.algorithm != expected:
                raise CertError(f"{path} 不是 {expected} 密钥", f"{path} is not an {expected} key", field="keys")
            (keys.ed25519 if suffix == "ed25519" else keys.sm2)[dept] = key
        return keys

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for suffix, table in (("ed25519", self.ed25519), ("sm2", self.sm2)):
            for dept, key in table.items():
                path = folder / f"{dept}.{suffix}"
                path.write_text(key.secret_multibase + "\n", encoding="utf-8")
                os.chmod(path, 0o600)

    def all(self) -> list[tuple[str, PrivateKey]]:
        return [*self.ed25519.items(), *self.sm2.items()]

    def primary(self, department: str) -> PrivateKey:
        key = self.ed25519.get(department)
        if key is None:
            raise CertError(
                f"没有 {DEPARTMENTS[department].name} 的签发密钥",
                f"no issuing key for department {department}",
                field="keys",
            )
        return key


def verification_method(department: str, key: PrivateKey) -> str:
    return f"{DEPARTMENTS[department].did}#{key.public.multibase}"


def sign_credential(
    document: Mapping[str, Any], department: str, keys: IssuerKeys, *, created: dt.datetime, sm2: bool = False
) -> dict[str, Any]:
    """``document`` with the department's ``eddsa-jcs-2022`` proof (and an SM2 second proof if asked)."""
    key = keys.primary(department)
    proof, _ = create_proof(
        document, key, verification_method=verification_method(department, key), created=vc_time(created)
    )
    signed = add_proof(document, proof)
    if sm2:
        second = keys.sm2.get(department)
        if second is None:
            raise CertError(
                f"{DEPARTMENTS[department].name} 没有 SM2 密钥", f"department {department} has no SM2 key", field="sm2"
            )
        extra, _ = create_proof(
            document,
            second,
            verification_method=verification_method(department, second),
            created=vc_time(created),
            cryptosuite=SM2_JCS,
        )
        signed = add_proof(signed, extra)
    return signed


__all__ = [
    "DEFAULT_BASE_URL",
    "EDDSA_JCS",
    "ID_PREFIX",
    "IssuerKeys",
    "build_credential",
    "credential_digest",
    "credential_id",
    "sign_credential",
]
