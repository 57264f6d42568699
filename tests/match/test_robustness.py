"""No input, however odd, gets anything but an answer or a ProfileError naming fields."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from huiqi.match import answer, default_library
from huiqi.profile import FIELDS, ProfileError

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8,
)
plausible = st.sampled_from(
    [
        "C3911",
        "F52",
        "2020-02-29",
        "2024-13-01",
        "1e400",
        "-1",
        "0.005",
        "NaN",
        "91110000600037341L",
        "small_scale",
        "A",
    ]
)
keys = st.sampled_from([*FIELDS, "unknown_field", ""])


@given(st.dictionaries(keys, json_values | plausible, max_size=8))
def test_any_json_object_gets_an_answer_or_a_field_error(data: dict) -> None:
    try:
        result = answer(data, dt.date(2026, 6, 30), default_library())
    except ProfileError as e:
        assert e.problems and all(p.message_zh and p.message_en for p in e.problems)
        return
    assert {r["verdict"] for r in result["results"]} <= {"eligible", "ineligible", "undetermined"}
