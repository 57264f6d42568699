"""A traffic simulator with labelled attacks, to measure the monitor (precision and recall).

Normal traffic: officials of the consumer systems work weekdays 08:30–17:30 (a lunch dip,
some overtime to 20:00, rare weekend work); each handles cases — one enterprise or
person, one to three departments asked — for their one or two usual purposes; a few
requests are refused (consent not yet given). The batch system runs its nightly 免申即享
bulk read at 02:00, which is normal for it.

Attacks, each an *episode* with its official and time span, every entry labelled:

* ``enumeration``        — bulk enumeration of 人口库: hundreds of persons in an hour;
* ``stolen_credential``  — an official's credential used at night for policy data;
* ``slow_exfiltration``  — an official reads some extra subjects every working day for
  two weeks, below any hourly threshold;
* ``replay``             — a captured request id sent again (the gateway refuses and logs it).

The entries are shaped exactly as the gateway logs them (``sharing.decision``), so the
monitor sees what it sees in production; :func:`evaluate` scores its alerts.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from huiqi.clock import CITY_TZ
from huiqi.sharing.monitor import Alert, Event
from huiqi.trust import format_time

ATTACKS = ("enumeration", "stolen_credential", "slow_exfiltration", "replay")
ATTACK_LABELS = {
    "enumeration": "人口库批量遍历",
    "stolen_credential": "夜间冒用工作人员凭证",
    "slow_exfiltration": "缓慢外泄",
    "replay": "重放请求编号",
}
#: Which alert kinds aim at which attack (for precision per attack kind; ``learned`` aims at all).
TARGETS = {
    "enumeration": {"enumeration", "volume"},
    "stolen_credential": {"off_hours", "purpose_drift", "consentless", "failed_ratio"},
    "slow_exfiltration": {"slow_drift"},
    "replay": {"replay"},
}


@dataclass
class Episode:
    kind: str
    official: str
    start: dt.datetime
    end: dt.datetime


@dataclass
class Traffic:
    entries: list[dict[str, Any]] = field(default_factory=list)
    labels: list[str | None] = field(default_factory=list)
    episodes: list[Episode] = field(default_factory=list)


@dataclass(frozen=True)
class Official:
    id: str  # member/system/name
    purposes: tuple[str, ...]
    providers: tuple[str, ...]
    daily: int  # cases a day
    weekend: bool


def _entry(
    at: dt.datetime,
    official: Official,
    provider: str,
    purpose: str,
    subject: str,
    *,
    decision: str = "allow",
    code: str = "",
    action: str = "read",
    request_id: str | None = None,
    fields: Sequence[str] = ("x",),
) -> dict[str, Any]:
    consumer = official.id.rsplit("/", 1)[0]
    return {
        "type": "sharing.decision",
        "time": format_time(at),
        "provider": provider,
        "consumer": consumer,
        "official": official.id,
        "purpose": purpose,
        "subject": subject,
        "action": action,
        "decision": decision,
        "code": code,
        "request_id": request_id or uuid.UUID(int=random.getrandbits(128)).hex,
        "fields": list(fields),
        "service": f"{provider}.x",
        "case_id": "sim",
    }


def _officials(rng: random.Random) -> list[Official]:
    out = []
    for i in range(20):
        out.append(
            Official(
                f"platform/huiqi/officer{i:02d}",
                ("policy_match",) if i % 4 else ("policy_match", "precheck"),
                ("samr", "tax", "hrss"),
                rng.randint(8, 25),
                rng.random() < 0.1,
            )
        )
    for i in range(5):
        out.append(
            Official(f"platform/onestop/clerk{i}", ("business_startup",), ("samr", "mps"), rng.randint(10, 30), False)
        )
    for i in range(3):
        out.append(Official(f"fin/grants/payer{i}", ("auto_grant",), ("tax",), rng.randint(5, 15), False))
    for i in range(3):
        out.append(Official(f"samr/supervision/inspector{i}", ("supervision",), ("nhc",), rng.randint(4, 12), False))
    return out


def _subject(rng: random.Random, provider: str) -> str:
    if provider == "mps":
        return "person:" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(22))
    return f"uscc:91339900{rng.randrange(10**9):09d}{rng.choice('0123456789ABCDEFGHJKLMNPQRTUWXY')}"


def simulate(*, days: int = 56, seed: int = 7, start: dt.date = dt.date(2026, 9, 7)) -> Traffic:
    """``days`` of traffic from ``start`` (a Monday) with attacks in the last four weeks."""
    rng = random.Random(seed)
    random.seed(seed)
    officials = _officials(rng)
    batch = Official("platform/batch/auto-grant", ("auto_grant",), ("samr", "tax", "hrss"), 0, True)
    out: list[tuple[dt.datetime, dict[str, Any], str | None]] = []
    traffic = Traffic()

    def add(at: dt.datetime, entry: dict[str, Any], label: str | None = None) -> None:
        out.append((at, entry, label))

    # --- normal traffic ----------------------------------------------------------------------------
    for d in range(days):
        day = start + dt.timedelta(days=d)
        weekend = day.isoweekday() >= 6
        for provider in batch.providers:  # the nightly 免申即享 run, every night
            at = dt.datetime.combine(day, dt.time(2, rng.randint(0, 20)), CITY_TZ)
            for page in range(3):
                add(at + dt.timedelta(seconds=page * 20), _entry(at, batch, provider, "auto_grant", "*", action="bulk"))
        for o in officials:
            if weekend and not (o.weekend and rng.random() < 0.3):
                continue
            cases = max(0, int(rng.gauss(o.daily, o.daily * 0.25))) // (3 if weekend else 1)
            overtime = rng.random() < 0.08
            for _ in range(cases):
                minute = rng.choice([rng.randint(510, 720), rng.randint(780, 1050)])
                if overtime and rng.random() < 0.2:
                    minute = rng.randint(1050, 1200)
                at = dt.datetime.combine(day, dt.time(minute // 60, minute % 60, rng.randint(0, 59)), CITY_TZ)
                purpose = rng.choice(o.purposes)
                providers = rng.sample(o.providers, rng.randint(1, len(o.providers)))
                subject_u = _subject(rng, "samr")
                for p in providers:
                    subject = _subject(rng, "mps") if p == "mps" else subject_u
                    refused = rng.random() < 0.04
                    add(
                        at,
                        _entry(
                            at,
                            o,
                            p,
                            purpose,
                            subject,
                            decision="deny" if refused else "allow",
                            code=("consent_required" if p in ("tax", "hrss") else "not_declared") if refused else "",
                        ),
                    )
                    at += dt.timedelta(seconds=rng.randint(1, 30))
    # --- attacks in the last four weeks ---------------------------------------------------------------
    attack_days = [start + dt.timedelta(days=d) for d in range(days - 28, days)]
    workdays = [d for d in attack_days if d.isoweekday() < 6]
    clerks = [o for o in officials if "onestop" in o.id]
    officers = [o for o in officials if "huiqi" in o.id]
    for n in range(4):  # enumeration of 人口库
        o = rng.choice(clerks)
        day = workdays[n * 4 + 1]
        at = dt.datetime.combine(day, dt.time(rng.randint(9, 15), rng.randint(0, 30)), CITY_TZ)
        begin = at
        for _ in range(rng.randint(150, 400)):
            add(at, _entry(at, o, "mps", "business_startup", _subject(rng, "mps")), "enumeration")
            at += dt.timedelta(seconds=rng.randint(2, 8))
        traffic.episodes.append(Episode("enumeration", o.id, begin, at))
    for n in range(4):  # a stolen credential at night
        o = rng.choice(officers)
        day = attack_days[n * 6 + 3]
        at = dt.datetime.combine(day, dt.time(rng.randint(0, 3), rng.randint(0, 59)), CITY_TZ)
        begin = at
        for _ in range(rng.randint(15, 50)):
            p = rng.choice(("tax", "hrss", "samr"))
            purpose = rng.choice(("policy_match", "auto_grant", "supervision"))
            refused = purpose != "policy_match" or rng.random() < 0.5
            add(
                at,
                _entry(
                    at,
                    o,
                    p,
                    purpose,
                    _subject(rng, p),
                    decision="deny" if refused else "allow",
                    code="no_declaration" if purpose != "policy_match" else ("consent_required" if refused else ""),
                ),
                "stolen_credential",
            )
            at += dt.timedelta(seconds=rng.randint(10, 90))
        traffic.episodes.append(Episode("stolen_credential", o.id, begin, at))
    for n in range(3):  # slow exfiltration over ten working days
        o = officers[(n * 7 + 3) % len(officers)]
        days_used = workdays[n * 2 : n * 2 + 10]
        begin = dt.datetime.combine(days_used[0], dt.time(8), CITY_TZ)
        for day in days_used:
            for _ in range(int(o.daily * 1.5) + 8):
                minute = rng.randint(540, 1020)
                at = dt.datetime.combine(day, dt.time(minute // 60, minute % 60), CITY_TZ)
                add(at, _entry(at, o, "tax", "policy_match", _subject(rng, "tax")), "slow_exfiltration")
        traffic.episodes.append(
            Episode("slow_exfiltration", o.id, begin, dt.datetime.combine(days_used[-1], dt.time(23), CITY_TZ))
        )
    for n in range(5):  # replays of captured request ids
        o = rng.choice(officers)
        day = workdays[n * 3 + 2]
        at = dt.datetime.combine(day, dt.time(rng.randint(9, 16), rng.randint(0, 59)), CITY_TZ)
        rid = uuid.UUID(int=rng.getrandbits(128)).hex
        subject = _subject(rng, "tax")
        add(at, _entry(at, o, "tax", "policy_match", subject, request_id=rid), None)
        for k in range(rng.randint(1, 3)):
            later = at + dt.timedelta(minutes=5 + 7 * k)
            add(
                later,
                _entry(
                    later, o, "tax", "policy_match", subject, decision="deny", code="replayed_request", request_id=rid
                ),
                "replay",
            )
        traffic.episodes.append(Episode("replay", o.id, at, at + dt.timedelta(minutes=30)))
    out.sort(key=lambda t: t[0])
    traffic.entries = [e for _, e, _ in out]
    traffic.labels = [label for _, _, label in out]
    return traffic


@dataclass
class Score:
    kind: str
    episodes: int
    detected: int
    alerts: int  # alerts of the detectors aimed at this kind
    true_alerts: int  # of those, the ones that overlap an episode of this kind

    @property
    def recall(self) -> float:
        return self.detected / self.episodes if self.episodes else 0.0

    @property
    def precision(self) -> float:
        return self.true_alerts / self.alerts if self.alerts else 0.0


def _overlaps(alert: Alert, ep: Episode) -> bool:
    return alert.official == ep.official and alert.at <= ep.end and alert.until >= ep.start - dt.timedelta(hours=1)


def evaluate(traffic: Traffic, alerts: Iterable[Alert]) -> tuple[list[Score], dict[str, tuple[int, int]]]:
    """Per attack kind: recall (episodes any alert caught) and precision (of the alerts aimed
    at it, those that caught it); per detector kind: (alerts, alerts on some attack)."""
    raised = list(alerts)
    scores = []
    for kind in ATTACKS:
        eps = [e for e in traffic.episodes if e.kind == kind]
        detected = sum(1 for e in eps if any(_overlaps(a, e) for a in raised))
        aimed = [a for a in raised if a.kind in TARGETS[kind]]
        true = sum(1 for a in aimed if any(_overlaps(a, e) for e in eps))
        scores.append(Score(kind, len(eps), detected, len(aimed), true))
    per_detector: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for a in raised:
        per_detector[a.kind][0] += 1
        per_detector[a.kind][1] += any(_overlaps(a, e) for e in traffic.episodes)
    return scores, {k: (v[0], v[1]) for k, v in per_detector.items()}


def run(*, days: int = 56, seed: int = 7, learned: bool = True) -> tuple[list[Score], dict[str, tuple[int, int]], int]:
    from huiqi.sharing.monitor import Detector

    traffic = simulate(days=days, seed=seed)
    detector = Detector(learned=learned, seed=seed)
    detector.feed(Event.of(e) for e in traffic.entries)
    detector.flush()
    scores, per = evaluate(traffic, detector.alerts)
    return scores, per, len(traffic.entries)
