"""Witnesses: cosign only what extends what they cosigned; refuse and raise split views."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine

from huiqi.clock import FixedClock
from huiqi.trust.cosign import request_body
from huiqi.trust.log import TransparencyLog
from huiqi.trust.note import generate_signer, parse_note, sign_note
from huiqi.trust.policy import TrustPolicy
from huiqi.trust.witness import Refusal, Witness
from tests.trust.helpers import ORIGIN, entries, sqlite


@pytest.fixture
def world(tmp_path, clock: FixedClock):  # type: ignore[no-untyped-def]
    log_key = generate_signer(ORIGIN)
    honest = TransparencyLog(sqlite(str(tmp_path / "log.db")), clock=clock)
    forked = TransparencyLog(sqlite(str(tmp_path / "fork.db")), clock=clock)  # the same key, another history
    wkey = generate_signer("witness.linjiang.example/samr", "cosignature", clock=clock)
    witness = Witness(create_engine(f"sqlite:///{tmp_path / 'w.db'}"), wkey, {ORIGIN: [log_key.verifier]}, clock=clock)
    return log_key, honest, forked, wkey, witness


def submit(witness: Witness, log: TransparencyLog, key, old: int) -> str:  # type: ignore[no-untyped-def]
    cp = log.checkpoint("2026", [key])
    return witness.add_checkpoint(request_body(old, log.consistency_proof("2026", old, cp.size), str(cp.note)))


def test_cosigns_a_first_checkpoint_and_then_only_consistent_growth(world) -> None:  # type: ignore[no-untyped-def]
    log_key, log, _, wkey, witness = world
    log.append_many(entries(5))
    line = submit(witness, log, log_key, 0)
    cp = log.checkpoint("2026", [log_key])
    cosigned = cp.note.with_signatures(parse_note(str(cp.note) + line).signatures)
    TrustPolicy({ORIGIN: (log_key.verifier,)}, (_info(wkey),), 1).verify_checkpoint(cosigned)
    log.append_many(entries(300, 5))
    submit(witness, log, log_key, 5)
    assert "\n305\n" in (witness.latest(ORIGIN) or "")


def _info(wkey):  # type: ignore[no-untyped-def]
    from huiqi.trust.policy import WitnessInfo

    return WitnessInfo("samr", wkey.verifier)


def test_a_stale_old_size_gets_409_with_the_witness_size(world) -> None:  # type: ignore[no-untyped-def]
    log_key, log, _, _, witness = world
    log.append_many(entries(5))
    submit(witness, log, log_key, 0)
    log.append_many(entries(2, 5))
    with pytest.raises(Refusal) as e:
        submit(witness, log, log_key, 0)
    assert e.value.http_status == 409 and e.value.body == "5\n"


def test_split_view_same_size_other_root_is_refused_and_raised(world) -> None:  # type: ignore[no-untyped-def]
    log_key, log, forked, _, witness = world
    log.append_many(entries(8))
    forked.append_many(entries(8, tag="rewritten"))
    submit(witness, log, log_key, 0)
    with pytest.raises(Refusal) as e:
        submit(witness, forked, log_key, 8)
    assert e.value.http_status == 422
    [alert] = witness.alerts()
    assert alert.kind == "same-size-other-root"
    assert "\n8\n" in alert.cosigned and "\n8\n" in alert.presented and alert.cosigned != alert.presented
    assert "\n8\n" in (witness.latest(ORIGIN) or "")  # the state is unchanged


def test_split_view_not_extending_the_cosigned_tree_is_refused(world) -> None:  # type: ignore[no-untyped-def]
    log_key, log, forked, _, witness = world
    log.append_many(entries(8))
    forked.append_many(entries(3) + entries(20, 3, tag="rewritten"))
    submit(witness, log, log_key, 0)
    with pytest.raises(Refusal) as e:
        submit(witness, forked, log_key, 8)  # the fork's own proof from 8 cannot lead to our root at 8
    assert e.value.http_status == 422
    assert [a.kind for a in witness.alerts()] == ["inconsistent"]


def test_unknown_logs_bad_signatures_and_malformed_requests(world, clock: FixedClock) -> None:  # type: ignore[no-untyped-def]
    log_key, log, _, _, witness = world
    log.append_many(entries(2))
    cp = log.checkpoint("2026", [log_key])
    stranger = generate_signer(ORIGIN)
    cases = {
        404: request_body(0, [], str(sign_note(cp.note.text.replace(ORIGIN, "other.example/log"), log_key))),
        403: request_body(0, [], str(sign_note(cp.note.text, stranger))),
        400: b"old 01\n\n" + str(cp.note).encode(),
        422: request_body(0, [b"\x00" * 32], str(cp.note)),
    }
    forged = str(cp.note).replace(cp.note.text, cp.note.text.replace("\n2\n", "\n3\n"))
    cases_403 = request_body(0, [], forged)
    for status, body in cases.items():
        with pytest.raises(Refusal) as e:
            witness.add_checkpoint(body)
        assert e.value.http_status == status
    with pytest.raises(Refusal) as e:
        witness.add_checkpoint(cases_403)
    assert e.value.http_status == 403
    assert witness.latest(ORIGIN) is None
