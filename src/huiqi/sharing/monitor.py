"""Anomaly and intrusion detection over the departments' decision logs.

The monitor reads every ``sharing.decision`` entry (the platform's monitor system pulls
them from each department's log, in order) and raises alerts, each with the entries that
caused it:

rules (X-Road Metrics' operational checks, plus per-official baselines)
    ``replay``         a request id used twice (the gateway refused the second);
    ``failed_ratio``   more than half of an official's requests in an hour refused (≥ 10);
    ``volume``         an official's requests in an hour far above their own history for
                       that hour of that weekday (mean + 4σ, and at least 3× and 30);
    ``enumeration``    many distinct subjects in an hour (≥ 40 persons in 人口库 or ≥ 120
                       enterprises), or far above the official's own distinct-subject baseline;
    ``off_hours``      activity at night (22:00–06:00) by an official who practically never
                       works then (< 2 % of their history);
    ``purpose_drift``  a purpose the official has never used;
    ``consentless``    three or more requests without valid consent in an hour;
    ``slow_drift``     a day's distinct subjects above the official's usual day (median +
                       4 MAD, and 1.8×) three working days running: the slow exfiltration
                       that stays under every hourly threshold;
learned
    ``learned``        river's Half-Space Trees over each official-hour's features (relative
                       to the official's own habits), trained on the traffic seen so far; its
                       threshold is the 99.9th percentile of its own scores on that traffic.
                       Windows of alerts an officer marked true are left out of training (an
                       incident must not become normal).

All times are 临江市 local time (UTC+8). Baselines are per official (``member/system/name``).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import statistics
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from huiqi.clock import CITY_TZ, Clock
from huiqi.sharing.schema import alerts, monitor_cursors
from huiqi.trust.entries import parse_time

KIND_LABELS = {
    "replay": "重放请求",
    "failed_ratio": "失败请求比例异常",
    "volume": "请求量异常",
    "enumeration": "批量遍历（大量不同对象）",
    "off_hours": "夜间访问",
    "purpose_drift": "用途偏离",
    "consentless": "无同意的访问尝试",
    "slow_drift": "缓慢外泄（每日对象数持续偏高）",
    "learned": "学习模型判定异常",
}
CONSENT_CODES = {
    "consent_required",
    "no_consent",
    "consent_withdrawn",
    "consent_expired",
    "consent_unknown",
    "consent_mismatch",
    "consent_not_granted",
}


@dataclass(frozen=True)
class Event:
    """One decision as the monitor sees it."""

    at: dt.datetime  # local time
    provider: str
    official: str
    consumer: str
    subject: str
    purpose: str
    action: str
    decision: str
    code: str
    request_id: str
    fields: tuple[str, ...]

    @classmethod
    def of(cls, entry: Mapping[str, Any]) -> Event:
        return cls(
            at=parse_time(str(entry["time"])).astimezone(CITY_TZ),
            provider=str(entry.get("provider", "")),
            official=str(entry.get("official", "")),
            consumer=str(entry.get("consumer", "")),
            subject=str(entry.get("subject", "")),
            purpose=str(entry.get("purpose", "")),
            action=str(entry.get("action", "")),
            decision=str(entry.get("decision", "")),
            code=str(entry.get("code", "")),
            request_id=str(entry.get("request_id", "")),
            fields=tuple(entry.get("fields", ()) or ()),
        )

    @property
    def hour(self) -> dt.datetime:
        return self.at.replace(minute=0, second=0, microsecond=0)

    @property
    def refused(self) -> bool:
        return self.decision == "deny"

    @property
    def night(self) -> bool:
        return self.at.hour >= 22 or self.at.hour < 6


@dataclass(frozen=True)
class Alert:
    key: str  # unique per detector, official and window: raised once
    kind: str
    detector: str  # rules | learned
    official: str
    consumer: str
    provider: str
    at: dt.datetime  # start of the window
    until: dt.datetime
    score: float
    detail: str  # Chinese, with the figures

    @property
    def label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)


@dataclass
class _Window:
    official: str
    hour: dt.datetime
    events: list[Event] = field(default_factory=list)

    def features(self, history: _History) -> dict[str, float]:
        """The window relative to the official's own habits, each in [0, 1]."""
        n = len(self.events)
        subjects = len({e.subject for e in self.events})
        usual_n = statistics.fmean(history.counts) if history.counts else n
        usual_s = statistics.fmean(history.distinct) if history.distinct else subjects
        new_purpose = bool({e.purpose for e in self.events} - history.purposes) and history.total > 100
        return {
            "requests": min(n / max(usual_n, 1), 8) / 8,
            "subjects": min(subjects / max(usual_s, 1), 8) / 8,
            "refused": sum(e.refused for e in self.events) / n,
            "night": 1.0 if self.events[0].night else 0.0,
            "new_purpose": 1.0 if new_purpose else 0.0,
            "population": sum(e.provider == "mps" for e in self.events) / n,
            "unusual_hour": 1.0 - min(1.0, 10 * history.hour_share(self.hour)) if history.total else 0.0,
            "size": math.log1p(n) / 7,
        }


