"""统一社会信用代码 (GB 32100-2015).

python-stdnum's ``validate`` demands eight leading digits and so rejects real codes whose
registration-authority character is a letter (``A`` 中央军委改革和编制办公室, ``N`` 农业,
``Y`` 其他). The format check below follows the standard's own table, and so does the
checksum (the same as stdnum's: tests/profile compare them). stdnum is imported only to
clean up a code typed with spaces, dashes and the like (it costs ~50 ms to import).
"""

from __future__ import annotations

from huiqi.errors import InputError

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
#: GB 32100-2015 §5: the weight of each of the first 17 characters (3**i mod 31).
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
#: GB 32100-2015 表1 登记管理部门代码
REGISTRATION_AUTHORITIES = "123456789ANY"


class InvalidUSCC(InputError):
    """Raised with a bilingual reason."""


def check_character(first17: str) -> str:
    """The 18th character for the first 17 (GB 32100-2015 §5)."""
    total = sum(ALPHABET.index(c) * w for c, w in zip(compact(first17), WEIGHTS, strict=False))
    return ALPHABET[(31 - total) % 31]


def compact(code: str) -> str:
    """Upper case, without the spaces and dashes people type (stdnum's ``compact``)."""
    if code.isascii() and code.isalnum():
        return code.upper()
    from stdnum.cn import uscc as _stdnum_uscc

    return str(_stdnum_uscc.compact(code))


def normalize(code: str) -> str:
    """Validate and return the canonical (upper-case, no spaces) form, or raise InvalidUSCC."""
    c = compact(code)
    if len(c) != 18:
        raise InvalidUSCC(f"应为18位，实际{len(c)}位 / must be 18 characters, got {len(c)}")
    if c[0] not in REGISTRATION_AUTHORITIES:
        raise InvalidUSCC(f"第1位登记管理部门代码“{c[0]}”无效 / invalid registration authority '{c[0]}'")
    if not c[1].isdigit():
        raise InvalidUSCC(f"第2位机构类别代码“{c[1]}”无效 / invalid entity type '{c[1]}'")
    if not c[2:8].isdigit():
        raise InvalidUSCC("第3–8位应为行政区划码（数字） / characters 3-8 must be a region code")
    bad = [ch for ch in c[8:] if ch not in ALPHABET]
    if bad:
        raise InvalidUSCC(f"含有不允许的字符“{bad[0]}”（不使用I、O、Z、S、V） / character '{bad[0]}' is not allowed")
    expected = check_character(c[:17])
    if c[17] != expected:
        raise InvalidUSCC(f"校验码错误：应为“{expected}”，实际“{c[17]}” / check character should be '{expected}'")
    return c


def is_valid(code: str) -> bool:
    try:
        normalize(code)
    except InvalidUSCC:
        return False
    return True
