"""Fixtures for the web tests: the app in-process (TestClient) and a real server (uvicorn)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from huiqi.clock import FixedClock
from huiqi.match import default_library
from huiqi.rules import Library, StaticSource
from huiqi.web import create_app
from tests.builders import dump, policy_yaml
from tests.conftest import TEST_NOW

ROOT = Path(__file__).resolve().parents[2]
AS_OF = "2026-06-30"


def example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "examples" / f"{name}.json").read_text(encoding="utf-8"))
    return data


VARIABLES = """
variables:
  industry_section:
    label: 行业门类
    expr: CASE WHEN industry IS NULL THEN NULL ELSE substr(industry, 1, 1) END
"""


def policy(pid: str, when: list[str], *, region: str = "000000", category: str = "subsidy", **extra: str) -> str:
    """A test policy's YAML text (tests.builders), with the options the catalogue tests vary."""
    doc = policy_yaml(
        when,
        label_suffix="号",
        id=pid,
        title=extra.get("title", "测试政策 " + pid),
        document_number="测试〔2025〕1号",
        source_url="https://example.org/doc",
        region=region,
        valid_from=extra.get("valid_from", "2025-01-01"),
        category=category,
        tags=[t.strip() for t in extra.get("tags", "测试").split(",")],
        sample=pid.startswith("lj."),
        summary=extra.get("summary", "这是一项用于测试筛选的政策。"),
        apply={"mode": "申报享受", "channel": "网上办", "office": "测试局", "deadline": "随时", "contact": "12345"},
    )
    if "valid_to" in extra:
        doc["valid_to"] = extra["valid_to"]
    return dump(doc)


@pytest.fixture(scope="session")
def library() -> Library:
    return default_library()


@pytest.fixture(scope="session")
def client(library: Library) -> Iterator[TestClient]:
    with TestClient(create_app(StaticSource(library), clock=FixedClock(TEST_NOW))) as c:
        yield c


@contextlib.contextmanager
def serving(log_path: Path, *extra: str) -> Iterator[str]:
    """``huiqi serve`` as a user starts it, on a free loopback port; yields its base URL."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", HUIQI_NOW=TEST_NOW.isoformat())
    with log_path.open("w", encoding="utf-8") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "huiqi.cli", "serve", "--host", "127.0.0.1", "--port", "0", *extra],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + 60
        base = None
        while True:
            text = log_path.read_text(encoding="utf-8")
            found = re.search(r"^惠企已启动：(http://127\.0\.0\.1:\d+)$", text, re.M)
            if base is None and found:
                base = found.group(1)
            if base is not None:
                try:
                    if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"huiqi serve did not come up:\n{text}")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        errors = log_path.read_text(encoding="utf-8")
        assert "Traceback" not in errors, f"the server logged an error:\n{errors}"


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The calculator on the shipped policy files."""
    with serving(tmp_path_factory.mktemp("server") / "serve.log") as base:
        yield base
