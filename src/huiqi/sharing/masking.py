"""Masking: release only the part of a value a purpose needs (数据脱敏, GB/T 35273 §9.4).

``110101199003071234`` → ``110101********1234`` (region and last four kept, birth date
hidden), ``张三丰`` → ``张**``, an address keeps its city and district. A masked value is
marked as such in the answer, so no one mistakes it for the full one.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_DISTRICT = re.compile(r"^(.*?[市州盟].*?[区县旗])")


def mask_id_number(value: str) -> str:
    return value[:6] + "*" * (len(value) - 10) + value[-4:] if len(value) > 10 else "*" * len(value)


def mask_name(value: str) -> str:
    return value[:1] + "*" * max(1, len(value) - 1)


def mask_address(value: str) -> str:
    found = _DISTRICT.match(value)
    return (found.group(1) if found else value[:3]) + "****"


MASKS: dict[str, Callable[[str], str]] = {
    "id_number": mask_id_number,
    "name": mask_name,
    "address": mask_address,
}


def apply_mask(rule: str, value: object) -> object:
    if value is None:
        return None
    return MASKS[rule](str(value))
