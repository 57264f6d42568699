"""Load benchmark of the enterprise space: 50 enterprises log in (password + TOTP) and read
their prefilled "my policies" page (``GET /my``), on loopback against ``huiqi serve``.

Setup (not timed): a fresh platform database with the shipped policies, ``--enterprises``
accounts, each with a profile of register-sourced facts (as a prefill leaves it: provenance,
consent reference) and a few notices; the portal keyring in a temporary file shared with the
server. The server is ``huiqi serve --db …`` (its default workers) with the real clock: TOTP
codes are computed at the time of the request, as a phone would.

Measured, with ``--concurrency`` enterprises at once (closed loop, each client one enterprise):

* **login**: POST /my/login (scrypt, ~50 ms of CPU and 32 MiB by design, at most 2 per worker)
  then POST /my/2fa — each enterprise once per 30-second TOTP step (a code is used once);
* **page**: GET /my as a logged-in enterprise (the calculator on its profile, deadlines in
  working days, notices, grants, applications) for ``--duration`` seconds;
* **login + page**: the two measured as one visit (a login followed by the page).

    .venv/bin/python bench/bench_portal.py                  # 50 enterprises, 20 s of pages
    .venv/bin/python bench/bench_portal.py --workers 1 --duration 10

Bounded in requests and time; talks to 127.0.0.1 only; stops the server it started.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pyotp

ROOT = Path(__file__).resolve().parents[1]
MAX_REQUESTS = 500_000
PASSWORD = "correct horse 1"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


def setup(root: Path, count: int) -> tuple[str, list[tuple[str, str]]]:
    """The database and ``count`` accounts (login, TOTP secret)."""
    import datetime as dt

    from huiqi.clock import SystemClock
    from huiqi.library import Lifecycle
    from huiqi.library.source import DbLibrarySource
    from huiqi.portal import Portal, open_vault
    from huiqi.portal.base import notice
    from huiqi.portal.identity import Checked
    from huiqi.profile.uscc import check_character
    from huiqi.store.db import write_session

    class Registers:
        """Stands in for the gateway's identity check (measured separately: bench_sharing_prefill)."""

        def legal_rep(self, uscc: str, name: str, id_number: str, *, case_id: str) -> Checked:
            return Checked(f"临江市测试企业{uscc[-4:]}有限公司", name, id_number[:6] + "********" + id_number[-4:])

        person = legal_rep

    from stdnum.cn import ric

    url = f"sqlite:///{root / 'platform.db'}"
    clock = SystemClock()
    lifecycle = Lifecycle.open(url, clock=clock)
    lifecycle.import_directory(ROOT / "policies")
    source = DbLibrarySource(lifecycle.engine, migrate=False, clock=clock)
    vault = open_vault(lifecycle.engine, clock=clock, keyring_file=root / "keyring.json")
    portal = Portal(lifecycle.engine, clock, source.current, vault, Registers())  # type: ignore[arg-type]
    accounts = []
    for i in range(count):
        body = f"9133990000{i:07d}"
        uscc = body + check_character(body)
        id17 = f"1101011990{i % 12 + 1:02d}{i % 28 + 1:02d}{i % 900 + 100:03d}"
        person = id17 + ric.calc_check_digit(id17 + "0")
        login = f"ent{i:04d}"
        account_id, secret = portal.accounts.register(uscc, f"法人{i}", person, login, PASSWORD)
        token, _ = portal.accounts.login(login, PASSWORD, allow_unconfirmed=True)
        with write_session(lifecycle.engine) as s:  # confirm the authenticator as a first login would
            from huiqi.portal import schema

            s.execute(schema.accounts.update().where(schema.accounts.c.id == account_id).values(totp_confirmed=True))
            for n in range(5):
                notice(
                    s,
                    f"bench:{uscc}:{n}",
                    uscc,
                    "policy",
                    f"通知 {n}",
                    "新发布的政策与您有关",
                    link=None,
                    at=clock.now(),
                )
        actor = portal.accounts.session(token).actor  # type: ignore[union-attr]
        facts = {
            "name": f"临江市测试企业{i}有限公司",
            "region": "339901",
            "industry": ["C3911", "I6513", "F5211", "H6210"][i % 4],
            "registered_on": dt.date(2015 + i % 10, 3, 1).isoformat(),
            "employees": 5 + i * 7 % 300,
            "revenue": f"{(i * 7_919_113) % 90_000_000 + 500_000}.00",
            "total_assets": f"{(i * 3_331_117) % 50_000_000 + 100_000}.00",
            "taxable_income": f"{(i * 97_331) % 4_000_000}.00",
            "taxpayer_type": "general",
            "credit_rating": "AB"[i % 2],
        }
        provenance = {
            k: {
                "value": v,
                "member": "tax",
                "source": "税务局",
                "as_of": "2025-12-31",
                "consent_ref": f"CR-{i}",
                "legal_basis": None,
                "log": None,
            }
            for k, v in facts.items()
        }
        portal.profiles.store_prefill(actor, {"profile": facts, "provenance": provenance, "purpose": "policy_match"})
        accounts.append((login, secret))
    lifecycle.engine.dispose()
    return url, accounts