@dataclass
class _History:
    """What one official normally does."""

    hours: dict[tuple[int, int], list[int]] = field(
        default_factory=lambda: defaultdict(list)
    )  # (weekday, hour) → counts
    counts: list[int] = field(default_factory=list)  # requests per active hour
    distinct: list[int] = field(default_factory=list)  # distinct subjects per active hour
    daily: dict[dt.date, set[str]] = field(default_factory=lambda: defaultdict(set))
    purposes: set[str] = field(default_factory=set)
    subjects: set[str] = field(default_factory=set)
    total: int = 0
    night: int = 0
    by_hour: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    def hour_share(self, hour: dt.datetime) -> float:
        return self.by_hour.get(hour.hour, 0) / self.total if self.total else 0.0


def _mean_sd(values: Sequence[float]) -> tuple[float, float]:
    if not values:
        return 0.0, 0.0
    if len(values) == 1:
        return float(values[0]), 0.0
    return statistics.fmean(values), statistics.pstdev(values)


class Detector:
    """Rules and a learned model over a stream of decisions, in time order."""

    def __init__(self, *, learned: bool = True, seed: int = 7, warmup_windows: int = 2000):
        self.histories: dict[str, _History] = defaultdict(_History)
        self.open: dict[str, _Window] = {}
        self.alerts: list[Alert] = []
        self._keys: set[str] = set()
        self.learned = learned
        self.seed = seed
        self.warmup = warmup_windows
        self._training: deque[tuple[str, dict[str, float]]] = deque(maxlen=20_000)
        self._excluded: set[str] = set()
        self._model: Any = None
        self._threshold = 1.0
        self._since_fit = 0
        self._last_day: dict[str, dt.date] = {}
        self._hot_days: dict[str, int] = defaultdict(int)

    # --- feeding --------------------------------------------------------------------------------
    def feed(self, events: Iterable[Event]) -> list[Alert]:
        """Process events (in time order); returns the alerts they raised."""
        before = len(self.alerts)
        for e in events:
            self._event(e)
        return self.alerts[before:]

    def flush(self) -> list[Alert]:
        """Close every open window (end of the stream)."""
        before = len(self.alerts)
        for official in list(self.open):
            self._close(self.open.pop(official))
        for official, day in list(self._last_day.items()):
            self._close_day(official, day)
        return self.alerts[before:]

    def _raise(
        self, kind: str, detector: str, window: Sequence[Event], score: float, detail: str, key_suffix: str = ""
    ) -> None:
        first = window[0]
        key = f"{detector}/{kind}/{first.official}/{first.hour.isoformat()}{key_suffix}"
        if key in self._keys:
            return
        self._keys.add(key)
        self.alerts.append(
            Alert(
                key,
                kind,
                detector,
                first.official,
                first.consumer,
                first.provider,
                first.hour,
                window[-1].at,
                round(score, 3),
                detail,
            )
        )

    def _event(self, e: Event) -> None:
        if e.code == "replayed_request":
            self._raise(
                "replay",
                "rules",
                [e],
                1.0,
                f"请求编号 {e.request_id} 被重复使用（网关已拒绝）",
                key_suffix=f"/{e.request_id}",
            )
        w = self.open.get(e.official)
        if w is not None and w.hour != e.hour:
            self._close(self.open.pop(e.official))
            w = None
        if w is None:
            w = self.open[e.official] = _Window(e.official, e.hour)
        w.events.append(e)
        day = e.at.date()
        last = self._last_day.get(e.official)
        if last is not None and last != day:
            self._close_day(e.official, last)
        self._last_day[e.official] = day
        self.histories[e.official].daily[day].add(e.subject)

    # --- an hour of one official ------------------------------------------------------------------
    def _close(self, w: _Window) -> None:
        h = self.histories[w.official]
        ev = w.events
        n = len(ev)
        refused = sum(x.refused for x in ev)
        subjects = {x.subject for x in ev}
        persons = {x.subject for x in ev if x.provider == "mps"}
        key = (w.hour.isoweekday(), w.hour.hour)
        experienced = h.total >= 200
        if n >= 10 and refused / n > 0.5:
            self._raise("failed_ratio", "rules", ev, refused / n, f"一小时内 {n} 次请求中 {refused} 次被拒绝")
        past = h.hours.get(key, [])
        mean, sd = _mean_sd(past + [0] * max(0, 4 - len(past)))
        if n >= 30 and n > 3 * max(mean, 1) and n > mean + 4 * sd:
            self._raise("volume", "rules", ev, n / max(mean, 1), f"一小时 {n} 次请求，该时段平时约 {mean:.1f} 次")
        d_mean, d_sd = _mean_sd(h.distinct)
        if (
            len(persons) >= 40
            or len(subjects) >= 120
            or (experienced and len(subjects) >= 25 and len(subjects) > d_mean + 5 * max(d_sd, 1))
        ):
            self._raise(
                "enumeration",
                "rules",
                ev,
                len(subjects) / max(d_mean, 1),
                f"一小时内查询 {len(subjects)} 个不同对象（其中人口库 {len(persons)} 人），平时约 {d_mean:.1f} 个",
            )
        if ev[0].night and experienced and h.night / h.total < 0.02:
            self._raise(
                "off_hours",
                "rules",
                ev,
                1 - h.night / h.total,
                f"{w.hour:%m-%d %H}时（夜间）{n} 次请求；该工作人员此前夜间请求占 {h.night / h.total:.1%}",
            )
        new_purposes = {x.purpose for x in ev} - h.purposes
        if experienced and new_purposes:
            self._raise("purpose_drift", "rules", ev, 1.0, f"首次以用途 {'、'.join(sorted(new_purposes))} 请求")
        consentless = sum(1 for x in ev if x.code in CONSENT_CODES)
        if consentless >= 3:
            self._raise("consentless", "rules", ev, consentless, f"一小时内 {consentless} 次请求没有有效的企业同意")
        if self.learned:
            self._learn(w, h)
        # update the baseline after judging
        h.hours[key].append(n)
        h.counts.append(n)
        h.distinct.append(len(subjects))
        h.purposes |= {x.purpose for x in ev}
        h.subjects |= subjects
        h.total += n
        h.night += n if ev[0].night else 0
        h.by_hour[w.hour.hour] += n

    def _close_day(self, official: str, day: dt.date) -> None:
        h = self.histories[official]
        if day.isoweekday() >= 6:
            return
        counts = [len(s) for d, s in h.daily.items() if d < day and d.isoweekday() < 6]
        today = len(h.daily.get(day, ()))
        if len(counts) >= 10:
            # Median and MAD: a few hot days already seen must not lift the baseline they are judged by.
            recent = counts[-40:]
            mean = statistics.median(recent)
            sd = 1.4826 * statistics.median(abs(c - mean) for c in recent)
            if today > mean + 4 * max(sd, 1) and today >= 1.8 * mean:
                self._hot_days[official] += 1
            else:
                self._hot_days[official] = 0
            if self._hot_days[official] >= 3:
                start = dt.datetime.combine(day, dt.time(0), CITY_TZ)
                key = f"rules/slow_drift/{official}/{day.isoformat()}"
                if key not in self._keys:
                    self._keys.add(key)
                    self.alerts.append(
                        Alert(
                            key,
                            "slow_drift",
                            "rules",
                            official,
                            official.rsplit("/", 1)[0],
                            "*",
                            start - dt.timedelta(days=2),
                            start + dt.timedelta(days=1),
                            today / max(mean, 1),
                            f"连续 {self._hot_days[official]} 个工作日每日查询对象数偏高"
                            f"（今日 {today}，平时约 {mean:.0f}）",
                        )
                    )

    # --- the learned detector --------------------------------------------------------------------
    def _learn(self, w: _Window, h: _History) -> None:
        from river import anomaly

        x = w.features(h)
        wkey = f"{w.official}/{w.hour.isoformat()}"
        if self._model is not None and len(self._training) >= self.warmup:
            score = float(self._model.score_one(x))
            if score > self._threshold:
                self._raise(
                    "learned",
                    "learned",
                    w.events,
                    score,
                    f"学习模型异常分 {score:.3f}（阈值 {self._threshold:.3f}）：{len(w.events)} 次请求，"
                    f"{len({e.subject for e in w.events})} 个对象",
                )
        self._training.append((wkey, x))
        self._since_fit += 1
        if self._model is None or self._since_fit >= 1000:
            self._model = self._fit(anomaly)
            self._since_fit = 0

    def _fit(self, anomaly: Any) -> Any:
        data = [x for k, x in self._training if k not in self._excluded]
        if len(data) < 50:
            return None
        limits = {name: (0.0, 1.0) for name in data[0]}
        model = anomaly.HalfSpaceTrees(
            n_trees=25, height=8, window_size=min(250, len(data)), limits=limits, seed=self.seed
        )
        for x in data:
            model.learn_one(x)
        scores = sorted(model.score_one(x) for x in data[-2000:])
        self._threshold = max(scores[min(len(scores) - 1, int(0.995 * len(scores)))], 0.5)
        return model

    def exclude(self, official: str, hour: dt.datetime) -> None:
        """An alert marked true: its window leaves the training data; the model is refitted."""
        self._excluded.add(f"{official}/{hour.isoformat()}")
        if self.learned:
            from river import anomaly

            self._model = self._fit(anomaly)


