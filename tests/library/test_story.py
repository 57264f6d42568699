"""The officer's story of issue 5, end to end over the public API.

An editor raises a threshold, sees who gains, a second officer publishes, the running
calculator answers differently within a second, and yesterday still answers as before.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from huiqi.library import PermissionDenied
from huiqi.library.impact import impact
from huiqi.library.source import DbLibrarySource
from huiqi.profile import uscc
from huiqi.rules import load_library
from huiqi.web import create_app

POLICIES = Path(__file__).resolve().parents[2] / "policies"
POLICY = "cn.cit.small-low-profit"
OLD_LINE = "      - {from: 2023-01-01, value: 3000000, source: 财政部 税务总局公告2023年第12号 第五条}\n"
# 3.5 million yuan of taxable income: above today's 3 million limit, below the proposed 4 million.
FIRM = {"employees": 50, "total_assets": "10000000", "taxable_income": "3500000"}
FIRM_USCC = "91339901MA2B3C4D5" + uscc.check_character("91339901MA2B3C4D5")


def test_raise_a_threshold_review_publish_and_see_it_live(lc, propose) -> None:
    today = lc.clock.today()
    yesterday = today - dt.timedelta(days=1)
    params = (POLICIES / "_parameters.yaml").read_text(encoding="utf-8")
    assert OLD_LINE in params
    raised = params.replace(
        OLD_LINE, OLD_LINE + f"      - {{from: {today.isoformat()}, value: 4000000, source: 临江测试〔2026〕1号}}\n"
    )

    client = TestClient(create_app(DbLibrarySource(lc.engine, poll_interval=0.1, clock=lc.clock), clock=lc.clock))

    def verdict(as_of: dt.date) -> tuple[str, str | None]:
        r = client.post("/api/v1/match", json={"profile": FIRM, "as_of": as_of.isoformat()})
        assert r.status_code == 200, r.text
        (result,) = [x for x in r.json()["results"] if x["policy_id"] == POLICY]
        return result["verdict"], result["benefit"]["amount"]

    assert verdict(today) == ("ineligible", None)
    assert verdict(yesterday) == ("ineligible", None)

    # The editor proposes; the impact on the example enterprises plus our firm is shown first.
    version = propose(lc, raised, filename="_parameters.yaml", author="alice", note="上限提高到400万元")
    in_force = lc.library_for(today)  # not yet: the change is only in review
    assert in_force.parameters["cit.small_low_profit.max_taxable_income"].at(today) == 3000000
    _, report = lc.check_text(raised, filename="_parameters.yaml")
    assert report.ok
    files = lc.files_for(today)
    files["_parameters.yaml"] = raised
    change = impact(lc.library_for(today), load_library(files=files), [{"uscc": FIRM_USCC, **FIRM}], today)
    assert change.counts["newly_eligible"] >= 1
    assert any(c.policy_id == POLICY and c.kind == "newly_eligible" for c in change.changes)

    # Four eyes: the author may not publish; a second officer does.
    with pytest.raises(PermissionDenied):
        lc.publish(version.id, actor="alice")
    published_at = time.monotonic()
    lc.publish(version.id, actor="bob", note="同意")

    while verdict(today)[0] != "eligible":
        assert time.monotonic() - published_at < 1.0, "the running calculator did not pick up the change in 1 s"
        time.sleep(0.05)
    # 3,500,000 × (25% − 5%) = 700,000 yuan saved
    assert verdict(today) == ("eligible", "700000.00")
    assert verdict(yesterday) == ("ineligible", None)


SOFTWARE = "lj.sci.software-growth-award"
SOFTWARE_FILE = POLICIES / "lj" / "sci.software-growth-award.yaml"
OLD_MIN = "      - {from: 2025-01-01, value: 10000000, source: 临高新管〔2025〕14号 第二条}\n"
# A software firm in the high-tech zone with 200万元 of revenue: below 1000万元, above 100万元.
SOFTWARE_FIRM = {"region": "339903", "industry": "I6513", "registered_on": "2021-04-01", "revenue": "2000000"}


def test_a_lowered_threshold_is_the_one_the_public_reason_quotes(lc, propose) -> None:
    """Issue 9 §6: an officer lowers 1000万元 to 100万元; once published, the public reason
    quotes 100万元 — never "1000万元至1亿元之间：符合（上年营业收入 200 万元）"."""
    today = lc.clock.today()
    yesterday = today - dt.timedelta(days=1)
    text = SOFTWARE_FILE.read_text(encoding="utf-8")
    assert OLD_MIN in text
    new_value = f"      - {{from: {today.isoformat()}, value: 1000000, source: 临高新管〔2026〕2号 第一条}}\n"
    lowered = text.replace(OLD_MIN, OLD_MIN + new_value)
    client = TestClient(create_app(DbLibrarySource(lc.engine, poll_interval=0.1, clock=lc.clock), clock=lc.clock))

    def said(as_of: dt.date) -> tuple[str, str, str]:
        r = client.post("/api/v1/match", json={"profile": SOFTWARE_FIRM, "as_of": as_of.isoformat()})
        assert r.status_code == 200, r.text
        (result,) = [x for x in r.json()["results"] if x["policy_id"] == SOFTWARE]
        (revenue,) = [c for c in result["conditions"] if c["id"] == "revenue"]
        return result["verdict"], revenue["reason"], result["summary"]

    old_reason = "上年营业收入在1000万元至1亿元之间（含本数）：不符合（上年营业收入 200 万元）"
    assert said(today)[:2] == ("ineligible", old_reason)

    # The editor's draft changes only the parameter: no label or summary is edited by hand.
    version = propose(lc, lowered, author="alice", note="营业收入下限降为100万元")
    assert "上年营业收入在{param:lj.sci.software-growth-award.min_revenue|万元}" in lowered
    assert said(today)[0] == "ineligible"  # still in review
    lc.publish(version.id, actor="bob", note="同意")

    published_at = time.monotonic()
    while said(today)[0] != "eligible":
        assert time.monotonic() - published_at < 2.0, "the running calculator did not pick up the change"
        time.sleep(0.05)
    _, reason, summary = said(today)
    assert reason == "上年营业收入在100万元至1亿元之间（含本数）：符合（上年营业收入 200 万元）"
    assert "上年营业收入100万元至1亿元" in summary and "1000万" not in summary
    # Yesterday's answer keeps yesterday's rule and words.
    assert said(yesterday)[:2] == ("ineligible", old_reason)
    # The public policy page quotes the threshold in force too.
    page = client.get(f"/policies/{SOFTWARE}").text
    assert "上年营业收入在100万元至1亿元之间（含本数）" in page and "在1000万元至1亿元之间" not in page
