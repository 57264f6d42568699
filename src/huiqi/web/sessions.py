"""Who an enterprise API call comes from, when it comes with a session of the enterprise space.

The other enterprise APIs (``huiqi.web.enterprise``, ``huiqi.web.sharing``) accept the
session cookie of ``/my`` as well as an officer-issued token. This module is what they ask;
it finds the portal through ``app.state.portal_factory`` (set by ``create_app`` to
``huiqi.web.portal.portal``), so that those routers need not import the portal's pages.
"""

from __future__ import annotations

import hmac

from fastapi import Request

from huiqi.errors import Message, PermissionDenied

COOKIE = "huiqi_my"
CSRF_HEADER = "X-CSRF-Token"


def enterprise_of(request: Request) -> str | None:
    """The USCC a full session proves; None without one. A call that changes something must
    also carry the session's CSRF token in ``X-CSRF-Token``."""
    token = request.cookies.get(COOKIE)
    factory = getattr(request.app.state, "portal_factory", None)
    if not token or factory is None:
        return None
    found = factory(request).accounts.session(token)
    if found is None or found.stage != "full":
        return None
    if request.method not in ("GET", "HEAD"):
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not hmac.compare_digest(sent, found.csrf):
            raise PermissionDenied(Message(f"缺少或错误的 {CSRF_HEADER}", f"{CSRF_HEADER} missing or wrong"))
    return str(found.actor.uscc)
