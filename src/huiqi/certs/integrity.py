"""W3C Data Integrity proofs over RFC 8785 canonical JSON: ``eddsa-jcs-2022`` and 国密 ``sm2-jcs-huiqi``.

``eddsa-jcs-2022`` is W3C VC Data Integrity EdDSA Cryptosuites v1.0 §3.3, reproduced value
by value on the W3C test vectors (tests/certs/test_vectors.py). Nothing is JSON-LD
expanded and no context is ever fetched: JCS signs the JSON as written, so ``@context``
is just a string list the proof also covers.

``sm2-jcs-huiqi`` is this project's own suite for verifiers who must see a 国密 signature:
the same transformation and proof configuration, with SM3 in place of SHA-256 and an SM2
signature (GB/T 32918, default user id) in place of Ed25519. It travels as a second proof
in a proof set (``proof`` is then a list); each proof signs the document without the other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import rfc8785

from huiqi.certs.errors import ProofError
from huiqi.certs.keys import PrivateKey, PublicKey, from_multibase, multibase

EDDSA_JCS = "eddsa-jcs-2022"
SM2_JCS = "sm2-jcs-huiqi"
_ALGORITHM = {EDDSA_JCS: "Ed25519", SM2_JCS: "SM2"}


def _sm3(data: bytes) -> bytes:
    from gmssl import func, sm3

    return bytes.fromhex(sm3.sm3_hash(func.bytes_to_list(data)))


def _hash(cryptosuite: str) -> Callable[[bytes], bytes]:
    if cryptosuite == EDDSA_JCS:
        return lambda data: hashlib.sha256(data).digest()
    return _sm3


@dataclass(frozen=True)
class ProofSteps:
    """Every intermediate value of one proof, as the W3C vectors name them."""

    canonical_document: bytes
    document_hash: bytes
    canonical_proof_config: bytes
    proof_config_hash: bytes
    signature: bytes

    @property
    def hash_data(self) -> bytes:
        """proofConfigHash ‖ transformedDocumentHash (the spec's order)."""
        return self.proof_config_hash + self.document_hash

    @property
    def proof_value(self) -> str:
        return multibase(self.signature)


_SAFE_INT = 2**53 - 1


def _plain(value: Any) -> bool:
    """True when orjson's sorted compact output is exactly RFC 8785's for ``value``.

    They agree on strings (both escape only ``"``, ``\\`` and controls, the same way),
    integers within ±2^53, booleans and null, and on key order whenever no key holds a
    character at or above U+D800 (where UTF-16 order, which JCS sorts by, parts from code
    point order). Floats (ES6 number formatting) always go to rfc8785. Strings, the usual
    leaves, are passed over without a call.
    """
    kind = type(value)
    if kind is dict:
        for k, v in value.items():
            if type(k) is not str or not (k.isascii() or max(k) < "\ud800"):
                return False
            if type(v) is not str and not _plain(v):
                return False
        return True
    if kind is list:
        return all(type(v) is str or _plain(v) for v in value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return -_SAFE_INT <= value <= _SAFE_INT
    return False


def canonical(value: Any, field: str = "credential") -> bytes:
    """RFC 8785 canonical JSON: orjson where it provably gives the same bytes, else rfc8785 itself."""
    try:
        if _plain(value):
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, orjson.JSONEncodeError, TypeError, ValueError) as e:
        raise ProofError(
            f"无法规范化为 JSON（RFC 8785）：{e}", f"cannot canonicalise as RFC 8785 JSON: {e}", field=field
        ) from e


def proof_config(
    document: Mapping[str, Any],
    *,
    cryptosuite: str,
    verification_method: str,
    created: str,
    proof_purpose: str = "assertionMethod",
) -> dict[str, Any]:
    """The proof options the signature covers (the spec copies the document's ``@context`` in)."""
    config: dict[str, Any] = {
        "type": "DataIntegrityProof",
        "cryptosuite": cryptosuite,
        "created": created,
        "verificationMethod": verification_method,
        "proofPurpose": proof_purpose,
    }
    if "@context" in document:
        config["@context"] = document["@context"]
    return config


def _steps(unsecured: Mapping[str, Any], config: Mapping[str, Any], signature: bytes = b"") -> ProofSteps:
    digest = _hash(str(config.get("cryptosuite")))
    doc = canonical(dict(unsecured))
    cfg = canonical(dict(config), "proof")
    return ProofSteps(doc, digest(doc), cfg, digest(cfg), signature)


def create_proof(
    document: Mapping[str, Any],
    key: PrivateKey,
    *,
    verification_method: str,
    created: str,
    cryptosuite: str = EDDSA_JCS,
    proof_purpose: str = "assertionMethod",
) -> tuple[dict[str, Any], ProofSteps]:
    """A proof for ``document`` (without any ``proof`` of its own) and the values it was computed from."""
    if _ALGORITHM.get(cryptosuite) != key.algorithm:
        raise ProofError(
            f"{cryptosuite} 不能用 {key.algorithm} 密钥签名",
            f"{cryptosuite} cannot be signed with an {key.algorithm} key",
            field="cryptosuite",
        )
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    config = proof_config(
        unsecured,
        cryptosuite=cryptosuite,
        verification_method=verification_method,
        created=created,
        proof_purpose=proof_purpose,
    )
    steps = _steps(unsecured, config)
    steps = ProofSteps(
        steps.canonical_document,
        steps.document_hash,
        steps.canonical_proof_config,
        steps.proof_config_hash,
        key.sign(steps.hash_data),
    )
    return {**config, "proofValue": steps.proof_value}, steps


def add_proof(document: Mapping[str, Any], proof: Mapping[str, Any]) -> dict[str, Any]:
    """``document`` with ``proof`` added to its proof set (a single proof stays an object)."""
    out = dict(document)
    have = out.get("proof")
    if have is None:
        out["proof"] = dict(proof)
    else:
        out["proof"] = [*(have if isinstance(have, list) else [have]), dict(proof)]
    return out


def proofs_of(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    have = document.get("proof")
    if have is None:
        raise ProofError(
            "证照没有数字签名（proof）", "the credential carries no proof", field="proof", reason="no_proof"
        )
    items = have if isinstance(have, list) else [have]
    if not items or not all(isinstance(p, Mapping) for p in items):
        raise ProofError("proof 格式错误", "malformed proof", field="proof", reason="tampered")
    return items


def verify_proof(
    document: Mapping[str, Any], proof: Mapping[str, Any], resolve: Callable[[str], PublicKey]
) -> ProofSteps:
    """Check one proof of ``document``'s proof set; ``resolve`` turns ``verificationMethod`` into a trusted key.

    Raises :class:`ProofError` (reason ``tampered`` when the signature does not match the
    document, or whatever ``resolve`` raises when the key is not trusted).
    """
    suite = proof.get("cryptosuite")
    if proof.get("type") != "DataIntegrityProof" or suite not in _ALGORITHM:
        raise ProofError(
            f"不支持的签名类型：{proof.get('type')} / {suite}",
            f"unsupported proof: {proof.get('type')} / {suite}",
            field="proof.cryptosuite",
            reason="tampered",
        )
    for name in ("verificationMethod", "created", "proofPurpose", "proofValue"):
        if not isinstance(proof.get(name), str):
            raise ProofError(f"签名缺少 {name}", f"the proof lacks {name}", field=f"proof.{name}", reason="tampered")
    if proof["proofPurpose"] != "assertionMethod":
        raise ProofError(
            "签名用途应为 assertionMethod",
            "proof purpose must be assertionMethod",
            field="proof.proofPurpose",
            reason="tampered",
        )
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    config = {k: v for k, v in proof.items() if k != "proofValue"}
    if "@context" in config and config["@context"] != unsecured.get("@context"):
        raise ProofError(
            "签名的 @context 与证照不一致",
            "the proof's @context differs from the document's",
            field="proof.@context",
            reason="tampered",
        )
    key = resolve(proof["verificationMethod"])
    if key.algorithm != _ALGORITHM[str(suite)]:
        raise ProofError(
            f"{suite} 的密钥类型不对",
            f"wrong key type for {suite}",
            field="proof.verificationMethod",
            reason="tampered",
        )
    signature = from_multibase(proof["proofValue"], "proof.proofValue")
    steps = _steps(unsecured, config, signature)
    if not key.verify(steps.hash_data, signature):
        raise ProofError(
            "数字签名与证照内容不符：证照在签发后被改动过，或签名是伪造的",
            "the signature does not match the content: the credential was altered after issue, or forged",
            field="proof.proofValue",
            reason="tampered",
        )
    return steps
