"""Arrow arrays from numpy and Python values without ``pyarrow.array``.

``pyarrow.array`` (and ``Array.to_numpy``, and compute functions given Python scalars) import
pandas when it is installed, to check whether the input is a pandas object: 0.4–0.6 s of a
batch run that never uses pandas. The batch writers build their arrays from buffers instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Context, Decimal
from typing import Any


def from_numpy(values: Any, arrow_type: Any) -> Any:
    """A fixed-width numpy array (no NULLs) as an Arrow array of ``arrow_type`` (same width)."""
    import numpy as np
    import pyarrow as pa

    values = np.ascontiguousarray(values)
    return pa.Array.from_buffers(arrow_type, len(values), [None, pa.py_buffer(values)])


def bools(mask: Any) -> Any:
    """A numpy boolean array as an Arrow boolean array."""
    import numpy as np
    import pyarrow as pa

    bits = np.packbits(np.asarray(mask, dtype=bool), bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), len(mask), [None, pa.py_buffer(bits)])


def to_numpy(array: Any, dtype: Any) -> Any:
    """The values of a fixed-width Arrow array without NULLs, as numpy (no copy)."""
    import numpy as np

    itemsize = np.dtype(dtype).itemsize
    return np.frombuffer(array.buffers()[1], dtype=dtype, count=len(array), offset=array.offset * itemsize)


def strings(values: Sequence[str]) -> Any:
    """Python strings as an Arrow string array."""
    import numpy as np
    import pyarrow as pa

    data = [v.encode() for v in values]
    offsets = np.zeros(len(data) + 1, dtype=np.int32)
    np.cumsum([len(d) for d in data], out=offsets[1:])
    return pa.Array.from_buffers(pa.string(), len(data), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))])


def subsets(names: Sequence[str], bits: Sequence[int]) -> tuple[Any, Any]:
    """Every subset of ``names`` (2^k of them, in the order of the k-bit number whose bit i
    selects ``names[i]``): ``(masks, lists)`` — numpy int64 masks (the sum of the chosen names'
    ``bits``) and an Arrow ``LIST<VARCHAR>`` of the chosen names, in order, without a Python
    loop over the subsets."""
    import numpy as np
    import pyarrow as pa

    k = len(names)
    combos = np.arange(1 << k, dtype=np.int64)
    chosen = (combos[:, None] >> np.arange(k, dtype=np.int64)) & 1  # (2^k, k): 1 where name i is in
    masks = chosen @ np.asarray(bits, dtype=np.int64) if k else np.zeros(1, dtype=np.int64)
    offsets = np.zeros(len(combos) + 1, dtype=np.int32)
    np.cumsum(chosen.sum(axis=1), out=offsets[1:])
    which = np.nonzero(chosen.ravel())[0] % max(k, 1)
    values = strings(list(names)).take(from_numpy(which.astype(np.int32), pa.int32()))
    return masks, pa.ListArray.from_arrays(from_numpy(offsets, pa.int32()), values)


#: Enough digits for any DECIMAL128 (the default context rounds to 28).
_EXACT = Context(prec=80)


def int64s(values: Sequence[int]) -> Any:
    import numpy as np
    import pyarrow as pa

    return from_numpy(np.array(values, dtype=np.int64), pa.int64())


def decimals(values: Sequence[Decimal | None], precision: int, scale: int) -> Any:
    """Decimals with at most ``scale`` places (None: NULL) as an Arrow DECIMAL128 array."""
    import numpy as np
    import pyarrow as pa

    words = np.zeros((len(values), 2), dtype=np.uint64)  # 128-bit two's complement, little-endian
    for row, value in enumerate(values):
        if value is not None:
            n = int(value.scaleb(scale, _EXACT)) & ((1 << 128) - 1)
            words[row] = (n & 0xFFFF_FFFF_FFFF_FFFF, n >> 64)
    valid = np.packbits(np.array([v is not None for v in values], dtype=bool), bitorder="little")
    arrow_type = pa.decimal128(precision, scale)
    return pa.Array.from_buffers(arrow_type, len(values), [pa.py_buffer(valid), pa.py_buffer(words)])
