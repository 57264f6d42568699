"""Field encryption at rest: envelope encryption with per-field data keys, rotation without downtime.

* A **data key** (DEK) per ``store/table/field`` and version encrypts the values; it is kept
  in ``trust_data_keys`` only wrapped by a **key-encryption key** (KEK) from the keyring
  (a file or ``HUIQI_KEYRING``; :class:`KeyEncryptionKey` is the interface a KMS or HSM
  implements later).
* Profiles: ``sm4-gcm`` (国密, 128-bit key) and ``aes-256-gcm``, chosen per department.
* Each value is AEAD-sealed with associated data binding it to (store, table, field, row
  id, data key): a ciphertext copied to another row or column does not decrypt.
* Tokens are text: ``hq1.<data key id>.<base64url(nonce ‖ ciphertext ‖ tag)>``.
* Exact-match lookup without decrypting: :meth:`FieldCipher.blind_index` (HMAC-SM3 under a
  separate index key of the field).
* Rotation: :meth:`Vault.rotate` makes a new data key that new writes use at once;
  :meth:`Vault.reencrypt` moves old rows in short batches (compare-and-set, so concurrent
  writers win); :meth:`Vault.retire` destroys the old key once no row uses it. Every step
  is an entry on the transparency log (``key.*``).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from huiqi.clock import Clock
from huiqi.trust.aead import NONCE_SIZE, GcmKey, hmac_sm3
from huiqi.trust.errors import CryptoError, KeyringError
from huiqi.trust.log import TransparencyLog
from huiqi.trust.schema import data_keys

#: profile → (block cipher, key size)
PROFILES: dict[str, tuple[str, int]] = {"sm4-gcm": ("sm4", 16), "aes-256-gcm": ("aes", 32)}
#: The departments' choice (ARCHITECTURE.md member codes); the platform's own services use AES.
DEPARTMENT_PROFILES: dict[str, str] = {
    "samr": "sm4-gcm",
    "mps": "sm4-gcm",
    "tax": "sm4-gcm",
    "hrss": "sm4-gcm",
    "nhc": "sm4-gcm",
    "fin": "sm4-gcm",
    "platform": "aes-256-gcm",
}
TOKEN_PREFIX = "hq1."


def _profile(name: str) -> tuple[str, int]:
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyringError(
            f"未知的加密方案 {name}", f"unknown profile {name}: use {', '.join(PROFILES)}", field="profile"
        ) from None


def _lp(*parts: str) -> bytes:
    """Length-prefixed parts: no two different tuples share an encoding."""
    return b"".join(_lp1(p) for p in parts)


def _lp1(part: str) -> bytes:
    data = part.encode("utf-8")
    return len(data).to_bytes(4, "big") + data


# --- key-encryption keys ------------------------------------------------------------------


class KeyEncryptionKey(Protocol):
    """Wraps and unwraps data keys. A KMS or HSM implements this with remote calls."""

    @property
    def kek_id(self) -> str: ...

    def wrap(self, dek: bytes, aad: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes: ...


class LocalKek:
    """A KEK held in the keyring: AEAD (its profile) with a fresh nonce per wrap."""

    def __init__(self, kek_id: str, profile: str, key: bytes):
        cipher, size = _profile(profile)
        if len(key) != size:
            raise KeyringError(f"KEK {kek_id} 应为 {size} 字节", f"KEK {kek_id} must be {size} bytes", field="key")
        self.kek_id = kek_id
        self.profile = profile
        self._gcm = GcmKey(cipher, key)  # type: ignore[arg-type]

    def wrap(self, dek: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_SIZE)
        return nonce + self._gcm.seal(nonce, dek, b"huiqi-kek/v1" + _lp(self.kek_id) + aad)

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        return self._gcm.open(wrapped[:NONCE_SIZE], wrapped[NONCE_SIZE:], b"huiqi-kek/v1" + _lp(self.kek_id) + aad)


class Keyring:
    """KEKs by id and the one new data keys are wrapped with.

    File (or ``HUIQI_KEYRING`` holding the same JSON)::

        {"active": "kek-2026", "keks": {"kek-2026": {"profile": "sm4-gcm", "key": "<base64>"}}}
    """

    def __init__(self, keks: Mapping[str, KeyEncryptionKey], active: str):
        if active not in keks:
            raise KeyringError(f"密钥环没有 {active}", f"the keyring has no KEK {active}", field="active")
        self.keks = dict(keks)
        self.active_id = active

    @property
    def active(self) -> KeyEncryptionKey:
        return self.keks[self.active_id]

    def kek(self, kek_id: str) -> KeyEncryptionKey:
        try:
            return self.keks[kek_id]
        except KeyError:
            raise KeyringError(f"密钥环没有 KEK {kek_id}", f"the keyring has no KEK {kek_id}", field="kek_id") from None

    @staticmethod
    def generate(kek_id: str, profile: str = "sm4-gcm") -> dict[str, Any]:
        """A new keyring document with one fresh KEK (write it to a 0600 file)."""
        _, size = _profile(profile)
        return {
            "active": kek_id,
            "keks": {kek_id: {"profile": profile, "key": base64.b64encode(os.urandom(size)).decode()}},
        }

    @classmethod
    def from_dict(cls, data: Any) -> Keyring:
        try:
            keks = {
                str(k): LocalKek(str(k), str(v["profile"]), base64.b64decode(v["key"], validate=True))
                for k, v in dict(data["keks"]).items()
            }
            return cls(keks, str(data["active"]))
        except (KeyError, TypeError, ValueError, binascii.Error) as e:
            raise KeyringError(f"密钥环格式错误：{e}", f"malformed keyring: {e}", field="keyring") from e

    @classmethod
    def load(cls, path: Path) -> Keyring:
        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except FileNotFoundError as e:
            raise KeyringError(f"找不到密钥环 {path}", f"keyring not found: {path}", field="keyring") from e
        except json.JSONDecodeError as e:
            raise KeyringError("密钥环不是有效的 JSON", f"keyring is not valid JSON: {e.msg}", field="keyring") from e

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Keyring:
        env = os.environ if environ is None else environ
        if env.get("HUIQI_KEYRING"):
            try:
                return cls.from_dict(json.loads(env["HUIQI_KEYRING"]))
            except json.JSONDecodeError as e:
                raise KeyringError(
                    "HUIQI_KEYRING 不是有效的 JSON", "HUIQI_KEYRING is not valid JSON", field="HUIQI_KEYRING"
                ) from e
        if env.get("HUIQI_KEYRING_FILE"):
            return cls.load(Path(env["HUIQI_KEYRING_FILE"]))
        raise KeyringError(
            "请设置 HUIQI_KEYRING 或 HUIQI_KEYRING_FILE", "set HUIQI_KEYRING or HUIQI_KEYRING_FILE", field="keyring"
        )


# --- data keys and field ciphers ------------------------------------------------------------


@dataclass(frozen=True)
class DataKey:
    id: int
    scope: str
    version: int
    profile: str
    state: str


class _Dek:
    __slots__ = ("gcm", "id", "key", "profile")

    def __init__(self, id: int, profile: str, key: bytes):
        self.id = id
        self.profile = profile
        self.key = key
        self.gcm = GcmKey(_profile(profile)[0], key)  # type: ignore[arg-type]


class FieldCipher:
    """Encrypts and decrypts one field (``store/table/field``) of any row."""

    def __init__(self, vault: Vault, store: str, table: str, field: str):
        self.vault = vault
        self.scope = f"{store}/{table}/{field}"
        self._prefix = b"huiqi-field/v1" + _lp(store, table, field)
        self._index_key: bytes | None = None

    def _aad(self, row_id: object, dek_id: int) -> bytes:
        return self._prefix + _lp(str(row_id), str(dek_id))

    def encrypt(self, row_id: object, value: str | bytes) -> str:
        """A token for ``value`` in row ``row_id``, under the field's active data key."""
        dek = self.vault._active(self.scope)
        data = value.encode("utf-8") if isinstance(value, str) else value
        nonce = os.urandom(NONCE_SIZE)
        sealed = dek.gcm.seal(nonce, data, self._aad(row_id, dek.id))
        return f"{TOKEN_PREFIX}{dek.id}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def encrypt_many(self, rows: Sequence[tuple[object, str | bytes]]) -> list[str]:
        """Tokens for many ``(row id, value)`` at once: what :meth:`encrypt` gives for each, batched
        (one nonce draw, the data key looked up once, SM4-GCM computed over the whole batch)."""
        dek = self.vault._active(self.scope)
        randomness = os.urandom(NONCE_SIZE * len(rows))
        nonces = [randomness[i : i + NONCE_SIZE] for i in range(0, len(randomness), NONCE_SIZE)]
        tail = _lp1(str(dek.id))
        prefix = self._prefix
        aads = [prefix + _lp1(str(row_id)) + tail for row_id, _ in rows]
        datas = [value.encode("utf-8") if isinstance(value, str) else value for _, value in rows]
        sealed = dek.gcm.seal_many(nonces, datas, aads)
        head, b64 = f"{TOKEN_PREFIX}{dek.id}.", base64.urlsafe_b64encode
        return [head + b64(n + s).decode() for n, s in zip(nonces, sealed, strict=True)]

    def decrypt_bytes(self, row_id: object, token: str) -> bytes:
        dek_id, blob = parse_token(token)
        dek = self.vault._dek(dek_id, self.scope)
        return dek.gcm.open(blob[:NONCE_SIZE], blob[NONCE_SIZE:], self._aad(row_id, dek_id))

    def decrypt(self, row_id: object, token: str) -> str:
        """The text in ``token``, if it was sealed for this field of this row; else :class:`CryptoError`."""
        try:
            return self.decrypt_bytes(row_id, token).decode("utf-8")
        except UnicodeDecodeError as e:
            raise CryptoError("解密结果不是文本", "decrypted value is not text", field="ciphertext") from e

    def decrypt_bytes_many(self, rows: Sequence[tuple[object, str]]) -> list[bytes]:
        """:meth:`decrypt_bytes` of many ``(row id, token)`` at once (tokens may be under different
        data keys, as during a rotation); the first that does not decrypt raises, naming its row."""
        out: list[bytes | None] = [None] * len(rows)
        by_key: dict[int, list[tuple[int, object, bytes]]] = {}
        for i, (row_id, token) in enumerate(rows):
            dek_id, blob = parse_token(token)
            by_key.setdefault(dek_id, []).append((i, row_id, blob))
        for dek_id, items in by_key.items():
            dek = self.vault._dek(dek_id, self.scope)
            tail = _lp1(str(dek_id))
            opened = dek.gcm.open_many(
                [blob[:NONCE_SIZE] for _, _, blob in items],
                [blob[NONCE_SIZE:] for _, _, blob in items],
                [self._prefix + _lp1(str(row_id)) + tail for _, row_id, _ in items],
            )
            for (i, row_id, _), value in zip(items, opened, strict=True):
                if value is None:
                    raise CryptoError(
                        f"第 {row_id} 行的密文无法解密：被篡改、移到了别处或密钥不对",
                        f"row {row_id}: ciphertext does not decrypt: tampered, moved elsewhere or the wrong key",
                        field="ciphertext",
                    )
                out[i] = value
        return out  # type: ignore[return-value]  # every slot filled above

    def decrypt_many(self, rows: Sequence[tuple[object, str]]) -> list[str]:
        """:meth:`decrypt` of many ``(row id, token)`` at once."""
        try:
            return [value.decode("utf-8") for value in self.decrypt_bytes_many(rows)]
        except UnicodeDecodeError as e:
            raise CryptoError("解密结果不是文本", "decrypted value is not text", field="ciphertext") from e

    def blind_index(self, value: str) -> str:
        """HMAC-SM3 of the value under the field's index key: equal values, equal indexes; nothing else leaks."""
        if self._index_key is None:
            self._index_key = self.vault._index_key(self.scope)
        return base64.urlsafe_b64encode(hmac_sm3(self._index_key, value.encode("utf-8"))[:16]).decode().rstrip("=")


