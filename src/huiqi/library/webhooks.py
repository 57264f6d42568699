"""Delivering a webhook without letting a subscriber aim the platform at its own network.

A subscriber names the URL; the platform makes the request from inside the government
network. So, before any byte is sent (model: Smokescreen, and the SSRF rules of OWASP):

1. the URL is ``http`` or ``https``, has a host, no user name or password, and a port that
   is the scheme's default or above 1023 (not 22, 25, 5432 …);
2. the host is resolved *here*, and every address it resolves to must be a public unicast
   address — not loopback, private (RFC 1918, fc00::/7), link-local (169.254/16, where
   cloud metadata lives), shared (100.64/10), multicast, reserved or unspecified, nor an
   IPv4 address in IPv6 clothing (``::ffff:127.0.0.1``, NAT64, 6to4, Teredo: judged by
   the IPv4 address inside);
3. the connection goes to the address that was checked (the URL's host name is kept for
   the ``Host`` header and for TLS: SNI and certificate check), so a second DNS answer
   (rebinding) cannot swap in another one;
4. redirects are not followed — a 3xx is a failed attempt, whatever its ``Location``;
5. short time limits: a connection within 3 s, the whole request within 10 s; the
   response body is not read;
6. the operator may list destinations (``HUIQI_WEBHOOK_ALLOW``, comma-separated): host
   names (``hooks.example.gov.cn``, ``*.example.gov.cn``) — then only those hosts are
   reachable at all — and networks (``10.20.0.0/16``) that are private but allowed.

A refusal is final (the row is marked dead at once): retrying does not make an internal
address external.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

import httpx

from huiqi.errors import HuiqiError, Message

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[str]]
MAX_URL = 1000
ALLOW_ENV = "HUIQI_WEBHOOK_ALLOW"


class WebhookRefused(HuiqiError):
    """The destination is not one the platform may call; final, not retried."""

    status = 422
    kind = "webhook-refused"
    title = Message("不允许的 webhook 地址", "Webhook destination refused")


@dataclass(frozen=True)
class WebhookPolicy:
    allow_hosts: tuple[str, ...] = ()
    allow_networks: tuple[IPNetwork, ...] = ()
    connect_timeout: float = 3.0
    total_timeout: float = 10.0

    @classmethod
    def parse(cls, text: str) -> WebhookPolicy:
        """``"hooks.example.gov.cn, *.example.gov.cn, 10.20.0.0/16"`` → a policy."""
        hosts: list[str] = []
        networks: list[IPNetwork] = []
        for item in (x.strip() for x in text.split(",")):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                hosts.append(item.lower().rstrip("."))
        return cls(tuple(hosts), tuple(networks))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WebhookPolicy:
        return cls.parse((environ if environ is not None else os.environ).get(ALLOW_ENV, ""))

    def host_allowed(self, host: str) -> bool:
        if not self.allow_hosts:
            return True
        host = host.lower().rstrip(".")
        return any(host == h or (h.startswith("*.") and host.endswith(h[1:])) for h in self.allow_hosts)

    def address_allowed(self, address: IPAddress) -> bool:
        if isinstance(address, ipaddress.IPv6Address):
            address = embedded_ipv4(address) or address
        if any(address in net for net in self.allow_networks):
            return True
        return address.is_global and not (address.is_multicast or address.is_reserved or address.is_unspecified)


#: NAT64 prefixes (RFC 6052 well-known, RFC 8215 local use): a gateway forwards to the IPv4 address inside.
NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address leads to, when it carries one: IPv4-mapped
    (``::ffff:10.0.0.5``), NAT64 (``64:ff9b::a00:5``), 6to4 (``2002:a00:5::``) or Teredo.
    Such an address is judged by the IPv4 address it reaches."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if any(address in net for net in NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    return address.teredo[1] if address.teredo is not None else None


def _refuse(zh: str, en: str) -> WebhookRefused:
    return WebhookRefused(Message(zh, en))


def check_url(url: str, policy: WebhookPolicy) -> SplitResult:
    """The checks that need no network (1 and 6, and 2 for a literal address)."""
    if len(url) > MAX_URL or any(ord(c) < 33 or c == "\x7f" for c in url):
        raise _refuse("webhook 地址过长或含有空白、控制字符", "the URL is too long or has blanks or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _refuse("webhook 地址无法解析", "the URL cannot be parsed") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _refuse("webhook 地址须为 http(s)://主机/…", "the URL must be http(s)://host/…")
    if parts.username is not None or parts.password is not None:
        raise _refuse("webhook 地址不能包含用户名或密码", "the URL must not carry a user name or password")
    if port is not None and port not in (80, 443) and port < 1024:
        raise _refuse(f"不允许的端口 {port}（可用 80、443 或 1024 以上）", f"port {port} is not allowed")
    if not policy.host_allowed(parts.hostname):
        raise _refuse(f"主机 {parts.hostname} 不在允许名单中", f"host {parts.hostname} is not on the allow-list")
    literal = _literal(parts.hostname)
    if literal is not None and not policy.address_allowed(literal):
        raise _refuse(f"不允许的目标地址 {literal}（内网、本机或保留地址）", f"{literal} is not a public address")
    return parts


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def resolve(host: str, port: int, policy: WebhookPolicy, resolver: Resolver = system_resolver) -> IPAddress:
    """The address to connect to: every address the name resolves to must be allowed."""
    literal = _literal(host)
    if literal is not None:
        found: list[IPAddress] = [literal]
    else:
        try:
            found = [ipaddress.ip_address(a.split("%")[0]) for a in resolver(host, port)]
        except (OSError, UnicodeError, ValueError) as e:
            raise _refuse(f"无法解析主机 {host}", f"cannot resolve {host}: {e}") from None
    if not found:
        raise _refuse(f"无法解析主机 {host}", f"{host} has no address")
    bad = [a for a in found if not policy.address_allowed(a)]
    if bad:
        raise _refuse(
            f"{host} 解析到不允许的地址 {bad[0]}（内网、本机或保留地址）",
            f"{host} resolves to {bad[0]}, which is not a public address",
        )
    return found[0]


@dataclass
class SafeSender:
    """``send(url, body, headers) -> HTTP status`` under :class:`WebhookPolicy`.

    Raises :class:`WebhookRefused` before connecting to a destination that is not allowed.
    """

    policy: WebhookPolicy = field(default_factory=WebhookPolicy.from_env)
    resolver: Resolver = system_resolver

    def __call__(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        return asyncio.run(self._post(url, body, headers))

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        parts = check_url(url, self.policy)
        assert parts.hostname is not None
        port = parts.port or (443 if parts.scheme == "https" else 80)
        loop = asyncio.get_running_loop()
        address = await loop.run_in_executor(None, resolve, parts.hostname, port, self.policy, self.resolver)
        host_for_url = f"[{address}]" if address.version == 6 else str(address)
        target = parts._replace(netloc=f"{host_for_url}:{port}").geturl()
        headers = {**headers, "Host": parts.netloc.rsplit("@", 1)[-1]}
        extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
        timeout = httpx.Timeout(self.policy.total_timeout, connect=self.policy.connect_timeout)
        async with (
            asyncio.timeout(self.policy.total_timeout),
            httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False) as client,
        ):
            request = client.build_request("POST", target, content=body, headers=headers, extensions=extensions)
            response = await client.send(request, stream=True)
            await response.aclose()  # the body is not read: a status is all a webhook answers
            return response.status_code
