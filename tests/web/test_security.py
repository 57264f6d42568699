"""Issue 10, the attacks on the public pages and API (no database needed), each performed.

Findings 5 (javascript: links, CSP), 10 (dates and digits), 12 (Host header, headers) and
issue 9 §5/§8 (internal to-dos, "查看原文" on a portal, districts by name).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from huiqi.rules import Library, lint_library
from huiqi.web import catalog
from huiqi.web.templating import TEMPLATES, is_portal
from tests.web.conftest import AS_OF, example

ROOT = Path(__file__).resolve().parents[2]
PAGES = [
    "/",
    "/policies",
    "/policies/cn.cit.small-low-profit",
    "/docs",
    "/no-such-page",
    "/search?q=研发",
    "/certs/verify",
    "/enterprise/data",
    "/admin/login",
]


# --- 5: javascript: URLs -------------------------------------------------------------------
@pytest.mark.parametrize("field", ["source_url", "apply.url", "documents"])
def test_lint_refuses_a_javascript_url(field: str) -> None:
    files = {p.relative_to(ROOT / "policies").as_posix(): p.read_text() for p in (ROOT / "policies").rglob("*.yaml")}
    rel = "cn/cit.small-low-profit.yaml"
    text = files[rel]
    evil = "javascript:fetch('/admin').then(r=>r.text()).then(t=>alert(t))"
    if field == "source_url":
        text = re.sub(r"(?m)^source_url: .*$", f'source_url: "{evil}"', text)
    elif field == "apply.url":
        text = text.replace("\napply:\n", f'\napply:\n  url: "{evil}"\n', 1)
    else:
        text = text.replace("\nregion:", f'\ndocuments:\n  - {{number: 某某号, url: "{evil}"}}\nregion:', 1)
    assert evil in text
    files[rel] = text
    library, problems = lint_library(Path("<db>"), files=files)
    errors = [str(p) for p in problems if p.severity == "error"]
    assert library is None and errors, "a javascript: URL must not pass lint"
    assert any("cit.small-low-profit.yaml:" in e for e in errors), errors  # file:line


def test_templates_never_link_anything_but_http(library: Library) -> None:
    """Even a URL that reached the data some other way is shown as text, never as a link."""
    policy = library.by_id["cn.cit.small-low-profit"]
    info = catalog.detail(policy, library, policy.definition.valid_from)
    evil = "javascript:alert(document.cookie)"
    info = info.model_copy(
        update={
            "source_url": evil,
            "documents": [catalog.DocumentInfo(number="某某号", url=evil, note=None)],
            "apply": info.apply.model_copy(update={"url": evil}),
        }
    )
    html = TEMPLATES.get_template("policy.html").render(p=info, in_force=True, page="policies")
    assert "javascript:" not in re.findall(r'href="([^"]*)"', html).__str__()
    assert 'href="javascript' not in html.lower() and evil in html  # shown, as text
    for bad in ("JavaScript:alert(1)", "data:text/html,<script>alert(1)</script>", "//evil.example/x", " javascript:x"):
        assert "<a " not in TEMPLATES.get_template("_links.html").module.link(bad)  # type: ignore[attr-defined]


def test_a_content_security_policy_forbids_inline_script(client: TestClient) -> None:
    for path in PAGES:
        r = client.get(path)
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        # and the pages keep to it: no inline script, no style attributes
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", r.text), path
        assert " style=" not in r.text or path == "/docs", path


# --- 12: Host header, security headers -----------------------------------------------------
def test_pages_do_not_build_urls_from_the_host_header(client: TestClient) -> None:
    for path in PAGES:
        r = client.get(path, headers={"Host": "evil.example"})
        assert "evil.example" not in r.text, path


@pytest.mark.parametrize(
    "path", [*PAGES, "/api/v1/health", "/api/v1/policies/nope", "/static/app.css", "/openapi.json"]
)
def test_every_response_carries_the_security_headers(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"
    assert r.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert "strict-transport-security" not in r.headers  # the base URL is not https here


def test_private_answers_are_never_stored_by_a_browser_or_proxy(client: TestClient) -> None:
    assert "cache-control" not in client.get("/policies").headers  # public: may be cached
    for path in (
        "/enterprise/data",
        "/admin/login",
        "/api/v1/inbox",
        "/api/v1/enterprises/91339901MA3C9W1E2F/consents",
    ):
        assert client.get(path).headers["cache-control"] == "no-store", path
    # Whatever the path, an answer to a request with credentials (a portal session, a token):
    for headers in ({"Authorization": "Bearer hqe_x"}, {"Cookie": "session=abc"}):
        assert client.get("/policies", headers=headers).headers["cache-control"] == "no-store"
    assert "cache-control" not in client.get("/static/app.css", headers={"Cookie": "session=abc"}).headers


# --- 10: a future founding date, digits of other scripts ------------------------------------
def test_registered_after_as_of_is_refused_not_a_start_up(client: TestClient) -> None:
    profile = {**example("manufacturer"), "registered_on": "2026-06-01"}
    r = client.post("/api/v1/match", json={"profile": profile, "as_of": "2025-06-30"})
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["profile.registered_on"]
    page = client.post("/", data={"registered_on": "2026-06-01", "employees": "5", "as_of": "2025-06-30"})
    assert page.status_code == 422 and "晚于评估日期" in page.text


def test_region_digits_are_read_the_same_way_by_api_and_pages(client: TestClient) -> None:
    ascii_api = client.get("/api/v1/policies", params={"region": "339901"}).json()["count"]
    wide_api = client.get("/api/v1/policies", params={"region": "３３９９０１"})
    assert wide_api.status_code == 200 and wide_api.json()["count"] == ascii_api  # NFKC: full-width is digits
    arabic = client.get("/api/v1/policies", params={"region": "٣٣٩٩٠١"})  # as huiqi.profile reads them
    assert arabic.status_code == 200 and arabic.json()["count"] == ascii_api
    match = client.post("/api/v1/match", json={"profile": {"region": "٣٣٩٩٠١", "employees": 5}, "as_of": AS_OF})
    assert match.status_code == 200 and match.json()["variables"] is not None
    ascii_page = client.get("/policies", params={"region": "339901"}).text.count('class="policy-card"')
    for typed in ("３３９９０１", "٣٣٩٩٠١"):
        page = client.get("/policies", params={"region": typed})
        assert page.status_code == 200 and page.text.count('class="policy-card"') == ascii_page
    assert client.get("/policies", params={"region": "33990x"}).status_code == 422
    assert client.get("/api/v1/policies", params={"region": "33990x"}).status_code == 422
    form = client.post("/", data={"region": "某某区", "employees": "5"})
    assert form.status_code == 422 and "请从列表中选择所在地区" in form.text


# --- issue 9: what the public sees -----------------------------------------------------------
def test_districts_are_chosen_by_name(client: TestClient) -> None:
    html = client.get("/").text
    select = re.search(r'<select id="f-region" name="region".*?</select>', html, re.S)
    assert select, "所在地区 is a list"
    assert "临江区" in select.group(0) and "江北区" in select.group(0) and ">339901<" not in select.group(0)
    by_name = client.post("/", data={"region": "江北区", "employees": "5", "as_of": AS_OF})
    assert by_name.status_code == 200


def test_public_pages_show_no_internal_todos(client: TestClient, library: Library) -> None:
    noted = [p for p in library.policies if catalog.internal_todos(p, library)]
    assert noted
    for policy in noted:
        html = client.get(f"/policies/{policy.id}").text
        assert "依据核实中" in html and "待核实" not in html
        for note in catalog.internal_todos(policy, library):
            assert note.split("：", 1)[-1][:30] not in html
        data = client.get(f"/api/v1/policies/{policy.id}").json()
        assert data["verifying"] is True and "unverified" not in data


def test_a_search_portal_is_not_called_the_original_text(client: TestClient, library: Library) -> None:
    portal = [p for p in library.policies if is_portal(p.definition.source_url)]
    direct = [p for p in library.policies if not is_portal(p.definition.source_url)]
    assert portal and direct
    html = client.get(f"/policies/{portal[0].id}").text
    assert "查看原文" not in html and "到发文机关网站检索原文" in html
    assert client.get(f"/api/v1/policies/{portal[0].id}").json()["source_portal"] is True
    assert "查看原文" in client.get(f"/policies/{direct[0].id}").text


#: Words of the officers' to-do notes ("凭记忆，未能核对原文"): never on a public page.
INTERNAL_TODO_WORDS = ("凭记忆", "未核实", "未能核对", "未能核实", "未读到原文", "待核实", "unverified")


def test_no_public_page_shows_the_words_of_an_internal_todo(client: TestClient, library: Library) -> None:
    """Document notes and parameter sources are public: the to-dos live in `unverified` and
    the parameters' notes, which only officers see (issue 9 §5)."""
    pages = ["/policies", *(f"/policies/{p.id}" for p in library.policies)]
    for page in pages:
        html = client.get(page).text
        for word in INTERNAL_TODO_WORDS:
            assert word not in html, (page, word)


@pytest.mark.parametrize(
    ("as_of", "document"),
    [
        ("2019-06-30", "财税〔2019〕13号"),
        ("2025-06-30", "财政部 税务总局公告2023年第19号"),
        (AS_OF, "财政部 税务总局公告2026年第10号"),
    ],
)
def test_the_calculator_cites_the_document_in_force_and_never_calls_a_portal_the_original(
    client: TestClient, as_of: str, document: str
) -> None:
    form = {"taxpayer_type": "small_scale", "monthly_sales": "5", "employees": "3", "as_of": as_of}
    html = client.post("/", data=form).text
    card = html[html.index("小规模纳税人月销售额10万元以下免征增值税") :]
    card = card[: card.index("政策详情")]
    assert f"依据：{document}" in card
    assert "查看原文" not in card and "到发文机关网站检索原文" in card  # fgk.chinatax.gov.cn is a search portal
    for word in INTERNAL_TODO_WORDS:
        assert word not in html, word
