"""One error tree, one handler: every HuiqiError becomes problem+json with its own status."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from huiqi import errors
from huiqi.batch.run import BatchError
from huiqi.clock import FixedClock
from huiqi.errors import HuiqiError, Message
from huiqi.library import LifecycleError, NotFound, PermissionDenied
from huiqi.match import default_library
from huiqi.profile import ProfileError, parse_profile
from huiqi.rules import LibraryError
from huiqi.rules.lang import ExprError
from huiqi.rules.source import StaticSource
from huiqi.web import create_app
from tests.conftest import TEST_NOW


def test_the_named_errors_share_one_base():
    for cls in (ProfileError, ExprError, LibraryError, LifecycleError, BatchError, NotFound, PermissionDenied):
        assert issubclass(cls, HuiqiError), cls
    # Callers that caught ValueError before still do.
    assert issubclass(ProfileError, ValueError) and issubclass(ExprError, ValueError)
    assert issubclass(NotFound, errors.NotFound) and issubclass(PermissionDenied, errors.PermissionDenied)


def test_a_bilingual_message_is_split_in_one_place():
    m = Message.parse("没有这个版本 / no such version")
    assert (m.zh, m.en, str(m)) == ("没有这个版本", "no such version", "没有这个版本 / no such version")
    assert Message.parse("只有中文") == Message("只有中文", "只有中文")
    assert str(Message("只有中文", "只有中文")) == "只有中文"


def _raise(exc: Exception):
    async def endpoint():
        raise exc

    return endpoint


CASES = [
    (NotFound("没有版本 #9 / no such version"), 404, "not-found"),
    (PermissionDenied("四眼原则 / four-eyes"), 403, "forbidden"),
    (LifecycleError("不能发布 / refused", ["测试失败 / a test failed"]), 409, "refused"),
    (errors.RateLimited("太快了 / slow down", retry_after=7), 429, "rate-limited"),
    (errors.Unauthenticated("需要令牌 / token needed"), 401, "unauthenticated"),
    (errors.InputError("邮箱格式不对 / bad e-mail", field="email"), 422, "invalid-input"),
]


@pytest.mark.parametrize(("exc", "status", "kind"), CASES, ids=[c[2] for c in CASES])
def test_each_error_is_problem_json_with_its_status(exc, status, kind):
    app = create_app(StaticSource(default_library()), clock=FixedClock(TEST_NOW))
    app.add_api_route("/api/v1/boom", _raise(exc))
    r = TestClient(app).get("/api/v1/boom")
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"] == f"urn:huiqi:problem:{kind}" and body["status"] == status
    assert str(exc.message) in body["detail"]
    if exc.details():
        assert "测试失败" in body["detail"]
    if isinstance(exc, errors.RateLimited):
        assert r.headers["retry-after"] == "7"
    if isinstance(exc, errors.InputError):
        assert body["errors"][0]["field"] == "email" and body["errors"][0]["message_zh"] == "邮箱格式不对"


def test_a_profile_error_names_its_fields():
    with pytest.raises(ProfileError) as caught:
        parse_profile({"employees": "many"})
    [field] = caught.value.field_errors()
    assert field.field == "employees" and field.message.zh == "应为整数"
