"""Cedar access decisions with 1,000 policies loaded (target: ≤ 0.5 ms a decision).

Builds a synthetic catalogue of purpose declarations — 50 consumer systems × 5 purposes ×
the registers, read and ask grants — until at least ``--policies`` Cedar policies exist,
plus the baseline forbids; then times decisions of random requests (one field each, as
the gateway asks them) through :class:`huiqi.sharing.access.AccessEngine`, sliced (what the
gateway does) and over the full set (what Cedar costs without slicing). Prints medians
and p99 in milliseconds.

    .venv/bin/python bench/bench_sharing_cedar.py [--policies 1000] [--decisions 20000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from huiqi.sharing.access import AccessEngine, Principal, Resource
from huiqi.sharing.catalogue import (
    Catalogue,
    LegalBasis,
    PurposeDeclaration,
    ServiceDeclaration,
    parse_declaration,
    shipped_declarations,
)
from huiqi.sharing.members import PURPOSES
from huiqi.sharing.registers import REGISTERS

SERVICES = [cls.service for cls in REGISTERS.values()]


def synthetic_catalogue(policies: int) -> Catalogue:
    """The shipped services plus enough synthetic purpose declarations for ``policies`` policies."""
    shipped = [parse_declaration(t) for t in shipped_declarations().values()]
    services = {d.id: d for d in shipped if isinstance(d, ServiceDeclaration)}
    decls: list[PurposeDeclaration] = []
    count = 0
    i = 0
    while count < policies:
        system = f"platform/s{i % 50}"
        purpose = list(PURPOSES)[(i // 50) % len(PURPOSES)]
        service = SERVICES[(i // 250) % len(SERVICES)]
        svc = services[service]
        fields = svc.release[: 1 + i % max(1, len(svc.release))] if svc.release else []
        legal = i % 3 == 0
        decls.append(
            PurposeDeclaration(
                kind="purpose",
                id=f"synthetic.d{i}",
                consumer=system,
                purpose=purpose,
                service=service,
                title=f"合成声明 {i}",
                fields=fields,
                conditions=bool(svc.conditions),
                basis="legal_basis" if legal else "consent",
                legal_basis=LegalBasis(document=f"《合成依据》第{i}号", article="第一条", sample=True)
                if legal
                else None,
            )
        )
        count += (1 if fields else 0) + (1 if svc.conditions else 0)
        i += 1
    return Catalogue.of([*services.values(), *decls])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policies", type=int, default=1000)
    parser.add_argument("--decisions", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    engine = AccessEngine.for_catalogue(synthetic_catalogue(args.policies))
    rng = random.Random(args.seed)
    fields = [(m, f) for m, cls in REGISTERS.items() for f in cls.fields]
    requests = []
    for _ in range(args.decisions):
        member, name = rng.choice(fields)
        principal = Principal.of(f"platform/s{rng.randrange(50)}", f"o{rng.randrange(20)}")
        resource = Resource(member, name, REGISTERS[member].fields[name].sensitivity)
        context = {
            "purpose": rng.choice(list(PURPOSES)),
            "consent": rng.random() < 0.5,
            "legal_basis": "",
            "hour": rng.randrange(24),
            "weekday": rng.randrange(1, 8),
        }
        requests.append((principal, rng.choice(["read", "ask"]), resource, context))
    print(f"policies loaded: {len(engine)} (baseline included)")
    for label, sliced in (("sliced (the gateway)", True), ("full set", False)):
        n = len(requests) if sliced else min(len(requests), 2000)
        for p, a, r, c in requests[:n]:  # build every slice once (a slice is cached per system and register)
            engine.decide(p, a, [r], [c], sliced=sliced)
        times = []
        allowed = 0
        for p, a, r, c in requests[:n]:
            t = time.perf_counter()
            (d,) = engine.decide(p, a, [r], [c], sliced=sliced)
            times.append((time.perf_counter() - t) * 1000)
            allowed += d.allowed
        print(
            f"{label:22s} {n} decisions: median {statistics.median(times):.3f} ms, "
            f"p99 {percentile(times, 0.99):.3f} ms, allowed {allowed}"
        )


if __name__ == "__main__":
    main()
