"""``huiqi serve`` as a command: address on start, clear failures."""

from __future__ import annotations

import socket
import subprocess
import sys

import httpx

from .conftest import ROOT


def huiqi(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "huiqi.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
    )


def test_serve_prints_its_address_and_answers(server: str) -> None:
    assert server.startswith("http://127.0.0.1:")
    assert httpx.get(server + "/api/v1/health").json()["status"] == "ok"
    page = httpx.get(server + "/")
    assert page.status_code == 200 and "政策计算器" in page.text


def test_serve_help_lists_the_options() -> None:
    run = huiqi("serve", "--help")
    assert run.returncode == 0
    for option in ("--host", "--port", "--db"):
        assert option in run.stdout


def test_serve_with_a_bad_database_url_fails_in_words() -> None:
    run = huiqi("serve", "--db", "nosuchdriver://nowhere", "--port", "0")
    assert run.returncode != 0
    assert "数据库" in run.stderr and "Traceback" not in run.stderr


def test_serve_on_a_taken_port_fails_in_words() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        run = huiqi("serve", "--port", str(port))
    assert run.returncode != 0
    assert f"无法监听 127.0.0.1:{port}" in run.stderr
