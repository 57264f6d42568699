"""Where the shared conformance vectors are: ``HUIQI_VECTORS`` or ``../shared/vectors`` beside the repository."""

from __future__ import annotations

import os
from pathlib import Path

VECTORS = Path(os.environ.get("HUIQI_VECTORS") or Path(__file__).resolve().parents[3] / "shared" / "vectors")
if not VECTORS.is_dir():
    raise RuntimeError(f"conformance vectors not found at {VECTORS}; set HUIQI_VECTORS")
