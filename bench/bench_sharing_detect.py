"""Precision and recall of the anomaly and intrusion detection, per attack kind.

Simulates ``--days`` of labelled gateway traffic (``huiqi.sharing.simulate``: ~31 officials'
working days, the nightly 免申即享 batch, and in the last four weeks four kinds of attack —
enumeration of 人口库, a stolen credential used at night, a slow exfiltration, replayed
request ids) for each seed, runs the monitor's detectors over it in time order, and prints
per attack kind: recall (episodes caught by any alert) and precision (alerts of the
detectors aimed at that kind that fall on such an episode) — for the rules alone, the
learned detector (river Half-Space Trees) alone, and both. Seed 7 is the one the thresholds
were chosen on; the others are held out.

    .venv/bin/python bench/bench_sharing_detect.py [--days 56] [--seeds 7 11 23 42]
"""

from __future__ import annotations

import argparse
import time

from huiqi.sharing.monitor import Detector, Event
from huiqi.sharing.simulate import ATTACK_LABELS, ATTACKS, evaluate, simulate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=56)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 11, 23, 42])
    args = parser.parse_args()
    totals: dict[str, dict[str, list[int]]] = {}
    for seed in args.seeds:
        traffic = simulate(days=args.days, seed=seed)
        events = [Event.of(e) for e in traffic.entries]
        started = time.perf_counter()
        for label, detector in (("rules", Detector(learned=False)), ("both", Detector(learned=True, seed=seed))):
            detector.feed(events)
            detector.flush()
            sets = {label: detector.alerts}
            if label == "both":
                sets["learned"] = [a for a in detector.alerts if a.kind == "learned"]
            for name, alerts in sets.items():
                scores, per = evaluate(traffic, alerts)
                for s in scores:
                    t = totals.setdefault(name, {}).setdefault(s.kind, [0, 0, 0, 0])
                    t[0] += s.detected
                    t[1] += s.episodes
                    t[2] += s.true_alerts
                    t[3] += s.alerts
                t = totals[name].setdefault("*", [0, 0, 0, 0])
                t[2] += sum(v[1] for v in per.values())
                t[3] += sum(v[0] for v in per.values())
        print(
            f"seed {seed}: {len(traffic.entries)} decisions, {len(traffic.episodes)} attack episodes, "
            f"detection {time.perf_counter() - started:.1f} s"
        )
    for name in ("rules", "learned", "both"):
        print(f"\n{name}:")
        for kind in ATTACKS:
            d, e, ta, a = totals[name][kind]
            precision = f"{ta}/{a} = {ta / a:.2f}" if a else "—"
            print(f"  {ATTACK_LABELS[kind]:12s} recall {d}/{e} = {d / e:.2f}   precision {precision}")
        _, _, ta, a = totals[name]["*"]
        print(f"  all alerts on an attack: {ta}/{a} = {ta / a:.2f}" if a else "  no alerts")


if __name__ == "__main__":
    main()
