"""The seven bad inputs of issue 14, each performed and each refused with a reason a clerk understands."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest
from sqlalchemy import create_engine

from huiqi.certs.catalog import LICENCE_TYPES
from huiqi.certs.credential import build_credential, credential_digest, sign_credential, vc_time
from huiqi.certs.errors import IdentifierError
from huiqi.certs.identifier import LicenceId, parse_licence_id
from huiqi.certs.integrity import add_proof, create_proof
from huiqi.certs.keys import Ed25519Private
from huiqi.certs.verify import Anchors, Verifier
from huiqi.trust.log import TransparencyLog
from huiqi.trust.note import Note, parse_note
from huiqi.trust.proofs import ProofBundle
from huiqi.trust.schema import create_tables
from huiqi.trust.witness import Witness
from tests.certs.conftest import BUSINESS, ORIGINS, World, witness_client


def offline(w: World) -> Verifier:
    return Verifier(Anchors(w.policy), clock=w.clock)


def test_one_changed_byte_makes_a_forgery(world: World) -> None:
    lid = world.issue()
    text = json.dumps(world.licences.package(lid), ensure_ascii=False)
    assert offline(world).verify(json.loads(text)).verdict == "valid"
    tampered = json.loads(text.replace('"500000.00"', '"900000.00"', 1))
    result = offline(world).verify(tampered)
    assert result.verdict == "forged" and result.label == "伪造"
    assert result.reasons[0].code == "tampered"
    assert "被改动" in result.reasons[0].zh


def test_a_key_outside_the_registry_or_of_another_department_is_refused(world: World) -> None:
    lid = world.issue()
    package = world.licences.package(lid)
    unsigned = {k: v for k, v in package["credential"].items() if k != "proof"}
    did = package["credential"]["issuer"]["id"]
    gxjs = world.licences.issue(
        "GXJS", {"uscc": BUSINESS["uscc"], "name": BUSINESS["name"], "certificate_no": "GR202633000001"}
    )
    world.licences.publish()
    sti_key = world.licences.package(str(gxjs.id))["evidence"]["key"]  # public: anyone can copy it from the log
    for key, evidence, code, words in [
        (Ed25519Private.generate(), package["evidence"]["key"], "unknown_key", "未在发证部门的密钥登记册"),
        (world.keys.ed25519["sti"], sti_key, "key_mismatch", "临江市科学技术局"),
    ]:
        proof, _ = create_proof(
            unsigned,
            key,
            verification_method=f"{did}#{key.public.multibase}",
            created=package["credential"]["proof"]["created"],
        )
        forged = {"credential": add_proof(unsigned, proof), "evidence": {**package["evidence"], "key": evidence}}
        online = world.licences.verify(forged)
        assert online.verdict == "forged"
        assert online.reasons[0].code == code and words in online.reasons[0].zh
        result = offline(world).verify(forged)  # offline, only a key the log vouches for is accepted
        assert result.verdict == ("forged" if code == "key_mismatch" else "unverified")


def _strip_cosignatures(proof_text: str, keep: int, w: World) -> str:
    bundle = ProofBundle.parse(proof_text)
    log_sigs = [s for s in bundle.checkpoint.signatures if s.name == w.log_key.name]
    cosigs = [s for s in bundle.checkpoint.signatures if s.name != w.log_key.name][:keep]
    return str(ProofBundle(bundle.index, bundle.proof, Note(bundle.checkpoint.text, tuple(log_sigs + cosigs))))


def test_a_checkpoint_without_the_witness_quorum_is_not_accepted(world: World) -> None:
    lid = world.issue()
    package = world.licences.package(lid)
    package["evidence"]["issue"]["proof"] = _strip_cosignatures(package["evidence"]["issue"]["proof"], 2, world)
    result = offline(world).verify(package)
    assert result.verdict == "unverified" and result.label == "无法核验"
    assert result.reasons[0].code == "quorum"
    assert "2 个见证人联署，需要 3 个" in result.reasons[0].zh


def test_witnesses_unreachable_means_no_proof_yet_not_a_false_valid(world: World) -> None:
    world.licences.notary._cosigner.client = witness_client({})  # type: ignore[union-attr]
    issued = world.licences.issue("YYZZ", BUSINESS)
    world.licences.publish()
    package = world.licences.package(str(issued.id))
    assert "issue" not in package["evidence"]
    result = offline(world).verify(package)
    assert result.verdict == "unverified" and result.reasons[0].code == "no_evidence"
    assert world.licences.verify(package).verdict == "unverified"


def test_a_split_view_is_refused_by_a_verifier_that_saw_the_other_history(world: World, tmp_path) -> None:  # type: ignore[no-untyped-def]
    lid = world.issue()
    honest = world.licences.package(lid)
    bundle = ProofBundle.parse(honest["evidence"]["issue"]["proof"])
    size = parse_note(str(bundle.checkpoint)).text.split("\n")[1]
    # The log operator keeps a second history of the same size: entry 0 rewritten, the licence kept.
    fork_engine = create_engine(f"sqlite:///{tmp_path / 'fork.db'}")
    create_tables(fork_engine)
    fork = TransparencyLog(fork_engine, clock=world.clock)
    entries = [json.loads(world.log.entry("2026", i)) for i in range(int(size))]
    entries[1] = {**entries[1], "purpose": "rewritten"}  # another department's key registration
    fork.append_many(entries)
    cp = fork.checkpoint("2026", [world.log_key])
    # …and three witnesses that never saw the honest history cosign it.
    blind = {
        m: Witness(
            create_engine(f"sqlite:///{tmp_path / f'blind-{m}.db'}"),
            world.witness_keys[m],
            {o: [world.log_key.verifier] for o in ORIGINS},
            clock=world.clock,
        )
        for m in ("samr", "mps", "tax")
    }
    from huiqi.trust.cosign import Cosigner

    outcome = Cosigner(fork, world.policy, witness_client(blind)).cosign(cp, require_quorum=False)
    assert len(outcome.cosigned_by) == 3, outcome.refused
    cosigned = outcome.checkpoint
    forked = copy.deepcopy(honest)
    del forked["evidence"]["status"]
    for item in (forked["evidence"]["issue"], forked["evidence"]["key"]):
        index = ProofBundle.parse(item["proof"]).index
        item["proof"] = str(ProofBundle(index, tuple(fork.inclusion_proof("2026", index, cp.size)), cosigned.note))
    alone = offline(world)
    seen = alone.verify(forked)
    assert seen.verdict == "valid", seen.reasons  # a verifier that saw only the fork cannot tell…
    verifier = offline(world)
    assert verifier.verify(honest).verdict == "valid"
    result = verifier.verify(forked)  # …one that saw the honest checkpoint refuses
    assert result.verdict == "unverified" and result.reasons[0].code == "split_view"
    assert "分裂视图" in result.reasons[0].zh or "两个不同的根" in result.reasons[0].zh
    online = world.licences.verify(forked)  # and so does the platform, against its own log
    assert online.verdict == "unverified" and online.reasons[0].code == "split_view"


def _forge_backdated(world: World, signed_at: dt.datetime, logged_at: dt.datetime) -> dict:  # type: ignore[type-arg]
    """What a corrupt officer holding the department's key would do to date a licence in the past."""
    kind = LICENCE_TYPES["YYZZ"]
    lid = LicenceId("YYZZ", "11330100MB0000010P", "20259999999", 1)
    doc = build_credential(
        lid, kind, BUSINESS, valid_from=signed_at, valid_until=None, status_list=0, status_index=99_999
    )
    signed = sign_credential(doc, "samr", world.keys, created=signed_at)
    entry = {
        "type": "cert.issue",
        "time": logged_at,
        "id": str(lid),
        "licence": lid.licence,
        "licenceType": "YYZZ",
        "issuer": "samr",
        "holder": BUSINESS["uscc"],
        "credential": credential_digest(signed),
        "validFrom": vc_time(signed_at),
        "status": {"list": 0, "index": 99_999},
    }
    logged = world.log.append(entry)
    world.licences.publish(logged.shard)
    key = world.licences.package(world.issue())["evidence"]["key"]
    proof = world.licences.proof(logged.shard, logged.index)
    return {
        "credential": signed,
        "evidence": {"issue": {"entry": json.loads(logged.entry), "proof": proof}, "key": key},
    }


