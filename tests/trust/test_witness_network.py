"""Five department witnesses as separate processes (``huiqi witness serve``) over mTLS on loopback.

The log gathers a quorum of cosignatures; then a forked log presents a conflicting
checkpoint of the same origin and key, and every witness refuses it and raises an alert.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from huiqi.clock import FixedClock
from huiqi.trust.cosign import Cosigner, fetch_latest
from huiqi.trust.errors import QuorumError
from huiqi.trust.log import TransparencyLog
from huiqi.trust.note import generate_signer
from huiqi.trust.tls import CertificateAuthority, mtls_client
from tests.conftest import TEST_NOW
from tests.trust.helpers import MEMBERS, ORIGIN, entries, policy_for, sqlite, witness_keys

#: Certificates must be valid by the machine's clock, which OpenSSL reads: wide windows around TEST_NOW.
WIDE = dt.timedelta(days=20 * 365)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    root = tmp_path_factory.mktemp("witnesses")
    clock = FixedClock(TEST_NOW)
    ca = CertificateAuthority.create(clock=clock, not_before=TEST_NOW - WIDE, not_after=TEST_NOW + WIDE)
    (root / "ca.pem").write_bytes(ca.cert_pem)
    log_key = generate_signer(ORIGIN)
    keys = witness_keys(clock)
    ports = {m: free_port() for m in MEMBERS}
    policy = policy_for(log_key, keys, {m: f"https://127.0.0.1:{p}" for m, p in ports.items()}, quorum=3)
    policy.save(root / "policy.json")
    procs = []
    env = {**os.environ, "HUIQI_NOW": TEST_NOW.isoformat()}
    for member, title in MEMBERS.items():
        cert, key = ca.issue(member, "witness", not_before=TEST_NOW - WIDE, not_after=TEST_NOW + WIDE).write(
            root, member
        )
        (root / f"{member}.key").write_text(keys[member].skey + "\n")
        command = [sys.executable, "-m", "huiqi.cli", "witness", "serve", "--name", title]
        command += ["--key", str(root / f"{member}.key"), "--state", str(root / f"{member}-state.db")]
        command += ["--policy", str(root / "policy.json"), "--port", str(ports[member])]
        command += ["--tls-cert", str(cert), "--tls-key", str(key), "--tls-ca", str(root / "ca.pem")]
        procs.append(subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    cert, key = ca.issue("platform", "log", not_before=TEST_NOW - WIDE, not_after=TEST_NOW + WIDE).write(
        root, "platform"
    )
    client = mtls_client(cert, key, root / "ca.pem")
    deadline = time.monotonic() + 30
    for port in ports.values():
        while True:
            try:
                client.get(f"https://127.0.0.1:{port}/").raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    yield {"policy": policy, "log_key": log_key, "client": client, "root": root, "ca": ca}
    client.close()
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(timeout=10)


def test_a_checkpoint_counts_with_a_quorum_and_a_fork_is_refused_by_every_witness(network, tmp_path, clock) -> None:  # type: ignore[no-untyped-def]
    policy, log_key, client = network["policy"], network["log_key"], network["client"]
    log = TransparencyLog(sqlite(str(tmp_path / "log.db")), clock=clock)
    cosigner = Cosigner(log, policy, client)  # type: ignore[arg-type]
    log.append_many(entries(10))
    first = cosigner.cosign(log.checkpoint("2026", [log_key]))  # type: ignore[list-item]
    assert sorted(first.cosigned_by) == sorted(MEMBERS)
    assert policy.verify_checkpoint(first.checkpoint.note).witnesses  # type: ignore[attr-defined]

    log.append_many(entries(50, 10))
    second = cosigner.cosign(log.checkpoint("2026", [log_key]))  # type: ignore[list-item]
    assert len(second.cosigned_by) == 5

    # The administrator rewrites history in a copy and presents it with the same key: the
    # witnesses, which remember size 60 and its root, refuse, and the checkpoint never counts.
    forked = TransparencyLog(sqlite(str(tmp_path / "fork.db")), clock=clock)
    forked.append_many(entries(10) + entries(50, 10, tag="rewritten"))
    with pytest.raises(QuorumError):
        Cosigner(forked, policy, client).cosign(forked.checkpoint("2026", [log_key]))  # type: ignore[arg-type, list-item]
    for w in policy.witnesses:  # type: ignore[attr-defined]
        alerts = client.get(f"{w.url}/alerts").json()  # type: ignore[attr-defined]
        assert [a["kind"] for a in alerts] == ["same-size-other-root"]
        latest = fetch_latest(client, w, ORIGIN)  # type: ignore[arg-type]
        assert latest is not None and latest.startswith(log.checkpoints("2026")[0].note.text + "\n")


def test_clients_without_a_platform_certificate_are_refused(network, tmp_path, clock) -> None:  # type: ignore[no-untyped-def]
    policy, root = network["policy"], network["root"]
    url = policy.witnesses[0].url  # type: ignore[attr-defined]
    trusting = ssl.create_default_context(cafile=str(Path(root) / "ca.pem"))  # type: ignore[arg-type]
    with pytest.raises(httpx.HTTPError), httpx.Client(verify=trusting) as anonymous:
        anonymous.get(url)
    other = CertificateAuthority.create(clock=clock, not_before=TEST_NOW - WIDE, not_after=TEST_NOW + WIDE)
    cert, key = other.issue("platform", "log", not_before=TEST_NOW - WIDE, not_after=TEST_NOW + WIDE).write(
        tmp_path, "x"
    )
    with pytest.raises(httpx.HTTPError), mtls_client(cert, key, Path(root) / "ca.pem") as stranger:  # type: ignore[arg-type]
        stranger.get(url)
