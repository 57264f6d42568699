"""mTLS: only a current, unrevoked certificate of the platform CA gets through."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from huiqi.clock import FixedClock
from huiqi.trust.errors import CertificateError
from huiqi.trust.tls import CertificateAuthority, identity_of, mtls_client, reload_crl, server_context
from tests.conftest import TEST_NOW

WIDE = dt.timedelta(days=20 * 365)  # OpenSSL checks validity against the machine's clock


@pytest.fixture
def ca() -> CertificateAuthority:
    return CertificateAuthority.create(
        clock=FixedClock(TEST_NOW), not_before=TEST_NOW - WIDE, not_after=TEST_NOW + WIDE
    )


def issue(ca: CertificateAuthority, tmp: Path, member: str, system: str, **kw: dt.datetime) -> tuple[Path, Path]:
    kw.setdefault("not_before", TEST_NOW - WIDE)
    kw.setdefault("not_after", TEST_NOW + WIDE)
    return ca.issue(member, system, **kw).write(tmp, f"{member}-{system}")


@pytest.fixture
def server(ca: CertificateAuthority, tmp_path: Path) -> Iterator[tuple[str, ssl.SSLContext]]:
    app = FastAPI()

    @app.get("/")
    def hello() -> dict[str, str]:
        return {"ok": "yes"}

    cert, key = issue(ca, tmp_path, "samr", "register")
    (tmp_path / "crl.pem").write_bytes(ca.crl(lifetime=WIDE))
    ctx = server_context(cert, key, ca.cert_pem, crl=tmp_path / "crl.pem")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error")
    config.load()
    config.ssl = ctx
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.02)
    yield f"https://127.0.0.1:{port}/", ctx
    srv.should_exit = True
    thread.join(timeout=10)


def get(url: str, client: httpx.Client) -> int:
    with client:
        return client.get(url).status_code


def test_a_current_certificate_of_the_platform_ca_is_accepted(server, ca, tmp_path) -> None:  # type: ignore[no-untyped-def]
    url, _ = server
    cert, key = issue(ca, tmp_path, "tax", "gateway")
    assert get(url, mtls_client(cert, key, ca.cert_pem)) == 200


def test_no_certificate_another_ca_expired_or_revoked_is_refused(server, ca, tmp_path) -> None:  # type: ignore[no-untyped-def]
    url, ctx = server
    with pytest.raises(httpx.HTTPError):
        get(url, httpx.Client(verify=ssl.create_default_context(cadata=ca.cert_pem.decode())))
    other = CertificateAuthority.create(
        clock=FixedClock(TEST_NOW), not_before=TEST_NOW - WIDE, not_after=TEST_NOW + WIDE
    )
    cert, key = issue(other, tmp_path, "tax", "gateway")
    with pytest.raises(httpx.HTTPError):
        get(url, mtls_client(cert, key, ca.cert_pem))
    cert, key = issue(ca, tmp_path, "hrss", "old", not_before=TEST_NOW - WIDE, not_after=TEST_NOW - WIDE / 2)
    with pytest.raises(httpx.HTTPError):
        get(url, mtls_client(cert, key, ca.cert_pem))

    issued = ca.issue("nhc", "clinic", not_before=TEST_NOW - WIDE, not_after=TEST_NOW + WIDE)
    cert, key = issued.write(tmp_path, "nhc")
    assert get(url, mtls_client(cert, key, ca.cert_pem)) == 200
    ca.clock.advance(seconds=5)  # type: ignore[attr-defined]
    ca.revoke(issued.serial)
    # A running server picks up the new CRL on the next handshake, without a restart.
    reload_crl(ctx, ca.crl(lifetime=WIDE))
    with pytest.raises(httpx.HTTPError):
        get(url, mtls_client(cert, key, ca.cert_pem))


def test_identity_comes_from_the_certificate(ca, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from cryptography import x509

    issued = ca.issue("mps", "population-register", not_before=TEST_NOW - WIDE, not_after=TEST_NOW + WIDE)
    who = identity_of(x509.load_pem_x509_certificate(issued.cert_pem))
    assert (who.member, who.system) == ("mps", "population-register")
    with pytest.raises(CertificateError):
        ca.issue("police", "x")
    with pytest.raises(CertificateError):
        ca.issue("mps", "x", not_after=TEST_NOW + 2 * WIDE)


def test_ca_round_trips_through_its_directory_with_revocations(ca, tmp_path) -> None:  # type: ignore[no-untyped-def]
    issued = ca.issue("fin", "payments", not_before=TEST_NOW - WIDE, not_after=TEST_NOW + WIDE)
    ca.revoke(issued.serial)
    ca.save(tmp_path / "ca")
    again = CertificateAuthority.load(tmp_path / "ca", clock=FixedClock(TEST_NOW))
    assert again.cert == ca.cert and issued.serial in again.revoked
    assert oct((tmp_path / "ca" / "ca-key.pem").stat().st_mode & 0o777) == "0o600"
