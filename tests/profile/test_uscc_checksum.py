"""The 统一社会信用代码 check character is the standard's (the same as python-stdnum's)."""

from __future__ import annotations

import random

from stdnum.cn import uscc as stdnum_uscc

from huiqi.profile import uscc


def test_check_character_agrees_with_stdnum() -> None:
    rng = random.Random(17)
    for _ in range(2000):
        body = rng.choice("123456789ANY") + rng.choice("0123456789") + "".join(rng.choices("0123456789", k=6))
        body += "".join(rng.choices(uscc.ALPHABET, k=9))
        assert uscc.check_character(body) == stdnum_uscc.calc_check_digit(body)


def test_codes_typed_with_spaces_dashes_and_lower_case_are_cleaned_as_stdnum_does() -> None:
    for typed in ["91339903ma2k7q3b37", "9133 9903 MA2K 7Q3B 37", "91339903-MA2K7Q3B37", " 91339903MA2K7Q3B37 "]:
        assert uscc.compact(typed) == stdnum_uscc.compact(typed)
        assert uscc.normalize(typed) == "91339903MA2K7Q3B37"
