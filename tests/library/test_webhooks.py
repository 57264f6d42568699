"""Issue 10 finding 2: a subscriber aims the webhook drain at the platform's own network.

Real sockets on loopback stand in for the internal services (a database port, a metadata
endpoint): every attempt must be refused before a byte reaches them, and one endpoint that
never answers must not hold up the others.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from huiqi.library import notify
from huiqi.library.webhooks import SafeSender, WebhookPolicy, WebhookRefused, check_url
from huiqi.store import read_session
from huiqi.store.models import WebhookDelivery
from tests.library.test_security import GAINER_PROFILE, publish_lower_threshold, uscc

SECRET = "s3cret-s3cret-s3cret"
HEADERS = {"Content-Type": "application/json"}


class Listener:
    """An HTTP endpoint on 127.0.0.1 that records what reaches it; may answer with a redirect."""

    def __init__(self, redirect_to: str | None = None):
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                outer.requests.append(self.path)
                if redirect_to:
                    self.send_response(302)
                    self.send_header("Location", redirect_to)
                else:
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    found = Listener()
    yield found
    found.close()


def send(url: str, policy: WebhookPolicy | None = None, resolver=None) -> int:
    sender = (
        SafeSender(policy or WebhookPolicy()) if resolver is None else SafeSender(policy or WebhookPolicy(), resolver)
    )
    return sender(url, b"{}", dict(HEADERS))


def test_internal_destinations_are_refused_before_anything_is_sent(listener: Listener) -> None:
    for url in (
        f"http://127.0.0.1:{listener.port}/hook",
        f"http://localhost:{listener.port}/hook",  # refused after DNS: localhost is loopback
        f"http://[::ffff:127.0.0.1]:{listener.port}/hook",  # IPv4 in IPv6 clothing
        f"http://2130706433:{listener.port}/hook",  # 127.0.0.1 as one number
    ):
        with pytest.raises(WebhookRefused):
            send(url)
    assert listener.requests == []
    for url in (
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://10.0.0.5/hook",
        "http://192.168.1.1/hook",
        "http://100.64.0.1/hook",  # carrier-grade NAT
        "http://224.0.0.1/hook",  # multicast
        "http://0.0.0.0/hook",
        "https://hooks.example.com:5432/",  # a database port
        "https://user:pw@hooks.example.com/",
        "ftp://hooks.example.com/",
        "gopher://127.0.0.1:5432/",
    ):
        with pytest.raises(WebhookRefused):
            send(url)


def test_a_name_that_resolves_inside_is_refused_whatever_else_it_resolves_to() -> None:
    for answers in (
        ["10.1.2.3"],
        ["93.184.216.34", "127.0.0.1"],
        ["fd00::1"],
        ["64:ff9b::a00:5"],  # NAT64 to 10.0.0.5
        ["2002:7f00:1::1"],  # 6to4 of 127.0.0.1
        ["2001:0:4136:e378:8000:63bf:80ff:fffe"],  # Teredo, client 127.0.0.1
    ):
        with pytest.raises(WebhookRefused, match="not a public address"):
            send("https://hooks.example.com/x", resolver=lambda host, port, a=answers: a)


def test_redirects_are_not_followed(listener: Listener) -> None:
    inner = f"http://127.0.0.1:{listener.port}/internal"
    bouncer = Listener(redirect_to=inner)
    try:
        # The operator allows loopback here so that the first hop can be reached at all.
        policy = WebhookPolicy.parse("127.0.0.0/8")
        assert send(f"http://127.0.0.1:{bouncer.port}/hook", policy) == 302
    finally:
        bouncer.close()
    assert bouncer.requests == ["/hook"] and listener.requests == []


def test_the_operator_allow_list(listener: Listener) -> None:
    only = WebhookPolicy.parse("hooks.linjiang.gov.cn, *.example.gov.cn")
    check_url("https://hooks.linjiang.gov.cn/a", only)
    check_url("https://x.example.gov.cn/a", only)
    with pytest.raises(WebhookRefused, match="allow-list"):
        check_url("https://attacker.example/a", only)
    intranet = WebhookPolicy.parse("127.0.0.0/8")  # a private network the operator opens on purpose
    assert send(f"http://127.0.0.1:{listener.port}/ok", intranet) == 200 and listener.requests == ["/ok"]


def test_a_black_hole_times_out() -> None:
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(8)  # accepts connections, never answers
    policy = WebhookPolicy(allow_networks=WebhookPolicy.parse("127.0.0.0/8").allow_networks, total_timeout=1.0)
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            send(f"http://127.0.0.1:{hole.getsockname()[1]}/hook", policy)
        except BaseException as e:
            outcome.append(e)

    worker = threading.Thread(target=call)
    worker.start()
    worker.join(timeout=30)
    hole.close()
    assert not worker.is_alive() and outcome and isinstance(outcome[0], TimeoutError)


def test_the_drain_refuses_an_internal_webhook_and_gives_up_on_it(lc, text_of, propose, listener):
    with pytest.raises(notify.InputError, match="public address"):  # a literal address: refused at once
        notify.subscribe(
            lc.engine, uscc(1), GAINER_PROFILE, kind="new_eligible",
            webhook_url=f"http://127.0.0.1:{listener.port}/x", webhook_secret=SECRET, clock=lc.clock,
        )  # fmt: skip
    notify.subscribe(  # a name: only the drain's DNS check can tell
        lc.engine, uscc(1), GAINER_PROFILE, kind="new_eligible",
        webhook_url=f"http://localhost:{listener.port}/x", webhook_secret=SECRET, clock=lc.clock,
    )  # fmt: skip
    publish_lower_threshold(lc, text_of, propose)
    report = notify.drain_webhooks(lc.engine, clock=lc.clock)
    assert report.dead == 1 and listener.requests == []
    with read_session(lc.engine) as s:
        row = s.scalars(select(WebhookDelivery)).one()
    assert row.state == "dead" and row.last_error.startswith("refused") and row.attempts == 1


def test_one_black_hole_does_not_delay_the_others(lc, text_of, propose):
    for i in range(6):
        notify.subscribe(
            lc.engine, uscc(10 + i), GAINER_PROFILE, kind="new_eligible",
            webhook_url=f"https://hook{i}.example.test/h", webhook_secret=SECRET, clock=lc.clock,
        )  # fmt: skip
    publish_lower_threshold(lc, text_of, propose)
    release, done, lock = threading.Event(), threading.Event(), threading.Lock()
    delivered: list[str] = []

    def sender(url: str, body: bytes, headers: dict[str, str]) -> int:
        if "hook0." in url:
            release.wait(timeout=60)  # never answers while the others are sent
            raise TimeoutError("black hole")
        with lock:
            delivered.append(url)
            if len(delivered) == 5:
                done.set()
        return 200

    drain = threading.Thread(target=lambda: notify.drain_webhooks(lc.engine, sender, clock=lc.clock, concurrency=4))
    drain.start()
    try:
        assert done.wait(timeout=60), f"only {len(delivered)} of 5 delivered while one endpoint hung"
    finally:
        release.set()
        drain.join(timeout=60)
    with read_session(lc.engine) as s:
        states = sorted(r.state for r in s.scalars(select(WebhookDelivery)))
    assert states == ["delivered"] * 5 + ["pending"]  # the black hole is retried later
