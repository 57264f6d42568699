"""Where an edge (CLI, server) finds the e-licence configuration: environment variables, read once.

* ``HUIQI_TRUST_POLICY`` — the trust policy JSON (log keys, department witnesses, quorum): what verifiers pin;
* ``HUIQI_CERT_KEYS`` — the folder of department issuer keys (``samr.ed25519`` …), only where licences are issued;
* ``HUIQI_LOG_KEY`` — the log's signing key, only where checkpoints are made;
* ``HUIQI_PUBLIC_URL`` — the address printed in QR codes and status-list URLs (default https://linjiang.example/huiqi).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from huiqi.certs.credential import DEFAULT_BASE_URL, IssuerKeys
from huiqi.certs.service import Licences, Notary
from huiqi.certs.verify import Anchors
from huiqi.clock import Clock
from huiqi.trust.log import TransparencyLog
from huiqi.trust.note import parse_signer
from huiqi.trust.policy import TrustPolicy


def public_url(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return (env.get("HUIQI_PUBLIC_URL") or DEFAULT_BASE_URL).rstrip("/")


def licences_from_env(
    engine: Engine, clock: Clock, environ: Mapping[str, str] | None = None, *, client: Any = None
) -> Licences:
    """The register as configured by the environment; parts not configured stay off (and say so when used)."""
    env = os.environ if environ is None else environ
    policy = TrustPolicy.load(Path(env["HUIQI_TRUST_POLICY"])) if env.get("HUIQI_TRUST_POLICY") else None
    keys = IssuerKeys.load(Path(env["HUIQI_CERT_KEYS"])) if env.get("HUIQI_CERT_KEYS") else IssuerKeys()
    log = TransparencyLog(engine, clock=clock)
    notary = None
    if env.get("HUIQI_LOG_KEY") and policy is not None:
        signer_text = env["HUIQI_LOG_KEY"]
        if not signer_text.startswith("PRIVATE+KEY+") and Path(signer_text).is_file():
            signer_text = Path(signer_text).read_text(encoding="utf-8")
        if client is None and policy.witnesses:
            from huiqi.trust.tls import client_from_env

            client = client_from_env()
        notary = Notary(log, [parse_signer(signer_text.strip(), clock=clock)], policy, client)
    return Licences(
        engine,
        log,
        clock=clock,
        keys=keys,
        notary=notary,
        anchors=Anchors(policy) if policy is not None else None,
        base_url=public_url(env),
    )
