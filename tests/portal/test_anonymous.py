"""No anonymous read or write of any enterprise's inbox, subscriptions, profile or applications.

The cases are generated from the app's OpenAPI spec: every operation on an enterprise's data
is called without credentials and must answer 401 — a route added later is covered without
anyone writing its test. The pages under /my (not in the spec) are walked from the app's
routes: a GET sends the visitor to the login page, anything else is refused with 401.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Route

from tests.portal.conftest import USCC

#: What makes a route an enterprise's own: its data lives under these paths.
ENTERPRISE = re.compile(r"^/api/v1/(my(/|$)|inbox|subscriptions|enterprises/)|/applications")
#: The pages under /my that are the way in, and the public share link.
PUBLIC_PAGES = {"/my/login", "/my/login/licence", "/my/2fa", "/my/register"}
SAMPLES = {"uscc": USCC, "field": "employees", "ref": "CR-0000", "action": None}


def _spec() -> dict[str, Any]:
    from huiqi.match import default_library
    from huiqi.rules.source import StaticSource
    from huiqi.web import create_app

    return create_app(StaticSource(default_library())).openapi()


SPEC = _spec()
OPERATIONS = [
    (method.upper(), path, op)
    for path, item in SPEC["paths"].items()
    if ENTERPRISE.search(path)
    for method, op in item.items()
    if method in ("get", "post", "put", "patch", "delete")
]


def _url(path: str, op: dict[str, Any]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        param = next(p for p in op.get("parameters", []) if p["name"] == name)
        schema = param.get("schema", {})
        if schema.get("type") == "integer":
            return "1"
        if "pattern" in schema and name == "action":
            return re.findall(r"[a-z_]+", schema["pattern"])[0]
        return SAMPLES.get(name) or "x"

    return re.sub(r"\{([^}]+)\}", value, path)


def test_the_spec_lists_the_enterprise_routes():
    paths = {p for _, p, _ in OPERATIONS}
    assert {
        "/api/v1/inbox",
        "/api/v1/my/profile",
        "/api/v1/my/applications",
        "/api/v1/my/subscriptions",
        "/api/v1/enterprises/{uscc}/profile",
    } <= paths
    assert len(OPERATIONS) >= 24


@pytest.fixture(scope="module")
def anonymous(seed, tmp_path_factory) -> Any:
    """The app over a fresh platform database, and a client with no credentials at all."""
    import shutil

    from huiqi.clock import FixedClock
    from huiqi.library import Lifecycle
    from huiqi.library.source import DbLibrarySource
    from huiqi.web import create_app
    from tests.conftest import TEST_NOW

    db = tmp_path_factory.mktemp("anon") / "platform.db"
    shutil.copy(seed, db)
    clock = FixedClock(TEST_NOW)
    lifecycle = Lifecycle.open(f"sqlite:///{db}", clock=clock)
    app = create_app(DbLibrarySource(lifecycle.engine, migrate=False, clock=clock), clock=clock)
    with TestClient(app) as client:
        yield client
    lifecycle.engine.dispose()


@pytest.mark.parametrize(("method", "path", "op"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
def test_an_anonymous_call_answers_401(anonymous, method, path, op):
    body = {} if method in ("POST", "PUT", "PATCH") else None
    r = anonymous.request(method, _url(path, op), json=body)
    assert r.status_code == 401, f"{method} {path} answered {r.status_code}: {r.text[:300]}"
    assert r.headers["content-type"].startswith("application/problem+json")


def _pages() -> list[tuple[str, str]]:
    from huiqi.match import default_library
    from huiqi.rules.source import StaticSource
    from huiqi.web import create_app

    def walk(routes: list[Any]) -> Any:
        for route in routes:
            inner = getattr(route, "original_router", None)  # a router included lazily
            if inner is not None:
                yield from walk(inner.routes)
            elif isinstance(route, Route):
                yield route

    out = []
    for route in walk(create_app(StaticSource(default_library())).routes):
        if route.path.startswith("/my") and route.path not in PUBLIC_PAGES:
            out += [(m, route.path) for m in sorted(route.methods or ()) if m != "HEAD"]
    return out


PAGES = _pages()


def test_the_pages_under_my_are_found():
    assert {("GET", "/my"), ("GET", "/my/applications/{app_id}"), ("POST", "/my/grants/{grant_id}/account")} <= set(
        PAGES
    )


@pytest.mark.parametrize(("method", "path"), PAGES, ids=[f"{m} {p}" for m, p in PAGES])
def test_an_anonymous_visit_to_a_page_goes_to_the_login(anonymous, method, path):
    url = re.sub(r"\{[^}]+\}", "1", path)
    r = anonymous.request(method, url, data={"csrf": "x"} if method == "POST" else None, follow_redirects=False)
    if method == "GET":
        assert r.status_code == 303 and r.headers["location"].startswith("/my/login"), (path, r.status_code)
    else:
        assert r.status_code == 401, (path, r.status_code, r.text[:200])
