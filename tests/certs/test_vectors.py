"""The gate: W3C vc-di-eddsa ``eddsa-jcs-2022`` vectors reproduced value by value, then verified and attacked."""

from __future__ import annotations

import json

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from huiqi.certs.errors import ProofError
from huiqi.certs.integrity import EDDSA_JCS, add_proof, canonical, create_proof, verify_proof
from huiqi.certs.keys import Ed25519Private, private_key, public_key
from tests.trust.vectors import VECTORS

DIR = VECTORS / "vc-di-eddsa"
JCS = DIR / "eddsa-jcs-2022"


def text(name: str) -> str:
    return (JCS / name).read_text(encoding="utf-8").strip()


@pytest.fixture(scope="module")
def signed() -> tuple[dict, object]:  # type: ignore[type-arg]
    unsigned = json.loads((DIR / "unsigned.json").read_text())
    pair = json.loads((DIR / "keyPair.json").read_text())
    config = json.loads(text("proofConfigJCS.json"))
    key = private_key(pair["privateKeyMultibase"])
    assert key.public.multibase == pair["publicKeyMultibase"]
    proof, steps = create_proof(
        unsigned, key, verification_method=config["verificationMethod"], created=config["created"]
    )
    return add_proof(unsigned, proof), steps


def test_every_intermediate_value_of_the_w3c_vector(signed) -> None:  # type: ignore[no-untyped-def]
    document, steps = signed
    assert steps.canonical_document.decode() == text("canonDocJCS.txt")
    assert steps.document_hash.hex() == text("docHashJCS.txt")
    assert steps.canonical_proof_config.decode() == text("proofCanonJCS.txt")
    assert steps.proof_config_hash.hex() == text("proofHashJCS.txt")
    assert steps.hash_data.hex() == text("combinedHashJCS.txt")
    assert steps.signature.hex() == text("sigHexJCS.txt")
    assert steps.proof_value == text("sigBTC58JCS.txt")
    assert document == json.loads(text("signedJCS.json"))


def test_the_signed_vector_verifies_and_one_changed_character_does_not() -> None:
    document = json.loads(text("signedJCS.json"))
    pair = json.loads((DIR / "keyPair.json").read_text())
    key = public_key(pair["publicKeyMultibase"])
    verify_proof(document, document["proof"], lambda vm: key)
    forged = json.loads(text("signedJCS.json").replace("The School of Examples", "The School of Exampley"))
    with pytest.raises(ProofError) as e:
        verify_proof(forged, forged["proof"], lambda vm: key)
    assert e.value.reason == "tampered"
    other = Ed25519Private.generate().public
    with pytest.raises(ProofError):
        verify_proof(document, document["proof"], lambda vm: other)


def test_the_proof_config_covers_created_and_context() -> None:
    document = json.loads(text("signedJCS.json"))
    key = public_key(json.loads((DIR / "keyPair.json").read_text())["publicKeyMultibase"])
    later = {**document, "proof": {**document["proof"], "created": "2024-02-24T23:36:38Z"}}
    with pytest.raises(ProofError):
        verify_proof(later, later["proof"], lambda vm: key)
    moved = {**document, "@context": document["@context"][:1]}
    with pytest.raises(ProofError):
        verify_proof(moved, moved["proof"], lambda vm: key)
    assert document["proof"]["cryptosuite"] == EDDSA_JCS


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@given(JSON)
def test_the_fast_canonical_form_is_byte_for_byte_rfc8785(value: object) -> None:
    try:
        expected = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, ValueError, UnicodeEncodeError):
        with pytest.raises(ProofError):
            canonical(value)
        return
    assert canonical(value) == expected


def test_keys_beyond_the_bmp_sort_by_utf16_as_jcs_says() -> None:
    assert canonical({"\ue000": 1, "😀": 2}) == rfc8785.dumps({"\ue000": 1, "😀": 2})
    assert canonical({"x": 1.5}) == b'{"x":1.5}'
