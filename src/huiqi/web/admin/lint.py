"""The editor's live check (``POST /admin/api/lint``): lint, tests and a preview on the
example enterprises while an officer types."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, field_validator

from huiqi import vocab
from huiqi.match import match
from huiqi.profile import ProfileError, parse_profile
from huiqi.web.admin.auth import OfficerSession, check_csrf, require
from huiqi.web.deps import Document, Line, settings
from huiqi.web.problems import Problem

router = APIRouter()
EditorApi = Annotated[OfficerSession, Depends(require("editor"))]


class LintRequest(BaseModel):
    text: Document = Field(description="政策 YAML 全文")
    filename: Line | None = Field(None, description="共享文件须给出文件名 _parameters.yaml / _variables.yaml")
    document_id: Line | None = None
    as_of: dt.date | None = Field(None, description="评估日期 YYYY-MM-DD")

    @field_validator("as_of", mode="before")
    @classmethod
    def _date_text(cls, value: object) -> object:
        if value is not None and not isinstance(value, str | dt.date):
            raise ValueError("应为日期，格式 YYYY-MM-DD / expected a date string YYYY-MM-DD")
        return value


def examples(folder: Path | None) -> list[tuple[str, dict[str, Any]]]:
    """The example enterprises (name, profile) the preview is computed on."""
    if folder is None or not folder.is_dir():
        return []
    out = []
    for f in sorted(folder.glob("*.json")):
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            out.append((str(data.get("name") or f.stem), data))
    return out


@router.post(
    "/admin/api/lint",
    tags=["officers"],
    responses={c: {"model": Problem, "description": "problem+json (RFC 9457)"} for c in (400, 401, 403, 413, 422)},
)
def lint_api(request: Request, me: EditorApi, body: LintRequest) -> Response:
    """检查一段政策 YAML：与现行政策库一起加载、类型检查、运行全部测试用例，并在示例企业上预览结论。"""
    check_csrf(me, request.headers.get("X-CSRF-Token"))
    ref, report = me.lc.check_text(body.text, filename=body.filename, as_of=body.as_of)
    preview = []
    if report.library is not None and ref is not None and ref.kind == "policy":
        as_of = body.as_of or me.lc.clock.today()
        for name, data in examples(settings(request).examples):
            try:
                result = match(parse_profile(data), as_of, report.library, [ref.id])
            except ProfileError:
                continue
            for r in result.results:
                unmet = [c.reason for c in r.conditions if c.outcome != "met"]
                preview.append(
                    {
                        "enterprise": name,
                        "verdict": r.verdict,
                        "verdict_zh": vocab.verdict_label(r.verdict),
                        "amount": r.benefit.amount if r.benefit else None,
                        "reasons": unmet[:3],
                    }
                )
    return JSONResponse(
        {
            "ok": report.ok,
            "document_id": ref.id if ref else None,
            "id_changed": bool(ref and body.document_id and ref.id != body.document_id),
            "errors": report.errors,
            "warnings": report.warnings,
            "cases_passed": report.cases_passed,
            "cases_failed": report.cases_failed,
            "preview": preview,
        }
    )
