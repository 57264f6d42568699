"""The stored log: roots and proofs agree with the RFC's definition, at every size and index."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from huiqi.clock import FixedClock
from huiqi.trust import merkle
from huiqi.trust.errors import DuplicateEntryError, EntryError, ProofError
from huiqi.trust.log import TransparencyLog
from huiqi.trust.verify import verify_consistency, verify_inclusion


def entries(n: int, start: int = 0) -> list[dict[str, object]]:
    return [{"type": "test.entry", "time": "2026-12-01T09:00:00.000000Z", "n": i} for i in range(start, start + n)]


def reference_root(log: TransparencyLog, shard: str, size: int) -> bytes:
    return merkle.root_of([merkle.leaf_hash(log.entry(shard, i)) for i in range(size)])


def test_every_proof_of_small_trees_verifies(log: TransparencyLog) -> None:
    roots = {0: merkle.EMPTY_ROOT}
    for size in range(1, 20):
        log.append(entries(1, size - 1)[0])
        roots[size] = log.root("2026")
        assert roots[size] == reference_root(log, "2026", size)
    for size in range(1, 20):
        for index in range(size):
            proof = log.inclusion_proof("2026", index, size)
            verify_inclusion(index, size, merkle.leaf_hash(log.entry("2026", index)), proof, roots[size])
        for old in range(1, size + 1):
            verify_consistency(old, size, log.consistency_proof("2026", old, size), roots[old], roots[size])


def test_tiles_across_two_levels_match_the_reference(sqlite_engine: sa.Engine, clock: FixedClock) -> None:
    log = TransparencyLog(sqlite_engine, clock=clock)
    sizes = [255, 256, 257, 511, 512, 1000, 65535, 65536, 65537, 66000]
    done = 0
    for size in sizes:
        log.append_many(entries(size - done, done))
        done = size
    hashes = [merkle.leaf_hash(log.entry("2026", i)) for i in range(done)]
    for size in sizes:
        root = merkle.root_of(hashes[:size])
        assert log.root("2026", size) == root
        for index in (0, size // 2, size - 1):
            verify_inclusion(index, size, hashes[index], log.inclusion_proof("2026", index, size), root)
    for old in sizes:
        verify_consistency(
            old, done, log.consistency_proof("2026", old, done), merkle.root_of(hashes[:old]), log.root("2026")
        )


def test_entries_are_canonical_json_with_type_and_time(log: TransparencyLog) -> None:
    e = log.append({"type": "cert.issue", "time": "2026-12-01T09:00:00Z", "z": 1, "a": "临江"})
    assert e.entry == '{"a":"临江","time":"2026-12-01T09:00:00Z","type":"cert.issue","z":1}'.encode()
    assert e.leaf_hash == merkle.leaf_hash(e.entry)
    assert e.origin == "linjiang.example/huiqi/2026"


def test_an_entry_without_time_gets_the_clock_and_shards_follow_the_city_year(
    log: TransparencyLog, clock: FixedClock
) -> None:
    clock.set(dt.datetime(2026, 12, 31, 17, 0, tzinfo=dt.UTC))
    e = log.append({"type": "key.create"})
    assert json.loads(e.entry)["time"] == "2026-12-31T17:00:00.000000Z"
    assert e.shard == "2027"  # 01:00 on 1 January in 临江市 (UTC+8)


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"time": "2026-12-01T09:00:00Z"}, "type"),
        ({"type": "Officer", "time": "2026-12-01T09:00:00Z"}, "type"),
        ({"type": "cert.issue", "time": "2026-12-01 09:00"}, "time"),
        ({"type": "cert.issue", "time": "2026-12-01T09:00:00Z", "amount": 1.5}, "entry.amount"),
        ({"type": "cert.issue", "time": "2026-12-01T09:00:00Z", "n": 2**60}, "entry.n"),
    ],
)
def test_bad_entries_are_refused_naming_the_field_and_nothing_is_written(
    log: TransparencyLog, entry: dict[str, object], field: str
) -> None:
    with pytest.raises(EntryError) as e:
        log.append_many([entries(1)[0], entry])
    assert e.value.field == field
    assert log.size("2026") == 0


def test_natural_keys_are_logged_once(log: TransparencyLog) -> None:
    first = log.append(entries(1)[0], natural_key="cert/1.2.156.3005.2.11100000000000000X.001")
    with pytest.raises(DuplicateEntryError) as e:
        log.append(entries(1, 5)[0], natural_key="cert/1.2.156.3005.2.11100000000000000X.001")
    assert e.value.index == first.index
    with pytest.raises(DuplicateEntryError):
        log.append_many(entries(2), natural_keys=["k", "k"])
    assert log.size("2026") == 1
    found = log.find("cert/1.2.156.3005.2.11100000000000000X.001")
    assert found is not None and found.index == first.index


def test_a_batch_is_all_or_nothing_when_the_callers_transaction_rolls_back(log: TransparencyLog) -> None:
    log.append_many(entries(3))
    with pytest.raises(RuntimeError), log.engine.begin() as conn:
        log.append_many(entries(300, 3), conn=conn)
        raise RuntimeError("the caller fails after appending")
    assert log.size("2026") == 3
    log.append_many(entries(300, 3))
    assert log.root("2026") == reference_root(log, "2026", 303)


def test_proofs_beyond_the_log_are_refused(log: TransparencyLog) -> None:
    log.append_many(entries(5))
    with pytest.raises(ProofError):
        log.inclusion_proof("2026", 5, 5)
    with pytest.raises(ProofError):
        log.inclusion_proof("2026", 0, 6)
    with pytest.raises(ProofError):
        log.consistency_proof("2026", 4, 3)