# --- the monitor in the platform: pull, detect, keep alerts ------------------------------------------
class Monitor:
    """Reads the departments' logs (through the platform/monitor system), keeps alerts in the
    platform database, and lets officers mark them true or false."""

    def __init__(self, engine: Engine, *, clock: Clock, detector: Detector | None = None):
        self.engine = engine
        self.clock = clock
        self.detector = detector or Detector()

    def poll(self, client: Any, providers: Sequence[str]) -> list[Alert]:
        """Read what is new on each provider's log and store the alerts it raises."""
        events: list[Event] = []
        for provider in providers:
            for shard in client.summary(provider, limit=1)["shards"]:
                with self.engine.connect() as c:
                    start = c.execute(
                        sa.select(monitor_cursors.c.next_index).where(
                            monitor_cursors.c.provider == provider, monitor_cursors.c.shard == shard
                        )
                    ).scalar()
                start = int(start or 0)
                while True:
                    batch = client.log_entries(provider, shard, start, 1000)
                    if not batch:
                        break
                    events += [Event.of(e) for e in batch if e.get("type") == "sharing.decision"]
                    start += len(batch)
                    if len(batch) < 1000:
                        break
                with self.engine.begin() as c:
                    done = c.execute(
                        monitor_cursors.update()
                        .where(monitor_cursors.c.provider == provider, monitor_cursors.c.shard == shard)
                        .values(next_index=start)
                    ).rowcount
                    if not done:
                        c.execute(monitor_cursors.insert().values(provider=provider, shard=shard, next_index=start))
        events.sort(key=lambda e: e.at)
        raised = self.detector.feed(events) + self.detector.flush()
        self.store(raised)
        return raised

    def store(self, raised: Iterable[Alert]) -> None:
        with self.engine.begin() as c:
            for a in raised:
                exists = c.execute(sa.select(alerts.c.id).where(alerts.c.key == a.key)).first()
                if exists is None:
                    c.execute(
                        alerts.insert().values(
                            key=a.key,
                            at=a.at,
                            kind=a.kind,
                            detector=a.detector,
                            provider=a.provider,
                            consumer=a.consumer,
                            official=a.official,
                            score=str(a.score),
                            detail=json.dumps({"zh": a.detail, "until": a.until.isoformat()}, ensure_ascii=False),
                            state="open",
                        )
                    )

    def list(self, *, state: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        q = sa.select(alerts).order_by(alerts.c.at.desc(), alerts.c.id.desc()).limit(limit)
        if state is not None:
            q = q.where(alerts.c.state == state)
        with self.engine.connect() as c:
            return [
                dict(r._mapping) | {"label": KIND_LABELS.get(r.kind, r.kind), "detail_zh": json.loads(r.detail)["zh"]}
                for r in c.execute(q)
            ]

    def mark(self, alert_id: int, *, true: bool, actor: str) -> None:
        """An officer's verdict. A true incident's window leaves the learned model's training data."""
        with self.engine.begin() as c:
            row = c.execute(sa.select(alerts).where(alerts.c.id == alert_id)).first()
            if row is None:
                from huiqi.errors import Message, NotFound

                raise NotFound(Message(f"没有告警 {alert_id}", f"no alert {alert_id}"))
            c.execute(
                alerts.update()
                .where(alerts.c.id == alert_id)
                .values(state="true" if true else "false", marked_by=actor, marked_at=self.clock.now())
            )
        if true:
            at = row.at if row.at.tzinfo else row.at.replace(tzinfo=dt.UTC)
            self.detector.exclude(row.official, at.astimezone(CITY_TZ))
