"""Selective disclosure (SD-JWT, IETF, through the ``sd-jwt`` reference implementation) with holder binding.

The department issues the enterprise an SD-JWT of its licence: the identifier, type and
issuer in the clear, every holder field (name, USCC, capital, address …) as a separate
disclosure, and the enterprise's wallet key in ``cnf``. To show a bank only what it needs,
the enterprise presents the chosen disclosures and a key-binding JWT over the bank's
``aud`` and one-time ``nonce``; the bank checks the department's key against the key
registry (the log), the binding, the expiry and — with a status-list snapshot — revocation.

Issuer keys are the departments' Ed25519 keys (JOSE ``EdDSA``); the holder's key is P-256
(``ES256``, what the reference verifier checks key-binding JWTs with).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jwcrypto.common import JWException
from jwcrypto.jwk import JWK
from sd_jwt.common import SDObj
from sd_jwt.holder import SDJWTHolder
from sd_jwt.issuer import SDJWTIssuer
from sd_jwt.verifier import SDJWTVerifier

from huiqi.certs.catalog import DEPARTMENTS, department_of_did, licence_type
from huiqi.certs.credential import IssuerKeys, credential_id, parse_vc_time
from huiqi.certs.errors import CertError
from huiqi.certs.keys import Ed25519Private, public_key
from huiqi.certs.status import decode, is_set
from huiqi.certs.verify import KeyRecord
from huiqi.clock import Clock

TYP = "dc+sd-jwt"
_CLEAR = ("id", "licenceType")


def holder_key() -> JWK:
    """A fresh holder (wallet) key, P-256."""
    return JWK.generate(kty="EC", crv="P-256")


def issue_sd_jwt(credential: Mapping[str, Any], keys: IssuerKeys, holder: JWK, *, clock: Clock) -> str:
    """The SD-JWT of a signed e-licence credential, bound to ``holder``'s public key."""
    lid = credential_id(credential)
    kind = licence_type(lid.type_code)
    key = keys.primary(kind.department)
    if not isinstance(key, Ed25519Private):
        raise CertError("SD-JWT 需要 Ed25519 签发密钥", "SD-JWT needs an Ed25519 issuer key", field="keys")
    subject = credential["credentialSubject"]
    claims: dict[Any, Any] = {
        "iss": DEPARTMENTS[kind.department].did,
        "iat": int(clock.now().timestamp()),
        "vct": f"urn:huiqi:licence-type:{kind.code}",
        "licence": str(lid),
        "status": {
            "list": credential["credentialStatus"]["statusListCredential"],
            "index": int(credential["credentialStatus"]["statusListIndex"]),
        },
    }
    if "validUntil" in credential:
        claims["exp"] = int(parse_vc_time(credential["validUntil"], "validUntil").timestamp())
    for name, value in subject.items():
        if name not in _CLEAR:
            claims[SDObj(name)] = value
    issuer = SDJWTIssuer(
        claims,
        JWK.from_pyca(key.pyca),
        holder_key=holder,
        sign_alg="EdDSA",
        extra_header_parameters={"typ": TYP, "kid": key.public.multibase},
    )
    return str(issuer.sd_jwt_issuance)


def present(sd_jwt: str, disclose: list[str], holder: JWK, *, audience: str, nonce: str) -> str:
    """What the enterprise sends the bank: only ``disclose``d fields, bound to ``audience`` and ``nonce``."""
    wallet = SDJWTHolder(sd_jwt)
    wallet.create_presentation({name: True for name in disclose}, nonce=nonce, aud=audience, holder_key=holder)
    return str(wallet.sd_jwt_presentation)


@dataclass(frozen=True)
class Disclosed:
    licence_id: str
    type_name: str
    issuer: str
    fields: dict[str, Any]  # only what the holder chose to show


def verify_presentation(
    presentation: str,
    *,
    keys: Mapping[str, KeyRecord],
    audience: str,
    nonce: str,
    clock: Clock,
    status_list: Mapping[str, Any] | None = None,
) -> Disclosed:
    """The bank's check; raises :class:`CertError` with the reason (field ``presentation``) when refused.

    ``keys`` is the key registry (from the log); ``status_list`` the department's signed
    snapshot, when revocation should be checked.
    """

    def issuer_key(issuer: str, header: dict[str, Any]) -> JWK:
        dept = department_of_did(issuer)
        record = keys.get(str(header.get("kid")))
        if dept is None or record is None or record.department != dept.code or record.retired_at is not None:
            raise CertError(
                "签名密钥不是该部门在密钥登记册中登记的有效密钥",
                "the signing key is not a registered key of the issuing department",
                field="presentation",
                reason="unknown_key",
            )
        raw = public_key(record.kid)
        return JWK.from_json(json.dumps({"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw.raw)}))  # type: ignore[attr-defined]

    try:
        verifier = SDJWTVerifier(presentation, issuer_key, expected_aud=audience, expected_nonce=nonce)
        payload = verifier.get_verified_payload()
    except CertError:
        raise
    except (JWException, ValueError, KeyError, TypeError, json.JSONDecodeError) as e:
        raise CertError(
            f"出示的证照无效（签名、受众或一次性随机数不符，或被改动）：{e}",
            f"the presentation does not verify (signature, audience, nonce or tampering): {e}",
            field="presentation",
            reason="tampered",
        ) from e
    if "exp" in payload and clock.now().timestamp() > payload["exp"]:
        raise CertError("证照已过期", "the licence has expired", field="presentation", reason="expired")
    if status_list is not None:
        status = payload.get("status") or {}
        if status_list.get("id") != status.get("list"):
            raise CertError("状态列表不是这张证照的", "not this licence's status list", field="status_list")
        bits = decode(str(status_list["credentialSubject"]["encodedList"]))
        if is_set(bits, int(status["index"])):
            raise CertError(
                "证照已注销、吊销或变更", "the licence is no longer valid", field="presentation", reason="revoked"
            )
    lid = str(payload["licence"])
    kind = licence_type(lid.split(".")[5])
    dept = department_of_did(str(payload["iss"]))
    hidden = {"iss", "iat", "exp", "vct", "licence", "status", "cnf"}
    return Disclosed(lid, kind.name, dept.name if dept else "", {k: v for k, v in payload.items() if k not in hidden})


def _b64url(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")
