"""The conformance gate for field encryption: Wycheproof and the GB/T national vectors.

Every ``valid`` case must pass and every ``invalid`` one be rejected.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from huiqi.trust.aead import GcmKey, gcm_open, gcm_seal, hmac_sm3, siv_open, siv_seal, sm3, verify_hmac_sm3
from huiqi.trust.errors import CryptoError
from tests.trust.vectors import VECTORS

WYCHEPROOF = VECTORS / "wycheproof"


def cases(name: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    data = json.loads((WYCHEPROOF / name).read_text())
    return [(g, t) for g in data["testGroups"] for t in g["tests"]]


def ids(case: tuple[dict[str, Any], dict[str, Any]]) -> str:
    return f"{case[1]['tcId']}-{case[1]['result']}"


def h(x: str) -> bytes:
    return bytes.fromhex(x)


@pytest.mark.parametrize(("cipher", "name"), [("aes", "aes_gcm_test.json"), ("sm4", "sm4_gcm_test.json")])
def test_gcm_wycheproof(cipher: str, name: str) -> None:
    all_cases = cases(name)
    assert len(all_cases) > 100
    for group, t in all_cases:
        assert t["result"] in ("valid", "invalid"), t
        key, iv, aad, msg = h(t["key"]), h(t["iv"]), h(t["aad"]), h(t["msg"])
        sealed = h(t["ct"]) + h(t["tag"])
        assert group["tagSize"] == 128
        if t["result"] == "valid":
            assert gcm_seal(cipher, key, iv, msg, aad) == sealed, t["tcId"]  # type: ignore[arg-type]
            assert gcm_open(cipher, key, iv, sealed, aad) == msg, t["tcId"]  # type: ignore[arg-type]
        else:
            with pytest.raises(CryptoError):
                gcm_open(cipher, key, iv, sealed, aad)  # type: ignore[arg-type]
            if iv:
                assert gcm_seal(cipher, key, iv, msg, aad) != sealed  # type: ignore[arg-type]
            else:
                with pytest.raises(CryptoError):
                    gcm_seal(cipher, key, iv, msg, aad)  # type: ignore[arg-type]


@pytest.mark.parametrize(("cipher", "name"), [("aes", "aes_gcm_test.json"), ("sm4", "sm4_gcm_test.json")])
def test_batched_gcm_wycheproof(cipher: str, name: str) -> None:
    """The batch path (SM4: key stream and GHASH computed over the batch) on every 96-bit-IV case."""
    by_key: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for group, t in cases(name):
        if group["ivSize"] == 96 and len(t["key"]) == (32 if cipher == "sm4" else 64):  # SM4, AES-256: GcmKey's
            by_key.setdefault((t["key"], group["keySize"]), []).append(t)
    checked = 0
    for (key_hex, _), tests in by_key.items():
        key = GcmKey(cipher, h(key_hex))  # type: ignore[arg-type]
        key.BATCH_MIN = 1  # every group through the batch path, however small
        nonces, msgs, aads = [h(t["iv"]) for t in tests], [h(t["msg"]) for t in tests], [h(t["aad"]) for t in tests]
        sealed = [h(t["ct"]) + h(t["tag"]) for t in tests]
        opened = key.open_many(nonces, sealed, aads)
        made = key.seal_many(nonces, msgs, aads)
        for t, got, mine, msg, want in zip(tests, opened, made, msgs, sealed, strict=True):
            checked += 1
            if t["result"] == "valid":
                assert (got, mine) == (msg, want), t["tcId"]
            else:
                assert got is None, t["tcId"]
    assert checked > 40


def test_batched_sm4_gcm_equals_the_native_one_message_at_a_time() -> None:
    rng = random.Random(12)
    for _ in range(60):
        raw = rng.randbytes(16)
        key = GcmKey("sm4", raw)
        key.BATCH_MIN = 1 if rng.random() < 0.5 else 16
        n = rng.randrange(1, 80)
        nonces = [rng.randbytes(12) for _ in range(n)]
        msgs = [rng.randbytes(rng.choice([0, 1, 11, 15, 16, 17, 18, 33, rng.randrange(200)])) for _ in range(n)]
        aads = [rng.randbytes(rng.choice([0, 5, 16, 44, 61, rng.randrange(100)])) for _ in range(n)]
        sealed = key.seal_many(nonces, msgs, aads)
        assert sealed == [gcm_seal("sm4", raw, iv, m, a) for iv, m, a in zip(nonces, msgs, aads, strict=True)]
        assert key.open_many(nonces, sealed, aads) == msgs
        broken = rng.randrange(n)
        tampered = list(sealed)
        tampered[broken] = bytes([tampered[broken][0] ^ 1]) + tampered[broken][1:] if msgs[broken] else b"\0" * 16
        got = key.open_many(nonces, tampered, aads)
        assert got[broken] is None and all(got[i] == msgs[i] for i in range(n) if i != broken)


def test_hmac_sm3_wycheproof() -> None:
    all_cases = cases("hmac_sm3_test.json")
    assert len(all_cases) > 100
    for group, t in all_cases:
        key, msg, tag = h(t["key"]), h(t["msg"]), h(t["tag"])
        assert len(tag) * 8 == group["tagSize"]
        if t["result"] == "valid":
            assert hmac_sm3(key, msg)[: len(tag)] == tag, t["tcId"]
            verify_hmac_sm3(key, msg, tag)
        else:
            with pytest.raises(CryptoError):
                verify_hmac_sm3(key, msg, tag)


def test_aes_siv_wycheproof() -> None:
    all_cases = cases("aes_siv_cmac_test.json")
    assert len(all_cases) > 300
    for _, t in all_cases:
        key, aad, msg, ct = h(t["key"]), h(t["aad"]), h(t["msg"]), h(t["ct"])
        if t["result"] == "valid":
            assert siv_seal(key, msg, aad) == ct, t["tcId"]
            assert siv_open(key, ct, aad) == msg, t["tcId"]
        else:
            with pytest.raises(CryptoError):
                siv_open(key, ct, aad)


def test_gbt_32905_sm3_and_gbt_32907_sm4_national_vectors() -> None:
    assert sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    k = h("0123456789abcdeffedcba9876543210")
    enc = Cipher(algorithms.SM4(k), modes.ECB()).encryptor()
    assert (enc.update(k) + enc.finalize()).hex() == "681edf34d206965e86b3e94f536e4246"
    # The hand-made GCM path rests on the same block cipher: both paths agree on a 96-bit IV.
    from huiqi.trust.aead import _gcm_by_hand

    out, tag = _gcm_by_hand("sm4", k, b"\x01" * 12, b"ad", b"message", seal=True)
    assert out + tag == gcm_seal("sm4", k, b"\x01" * 12, b"message", b"ad")
