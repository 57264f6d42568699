"""What officers change: drafts, and the actions of the version state machine
(``huiqi.library.states``: submit, reject, publish, abandon, withdraw).

Every action is a form post with the session's CSRF token (:func:`~huiqi.web.admin.auth.posted`).
Success redirects to the version page with a ``done`` code (the message is the server's,
never text taken from the URL); a refusal shows the version page again with the reasons.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from huiqi.library import LifecycleError
from huiqi.web.admin.auth import OfficerSession, posted
from huiqi.web.admin.pages import page, parse_date, version_view
from huiqi.web.deps import Document, Line

router = APIRouter(include_in_schema=False)
EditorPost = Annotated[OfficerSession, Depends(posted("editor"))]


def _done(version_id: int, action: str) -> RedirectResponse:
    return RedirectResponse(f"/admin/versions/{version_id}?done={action}", status_code=303)


@router.post("/admin/drafts")
def create_draft(
    request: Request,
    me: EditorPost,
    text: Annotated[Document, Form()],
    note: Annotated[Line, Form()],
    doc_id: Annotated[Line, Form()] = "",
    filename: Annotated[Line, Form()] = "",
    submit: Annotated[Line, Form()] = "",
) -> Response:
    text = text.replace("\r\n", "\n")
    try:
        if submit:  # check first: a change that cannot be submitted leaves no stray draft
            _, report = me.lc.check_text(text, filename=filename or None, display=filename or None)
            if not report.ok:
                raise LifecycleError("未通过检查，不能提交审核 / it does not pass lint and tests", report.problems)
        v = me.lc.create_draft(
            text, author=me.officer.name, note=note, filename=filename or None, document_id=doc_id or None
        )
        if submit:
            v = me.lc.submit(v.id, actor=me.officer.name)
    except LifecycleError as e:  # the editor again, with the officer's text kept
        return page(
            request,
            "edit.html",
            me,
            e.status,
            text=text,
            doc_id=doc_id or None,
            filename=filename,
            title=doc_id or "新建政策",
            note=note,
            error=e.message.zh,
            problems=e.problems,
        )
    return _done(v.id, "submit" if v.state == "in_review" else "draft")


Action = Literal["submit", "reject", "publish", "abandon", "withdraw"]


@router.post("/admin/versions/{version_id}/{action}")
def act(
    request: Request,
    me: EditorPost,
    version_id: int,
    action: Action,
    note: Annotated[Line, Form()] = "",
    effective: Annotated[Line, Form()] = "",
) -> Response:
    """One of the state machine's actions; whether this officer may is the lifecycle's to say."""
    lc, who = me.lc, me.officer.name
    date = parse_date(effective, "effective")
    run: dict[str, Callable[[], object]] = {
        "submit": lambda: lc.submit(version_id, actor=who),
        "reject": lambda: lc.reject(version_id, actor=who, note=note),
        "publish": lambda: lc.publish(version_id, actor=who, effective=date, note=note),
        "abandon": lambda: lc.abandon(version_id, actor=who, note=note),
        "withdraw": lambda: lc.withdraw(version_id, actor=who, effective=date, note=note),
    }
    try:
        run[action]()
    except LifecycleError as e:
        return version_view(request, me, version_id, status=e.status, error=e.message.zh, problems=e.problems)
    return _done(version_id, action)
