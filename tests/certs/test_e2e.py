"""Done-when of issue 14, in Debian's Chromium: a 营业执照 issued by ``huiqi cert issue`` verifies on the
public page reached from its QR code (decoded from the image, as a phone would), and after 注销 the same
page says 已注销 with the date. Department witnesses run as HTTP services; the server is ``huiqi serve``.
"""

from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine
from typer.testing import CliRunner

from huiqi.cli.main import app
from huiqi.clock import FixedClock
from huiqi.trust.note import generate_signer
from huiqi.trust.policy import TrustPolicy, WitnessInfo
from huiqi.trust.witness import Witness, witness_app
from tests.certs.conftest import BUSINESS, ORIGINS
from tests.conftest import TEST_NOW

pytestmark = pytest.mark.slow

if os.environ.get("HUIQI_SKIP_BROWSER") == "1":
    pytest.skip("HUIQI_SKIP_BROWSER=1: browser tests skipped on purpose", allow_module_level=True)

import uvicorn  # noqa: E402
import zxingcpp  # noqa: E402
from PIL import Image  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def decode_qr(png: bytes) -> str:
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))
    assert found, "no QR code in the image"
    return str(found[0].text)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Three department witnesses on loopback, keys, a trust policy, and ``huiqi serve``."""
    root = tmp_path_factory.mktemp("certs-e2e")
    clock = FixedClock(TEST_NOW)
    log_key = generate_signer(ORIGINS[1])
    servers, infos = [], []
    for member in ("samr", "tax", "hrss"):
        key = generate_signer(f"witness.linjiang.example/{member}", "cosignature", clock=clock)
        witness = Witness(
            create_engine(f"sqlite:///{root / f'{member}.db'}"),
            key,
            {o: [log_key.verifier] for o in ORIGINS},
            clock=clock,
        )
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(witness_app(witness), host="127.0.0.1", port=port, log_level="warning"))
        threading.Thread(target=server.run, daemon=True).start()
        servers.append(server)
        infos.append(WitnessInfo(member, key.verifier, f"http://127.0.0.1:{port}", member))
    TrustPolicy({o: (log_key.verifier,) for o in ORIGINS}, tuple(infos), 2).save(root / "policy.json")
    port = free_port()
    env = {
        "HUIQI_DB": f"sqlite:///{root / 'huiqi.db'}",
        "HUIQI_TRUST_POLICY": str(root / "policy.json"),
        "HUIQI_CERT_KEYS": str(root / "keys"),
        "HUIQI_LOG_KEY": log_key.skey,  # type: ignore[attr-defined]
        "HUIQI_NOW": TEST_NOW.isoformat(),
        "HUIQI_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "ROOT": str(root),
    }
    for server in servers:
        while not server.started:
            time.sleep(0.05)
    log = (root / "serve.log").open("w", encoding="utf-8")
    # The server verifies only: it gets the trust policy, not the department keys nor the log key.
    serve_env = {k: v for k, v in {**os.environ, **env}.items() if k not in ("HUIQI_CERT_KEYS", "HUIQI_LOG_KEY")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "huiqi.cli", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**serve_env, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{env['HUIQI_PUBLIC_URL']}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError((root / "serve.log").read_text(encoding="utf-8"))
            time.sleep(0.1)
        yield env
    finally:
        proc.terminate()
        proc.wait(10)
        for server in servers:
            server.should_exit = True


def cli(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return str(result.output)


def test_a_business_licence_verifies_from_its_qr_code_and_then_shows_cancelled(platform: dict[str, str]) -> None:
    root = Path(platform["ROOT"])
    cli(platform, "cert", "keys", "generate", "--out", platform["HUIQI_CERT_KEYS"])
    cli(platform, "cert", "keys", "register")
    (root / "subject.json").write_text(json.dumps(BUSINESS, ensure_ascii=False), encoding="utf-8")
    out = cli(platform, "cert", "issue", str(root / "subject.json"), "--type", "YYZZ", "--qr", str(root / "qr.png"))
    lid = out.splitlines()[0]
    assert "提示" not in out  # the witnesses cosigned: the package carries its log proof
    url = decode_qr((root / "qr.png").read_bytes())
    assert url.startswith(f"{platform['HUIQI_PUBLIC_URL']}/certs/v/{lid}?k=")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-chromium.sh (or set HUIQI_SKIP_BROWSER=1)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 375, "height": 812}, locale="zh-CN")
        blocked: list[str] = []  # anything the Content-Security-Policy blocks is a bug
        page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
        # The licence as shown on screen carries the same QR code.
        token = url.split("k=", 1)[1]
        page.goto(f"{platform['HUIQI_PUBLIC_URL']}/certs/{lid}/licence?k={token}")
        assert page.locator("h1").inner_text() == "营业执照"
        assert decode_qr(page.locator("#qr").screenshot()) == url
        page.goto(url)
        verdict = page.locator(".cert-verdict")
        assert verdict.inner_text() == "有效"
        assert "临江市青禾餐饮有限公司" in page.locator(".cert-result").inner_text()
        assert "联署" in page.locator(".cert-checks").inner_text()
        page.screenshot(path=str(root / "valid.png"), full_page=True)
        cli(platform, "cert", "revoke", lid, "--reason", "企业申请注销登记")
        page.goto(url)
        assert page.locator(".cert-verdict").inner_text() == "已注销"
        assert page.locator(".cert-event-date").inner_text() == "2026-12-01"
        assert re.search(r"已于 2026-12-01 注销", page.locator(".cert-reasons").inner_text())
        page.screenshot(path=str(root / "cancelled.png"), full_page=True)
        keep = os.environ.get("HUIQI_SCREENSHOTS")
        if keep:
            for name in ("valid.png", "cancelled.png"):
                Path(keep, f"certs-{name}").write_bytes((root / name).read_bytes())
        browser.close()
        assert not blocked, blocked
