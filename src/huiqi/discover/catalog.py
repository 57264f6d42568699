"""The policy catalogue's filters: category, validity, keywords, region and industry.

``category``, ``in_force_on`` and ``q`` are plain: the category, the validity interval, and
a case-insensitive substring match of every word of ``q`` against the title, summary,
tags, id and 文号.

``region`` and ``industry`` ask "could this policy apply to an enterprise registered in
this region / in this industry?". Two checks, both must pass:

1. the policy's own ``region`` metadata covers the region (``000000`` = 全国 covers all;
   ``339900`` covers every code starting ``3399``, and so on);
2. its conditions, evaluated by the rules engine with *only* the region and the industry
   known (every other fact unknown, SQL three-valued logic), are not certainly unmet.
   A condition such as ``industry LIKE 'H62%'`` is then false for ``C3911``, so the policy
   is left out; ``employees <= 300`` stays unknown and keeps it in. Three-valued logic is
   sound here: a condition that comes out false with only these facts is false whatever
   the other facts are.

An industry filter may be coarse (``C`` or ``C39``): the policy is listed when it could
apply to at least one code of GB/T 4754 under it (the code itself included). Results of
check 2 are cached per library (and die with it), so a published change is picked up at once.
"""

from __future__ import annotations

import datetime as dt
import threading
import weakref

from huiqi import vocab
from huiqi.profile import ProfileError, parse_profile
from huiqi.profile import industry as gbt4754
from huiqi.profile.regions import region_name
from huiqi.rules import Library, Policy

#: The region code of national policies.
NATIONWIDE = "000000"


def region_label(code: str) -> str:
    """``000000`` → 全国; a code of the sample city → its name; any other code as it is."""
    if code == NATIONWIDE:
        return "全国"
    return region_name(code) or code


def region_prefix(code: str) -> str:
    """``339900`` → ``3399``; ``330000`` → ``33``; ``000000`` → ``""`` (everywhere)."""
    while code.endswith("00"):
        code = code[:-2]
    return code


def sort_key(policy: Policy) -> tuple[bool, int, str]:
    """Reading order: national first, then the samples; within each by category and id."""
    d = policy.definition
    order = list(vocab.CATEGORIES)
    return (d.sample, order.index(d.category) if d.category in order else len(order), policy.id)


def _text_matches(policy: Policy, summary: str, words: list[str]) -> bool:
    d = policy.definition
    hay = " ".join([d.title, summary, d.id, d.document_number, *d.tags]).casefold()
    return all(w in hay for w in words)


def _region_covers(policy_region: str, region: str) -> bool:
    return region.startswith(region_prefix(policy_region))


class _ApplicabilityCache:
    """(policy id, region, industry code, date) → could apply, per library, bounded."""

    MAX = 20_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_library: weakref.WeakKeyDictionary[Library, dict[tuple[str, ...], bool]] = weakref.WeakKeyDictionary()

    def get(self, library: Library) -> dict[tuple[str, ...], bool]:
        with self._lock:
            cache = self._by_library.get(library)
            if cache is None or len(cache) > self.MAX:
                cache = {}
                self._by_library[library] = cache
            return cache


_CACHE = _ApplicabilityCache()


def _not_ruled_out(library: Library, policy: Policy, on: dt.date, region: str | None, code: str | None) -> bool:
    """False when, knowing only region and industry, some condition is certainly unmet."""
    d = policy.definition
    day = max(on, d.valid_from)
    if d.valid_to is not None:
        day = min(day, d.valid_to)
    cache = _CACHE.get(library)
    key = (policy.id, region or "", code or "", day.isoformat())
    hit = cache.get(key)
    if hit is None:
        try:
            profile = parse_profile({k: v for k, v in (("region", region), ("industry", code)) if v})
        except ProfileError:  # a region code the city does not have: no city policy applies there
            hit = False
        else:
            _, evaluations = library.evaluate(profile, day, [policy.id])
            hit = not evaluations or evaluations[0].verdict != "ineligible"
        cache[key] = hit
    return hit


def could_apply(library: Library, policy: Policy, on: dt.date, region: str | None, industry: str | None) -> bool:
    """Could ``policy`` apply on ``on`` to an enterprise of ``region`` in ``industry``?"""
    if region is not None and not _region_covers(policy.definition.region, region):
        return False
    reads = set().union(*(c.fields for c in policy.conditions))
    region = region if "region" in reads else None
    if industry is None or "industry" not in reads:
        return region is None or _not_ruled_out(library, policy, on, region, None)
    cache = _CACHE.get(library)
    key = ("under", policy.id, region or "", industry, on.isoformat())
    hit = cache.get(key)
    if hit is None:
        codes = sorted((c for c in gbt4754.industries() if c.startswith(industry)), key=lambda c: (len(c), c))
        hit = any(_not_ruled_out(library, policy, on, region, code) for code in codes)
        cache[key] = hit
    return hit


def filter_policies(
    library: Library,
    *,
    category: str | None = None,
    region: str | None = None,
    industry: str | None = None,
    in_force_on: dt.date | None = None,
    q: str | None = None,
    today: dt.date,
) -> list[Policy]:
    """The library's policies that pass every given filter, in reading order (:func:`sort_key`)."""
    words = [w.casefold() for w in (q or "").split()]
    on = in_force_on or today
    out = []
    for policy in library.policies:
        d = policy.definition
        if category is not None and d.category != category:
            continue
        if in_force_on is not None and not d.in_force(in_force_on):
            continue
        if words and not _text_matches(policy, library.texts_of(policy, on).summary, words):
            continue
        if (region is not None or industry is not None) and not could_apply(library, policy, on, region, industry):
            continue
        out.append(policy)
    return sorted(out, key=sort_key)
