"""The HTTP API through FastAPI's TestClient: contract, filters, and problem+json errors."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from huiqi.clock import FixedClock
from huiqi.match import match
from huiqi.profile import FIELDS
from huiqi.rules import Library, StaticSource, load_library
from huiqi.web import create_app
from tests.conftest import TEST_NOW

from .conftest import AS_OF, example, policy

PROBLEM = "application/problem+json"


def post_match(client: TestClient, body: Any, **kw: Any) -> Any:
    return client.post("/api/v1/match", json=body, **kw)


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:huiqi:problem:")
    assert " / " in body["title"]  # 中文 / English
    return body


# --- match ------------------------------------------------------------------------------
def test_match_returns_the_contract_json(client: TestClient, library: Library) -> None:
    profile = example("manufacturer")
    r = post_match(client, {"profile": profile, "as_of": AS_OF})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    expected = json.loads(match(profile, dt.date.fromisoformat(AS_OF), library).model_dump_json())
    assert r.json() == expected
    body = r.json()
    assert body["as_of"] == AS_OF
    assert {"eligible", "ineligible"} <= {x["verdict"] for x in body["results"]}
    amounts = [x["benefit"]["amount"] for x in body["results"] if x["benefit"] and x["benefit"]["amount"]]
    assert amounts and all(isinstance(a, str) for a in amounts)  # exact decimals, never floats


def test_match_defaults_to_today(client: TestClient) -> None:
    r = post_match(client, {"profile": {"employees": 10}})
    assert r.status_code == 200
    assert r.json()["as_of"] == "2026-12-01"  # the app's clock (tests.conftest.TEST_NOW)


def test_match_lists_missing_facts(client: TestClient) -> None:
    r = post_match(client, {"profile": {"employees": 10}, "as_of": AS_OF})
    undetermined = [x for x in r.json()["results"] if x["verdict"] == "undetermined"]
    assert undetermined
    assert all(x["missing"] and set(x["missing"]) <= set(FIELDS) for x in undetermined)


def test_bad_profile_names_every_field_in_chinese_and_english(client: TestClient) -> None:
    r = post_match(client, {"profile": {"employees": "abc", "revenue": "-5", "colour": "red"}})
    body = assert_problem(r, 422)
    by_field = {e["field"]: e for e in body["errors"]}
    assert set(by_field) == {"profile.employees", "profile.revenue", "profile.colour"}
    assert by_field["profile.employees"]["label"] == "从业人数"
    assert by_field["profile.employees"]["message_zh"] == "应为整数"
    assert by_field["profile.employees"]["message_en"]
    assert by_field["profile.employees"]["pointer"] == "#/profile/employees"
    assert by_field["profile.revenue"]["message_zh"] == "不能为负数"
    assert "从业人数" in body["detail"]


def test_empty_profile_is_refused(client: TestClient) -> None:
    body = assert_problem(post_match(client, {"profile": {}}), 422)
    assert "不能为空" in body["errors"][0]["message_zh"]


def test_bad_as_of_names_the_date(client: TestClient) -> None:
    body = assert_problem(post_match(client, {"profile": {"employees": 3}, "as_of": "2026-02-30"}), 422)
    assert body["errors"][0]["field"] == "as_of"
    assert body["errors"][0]["label"] == "评估日期"
    body = assert_problem(post_match(client, {"profile": {"employees": 3}, "as_of": "9999-12-31"}), 422)
    assert "2100-12-31" in body["errors"][0]["message_zh"]


NESTED = "[" * 100_000 + "]" * 100_000
MALFORMED: list[tuple[str, bytes, str]] = [
    ("not json", b"{profile: 1", "application/json"),
    ("empty body", b"", "application/json"),
    ("a list", b"[1, 2, 3]", "application/json"),
    ("a string", b'"profile"', "application/json"),
    ("null", b"null", "application/json"),
    ("profile is a list", b'{"profile": [1]}', "application/json"),
    ("profile is a string", b'{"profile": "x"}', "application/json"),
    ("no profile", b'{"as_of": "2026-01-01"}', "application/json"),
    ("unknown top-level field", b'{"profile": {"employees": 1}, "extra": 1}', "application/json"),
    ("as_of a number", b'{"profile": {"employees": 1}, "as_of": 20260101}', "application/json"),
    ("as_of a datetime", b'{"profile": {"employees": 1}, "as_of": "2026-01-01T10:00:00"}', "application/json"),
    ("year zero", b'{"profile": {"employees": 1}, "as_of": "0000-01-01"}', "application/json"),
    ("huge float", b'{"profile": {"employees": 1e400}}', "application/json"),
    ("huge integer", b'{"profile": {"employees": ' + b"9" * 5000 + b"}}", "application/json"),
    ("huge money", b'{"profile": {"revenue": "1e999999999"}}', "application/json"),
    ("money with exponent", b'{"profile": {"revenue": 1e17}}', "application/json"),
    ("NaN", b'{"profile": {"revenue": NaN}}', "application/json"),
    ("Infinity string", b'{"profile": {"revenue": "Infinity"}}', "application/json"),
    ("negative zero date", b'{"profile": {"registered_on": "-0001-01-01"}}', "application/json"),
    ("nested junk", b'{"profile": {"name": ' + NESTED.encode() + b"}}", "application/json"),
    ("deep objects", b'{"profile": ' + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b"}", "application/json"),
    ("deep list field", b'{"profile": {"certifications": [[[[["high_tech"]]]]]}}', "application/json"),
    ("bad utf-8", b'{"profile": {"name": "\xff\xfe"}}', "application/json"),
    ("lone surrogate", b'{"profile": {"name": "\\ud800"}}', "application/json"),
    ("NUL in string", b'{"profile": {"uscc": "\\u0000"}}', "application/json"),
    ("form body", b"profile=1", "application/x-www-form-urlencoded"),
    ("plain text", b'{"profile": {"employees": 1}}', "text/plain"),
    ("unknown industry", b'{"profile": {"industry": "Z999"}}', "application/json"),
    ("industry not in the standard", b'{"profile": {"industry": "C9999"}}', "application/json"),
    ("bad uscc", b'{"profile": {"uscc": "91339903MA2K7Q3B30"}}', "application/json"),
    ("unknown certification", b'{"profile": {"certifications": ["nobel"]}}', "application/json"),
    ("too many decimals", b'{"profile": {"revenue": "1.001"}}', "application/json"),
]


@pytest.mark.parametrize(("name", "body", "content_type"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_input_is_a_4xx_problem(client: TestClient, name: str, body: bytes, content_type: str) -> None:
    r = client.post("/api/v1/match", content=body, headers={"content-type": content_type})
    assert 400 <= r.status_code < 500, (name, r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith(PROBLEM)
    problem = r.json()
    assert problem["status"] == r.status_code
    assert problem["detail"]


def test_body_too_large_is_413(client: TestClient) -> None:
    big = b'{"profile": {"name": "' + b"x" * 400_000 + b'"}}'
    body = assert_problem(client.post("/api/v1/match", content=big, headers={"content-type": "application/json"}), 413)
    assert "KB" in body["detail"]


def test_wrong_method_and_unknown_path_are_problems(client: TestClient) -> None:
    assert_problem(client.get("/api/v1/match"), 405)
    assert_problem(client.get("/api/v1/nothing-here"), 404)


# --- policies ---------------------------------------------------------------------------
def test_policies_lists_all_with_summaries(client: TestClient, library: Library) -> None:
    r = client.get("/api/v1/policies")
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == len(library.policies) == len(body["policies"])
    first = body["policies"][0]
    for key in ("id", "title", "summary", "category_label", "document_number", "source_url", "sample"):
        assert key in first


def test_policies_filters(client: TestClient, library: Library) -> None:
    tax = client.get("/api/v1/policies", params={"category": "tax"}).json()["policies"]
    assert tax and all(p["category"] == "tax" for p in tax)
    assert len(tax) == sum(p.definition.category == "tax" for p in library.policies)

    found = client.get("/api/v1/policies", params={"q": "研发"}).json()["policies"]
    assert found
    for p in found:
        assert "研发" in p["title"] + p["summary"] + "".join(p["tags"]) + p["document_number"]

    day = "2024-06-30"
    in_force = client.get("/api/v1/policies", params={"in_force_on": day}).json()["policies"]
    assert {p["id"] for p in in_force} == {
        p.id for p in library.policies if p.definition.in_force(dt.date.fromisoformat(day))
    }


def test_industry_filter_on_the_shipped_library(client: TestClient) -> None:
    """The R&D super deduction excludes 住宿和餐饮业 (section H) in its conditions."""
    catering = {p["id"] for p in client.get("/api/v1/policies", params={"industry": "H6210"}).json()["policies"]}
    making = {p["id"] for p in client.get("/api/v1/policies", params={"industry": "c3911"}).json()["policies"]}
    assert "cn.cit.rd-super-deduction" not in catering
    assert "cn.cit.rd-super-deduction" in making
    assert "cn.cit.small-low-profit" in catering & making  # no industry condition


def test_policies_filter_errors(client: TestClient) -> None:
    body = assert_problem(client.get("/api/v1/policies", params={"category": "free-lunch"}), 422)
    assert body["errors"][0]["field"] == "category" and body["errors"][0]["label"] == "政策类别"
    body = assert_problem(client.get("/api/v1/policies", params={"industry": "C9999"}), 422)
    assert body["errors"][0]["label"] == "所属行业" and "C9999" in body["errors"][0]["message_zh"]
    assert_problem(client.get("/api/v1/policies", params={"industry": "制造"}), 422)
    assert_problem(client.get("/api/v1/policies", params={"region": "3399"}), 422)
    assert_problem(client.get("/api/v1/policies", params={"in_force_on": "yesterday"}), 422)
    assert_problem(client.get("/api/v1/policies", params={"q": "x" * 101}), 422)


def test_policy_detail(client: TestClient, library: Library) -> None:
    for p in library.policies:
        r = client.get(f"/api/v1/policies/{p.id}")
        assert r.status_code == 200, p.id
        body = r.json()
        assert body["id"] == p.id
        assert len(body["conditions"]) == len(p.conditions)
        assert body["apply"]["mode"] == p.definition.apply.mode
        assert body["sample"] == p.definition.sample


def test_unknown_policy_is_404_problem(client: TestClient) -> None:
    body = assert_problem(client.get("/api/v1/policies/cn.no.such-policy"), 404)
    assert "cn.no.such-policy" in body["detail"]


# --- industries, health, spec -----------------------------------------------------------
def test_industries_by_code_and_by_name(client: TestClient) -> None:
    by_code = client.get("/api/v1/industries", params={"q": "C39"}).json()["industries"]
    assert by_code[0]["code"] == "C39" and all(i["code"].startswith("C39") for i in by_code)
    by_name = client.get("/api/v1/industries", params={"q": "计算机整机"}).json()["industries"]
    assert by_name[0]["code"] == "C3911" and by_name[0]["level_name"] == "小类"
    assert by_name[0]["path"][0] == "制造业"
    assert client.get("/api/v1/industries", params={"q": "  "}).json() == {"industries": []}
    assert len(client.get("/api/v1/industries", params={"q": "C", "limit": 5}).json()["industries"]) == 5
    assert_problem(client.get("/api/v1/industries", params={"limit": 0}), 422)
    assert_problem(client.get("/api/v1/industries", params={"q": "字" * 51}), 422)


def test_health(client: TestClient, library: Library) -> None:
    assert client.get("/api/v1/health").json() == {"status": "ok", "policies": len(library.policies)}


def test_openapi_and_docs(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/api/v1/match", "/api/v1/policies", "/api/v1/policies/{policy_id}", "/api/v1/industries"):
        assert path in paths
    assert "/" not in paths and "/policies" not in paths  # pages are not API
    errors = paths["/api/v1/match"]["post"]["responses"]["422"]["content"]
    assert list(errors) == [PROBLEM]
    profile = paths["/api/v1/match"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert profile  # the Profile schema documents every field
    docs = client.get("/docs")
    assert docs.status_code == 200
    # Swagger UI is served from here, not from a CDN the intranet cannot reach.
    assets = re.findall(r'(?:src|href)="(/[^"]+)"', docs.text)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    assert all(client.get(a).status_code == 200 for a in assets)


def test_the_library_is_asked_for_on_every_request(library: Library) -> None:
    """A lifecycle source may publish a new library at any moment; no restart needed."""

    class Swapping:
        def __init__(self) -> None:
            self.library = library

        def current(self) -> Library:
            return self.library

        def library_for(self, as_of: dt.date) -> Library:
            return self.library

        def cached_for(self, as_of: dt.date) -> Library:
            return self.library

    source = Swapping()
    with TestClient(create_app(source, clock=FixedClock(TEST_NOW))) as c:
        assert c.get("/api/v1/health").json()["policies"] == len(library.policies)
        small = load_library(
            files={
                "cn/a.yaml": policy("cn.test.one", ["employees > 0"]),
                "cn/b.yaml": policy("cn.test.two", ["employees > 1"]),
            }
        )
        source.library = small
        assert c.get("/api/v1/health").json()["policies"] == 2
        assert c.get("/api/v1/policies").json()["count"] == 2
        r = c.post("/api/v1/match", json={"profile": {"employees": 5}, "as_of": AS_OF})
        assert {x["policy_id"] for x in r.json()["results"]} <= {p.id for p in small.policies}


def test_static_source_is_accepted() -> None:
    app = create_app(StaticSource(load_library()), clock=FixedClock(TEST_NOW))
    with TestClient(app) as c:
        assert c.get("/api/v1/health").status_code == 200


def test_freeze_gc_keeps_the_library_out_of_collections(library: Library) -> None:
    import gc

    class Swapping:
        def __init__(self) -> None:
            self.library = library

        def current(self) -> Library:
            return self.library

        def library_for(self, as_of: dt.date) -> Library:
            return self.library

        def cached_for(self, as_of: dt.date) -> Library:
            return self.library

    source = Swapping()
    gc.unfreeze()
    try:
        with TestClient(create_app(source, freeze_gc=True, clock=FixedClock(TEST_NOW))) as c:
            assert gc.get_freeze_count() > 0  # frozen at start-up
            assert c.app.state.frozen_library == id(library)  # type: ignore[attr-defined]
            source.library = load_library(files={"cn/a.yaml": policy("cn.test.one", ["employees > 0"])})
            assert c.get("/api/v1/health").json()["policies"] == 1
            assert c.app.state.frozen_library == id(source.library)  # type: ignore[attr-defined]
        with TestClient(create_app(source, clock=FixedClock(TEST_NOW))) as c:  # the default leaves the collector alone
            assert c.app.state.frozen_library is None  # type: ignore[attr-defined]
    finally:
        gc.unfreeze()
