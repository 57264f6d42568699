"""Field encryption: values bound to their row and field, blind indexes, rotation while the service runs."""

from __future__ import annotations

import json
import threading

import pytest
import sqlalchemy as sa

from huiqi.clock import FixedClock
from huiqi.trust.errors import CryptoError, KeyringError
from huiqi.trust.fields import Keyring, Vault
from huiqi.trust.log import TransparencyLog

meta = sa.MetaData()
people = sa.Table(
    "people",
    meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("id_number", sa.Text, nullable=False),
    sa.Column("id_number_idx", sa.String(32), nullable=False),
)


@pytest.fixture
def vault(engine: sa.Engine, clock: FixedClock) -> Vault:
    meta.create_all(engine)
    keyring = Keyring.from_dict(Keyring.generate("kek-2026", "sm4-gcm"))
    return Vault(engine, keyring, store="mps", clock=clock, profile="sm4-gcm", log=TransparencyLog(engine, clock=clock))


@pytest.mark.parametrize("profile", ["sm4-gcm", "aes-256-gcm"])
def test_a_value_decrypts_only_in_its_own_row_and_field(engine: sa.Engine, clock: FixedClock, profile: str) -> None:
    keyring = Keyring.from_dict(Keyring.generate("kek", profile))
    v = Vault(engine, keyring, store="mps", clock=clock, profile=profile)
    ids = v.field("people", "id_number")
    token = ids.encrypt(7, "110101199003071234")
    assert "110101" not in token and token.startswith("hq1.")
    assert ids.decrypt(7, token) == "110101199003071234"
    assert ids.encrypt(7, "110101199003071234") != token  # fresh nonce each time
    for attempt in (
        lambda: ids.decrypt(8, token),  # copied to another row
        lambda: v.field("people", "phone").decrypt(7, token),  # to another field
        lambda: Vault(engine, keyring, store="tax", clock=clock).field("people", "id_number").decrypt(7, token),
        lambda: ids.decrypt(7, token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB")),  # tampered
        lambda: ids.decrypt(7, "110101199003071234"),  # not a token
    ):
        with pytest.raises(CryptoError):
            attempt()


@pytest.mark.parametrize("profile", ["sm4-gcm", "aes-256-gcm"])
def test_batches_seal_what_one_at_a_time_opens_and_name_the_row_that_fails(
    engine: sa.Engine, clock: FixedClock, profile: str
) -> None:
    v = Vault(engine, Keyring.from_dict(Keyring.generate("kek", profile)), store="mps", clock=clock, profile=profile)
    ids = v.field("people", "id_number")
    values = [f"11010119900307{i:04d}" for i in range(300)] + ["张三", "", "欧阳娜娜"]
    rows = list(enumerate(values, start=1))
    tokens = ids.encrypt_many(rows)
    assert [ids.decrypt(i, t) for (i, _), t in zip(rows, tokens, strict=True)] == values
    singles = [ids.encrypt(i, value) for i, value in rows]
    assert ids.decrypt_many([(i, t) for (i, _), t in zip(rows, singles, strict=True)]) == values
    v.rotate("people", "id_number")  # a batch spanning two data keys, as during re-encryption
    mixed = tokens[:150] + ids.encrypt_many(rows[150:])
    assert ids.decrypt_many([(i, t) for (i, _), t in zip(rows, mixed, strict=True)]) == values
    moved = [(i, t) for (i, _), t in zip(rows, mixed, strict=True)]
    moved[200] = (201, mixed[7])  # row 8's ciphertext copied into row 201
    with pytest.raises(CryptoError, match="row 201"):
        ids.decrypt_many(moved)


def test_blind_index_finds_equal_values_without_decrypting(vault: Vault) -> None:
    f = vault.field("people", "id_number")
    assert f.blind_index("110101199003071234") == f.blind_index("110101199003071234")
    assert f.blind_index("110101199003071234") != f.blind_index("110101199003071235")
    assert vault.field("people", "phone").blind_index("1") != f.blind_index("1")


def test_wrong_or_missing_kek_is_refused(engine: sa.Engine, vault: Vault, clock: FixedClock) -> None:
    token = vault.field("people", "id_number").encrypt(1, "x")
    stranger = Keyring.from_dict({**Keyring.generate("kek-2026", "sm4-gcm")})
    with pytest.raises(CryptoError):
        Vault(engine, stranger, store="mps", clock=clock).field("people", "id_number").decrypt(1, token)
    with pytest.raises(KeyringError):
        Keyring.from_dict({"active": "a", "keks": {}})
    with pytest.raises(KeyringError):
        Keyring.from_env({"HUIQI_KEYRING": "{not json"})


def test_rotation_while_reads_and_writes_continue_loses_nothing(vault: Vault) -> None:
    f = vault.field("people", "id_number")
    expected = {i: f"1101011990{i:08d}" for i in range(1, 601)}
    with vault.engine.begin() as c:
        c.execute(
            people.insert(),
            [{"id": i, "id_number": f.encrypt(i, v), "id_number_idx": f.blind_index(v)} for i, v in expected.items()],
        )
    old_key = vault.keys("people", "id_number")[0].id
    new_key = vault.rotate("people", "id_number")
    assert new_key.version == 2
    assert f.encrypt(1, "x").startswith(f"hq1.{new_key.id}.")  # new writes use the new key at once

    stop, errors, lock = threading.Event(), [], threading.Lock()

    def writer() -> None:
        n = 10_000
        while not stop.is_set():
            n += 1
            value = f"writer-{n}"
            try:
                with vault.engine.begin() as c:
                    target = 1 + n % 600
                    c.execute(people.update().where(people.c.id == target).values(id_number=f.encrypt(target, value)))
                    c.execute(
                        people.insert().values(id=n, id_number=f.encrypt(n, value), id_number_idx=f.blind_index(value))
                    )
                with lock:
                    expected[target] = value
                    expected[n] = value
            except sa.exc.OperationalError:  # SQLite busy while the re-encryption commits: try again
                continue

    def reader() -> None:
        while not stop.is_set():
            with vault.engine.connect() as c:
                for row in c.execute(sa.select(people).limit(50)):
                    try:
                        f.decrypt(row.id, row.id_number)
                    except Exception as e:
                        errors.append(e)

    threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
    for t in threads:
        t.start()
    moved = vault.reencrypt(people, "id", "id_number", batch=100)
    stop.set()
    for t in threads:
        t.join()
    assert not errors
    assert moved > 0
    assert vault.retire(people, "id_number") == [old_key]
    with vault.engine.connect() as c:
        rows = c.execute(sa.select(people)).all()
    assert {r.id: f.decrypt(r.id, r.id_number) for r in rows} == expected
    assert all(r.id_number.startswith(f"hq1.{new_key.id}.") for r in rows)
    assert [k.state for k in vault.keys("people", "id_number")] == ["retired", "active"]
    logged = [json.loads(vault.log.entry("2026", i))["type"] for i in range(vault.log.size("2026"))]  # type: ignore[union-attr]
    assert logged.count("key.create") == 3  # the data key, the index key, the rotated data key
    assert {"key.rotate", "key.reencrypt", "key.retire"} <= set(logged)


def test_an_old_key_is_not_retired_while_a_row_uses_it(vault: Vault) -> None:
    f = vault.field("people", "id_number")
    with vault.engine.begin() as c:
        c.execute(people.insert().values(id=1, id_number=f.encrypt(1, "a"), id_number_idx="x"))
    vault.rotate("people", "id_number")
    with pytest.raises(KeyringError):
        vault.retire(people, "id_number")
    assert vault.reencrypt(people, "id", "id_number") == 1
    vault.retire(people, "id_number")


def test_kek_rotation_rewraps_every_data_key(engine: sa.Engine, vault: Vault, clock: FixedClock) -> None:
    f = vault.field("people", "id_number")
    token, index = f.encrypt(3, "secret"), f.blind_index("secret")
    new = Keyring.from_dict(Keyring.generate("kek-2027", "aes-256-gcm"))
    both = Keyring({**vault.keyring.keks, **new.keks}, "kek-2027")
    v2 = Vault(engine, both, store="mps", clock=clock)
    assert v2.rewrap() == 2  # the data key and the index key
    only_new = Keyring({"kek-2027": both.keks["kek-2027"]}, "kek-2027")
    again = Vault(engine, only_new, store="mps", clock=clock).field("people", "id_number")
    assert again.decrypt(3, token) == "secret"
    assert again.blind_index("secret") == index
