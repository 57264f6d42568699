"""E-licences as facts for the rest of huiqi: the calculator's 资质 (``certifications``), pre-check, one-stop.

A certification proven by a valid e-licence is a known fact with its source ("依据电子证照 …");
one whose licence is cancelled, revoked, expired or cannot be verified is *unknown*, at once
— never silently false, never still true. Because the profile's ``certifications`` is one
list, a single unknown item makes the whole list unknown (the field is left out), so every
policy that reads it says what to check instead of deciding on a stale tick box.

Each use is a lookup by 证照标识 with a 用证事由 and is recorded on the log (``cert.lookup``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from huiqi.certs.catalog import LICENCE_TYPES
from huiqi.certs.service import Licences
from huiqi.certs.verify import Verification
from huiqi.match import MatchResult, match
from huiqi.rules import Library


@dataclass(frozen=True)
class LicenceFact:
    """One 资质 as the e-licences say: proven (``known``) or unknown, with the licence behind it."""

    certification: str
    known: bool
    licence_id: str
    type_name: str
    issuer: str
    verdict: str
    label: str
    valid_until: str | None
    reason: str

    @property
    def source(self) -> str:
        until = f"，有效期至 {self.valid_until[:10]}" if self.valid_until else ""
        if self.known:
            return f"依据电子证照 {self.type_name}（{self.licence_id}，{self.issuer}颁发{until}）"
        return f"电子证照 {self.type_name}（{self.licence_id}）{self.label}：{self.reason}，该资质待核实"


def _fact(certification: str, result: Verification) -> LicenceFact:
    lic = result.licence or {}
    return LicenceFact(
        certification,
        result.ok,
        result.id or "",
        str(lic.get("type_name") or ""),
        str(lic.get("issuer") or ""),
        result.verdict,
        result.label,
        lic.get("valid_until"),
        "；".join(r.zh for r in result.reasons) or "核验通过",
    )


def licence_facts(
    licences: Licences, uscc: str, *, purpose: str = "policy_match", requester: str = "惠企政策计算器"
) -> list[LicenceFact]:
    """The 资质 facts of enterprise ``uscc``: per certification, a valid licence if any, else the latest one."""
    best: dict[str, LicenceFact] = {}
    rows = [r for r in licences.holder_licences(uscc) if r["state"] != "superseded"]
    for row in sorted(rows, key=lambda r: (r["valid_from"], r["id"])):
        kind = LICENCE_TYPES.get(row["type"])
        if kind is None or kind.certification is None:
            continue
        fact = _fact(kind.certification, licences.lookup(row["id"], purpose=purpose, requester=requester))
        if fact.known or not best.get(kind.certification, fact).known:
            best[kind.certification] = fact
    return list(best.values())


def apply_licence_facts(profile: Mapping[str, Any], facts: list[LicenceFact]) -> tuple[dict[str, Any], list[str]]:
    """``profile`` with ``certifications`` from the e-licences, and one sentence per fact saying where it came from."""
    out = dict(profile)
    if not facts:
        return out, []
    ticked = [c for c in profile.get("certifications") or [] if isinstance(c, str)]
    unknown = {f.certification for f in facts if not f.known}
    proven = [f.certification for f in facts if f.known]
    if unknown:
        out.pop("certifications", None)
    else:
        out["certifications"] = list(dict.fromkeys([*ticked, *proven]))
    return out, [f.source for f in facts]


def match_with_licences(
    profile: Mapping[str, Any],
    licences: Licences,
    *,
    as_of: dt.date | None = None,
    library: Library | None = None,
    requester: str = "惠企政策计算器",
) -> MatchResult:
    """The calculator with 资质 from the enterprise's e-licences (needs ``uscc`` in the profile).

    Each condition that reads ``certifications`` says which licence decided it (or why it
    is unknown); everything else is :func:`huiqi.match.match` unchanged.
    """
    uscc = profile.get("uscc")
    facts = licence_facts(licences, str(uscc), requester=requester) if isinstance(uscc, str) else []
    fed, sources = apply_licence_facts(profile, facts)
    result = match(fed, as_of, library)
    if sources:
        note = "；".join(sources)
        for policy in result.results:
            for condition in policy.conditions:
                if "certifications" in condition.values:
                    condition.reason = f"{condition.reason}（{note}）"
    return result