def _check_step(r: httpx.Response, name: str, step: str, expected: str) -> None:
    if r.status_code != 200 or expected not in r.text:
        said = re.search(r'role="alert">([^<]+)<', r.text)
        raise RuntimeError(
            f"login of {name} failed at the {step}: {r.status_code} {said.group(1) if said else r.text[:200]}"
        )


async def login(client: httpx.AsyncClient, base: str, account: tuple[str, str]) -> float:
    name, secret = account
    start = time.perf_counter()
    page = await client.get(f"{base}/my/login")
    token = re.search(r'name="form_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    r = await client.post(f"{base}/my/login", data={"login": name, "password": PASSWORD, "form_token": token})
    _check_step(r, name, "password", 'name="code"')
    r = await client.post(f"{base}/my/2fa", data={"code": pyotp.TOTP(secret).now()})
    _check_step(r, name, "second factor", "我的政策")
    return time.perf_counter() - start


async def run(base: str, accounts: list[tuple[str, str]], duration: float) -> dict[str, Any]:
    clients = [httpx.AsyncClient(timeout=60, follow_redirects=True) for _ in accounts]
    logins = await asyncio.gather(*(login(c, base, a) for c, a in zip(clients, accounts, strict=True)))
    pages: list[float] = []
    errors = 0
    deadline = time.perf_counter() + duration

    async def reader(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.perf_counter() < deadline and len(pages) < MAX_REQUESTS:
            start = time.perf_counter()
            r = await client.get(f"{base}/my", follow_redirects=False)
            pages.append(time.perf_counter() - start)
            errors += r.status_code != 200

    started = time.perf_counter()
    await asyncio.gather(*(reader(c) for c in clients))
    elapsed = time.perf_counter() - started
    for c in clients:
        await c.aclose()
    return {"logins": list(logins), "pages": pages, "errors": errors, "elapsed": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--enterprises", type=int, default=50)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-portal-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        url, accounts = setup(root, args.enterprises)
        print(f"setup: {len(accounts)} enterprises in {time.perf_counter() - t0:.1f} s")
        port = 18_000 + os.getpid() % 1000
        env = dict(os.environ, HUIQI_PORTAL_KEYRING=str(root / "keyring.json"))
        env.pop("HUIQI_NOW", None)
        cmd = [sys.executable, "-m", "huiqi.cli", "serve", "--db", url, "--port", str(port)]
        if args.workers:
            cmd += ["--workers", str(args.workers)]
        log = (root / "server.log").open("w")
        server = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/my/login", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            else:
                raise RuntimeError("the server did not start")
            result = asyncio.run(run(base, accounts, args.duration))
        except Exception:
            print((root / "server.log").read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            server.terminate()
            server.wait(timeout=20)
    pages, logins = result["pages"], result["logins"]
    visit = [lo + statistics.median(pages) for lo in logins]
    print(f"concurrency {len(accounts)} enterprises, server workers: {args.workers or 'default'}")
    print(f"login (password+TOTP, {len(logins)}): p50 {pct(logins, 0.5):.0f} ms  p99 {pct(logins, 0.99):.0f} ms")
    print(
        f"GET /my ({len(pages)} in {result['elapsed']:.1f} s = {len(pages) / result['elapsed']:.0f}/s, "
        f"errors {result['errors']}): p50 {pct(pages, 0.5):.1f} ms  p90 {pct(pages, 0.9):.1f} ms  "
        f"p99 {pct(pages, 0.99):.1f} ms"
    )
    print(f"login + page (one visit): p50 {pct(visit, 0.5):.0f} ms  p99 {pct(visit, 0.99):.0f} ms")


if __name__ == "__main__":
    main()
