"""A browser for the officers' pages, in tests: it opens the login form, then posts it."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has a form token"
    return found.group(1)


def attempt_login(client: TestClient, name: str, password: str) -> Any:
    form = client.get("/admin/login")
    assert form.status_code == 200
    return client.post(
        "/admin/login", data={"name": name, "password": password, "next": "/admin", "csrf": csrf_of(form.text)}
    )


def login(app: Any, name: str, password: str, **kwargs: Any) -> tuple[TestClient, str]:
    """A logged-in client and its session's CSRF token."""
    client = TestClient(app, follow_redirects=False, **kwargs)
    r = attempt_login(client, name, password)
    assert r.status_code == 303, r.text
    page = client.get("/admin")
    assert page.status_code == 200
    return client, csrf_of(page.text)
