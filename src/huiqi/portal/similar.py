"""The portal's applications as "similar enterprises also applied for" (huiqi.discover.similar).

Each application an enterprise has sent is implicit feedback for ALS: the enterprise (by
USCC) with its attributes — 行业, 地区, 发展阶段, 规模, read from its profile facts and the
library's derived variables — and the policy. How far an application got weighs more: a
policy paid out says more than one merely submitted. Drafts (not yet sent), and
applications rejected or withdrawn are not what enterprises like this one end up with and
are left out.

Below ``MIN_APPLICATIONS`` applications from ``MIN_ENTERPRISES`` enterprises there is no
model (None): a handful of applications would make "similar enterprises" one enterprise's
choice, and the calculator says nothing about it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy import Engine

from huiqi.discover.similar import Interaction, ListSource, SimilarEnterprises, attributes
from huiqi.portal import schema
from huiqi.portal.base import loads
from huiqi.profile import FIELDS, ProfileError, parse_profile
from huiqi.rules.library import Library
from huiqi.store.db import read_session

#: How much an application of each status counts (statuses not listed are left out).
STATUS_WEIGHTS: dict[str, float] = {
    "submitted": 1.0,
    "prechecked": 1.0,
    "returned": 1.0,
    "accepted": 1.5,
    "reviewed": 2.0,
    "announced": 2.0,
    "paid": 3.0,
}
MIN_APPLICATIONS = 30
MIN_ENTERPRISES = 10


class PortalApplications:
    """An :class:`~huiqi.discover.similar.InteractionSource` over the portal's tables."""

    def __init__(self, engine: Engine, library: Library, as_of: dt.date):
        self.engine = engine
        self.library = library
        self.as_of = as_of

    def interactions(self) -> Iterator[Interaction]:
        apps = schema.applications.c
        with read_session(self.engine) as s:
            rows = s.execute(
                sa.select(apps.uscc, apps.policy_id, apps.status).where(apps.status.in_(list(STATUS_WEIGHTS)))
            ).all()
            usccs = sorted({r.uscc for r in rows})
            facts: dict[str, dict[str, object]] = {u: {} for u in usccs}
            f = schema.facts.c
            for uscc, name, value in s.execute(sa.select(f.uscc, f.field, f.value).where(f.uscc.in_(usccs))):
                if name in FIELDS:
                    facts[uscc][name] = loads(value)
        kinds = {u: self._attributes(facts[u]) for u in usccs}
        for r in rows:
            yield Interaction(r.uscc, kinds[r.uscc], r.policy_id, STATUS_WEIGHTS[r.status])

    def _attributes(self, facts: dict[str, object]) -> tuple[str, ...]:
        try:
            profile = parse_profile({k: v for k, v in facts.items() if v is not None})
        except ProfileError:  # facts the calculator would refuse: the enterprise is known by nothing
            return ()
        variables, _ = self.library.evaluate(profile, self.as_of, [])
        return attributes(profile.model_dump(exclude_none=True), variables)


def similar_enterprises(engine: Engine, library: Library, as_of: dt.date) -> SimilarEnterprises | None:
    """The ALS model of the portal's applications, or None while there are too few."""
    items = list(PortalApplications(engine, library, as_of).interactions())
    if len(items) < MIN_APPLICATIONS or len({i.enterprise for i in items}) < MIN_ENTERPRISES:
        return None
    return SimilarEnterprises(ListSource(items))
