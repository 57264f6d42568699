"""Arrow arrays built from buffers (huiqi.batch.arrowbits) hold what pa.array would."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa

from huiqi.batch import arrowbits


def test_strings_and_numbers_hold_their_values() -> None:
    assert arrowbits.strings(["可享受", "", "eligible"]).to_pylist() == ["可享受", "", "eligible"]
    assert arrowbits.int64s([0, -3, 2**40]).to_pylist() == [0, -3, 2**40]
    values = [Decimal("12.34"), None, Decimal("-0.05"), Decimal("99999999999999999999999999999999999.99")]
    assert arrowbits.decimals(values, 38, 2).to_pylist() == values
    sliced = arrowbits.from_numpy(np.arange(10, dtype=np.int32), pa.int32()).slice(3, 4)
    assert arrowbits.to_numpy(sliced, np.int32).tolist() == [3, 4, 5, 6]
    assert arrowbits.bools(np.array([True, False, True])).to_pylist() == [True, False, True]


def test_subsets_are_every_combination_in_name_order() -> None:
    names, bits = ["region", "revenue", "credit_rating"], [4, 256, 32768]
    masks, lists = arrowbits.subsets(names, bits)
    expected = {
        sum(b for i, b in enumerate(bits) if combo >> i & 1): [n for i, n in enumerate(names) if combo >> i & 1]
        for combo in range(8)
    }
    assert dict(zip(masks.tolist(), lists.to_pylist(), strict=True)) == expected
    empty_masks, empty_lists = arrowbits.subsets([], [])
    assert empty_masks.tolist() == [0] and empty_lists.to_pylist() == [[]]


def test_a_batch_run_does_not_import_pandas(tmp_path: Path) -> None:
    """pa.array imports pandas when it is installed (0.4–0.6 s of every run)."""
    from huiqi.batch.registry import generate_registry

    registry = tmp_path / "registry.parquet"
    generate_registry(2_000, 3, registry)
    script = f"""
import datetime as dt, sys
from pathlib import Path
from huiqi.batch.run import run_batch
from huiqi.rules import load_library
library = load_library(Path("policies"))
for n, summary_only in enumerate((True, False)):
    run_batch(library, Path({str(registry)!r}), dt.date(2026, 6, 30), Path({str(tmp_path)!r}) / f"run{{n}}",
              summary_only=summary_only)
print("pandas" in sys.modules)
"""
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True, cwd=root)
    assert out.stdout.strip() == "False"