def test_a_back_dated_issuance_is_refused(world: World) -> None:
    then = dt.datetime(2025, 6, 1, 9, tzinfo=dt.UTC)
    # The log entry dated in the past too: the witnesses first saw it 18 months later.
    result = offline(world).verify(_forge_backdated(world, then, then))
    assert result.verdict == "forged" and result.reasons[0].code == "backdated"
    assert "见证人直到 2026-12-01 才首次见到它" in result.reasons[0].zh
    # Signed "in 2025" but logged today.
    result = offline(world).verify(_forge_backdated(world, then, world.clock.now()))
    assert result.verdict == "forged" and "疑似倒签" in result.reasons[0].zh


def test_an_expired_licence_says_since_when(world: World) -> None:
    issued = world.licences.issue(
        "SPJY",
        {"uscc": BUSINESS["uscc"], "name": BUSINESS["name"], "address": "望江路 18 号", "operations": "热食类食品制售"},
        valid_until=dt.date(2027, 3, 31),
    )
    world.licences.publish()
    package = world.licences.package(str(issued.id))
    assert offline(world).verify(package).verdict == "valid"
    world.clock.set(dt.datetime(2027, 4, 2, 9, tzinfo=dt.UTC))
    result = offline(world).verify(package)
    assert result.verdict == "expired" and result.label == "已过期"
    assert "2027-03-31" in result.reasons[0].zh


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("1.2.156.3005.2.YYZZ.11330100MB0000010P.20260000001.001.0", "id.check", "校验位错误"),
        ("1.2.156.3005.2.YYZZ.11330100MB0000010X.20260000001.001.K", "id.issuer", "颁发机构统一社会信用代码无效"),
        ("1.2.156.3005.2.YYZZ.11330100MB0000010P.20260000001.1.K", "id.version", "三位数字"),
        ("1.2.156.3005.1.YYZZ.11330100MB0000010P.20260000001.001.K", "id", "应以 1.2.156.3005.2. 开头"),
        ("1.2.156.3005.2.YYZZ.11330100MB0000010P.001.K", "id", "共五段"),
        ("", "id", "不能为空"),
    ],
)
def test_malformed_identifiers_are_refused_naming_the_part(text: str, field: str, words: str) -> None:
    with pytest.raises(IdentifierError) as e:
        parse_licence_id(text)
    assert e.value.field == field and words in e.value.message_zh


def test_a_credential_whose_identifier_check_is_wrong_is_a_forgery(world: World) -> None:
    lid = world.issue()
    package = world.licences.package(lid)
    good = parse_licence_id(lid)
    wrong = "0" if good.check != "0" else "1"
    package["credential"]["id"] = package["credential"]["id"][:-1] + wrong
    result = offline(world).verify(package)
    assert result.verdict == "forged" and result.reasons[0].code == "malformed_id"
    assert "校验位错误" in result.reasons[0].zh
