"""The conformance gate: every transparency-dev/merkle case verifies or is rejected as ``wantErr`` says."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from huiqi.trust.errors import ProofError
from huiqi.trust.verify import verify_consistency, verify_inclusion
from tests.trust.vectors import VECTORS as SHARED

VECTORS = SHARED / "merkle"

INCLUSION = sorted((VECTORS / "inclusion").rglob("*.json"))
CONSISTENCY = sorted((VECTORS / "consistency").rglob("*.json"))


def b64(s: str) -> bytes:
    return base64.b64decode(s)


def test_the_suite_is_complete() -> None:
    assert len(INCLUSION) == 98
    assert len(CONSISTENCY) == 98


@pytest.mark.parametrize("path", INCLUSION, ids=lambda p: str(p.relative_to(VECTORS)))
def test_inclusion_vector(path: Path) -> None:
    case = json.loads(path.read_text())
    proof = [b64(p) for p in case["proof"] or []]

    def run() -> None:
        verify_inclusion(case["leafIdx"], case["treeSize"], b64(case["leafHash"]), proof, b64(case["root"]))

    if case["wantErr"]:
        with pytest.raises(ProofError):
            run()
    else:
        run()


@pytest.mark.parametrize("path", CONSISTENCY, ids=lambda p: str(p.relative_to(VECTORS)))
def test_consistency_vector(path: Path) -> None:
    case = json.loads(path.read_text())
    proof = [b64(p) for p in case["proof"] or []]

    def run() -> None:
        verify_consistency(case["size1"], case["size2"], proof, b64(case["root1"]), b64(case["root2"]))

    if case["wantErr"]:
        with pytest.raises(ProofError):
            run()
    else:
        run()
