"""Entry bytes are RFC 8785 as the ``rfc8785`` package writes them, whichever path produced them."""

from __future__ import annotations

import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from huiqi.trust.entries import canonical_entry

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(st.text(), json_values, max_size=6))
def test_entry_bytes_equal_the_rfc8785_reference(extra: dict[str, object]) -> None:
    entry = {**extra, "type": "cert.issue", "time": "2026-12-01T09:00:00Z"}
    assert canonical_entry(entry)[0] == rfc8785.dumps(entry)


def test_keys_beyond_the_basic_plane_sort_as_utf16() -> None:
    entry = {"type": "cert.issue", "time": "2026-12-01T09:00:00Z", "\U0001f600": 1, "\ufb01": 2}
    data = canonical_entry(entry)[0]
    assert data == rfc8785.dumps(entry)
    assert data.index("\U0001f600".encode()) < data.index("\ufb01".encode())  # UTF-16: D83D < FB01
