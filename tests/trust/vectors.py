"""Where the conformance vectors are: ``HUIQI_VECTORS``, else the copy in tests/vectors.

The copy is the data of ``shared/vectors`` (sources and licences in tests/vectors/README.md),
kept in the repository so that a clean clone runs the gates without anything beside it.
"""

import os
from pathlib import Path

VECTORS = Path(os.environ.get("HUIQI_VECTORS") or Path(__file__).resolve().parents[1] / "vectors")
