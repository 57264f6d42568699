"""The portal's applications feed "similar enterprises also applied for" (ALS), on both databases."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine

from huiqi.match import default_library
from huiqi.portal import schema
from huiqi.portal.base import dumps
from huiqi.portal.similar import MIN_APPLICATIONS, PortalApplications, similar_enterprises
from huiqi.store.db import make_engine, write_session
from huiqi.store.migrate import upgrade
from tests.conftest import TEST_NOW

AS_OF = dt.date(2026, 6, 30)
CATERING = "lj.commerce.catering-stable-award"
SOFTWARE = "lj.sci.software-growth-award"
JOBS = "lj.hr.job-stabilization"


@pytest.fixture
def engine(db_url: str) -> Engine:
    engine = make_engine(db_url)
    upgrade(engine)
    return engine


def add(engine: Engine, uscc: str, facts: dict[str, object], applied: dict[str, str]) -> None:
    with write_session(engine) as s:
        for name, value in facts.items():
            s.execute(
                schema.facts.insert().values(
                    uscc=uscc, field=name, value=dumps(value), origin="register", updated_at=TEST_NOW
                )
            )
        for policy_id, status in applied.items():
            row = {"uscc": uscc, "policy_id": policy_id, "title": policy_id, "office": "测试局", "status": status}
            row |= {"version": 1, "form": "{}", "created_by": 1, "created_at": TEST_NOW, "updated_at": TEST_NOW}
            s.execute(schema.applications.insert().values(**row))


def restaurant(n: int) -> dict[str, object]:
    return {"industry": "H6210", "region": "339901", "employees": 12, "registered_on": "2024-03-01"}


def software(n: int) -> dict[str, object]:
    return {"industry": "I6513", "region": "339903", "employees": 60, "registered_on": "2020-03-01"}


def test_applications_sent_are_the_feedback_weighted_by_how_far_they_got(engine: Engine) -> None:
    add(engine, "U1", restaurant(1), {CATERING: "paid", JOBS: "submitted", SOFTWARE: "draft"})
    add(engine, "U2", software(2), {SOFTWARE: "rejected", JOBS: "withdrawn"})
    got = {(i.enterprise, i.policy_id): i for i in PortalApplications(engine, default_library(), AS_OF).interactions()}
    assert set(got) == {("U1", CATERING), ("U1", JOBS)}  # drafts, rejected and withdrawn are left out
    assert got["U1", CATERING].weight > got["U1", JOBS].weight
    assert {"section:H", "division:H62", "region:339901", "stage:初创期"} <= set(got["U1", CATERING].attributes)
    assert similar_enterprises(engine, default_library(), AS_OF) is None  # too few to learn from


def test_enough_applications_make_a_model_that_knows_a_restaurant_from_a_software_firm(engine: Engine) -> None:
    for n in range(MIN_APPLICATIONS // 2):
        add(engine, f"R{n}", restaurant(n), {CATERING: "paid", JOBS: "accepted"})
        add(engine, f"S{n}", software(n), {SOFTWARE: "announced"})
    model = similar_enterprises(engine, default_library(), AS_OF)
    assert model is not None
    ids = [CATERING, SOFTWARE, JOBS]
    new_restaurant = model({"industry": "H6220", "region": "339901"}, {"stage": "初创期", "size_class": "micro"}, ids)
    assert new_restaurant[CATERING] > new_restaurant[SOFTWARE]


def test_the_calculator_says_what_similar_enterprises_applied_for(engine: Engine) -> None:
    from fastapi.testclient import TestClient

    from huiqi.clock import FixedClock
    from huiqi.rules import StaticSource
    from huiqi.web import create_app
    from huiqi.web.pages import SimilarModels

    for n in range(MIN_APPLICATIONS // 2):
        add(engine, f"R{n}", restaurant(n), {CATERING: "paid", JOBS: "accepted"})
        add(engine, f"S{n}", software(n), {SOFTWARE: "announced"})
    library = default_library()
    source = StaticSource(library)
    source.engine = engine  # type: ignore[attr-defined]  # a platform on a database, as DbLibrarySource
    clock = FixedClock(TEST_NOW)
    app = create_app(source, clock=clock)
    app.state.similar_models = models = SimilarModels()
    assert models.train(engine, library, clock) is not None  # what the background thread does
    form = {"industry": "H6210", "region": "339901", "employees": "12", "as_of": "2026-06-30"}
    with TestClient(app) as client:
        html = client.post("/", data=form).text
    card = html[html.index('id="p-' + CATERING + '"') :]
    reason = card[card.index('class="reason"') : card.index("</p>", card.index('class="reason"'))]
    assert "同类企业也常申请" in reason and "因为您是餐饮企业" in reason
