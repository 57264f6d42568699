"""证照标识: ``1.2.156.3005.2.<证照类型代码>.<颁发机构 USCC>.<流水号>.<版本号>.<校验位>`` (ARCHITECTURE.md contract).

The check character is ISO 7064 MOD 37,36 (python-stdnum) over the four middle fields
written one after another without the dots; the issuer's 统一社会信用代码 must itself pass
its GB 32100-2015 check. A version is three digits: ``001`` for the first issue, one more
for every change (变更), so each version of a licence has its own identifier.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from stdnum.iso7064 import mod_37_36

from huiqi.certs.errors import IdentifierError
from huiqi.profile.uscc import InvalidUSCC, normalize

#: The OID arc of 电子证照 identifiers.
PREFIX = "1.2.156.3005.2"
_TYPE = re.compile(r"^[0-9A-Z]{2,32}$")
_SERIAL = re.compile(r"^[0-9A-Z]{1,32}$")
_VERSION = re.compile(r"^\d{3}$")


@functools.lru_cache(maxsize=4096)
def _issuer(code: str) -> str:
    """The normalised issuer USCC (cached: a handful of departments issue everything)."""
    return normalize(code)


@functools.lru_cache(maxsize=65536)
def check_character(type_code: str, issuer: str, serial: str, version: str) -> str:
    """The MOD 37,36 check character over the four middle fields."""
    return str(mod_37_36.calc_check_digit(type_code + issuer + serial + version))


@dataclass(frozen=True, order=True)
class LicenceId:
    """One version of one licence. ``str()`` is the full 证照标识."""

    type_code: str
    issuer: str  # 颁发机构 USCC
    serial: str
    version: int

    def __post_init__(self) -> None:
        if not _TYPE.match(self.type_code):
            raise IdentifierError(
                f"证照类型代码应为 2–32 位大写字母或数字：{self.type_code!r}",
                f"licence type code must be 2-32 upper-case letters or digits: {self.type_code!r}",
                field="id.type_code",
            )
        try:
            canonical_issuer = _issuer(self.issuer)
        except InvalidUSCC as e:
            raise IdentifierError(
                f"颁发机构统一社会信用代码无效：{e.message.zh}",
                f"issuer USCC is invalid: {e.message.en}",
                field="id.issuer",
            ) from e
        if self.issuer != canonical_issuer:
            raise IdentifierError("颁发机构代码须为大写", "the issuer USCC must be upper case", field="id.issuer")
        if not _SERIAL.match(self.serial):
            raise IdentifierError(
                f"流水号应为 1–32 位大写字母或数字：{self.serial!r}",
                f"serial must be 1-32 upper-case letters or digits: {self.serial!r}",
                field="id.serial",
            )
        if not 1 <= self.version <= 999:
            raise IdentifierError(
                f"版本号应在 001 到 999 之间：{self.version}",
                f"version must lie between 001 and 999: {self.version}",
                field="id.version",
            )

    @property
    def check(self) -> str:
        return check_character(self.type_code, self.issuer, self.serial, f"{self.version:03d}")

    @property
    def licence(self) -> str:
        """The identifier without version and check: the same for every version of one licence."""
        return f"{PREFIX}.{self.type_code}.{self.issuer}.{self.serial}"

    def next_version(self) -> LicenceId:
        return LicenceId(self.type_code, self.issuer, self.serial, self.version + 1)

    @functools.cached_property
    def _text(self) -> str:
        return f"{self.licence}.{self.version:03d}.{self.check}"

    def __str__(self) -> str:
        return self._text


def parse_licence_id(text: str) -> LicenceId:
    """The :class:`LicenceId` written in ``text``, or :class:`IdentifierError` saying what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise IdentifierError("证照标识不能为空", "the licence identifier is empty")
    value = text.strip().upper()
    if not value.startswith(PREFIX + "."):
        raise IdentifierError(
            f"证照标识应以 {PREFIX}. 开头：{text!r}", f"a licence identifier starts with {PREFIX}.: {text!r}"
        )
    parts = value[len(PREFIX) + 1 :].split(".")
    if len(parts) != 5:
        raise IdentifierError(
            f"证照标识应为 {PREFIX}.类型代码.颁发机构代码.流水号.版本号.校验位，共五段，实际 {len(parts)} 段",
            f"expected {PREFIX}.type.issuer.serial.version.check (five fields after the prefix), got {len(parts)}",
        )
    type_code, issuer, serial, version, check = parts
    if not _VERSION.match(version):
        raise IdentifierError(
            f"版本号应为三位数字：{version!r}", f"version must be three digits: {version!r}", field="id.version"
        )
    lid = LicenceId(type_code, issuer, serial, int(version))
    if check != lid.check:
        raise IdentifierError(
            f"校验位错误：应为“{lid.check}”，实际“{check}”（标识抄错或被篡改）",
            f"wrong check character: expected '{lid.check}', got '{check}' (mistyped or altered)",
            field="id.check",
        )
    return lid
