"""Signed notes, keys and checkpoints: the Go vector byte for byte, then what a forger would try."""

from __future__ import annotations

import base64
import json

import pytest

from huiqi.trust.errors import NoteError, SignatureError
from huiqi.trust.note import (
    Checkpoint,
    Note,
    SM2Signer,
    generate_signer,
    parse_note,
    parse_signer,
    parse_verifier,
    sign_note,
    verify_note,
)
from tests.trust.vectors import VECTORS

GOLANG = json.loads((VECTORS / "signed-note" / "golang-note.json").read_text())


def test_golang_vector_key_id_and_signature_byte_for_byte() -> None:
    signer = parse_signer(GOLANG["skey"])
    assert signer.name == GOLANG["name"]
    assert signer.key_id.hex() == GOLANG["key_id_hex"]
    note = sign_note(GOLANG["text"], signer)
    assert str(note) == GOLANG["text"] + "\n" + f"— {GOLANG['name']} {GOLANG['signature_base64']}\n"
    assert verify_note(str(note), [signer.verifier]) == [signer.verifier]


def test_c2sp_example_vkey_verifies_the_spec_note() -> None:
    vkey = parse_verifier("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k")
    note = (
        "This is an example message.\n\n— example.com/foo "
        "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
    )
    assert verify_note(note, [vkey]) == [vkey]


def test_a_changed_text_is_refused() -> None:
    signer = generate_signer("linjiang.example/huiqi/2026")
    note = str(sign_note("hello\n", signer))
    with pytest.raises(SignatureError):
        verify_note(note.replace("hello", "hullo"), [signer.verifier])


def test_unknown_signatures_are_ignored_but_one_trusted_is_needed() -> None:
    ours, theirs = generate_signer("a.example/log"), generate_signer("b.example/log")
    note = sign_note("text\n", ours, theirs)
    assert verify_note(note, [ours.verifier]) == [ours.verifier]
    with pytest.raises(SignatureError):
        verify_note(sign_note("text\n", theirs), [ours.verifier])


def test_a_key_with_the_same_name_and_id_but_other_material_is_rejected() -> None:
    ours = generate_signer("a.example/log")
    forged = Note(
        "text\n",
        (
            sign_note("text\n", generate_signer("a.example/log"))
            .signatures[0]
            .__class__("a.example/log", ours.key_id, b"\x00" * 64),
        ),
    )
    with pytest.raises(SignatureError):
        verify_note(forged, [ours.verifier])


def test_sm2_second_line_signs_and_verifies() -> None:
    ed = generate_signer("linjiang.example/huiqi/2026")
    sm2 = generate_signer("linjiang.example/huiqi/2026", "sm2")
    note = sign_note("linjiang.example/huiqi/2026\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n", ed, sm2)
    assert len(note.signatures) == 2
    again = parse_signer(sm2.skey)  # type: ignore[attr-defined]
    assert again.key_id == sm2.key_id
    assert verify_note(str(note), [parse_verifier(sm2.verifier.vkey)]) == [parse_verifier(sm2.verifier.vkey)]
    tampered = str(note).replace("\n0\n", "\n1\n")
    with pytest.raises(SignatureError):
        verify_note(tampered, [sm2.verifier])


@pytest.mark.parametrize(
    "text",
    [
        "no blank line\n— a.example AAAA\n",
        "text\n\n",
        "text\n\n— a.example not*base64\n",
        "text\n\n- a.example AAAAAAAA\n",
        "bell\x07\n\n— a.example AAAAAAAA\n",
    ],
)
def test_malformed_notes_are_refused(text: str) -> None:
    with pytest.raises(NoteError):
        parse_note(text)


def test_checkpoint_round_trip_and_strict_parsing() -> None:
    cp = Checkpoint(
        "linjiang.example/huiqi/2026", 20852163, base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    )
    assert cp.text == "linjiang.example/huiqi/2026\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    assert Checkpoint.parse(cp.text) == cp
    for bad in [cp.text.replace("20852163", "020852163"), cp.text.replace("20852163", "-1"), "a\n1\n"]:
        with pytest.raises(NoteError):
            Checkpoint.parse(bad)


@pytest.mark.parametrize(
    "key",
    ["PRIVATE+KEY+x+00000000+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz", "PRIVATE+KEY+x", "x+1+AQ=="],
)
def test_malformed_keys_are_refused(key: str) -> None:
    with pytest.raises(NoteError):
        parse_signer(key) if key.startswith("PRIVATE") else parse_verifier(key)


def test_an_sm2_key_whose_x_begins_with_04_signs_and_verifies() -> None:
    """gmssl strips a leading "04" with lstrip: such keys (1 in 256) once failed to sign or verify."""
    for d in range(1, 5000):
        signer = SM2Signer("linjiang.example/huiqi/2026", d.to_bytes(32, "big"))
        if signer.verifier.public[:1] == b"\x04":
            break
    else:
        raise AssertionError("no key with x beginning 0x04 among the first 5000")
    note = sign_note("linjiang.example/huiqi/2026\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n", signer)
    assert verify_note(str(note), [parse_verifier(signer.verifier.vkey)]) == [signer.verifier]
