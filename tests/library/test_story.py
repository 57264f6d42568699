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
