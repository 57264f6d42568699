"""The catalogue as the API shows it: summaries and details of the shipped policies."""

from __future__ import annotations

import datetime as dt

from huiqi.rules import Library
from huiqi.web import catalog

TODAY = dt.date(2026, 6, 30)


def test_detail_lists_conditions_parameters_and_apply(library: Library) -> None:
    policy = library.by_id["cn.cit.small-low-profit"]
    info = catalog.detail(policy, library, TODAY)
    # Labels worded with the parameters in force: the 300万元 limit, not the slot that quotes it.
    assert [c.label for c in info.conditions] == [c.text(library.params_at(TODAY)) for c in policy.conditions]
    assert info.conditions[0].label == "年应纳税所得额不超过300万元"
    assert "{param:" not in info.model_dump_json()
    assert info.document_number == policy.definition.document_number
    assert info.parameters, "the formula's parameters are listed with their sources"
    assert all(v.source for p in info.parameters for v in p.values)
    assert info.apply.channel == policy.definition.apply.channel
    assert not info.sample


def test_samples_are_marked(library: Library) -> None:
    for p in library.policies:
        s = catalog.summary(p, library, TODAY)
        assert s.sample == p.id.startswith("lj.")


def test_internal_todos_are_not_in_the_public_detail(library: Library) -> None:
    """Issue 9 §5: the public sees 依据核实中, never the officers' notes."""
    noted = [p for p in library.policies if catalog.internal_todos(p, library)]
    assert noted, "the shipped library has unverified facts"
    for p in noted:
        info = catalog.detail(p, library, TODAY)
        text = info.model_dump_json()
        assert info.verifying
        for note in catalog.internal_todos(p, library):
            assert note.split("：", 1)[-1] not in text
        assert "待核实" not in text and "unverified" not in text
