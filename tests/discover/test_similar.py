"""'Similar enterprises also applied for': ALS on an interaction history, folded in by attributes."""

from __future__ import annotations

import datetime as dt

import pytest

from huiqi.discover.similar import Interaction, ListSource, SimilarEnterprises, attributes, synthetic_interactions
from huiqi.match import default_library

CATERING = "lj.commerce.catering-stable-award"
SOFTWARE = "lj.sci.software-growth-award"
JOBS = "lj.hr.job-stabilization"


def history() -> ListSource:
    items = []
    for n in range(40):
        restaurant = attributes({"industry": "H6210", "region": "339901"}, {"size_class": "small"})
        items += [Interaction(f"r{n}", restaurant, CATERING), Interaction(f"r{n}", restaurant, JOBS)]
        software = attributes({"industry": "I6513", "region": "339903"}, {"stage": "成长期"})
        items.append(Interaction(f"s{n}", software, SOFTWARE))
    return ListSource(items)


def test_a_new_enterprise_gets_what_its_kind_applied_for() -> None:
    similar = SimilarEnterprises(history(), factors=4, iterations=10)
    ids = [CATERING, SOFTWARE, JOBS]
    restaurant = similar({"industry": "H6220", "region": "339901"}, {"size_class": "small"}, ids)
    assert restaurant[CATERING] > restaurant[SOFTWARE] and restaurant[JOBS] > restaurant[SOFTWARE]
    software = similar({"industry": "I6513", "region": "339903"}, {"stage": "成长期"}, ids)
    assert software[SOFTWARE] == 1.0 and software[CATERING] < 0.5
    assert all(0.0 <= v <= 1.0 for v in [*restaurant.values(), *software.values()])


def test_nothing_known_in_common_gives_no_scores() -> None:
    similar = SimilarEnterprises(history(), factors=4, iterations=5)
    assert similar({"industry": "A0141", "region": "110101"}, {}, [CATERING]) == {}
    assert similar({"industry": "H6210"}, {}, ["cn.not.in-history"]) == {}


def test_an_empty_history_is_refused() -> None:
    with pytest.raises(ValueError, match="没有可学习的申请记录"):
        SimilarEnterprises(ListSource([]))


def test_the_synthetic_history_applies_only_to_open_policies() -> None:
    library = default_library()
    as_of = dt.date(2026, 6, 30)
    source = synthetic_interactions(library, as_of, enterprises=60, seed=3)
    assert source.items and len({i.enterprise for i in source.items}) > 30
    assert source.items == synthetic_interactions(library, as_of, enterprises=60, seed=3).items  # seeded
    ids = {p.id for p in library.policies}
    assert all(i.policy_id in ids and i.enterprise.startswith("synthetic-") for i in source.items)
