"""Where the policy library is read from (no dependencies: ``huiqi match`` finds its cache
entry before anything heavy is imported)."""

from __future__ import annotations

import os
from pathlib import Path


def default_library_path() -> Path:
    """HUIQI_POLICIES, else the library shipped in the wheel, else the repository's policies/."""
    env = os.environ.get("HUIQI_POLICIES")
    if env:
        return Path(env)
    bundled = Path(__file__).resolve().parent.parent / "_policies"
    if bundled.is_dir():
        return bundled
    return Path(__file__).resolve().parents[3] / "policies"
