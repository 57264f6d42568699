"""Mutual TLS between department systems: a platform CA, short-lived certificates, revocation.

The platform CA (ECDSA P-256, built with ``cryptography``'s x509) issues one certificate per
department system, valid a day by default and renewed by issuing again; revoked serials go
into a CRL that servers check on every handshake. Identity is in the certificate: the
department's member code in OU, the system in CN, and the URI SAN
``spiffe://linjiang.example/<member>/<system>``.

Helpers for the services built on it::

    ctx = server_context(cert, key, ca, crl=crl)     # uvicorn: config.load(); config.ssl = ctx
    client = mtls_client(cert, key, ca)              # httpx.Client presenting our certificate
    reload_crl(ctx, crl)                             # a newer CRL, applied to the next handshake
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from huiqi.clock import Clock
from huiqi.trust.errors import CertificateError

TRUST_DOMAIN = "linjiang.example"
MEMBERS = ("samr", "mps", "tax", "hrss", "nhc", "fin", "platform")
DEFAULT_LIFETIME = dt.timedelta(hours=24)
CLOCK_SKEW = dt.timedelta(minutes=5)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key, PEM."""

    cert_pem: bytes
    key_pem: bytes
    serial: int
    not_after: dt.datetime

    def write(self, directory: Path, stem: str) -> tuple[Path, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        cert, key = directory / f"{stem}.pem", directory / f"{stem}-key.pem"
        cert.write_bytes(self.cert_pem)
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(self.key_pem)
        return cert, key


@dataclass(frozen=True)
class PeerIdentity:
    member: str
    system: str


def identity_of(cert: x509.Certificate) -> PeerIdentity:
    """The department and system a certificate of the platform CA names."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    except x509.ExtensionNotFound:
        uris = []
    prefix = f"spiffe://{TRUST_DOMAIN}/"
    for uri in uris:
        if uri.startswith(prefix):
            member, _, system = uri[len(prefix) :].partition("/")
            if member in MEMBERS and system:
                return PeerIdentity(member, system)
    raise CertificateError("证书没有平台身份", "the certificate names no platform identity", field="certificate")


class CertificateAuthority:
    """The platform CA. ``save``/``load`` keep it in a directory: ca.pem, ca-key.pem (0600), revoked.json."""

    def __init__(
        self,
        cert: x509.Certificate,
        key: ec.EllipticCurvePrivateKey,
        *,
        clock: Clock,
        revoked: dict[int, str] | None = None,
    ):
        self.cert = cert
        self.key = key
        self.clock = clock
        self.revoked: dict[int, str] = dict(revoked or {})  # serial → revocation time (ISO)

    @classmethod
    def create(
        cls,
        *,
        clock: Clock,
        name: str = "临江市 huiqi 平台 CA",
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
    ) -> CertificateAuthority:
        now = clock.now()
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name(
            [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "临江市"), x509.NameAttribute(NameOID.COMMON_NAME, name)]
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or now - CLOCK_SKEW)
            .not_valid_after(not_after or now + dt.timedelta(days=3 * 365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )  # keyCertSign, cRLSign
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(cert, key, clock=clock)

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(
        self,
        member: str,
        system: str,
        *,
        hosts: tuple[str, ...] = ("127.0.0.1", "localhost"),
        lifetime: dt.timedelta = DEFAULT_LIFETIME,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
    ) -> Issued:
        """A certificate for ``system`` of department ``member``, for both TLS client and server use."""
        if member not in MEMBERS:
            raise CertificateError(f"未知的部门代码 {member}", f"unknown member code {member}", field="member")
        if not system or "/" in system:
            raise CertificateError("系统名不能为空或含 /", "a system name is non-empty without '/'", field="system")
        now = self.clock.now()
        start, end = not_before or now - CLOCK_SKEW, not_after or now + lifetime
        if end > self.cert.not_valid_after_utc:
            raise CertificateError("证书有效期不能超过 CA", "a certificate cannot outlive the CA", field="lifetime")
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(f"spiffe://{TRUST_DOMAIN}/{member}/{system}")]
        for h in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(h)))
            except ValueError:
                names.append(x509.DNSName(h))
        serial = x509.random_serial_number()
        cert = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "临江市"),
                        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, member),
                        x509.NameAttribute(NameOID.COMMON_NAME, system),
                    ]
                )
            )
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return Issued(cert.public_bytes(serialization.Encoding.PEM), _pem_key(key), serial, end)

    def revoke(self, serial: int) -> None:
        self.revoked.setdefault(serial, self.clock.now().isoformat())

    def crl(self, *, lifetime: dt.timedelta = dt.timedelta(days=1)) -> bytes:
        """A CRL (PEM) of every revoked serial, signed now."""
        now = self.clock.now()
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.cert.subject)
            .last_update(now - CLOCK_SKEW)
            .next_update(now + lifetime)
        )
        for serial, at in sorted(self.revoked.items()):
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(serial)
                .revocation_date(dt.datetime.fromisoformat(at))
                .build()
            )
        return builder.sign(self.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)

    # --- files -------------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "ca.pem").write_bytes(self.cert_pem)
        fd = os.open(directory / "ca-key.pem", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(_pem_key(self.key))
        (directory / "revoked.json").write_text(json.dumps({str(k): v for k, v in self.revoked.items()}, indent=1))
        (directory / "crl.pem").write_bytes(self.crl())

    @classmethod
    def load(cls, directory: Path, *, clock: Clock) -> CertificateAuthority:
        try:
            cert = x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes())
            key = serialization.load_pem_private_key((directory / "ca-key.pem").read_bytes(), password=None)
            revoked_file = directory / "revoked.json"
            revoked = json.loads(revoked_file.read_text()) if revoked_file.exists() else {}
        except (OSError, ValueError) as e:
            raise CertificateError(f"无法读取 CA：{e}", f"cannot load the CA: {e}", field="ca") from e
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise CertificateError("CA 私钥应为 ECDSA", "the CA key must be ECDSA", field="ca")
        return cls(cert, key, clock=clock, revoked={int(k): v for k, v in revoked.items()})


def _path(value: Path | str | bytes, directory: Path | None, name: str) -> str:
    if isinstance(value, bytes):  # PEM in memory: ssl wants files for chains and CRLs
        import tempfile

        fd, path = tempfile.mkstemp(prefix=f"huiqi-{name}-", suffix=".pem", dir=directory)
        with os.fdopen(fd, "wb") as f:
            f.write(value)
        return path
    return str(value)


def server_context(
    cert: Path | str | bytes, key: Path | str | bytes, ca: Path | str | bytes, *, crl: Path | str | bytes | None = None
) -> ssl.SSLContext:
    """TLS 1.2+ server context that demands a client certificate of ``ca`` (and not revoked, with ``crl``)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(_path(cert, None, "cert"), _path(key, None, "key"))
        if isinstance(ca, bytes):
            ctx.load_verify_locations(cadata=ca.decode())
        else:
            ctx.load_verify_locations(cafile=str(ca))
        if crl is not None:
            ctx.load_verify_locations(cafile=_path(crl, None, "crl"))
            ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    except (OSError, ssl.SSLError) as e:
        raise CertificateError(f"无法加载 TLS 证书：{e}", f"cannot load TLS material: {e}", field="tls") from e
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def reload_crl(ctx: ssl.SSLContext, crl: Path | str | bytes) -> None:
    """Add a newer CRL to a live server context; OpenSSL uses the most recent one from the next handshake."""
    ctx.load_verify_locations(cafile=_path(crl, None, "crl"))
    ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF


def client_context(cert: Path | str | bytes, key: Path | str | bytes, ca: Path | str | bytes) -> ssl.SSLContext:
    """TLS client context presenting our certificate and trusting only the platform CA."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=ca.decode() if isinstance(ca, bytes) else None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        if not isinstance(ca, bytes):
            ctx.load_verify_locations(cafile=str(ca))
        ctx.load_cert_chain(_path(cert, None, "cert"), _path(key, None, "key"))
    except (OSError, ssl.SSLError) as e:
        raise CertificateError(f"无法加载 TLS 证书：{e}", f"cannot load TLS material: {e}", field="tls") from e
    return ctx


def mtls_client(cert: Path | str | bytes, key: Path | str | bytes, ca: Path | str | bytes, **kwargs: Any) -> Any:
    """An ``httpx.Client`` that presents ``cert`` and trusts only ``ca``."""
    import httpx

    kwargs.setdefault("timeout", 5.0)
    return httpx.Client(verify=client_context(cert, key, ca), **kwargs)


def client_from_env(**kwargs: Any) -> Any:
    """``mtls_client`` from HUIQI_TLS_CERT / HUIQI_TLS_KEY / HUIQI_TLS_CA when set, else a plain client."""
    import httpx

    cert, key, ca = (os.environ.get(f"HUIQI_TLS_{n}") for n in ("CERT", "KEY", "CA"))
    if cert and key and ca:
        return mtls_client(Path(cert), Path(key), Path(ca), **kwargs)
    kwargs.setdefault("timeout", 5.0)
    return httpx.Client(**kwargs)
