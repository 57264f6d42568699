"""Running a deployment: one process per department security server, one for the platform's
central services (``huiqi departments up`` starts them all; ``serve`` runs one).

Each process listens on loopback with mutual TLS (``huiqi.trust.tls.server_context``: only
certificates of the platform CA, checked against its CRL) and learns who calls from the
certificate (:class:`huiqi.sharing.service.PeerProtocol`).
"""

from __future__ import annotations

import socket
from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from huiqi.clock import Clock
from huiqi.rules import Library, load_library
from huiqi.sharing.catalogue_store import CatalogueStore
from huiqi.sharing.consent import ConsentService
from huiqi.sharing.decisions import DecisionLog
from huiqi.sharing.deployment import CENTRAL, GATEWAY, Deployment
from huiqi.sharing.gateway import SecurityServer
from huiqi.sharing.members import PROVIDERS
from huiqi.sharing.service import (
    PeerProtocol,
    RemoteCatalogue,
    RemoteConsents,
    central_app,
    department_app,
    library_loader,
)
from huiqi.store.db import make_engine
from huiqi.trust.tls import mtls_client, server_context


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def security_server(
    deployment: Deployment,
    member: str,
    *,
    clock: Clock,
    library: Callable[[], Library] | None = None,
    catalogue_ttl: float = 2.0,
) -> SecurityServer:
    """The security server of ``member`` on its own database, keys and certificate."""
    register = deployment.register(member, clock=clock)
    tls = deployment.tls(f"{member}/{GATEWAY}")
    client = mtls_client(tls.cert, tls.key, tls.ca, timeout=5.0)
    central = deployment.urls()["platform"]
    return SecurityServer(
        register=register,
        catalogue=RemoteCatalogue(client, central, ttl=catalogue_ttl),
        consents=RemoteConsents(client, central),
        log=DecisionLog(register.engine, member, clock=clock),
        library=library or library_loader(load_library),
        clock=clock,
    )


def app_for(deployment: Deployment, member: str, *, clock: Clock, catalogue_ttl: float = 2.0) -> FastAPI:
    if member == "platform":
        engine = make_engine(deployment.platform_db)
        store = CatalogueStore(engine, clock=clock)
        return central_app(store.published, ConsentService(engine, clock=clock))
    if member not in PROVIDERS:
        raise ValueError(f"{member} runs no service")
    return department_app(security_server(deployment, member, clock=clock, catalogue_ttl=catalogue_ttl))


def serve(
    deployment: Deployment, member: str, *, port: int, clock: Clock, host: str = "127.0.0.1", catalogue_ttl: float = 2.0
) -> None:
    """Run one service in this process until it is stopped."""
    system = CENTRAL if member == "platform" else f"{member}/{GATEWAY}"
    tls = deployment.tls(system)
    app = app_for(deployment, member, clock=clock, catalogue_ttl=catalogue_ttl)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=PeerProtocol,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=3,
    )
    config.load()
    config.ssl = server_context(tls.cert, tls.key, tls.ca, crl=deployment.crl)
    uvicorn.Server(config).run()