def parse_token(token: str) -> tuple[int, bytes]:
    try:
        if not token.startswith(TOKEN_PREFIX):
            raise ValueError("prefix")
        dek_text, _, blob = token[len(TOKEN_PREFIX) :].partition(".")
        data = base64.urlsafe_b64decode(blob.encode("ascii"))
        if len(data) < NONCE_SIZE + 16:
            raise ValueError("short")
        return int(dek_text), data
    except (ValueError, UnicodeEncodeError, binascii.Error) as e:
        raise CryptoError("不是 huiqi 密文", "not a huiqi ciphertext token", field="ciphertext") from e


class Vault:
    """Data keys of one store (database) and the operations on them."""

    def __init__(
        self,
        engine: Engine,
        keyring: Keyring,
        *,
        store: str,
        clock: Clock,
        profile: str = "sm4-gcm",
        log: TransparencyLog | None = None,
        refresh_seconds: float = 1.0,
    ):
        _profile(profile)
        self.engine = engine
        self.keyring = keyring
        self.store = store
        self.clock = clock
        self.profile = profile
        self.log = log
        self.refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._deks: dict[int, _Dek] = {}
        self._active_ids: dict[str, tuple[int, float]] = {}  # scope → (dek id, monotonic time read)

    def field(self, table: str, field: str) -> FieldCipher:
        return FieldCipher(self, self.store, table, field)

    @contextmanager
    def _tx(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
        else:
            with self.engine.begin() as c:
                yield c

    # --- keys -------------------------------------------------------------------------------

    def _wrap_aad(self, dek_id: int, scope: str) -> bytes:
        return _lp(str(dek_id), scope)

    def _unwrap(self, row: Any) -> _Dek:
        if row.wrapped is None:
            raise KeyringError(
                f"数据密钥 {row.id} 已销毁", f"data key {row.id} was retired and destroyed", field="data_key"
            )
        key = self.keyring.kek(row.kek_id).unwrap(bytes(row.wrapped), self._wrap_aad(row.id, row.scope))
        return _Dek(int(row.id), row.profile, key)

    def _dek(self, dek_id: int, scope: str) -> _Dek:
        dek = self._deks.get(dek_id)
        if dek is None:
            with self.engine.connect() as c:
                row = c.execute(sa.select(data_keys).where(data_keys.c.id == dek_id)).first()
            if row is None or row.scope != scope:
                raise CryptoError(
                    "密文的数据密钥不属于此字段", "the ciphertext's data key is not this field's", field="ciphertext"
                )
            dek = self._unwrap(row)
            self._deks[dek_id] = dek
        return dek

    def _active(self, scope: str) -> _Dek:
        cached = self._active_ids.get(scope)
        if cached is not None and time.monotonic() - cached[1] < self.refresh_seconds:
            return self._deks[cached[0]]
        with self._lock:
            with self.engine.connect() as c:
                row = c.execute(
                    sa.select(data_keys).where(data_keys.c.scope == scope, data_keys.c.state == "active")
                ).first()
            if row is None:
                row = self._create(scope)
            dek = self._deks.get(int(row.id)) or self._unwrap(row)
            self._deks[dek.id] = dek
            self._active_ids[scope] = (dek.id, time.monotonic())
            return dek

    def _create(
        self, scope: str, conn: Connection | None = None, *, state: str = "active", profile: str | None = None
    ) -> Any:
        profile = profile or self.profile
        _, size = _profile(profile)
        with self._tx(conn) as c:
            version = (
                int(
                    c.execute(
                        sa.select(sa.func.coalesce(sa.func.max(data_keys.c.version), 0)).where(
                            data_keys.c.scope == scope
                        )
                    ).scalar_one()
                )
                + 1
            )
            dek_id = int(c.execute(sa.select(sa.func.coalesce(sa.func.max(data_keys.c.id), 0))).scalar_one()) + 1
            kek = self.keyring.active
            wrapped = kek.wrap(os.urandom(size), self._wrap_aad(dek_id, scope))
            values = {
                "id": dek_id,
                "scope": scope,
                "version": version,
                "profile": profile,
                "kek_id": kek.kek_id,
                "wrapped": wrapped,
                "state": state,
                "created_at": self.clock.now(),
            }
            c.execute(data_keys.insert().values(**values))
            self._audit(
                c,
                "key.create",
                {"scope": scope, "key": dek_id, "version": version, "profile": profile, "kek": kek.kek_id},
            )
            return c.execute(sa.select(data_keys).where(data_keys.c.id == dek_id)).one()

    def _index_key(self, scope: str) -> bytes:
        index_scope = scope + "#index"
        with self.engine.connect() as c:
            row = c.execute(sa.select(data_keys).where(data_keys.c.scope == index_scope)).first()
        if row is None:
            row = self._create(index_scope, profile="aes-256-gcm")  # 32 random bytes: the HMAC-SM3 key
        return self._unwrap(row).key

    def keys(self, table: str, field: str) -> list[DataKey]:
        scope = f"{self.store}/{table}/{field}"
        with self.engine.connect() as c:
            rows = c.execute(sa.select(data_keys).where(data_keys.c.scope == scope).order_by(data_keys.c.version))
            return [DataKey(int(r.id), r.scope, int(r.version), r.profile, r.state) for r in rows]

    def _audit(self, c: Connection, kind: str, detail: dict[str, Any]) -> None:
        if self.log is not None:
            self.log.append({"type": kind, "time": self.clock.now(), "store": self.store, **detail}, conn=c)

    # --- rotation --------------------------------------------------------------------------

    def rotate(self, table: str, field: str, *, profile: str | None = None) -> DataKey:
        """A new data key for the field; new writes use it at once (other processes within ``refresh_seconds``)."""
        scope = f"{self.store}/{table}/{field}"
        with self.engine.begin() as c:
            c.execute(
                data_keys.update()
                .where(data_keys.c.scope == scope, data_keys.c.state == "active")
                .values(state="retiring")
            )
            row = self._create(scope, c, profile=profile)
            self._audit(c, "key.rotate", {"scope": scope, "key": int(row.id), "version": int(row.version)})
        with self._lock:
            self._active_ids.pop(scope, None)
        return DataKey(int(row.id), row.scope, int(row.version), row.profile, row.state)

    def reencrypt(self, table: sa.Table, id_column: str, field: str, *, batch: int = 1000) -> int:
        """Move every row of ``table`` whose ``field`` uses a retiring key onto the active key.

        Short transactions of ``batch`` rows, in primary-key order; each update is a
        compare-and-set on the old token, so a concurrent writer's newer value is never
        overwritten. Returns the number of rows moved.
        """
        cipher = self.field(table.name, field)
        retiring = [k.id for k in self.keys(table.name, field) if k.state == "retiring"]
        if not retiring:
            return 0
        col, idc = table.c[field], table.c[id_column]
        old = sa.or_(*(col.like(f"{TOKEN_PREFIX}{k}.%") for k in retiring))
        moved, after = 0, None
        while True:
            with self.engine.connect() as c:
                q = sa.select(idc, col).where(old).order_by(idc).limit(batch)
                if after is not None:
                    q = q.where(idc > after)
                rows = c.execute(q).all()
            if not rows:
                break
            plain = cipher.decrypt_bytes_many([(r[0], r[1]) for r in rows])
            fresh = cipher.encrypt_many([(r[0], value) for r, value in zip(rows, plain, strict=True)])
            updates = [{"_id": r[0], "_old": r[1], "_new": new} for r, new in zip(rows, fresh, strict=True)]
            stmt = (
                table.update()
                .where(idc == sa.bindparam("_id"), col == sa.bindparam("_old"))
                .values({field: sa.bindparam("_new")})
            )
            for attempt in range(5):  # the service keeps writing: a busy database is normal, wait and retry
                try:
                    with self.engine.begin() as c:
                        moved += c.execute(stmt, updates).rowcount
                    break
                except sa.exc.OperationalError:
                    if attempt == 4:
                        raise
                    time.sleep(0.05 * 2**attempt)
            after = rows[-1][0]
        with self.engine.begin() as c:
            self._audit(c, "key.reencrypt", {"scope": cipher.scope, "rows": moved, "from": retiring})
        return moved

    def retire(self, table: sa.Table, field: str) -> list[int]:
        """Destroy retiring keys of the field that no row uses any more; refuse while one does."""
        scope = f"{self.store}/{table.name}/{field}"
        retired: list[int] = []
        with self.engine.begin() as c:
            for k in self.keys(table.name, field):
                if k.state != "retiring":
                    continue
                used = c.execute(
                    sa.select(sa.func.count()).select_from(table).where(table.c[field].like(f"{TOKEN_PREFIX}{k.id}.%"))
                ).scalar_one()
                if used:
                    raise KeyringError(
                        f"数据密钥 {k.id} 仍被 {used} 行使用",
                        f"data key {k.id} is still used by {used} rows",
                        field="data_key",
                    )
                c.execute(
                    data_keys.update()
                    .where(data_keys.c.id == k.id)
                    .values(state="retired", wrapped=None, retired_at=self.clock.now())
                )
                self._audit(c, "key.retire", {"scope": scope, "key": k.id})
                retired.append(k.id)
        for k_id in retired:
            self._deks.pop(k_id, None)
        return retired

    def rewrap(self) -> int:
        """KEK rotation: wrap every live data key with the keyring's active KEK (rows untouched)."""
        kek = self.keyring.active
        count = 0
        with self.engine.begin() as c:
            rows = c.execute(
                sa.select(data_keys).where(data_keys.c.wrapped.is_not(None), data_keys.c.kek_id != kek.kek_id)
            ).all()
            for row in rows:
                key = self.keyring.kek(row.kek_id).unwrap(bytes(row.wrapped), self._wrap_aad(row.id, row.scope))
                c.execute(
                    data_keys.update()
                    .where(data_keys.c.id == row.id)
                    .values(wrapped=kek.wrap(key, self._wrap_aad(row.id, row.scope)), kek_id=kek.kek_id)
                )
                count += 1
            self._audit(c, "key.rewrap", {"kek": kek.kek_id, "keys": count})
        return count
