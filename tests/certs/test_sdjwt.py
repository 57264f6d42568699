"""Selective disclosure: the bank sees only the fields the enterprise chose, bound to its audience and nonce."""

from __future__ import annotations

import pytest

from huiqi.certs.errors import CertError
from huiqi.certs.sdjwt import holder_key, issue_sd_jwt, present, verify_presentation
from tests.certs.conftest import World

BANK = "did:web:bank.example"


@pytest.fixture
def issued(world: World):  # type: ignore[no-untyped-def]
    lid = world.issue()
    wallet = holder_key()
    token = issue_sd_jwt(world.licences.credential(lid), world.keys, wallet, clock=world.clock)
    return lid, wallet, token


def test_the_bank_sees_only_what_was_disclosed(world: World, issued) -> None:  # type: ignore[no-untyped-def]
    lid, wallet, token = issued
    shown = present(token, ["name", "registered_capital"], wallet, audience=BANK, nonce="n-8842")
    got = verify_presentation(
        shown, keys=world.licences.key_records(), audience=BANK, nonce="n-8842", clock=world.clock
    )
    assert got.licence_id == lid and got.type_name == "营业执照" and got.issuer == "临江市市场监督管理局"
    assert got.fields == {"name": "临江市青禾餐饮有限公司", "registered_capital": "500000.00"}
    assert "王青禾" not in shown.split("~", 1)[1]  # the legal representative's disclosure was not sent


def test_replay_to_another_bank_or_with_another_nonce_is_refused(world: World, issued) -> None:  # type: ignore[no-untyped-def]
    _, wallet, token = issued
    shown = present(token, ["name"], wallet, audience=BANK, nonce="n-1")
    keys = world.licences.key_records()
    for audience, nonce in [("did:web:other-bank.example", "n-1"), (BANK, "n-2")]:
        with pytest.raises(CertError) as e:
            verify_presentation(shown, keys=keys, audience=audience, nonce=nonce, clock=world.clock)
        assert e.value.field == "presentation"


def test_a_stolen_sd_jwt_without_the_wallet_key_or_with_a_changed_disclosure_is_refused(world: World, issued) -> None:  # type: ignore[no-untyped-def]
    _, _, token = issued
    thief = present(token, ["name"], holder_key(), audience=BANK, nonce="n-1")
    keys = world.licences.key_records()
    with pytest.raises(CertError):
        verify_presentation(thief, keys=keys, audience=BANK, nonce="n-1", clock=world.clock)
    _, wallet, _ = issued
    shown = present(token, ["name"], wallet, audience=BANK, nonce="n-1")
    jwt, disclosure, *rest = shown.split("~")
    import base64
    import json

    decoded = json.loads(base64.urlsafe_b64decode(disclosure + "=="))
    decoded[2] = "另一家公司"
    forged = base64.urlsafe_b64encode(json.dumps(decoded, ensure_ascii=False).encode()).decode().rstrip("=")
    with pytest.raises(CertError):
        verify_presentation("~".join([jwt, forged, *rest]), keys=keys, audience=BANK, nonce="n-1", clock=world.clock)


def test_a_revoked_licence_is_refused_with_the_status_list(world: World, issued) -> None:  # type: ignore[no-untyped-def]
    lid, wallet, token = issued
    world.licences.revoke(lid, reason="注销")
    world.licences.publish()
    status = world.licences.package(lid)["evidence"]["status"]
    shown = present(token, ["name"], wallet, audience=BANK, nonce="n-1")
    with pytest.raises(CertError) as e:
        verify_presentation(
            shown, keys=world.licences.key_records(), audience=BANK, nonce="n-1", clock=world.clock, status_list=status
        )
    assert e.value.reason == "revoked"
