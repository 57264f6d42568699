"""The OpenFisca half of ``bench/anchor.py``: runs inside the OpenFisca virtual environment.

    python openfisca_side.py ANCHOR_DIR one PROFILES.json RESULT.json [--repeat N]

Times one enterprise at a time, as OpenFisca's Web API answers ``/trace``: build the
simulation from the entity dict, calculate the 15 outputs with the tracer on, and serialise
the flat trace (OpenFisca's explanation: every variable's value and what it was computed
from). ``PROFILES.json`` is a list of OpenFisca input dicts (``of_common.entity_dict`` input).
Writes the per-enterprise seconds and the eligibilities to ``RESULT.json``.

This file never imports huiqi, and huiqi never imports OpenFisca.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main() -> None:
    anchor, mode, src, dst = sys.argv[1:5]
    repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 1
    sys.path.insert(0, anchor)
    from of_common import PERIOD, entity_dict
    from of_huiqi import OUTPUTS, POLICIES, build_tbs
    from openfisca_core.simulations import SimulationBuilder

    assert mode == "one", mode
    tbs = build_tbs(float64=True)
    profiles = json.loads(Path(src).read_text(encoding="utf-8"))
    seconds: list[float] = []
    eligible: list[dict[str, bool]] = []
    for r in range(repeat):
        for facts in profiles:
            t = time.perf_counter()
            sim = SimulationBuilder().build_from_entities(tbs, entity_dict(facts))
            sim.trace = True
            values = {name: sim.calculate(name, PERIOD) for name in OUTPUTS}
            sim.tracer.get_serialized_flat_trace()
            seconds.append(time.perf_counter() - t)
            if r == 0:
                eligible.append({pid: bool(values[e][0]) for pid, (e, _) in POLICIES.items()})
    Path(dst).write_text(json.dumps({"seconds": seconds, "eligible": eligible}), encoding="utf-8")


if __name__ == "__main__":
    main()
