"""The officers' pages: the library and its reviews, a document, a version, the editor,
impact analysis and the audit log. Read-only: changes go through ``actions``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from huiqi.errors import InputError, Message, NotFound
from huiqi.library import states
from huiqi.library.checks import CheckReport
from huiqi.library.impact import KINDS as IMPACT_KINDS
from huiqi.library.impact import count_enterprises, impact, impact_svg
from huiqi.rules.library import Library
from huiqi.store.audit import page as audit_page_rows
from huiqi.store.audit import verify_chain
from huiqi.web.admin.auth import Editor, OfficerSession, Viewer
from huiqi.web.catalog import internal_todos
from huiqi.web.deps import settings
from huiqi.web.templating import TEMPLATES, render

TEMPLATES.env.globals.update(IMPACT_KINDS=IMPACT_KINDS)
router = APIRouter(include_in_schema=False)

#: What a finished action says, by the ``done`` code of the redirect (never text from the URL).
DONE = {
    "draft": "草稿已保存",
    "submit": "已提交审核",
    "publish": "已发布",
    "reject": "已退回修改",
    "abandon": "已放弃此版本",
    "withdraw": "已撤回",
}
AUDIT_PAGE = 100


def page(request: Request, template: str, me: OfficerSession | None, status: int = 200, **values: Any) -> Response:
    values.update(me=me.officer if me else None, csrf=me.csrf if me else "")
    values.setdefault("msg", DONE.get(request.query_params.get("done", "")))
    values.setdefault("error", None)
    return render(request, f"admin/{template}", values, status)


def parse_date(text: str, field: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        raise InputError(
            Message(f"日期格式应为 YYYY-MM-DD：{text[:20]}", f"expected a date YYYY-MM-DD, got {text[:20]!r}"),
            field=field,
        ) from None


def _in_force_policy(me: OfficerSession, doc_id: str) -> tuple[Library, Any] | None:
    library = me.lc.library_for(me.lc.clock.today())
    policy = library.by_id.get(doc_id)
    return (library, policy) if policy is not None else None


@router.get("/admin")
def index(request: Request, me: Viewer) -> Response:
    today = me.lc.clock.today()
    in_force = {r.document_id: r for r in me.lc.in_force(today)}
    versions = me.lc.versions()
    pending = [v for v in versions if v.state == "in_review"]
    drafts = [v for v in versions if v.state == "draft" and v.author == me.officer.name]
    return page(
        request,
        "index.html",
        me,
        documents=me.lc.documents(),
        in_force=in_force,
        pending=pending,
        drafts=drafts,
        today=today,
    )


@router.get("/admin/documents/{doc_id}")
def document_page(request: Request, me: Viewer, doc_id: str) -> Response:
    doc = me.lc.document(doc_id[:128])
    in_force = {r.document_id: r.version_id for r in me.lc.in_force(me.lc.clock.today())}
    found = _in_force_policy(me, doc.id)
    todos = internal_todos(found[1], found[0]) if found else []
    return page(
        request,
        "document.html",
        me,
        doc=doc,
        versions=me.lc.versions(doc.id),
        current_id=in_force.get(doc.id),
        todos=todos,
    )


@router.get("/admin/edit")
def edit_page(request: Request, me: Editor, doc: str | None = None, base: int | None = None) -> Response:
    text, filename, title = "", "", "新建政策"
    if base is not None:
        v = me.lc.version(base)
        text, doc = v.content, v.document_id
    elif doc is not None:
        latest = me.lc.latest_published(doc[:128])
        if latest is None:
            raise NotFound(Message(f"没有已发布的 {doc[:128]}", "nothing published"))
        text = latest.content
    if doc is not None:
        d = me.lc.document(doc[:128])
        filename, title = Path(d.path).name, d.title or d.id
    return page(request, "edit.html", me, text=text, doc_id=doc, filename=filename, title=title)


def version_view(
    request: Request, me: OfficerSession, version_id: int, *, status: int = 200, **values: Any
) -> Response:
    """The page of one version; also what a refused action shows again, with the reasons."""
    v = me.lc.version(version_id)
    doc = me.lc.document(v.document_id)
    report: CheckReport | None = None
    if v.state in ("draft", "in_review"):
        _, report = me.lc.check_text(v.content, filename=Path(doc.path).name, display=doc.path)
    actions = {t.action: t for t in states.allowed(v, me.officer, kind=doc.kind)}
    return page(
        request,
        "version.html",
        me,
        status,
        v=v,
        doc=doc,
        report=report,
        today=me.lc.clock.today(),
        actions=actions,
        four_eyes=v.state == "in_review" and me.officer.can("publisher") and v.author == me.officer.name,
        **values,
    )


@router.get("/admin/versions/{version_id}")
def version_page(request: Request, me: Viewer, version_id: int) -> Response:
    return version_view(request, me, version_id)


@router.get("/admin/versions/{version_id}/impact")
def impact_page(
    request: Request,
    me: Viewer,
    version_id: int,
    as_of: Annotated[str, Query(max_length=20)] = "",
    on: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """Impact analysis on the configured registry (``HUIQI_REGISTRY``); on the example
    enterprises only when the officer asks for it (``on=examples``), and then it says so."""
    v = me.lc.version(version_id)
    doc = me.lc.document(v.document_id)
    date = parse_date(as_of, "as_of") or v.effective_from or me.lc.clock.today()
    config = settings(request)
    registry = config.registry if config.registry is not None and config.registry.exists() else None
    source: Path | None = None
    source_kind = ""
    if on == "examples" and config.examples is not None:
        source, source_kind = config.examples, "examples"
    elif registry is not None:
        source, source_kind = registry, "registry"
    _, report = me.lc.check_text(v.content, filename=Path(doc.path).name, as_of=date, display=doc.path)
    result = None
    if report.library is not None and source is not None:
        current = me.lc.library_for(date)
        ids = [doc.id] if doc.kind == "policy" else None
        result = impact(current, report.library, source, date, policy_ids=ids, limit=20)
    return page(
        request,
        "impact.html",
        me,
        v=v,
        doc=doc,
        result=result,
        svg=impact_svg(result) if result else "",
        source=source,
        source_kind=source_kind,
        registry=registry,
        registry_size=count_enterprises(registry) if registry is not None and result is None else None,
        examples_available=config.examples is not None,
        as_of=date,
        problems=report.problems,
    )


@router.get("/admin/audit")
def audit_page(
    request: Request,
    me: Viewer,
    before: Annotated[int | None, Query(ge=1)] = None,
    verify: Annotated[bool, Query()] = False,
) -> Response:
    """The audit log, newest first, :data:`AUDIT_PAGE` rows a page; the whole hash chain is
    verified only when asked (it reads every row)."""
    rows = audit_page_rows(me.lc.engine, before=before, limit=AUDIT_PAGE)
    older = rows[-1].seq if len(rows) == AUDIT_PAGE and rows[-1].seq > 1 else None
    return page(
        request,
        "audit.html",
        me,
        rows=rows,
        older=older,
        chain=verify_chain(me.lc.engine) if verify else None,
    )
