"""The officers' part of the web app (``/admin``), by job:

* ``auth`` — login, logout, sessions and CSRF, as dependencies that raise;
* ``pages`` — the library and reviews, documents, versions, the editor, impact, audit;
* ``actions`` — drafts and the version state machine's actions (form posts);
* ``lint`` — the editor's live check (JSON API).

The pages need the lifecycle database: they work when the app's library source is a
``DbLibrarySource`` (``huiqi serve --db``); otherwise they answer 503.
"""

from fastapi import APIRouter

from huiqi.web.admin import actions, auth, lint, pages

router = APIRouter()
for part in (auth, pages, actions, lint):
    router.include_router(part.router)

__all__ = ["router"]
