""" "Similar enterprises also applied for": implicit-feedback ALS (the ``implicit`` package).

Applications come from the enterprise space (portal issue), which does not exist yet. This
module is built on an interface, :class:`InteractionSource`; until the portal provides
one, :func:`synthetic_interactions` makes a seeded, clearly synthetic history so the blend
can be built, tested and measured. Figures measured on it say nothing about real users.

An enterprise that has applied for nothing yet (every enterprise on the calculator page)
still gets scores: besides one column per policy, the matrix has one column per
*attribute* an enterprise carries (行业大类, 地区, 发展阶段, 规模). A new enterprise is
folded in from its attributes alone (ALS's least-squares step for one user, ``implicit``'s
``recalculate_user``), so its neighbours are the enterprises that share them.
"""

from __future__ import annotations

import datetime as dt
import random
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from huiqi.rules import Library


@dataclass(frozen=True)
class Interaction:
    enterprise: str  # any stable key (USCC)
    attributes: tuple[str, ...]  # see attributes()
    policy_id: str
    weight: float = 1.0  # applied 1; granted more, once the portal says so


class InteractionSource(Protocol):
    def interactions(self) -> Iterable[Interaction]: ...


def attributes(facts: Mapping[str, Any], variables: Mapping[str, Any]) -> tuple[str, ...]:
    """What makes two enterprises alike for this purpose."""
    out = []
    industry = str(facts.get("industry") or "")
    if industry:
        out.append(f"section:{industry[:1]}")
        if len(industry) >= 3:
            out.append(f"division:{industry[:3]}")
    if facts.get("region"):
        out.append(f"region:{facts['region']}")
    for name in ("stage", "size_class"):
        if variables.get(name):
            out.append(f"{name}:{variables[name]}")
    return tuple(out)


class SimilarEnterprises:
    """Fitted once per interaction history; call it with a profile to score policies 0..1."""

    def __init__(self, source: InteractionSource, *, factors: int = 16, iterations: int = 15, seed: int = 7):
        # numpy, scipy and implicit load here, not when the web app starts (a second of imports).
        import numpy as np
        from implicit.als import AlternatingLeastSquares
        from scipy import sparse
        from threadpoolctl import threadpool_limits

        rows: dict[str, int] = {}
        cols: dict[str, int] = {}
        data: dict[tuple[int, int], float] = {}
        for it in source.interactions():
            r = rows.setdefault(it.enterprise, len(rows))
            for key, w in ((f"policy:{it.policy_id}", it.weight), *((a, 1.0) for a in it.attributes)):
                c = cols.setdefault(key, len(cols))
                data[r, c] = max(data.get((r, c), 0.0), w)
        if not data:
            raise ValueError("no interactions to learn from / 没有可学习的申请记录")
        keys = list(data)
        matrix = sparse.csr_matrix(
            ([data[k] for k in keys], ([k[0] for k in keys], [k[1] for k in keys])),
            shape=(len(rows), len(cols)),
            dtype=np.float32,
        )
        self._cols = cols
        self._policy_cols = {k.removeprefix("policy:"): v for k, v in cols.items() if k.startswith("policy:")}
        # implicit warns that OpenBLAS uses threads; one BLAS thread is what it asks for.
        with warnings.catch_warnings(), threadpool_limits(1, "blas"):
            warnings.simplefilter("ignore", RuntimeWarning)
            self._model = AlternatingLeastSquares(
                factors=factors, iterations=iterations, regularization=0.05, random_state=seed
            )
            self._model.fit(matrix, show_progress=False)
        # The fold-in of a new enterprise is ALS's least-squares step for one user (what
        # implicit's recalculate_user computes), done here with YtY + λI worked out once:
        # implicit's call costs 6 ms a profile, this a few hundredths.
        self._items = np.asarray(self._model.item_factors, dtype=np.float64)
        self._base = self._items.T @ self._items + self._model.regularization * np.eye(self._items.shape[1])
        self._alpha = float(self._model.alpha)

    def __call__(
        self, facts: Mapping[str, Any], variables: Mapping[str, Any], policy_ids: Sequence[str]
    ) -> dict[str, float]:
        """Scores 0..1 for the given policies (1 = what enterprises like this one apply for most)."""
        import numpy as np

        idx = sorted({self._cols[a] for a in attributes(facts, variables) if a in self._cols})
        known = [p for p in policy_ids if p in self._policy_cols]
        if not idx or not known:
            return {}
        # (YtY + λI + Σ (c - 1) y yᵀ) x = Σ c y over the enterprise's attribute columns (value 1).
        rows = self._items[idx]
        confidence = self._alpha
        x = np.linalg.solve(self._base + (confidence - 1) * rows.T @ rows, confidence * rows.sum(axis=0))
        cols = [self._policy_cols[p] for p in known]
        ids, scores = cols, self._items[cols] @ x
        by_col = {int(i): float(v) for i, v in zip(ids, scores, strict=True)}
        top = max(by_col.values(), default=0.0)
        if top <= 0:
            return {}
        return {p: max(by_col.get(self._policy_cols[p], 0.0), 0.0) / top for p in known}


# --- synthetic history (until the portal's applications exist) -------------------------------------
class ListSource:
    def __init__(self, items: Sequence[Interaction]):
        self.items = list(items)

    def interactions(self) -> Iterable[Interaction]:
        return iter(self.items)


_SYNTHETIC_INDUSTRIES = [
    "H6210",
    "H6220",
    "H6291",
    "F5219",
    "F5292",
    "F5212",
    "I6513",
    "I6531",
    "C3911",
    "C3484",
    "C1819",
    "C2614",
    "E4720",
    "E5012",
    "A0141",
    "L7241",
    "M7320",
    "O8040",
    "G5431",
    "P8391",
]
_REGIONS = ["339901", "339902", "339903"]


def synthetic_interactions(library: Library, as_of: dt.date, *, enterprises: int = 1500, seed: int = 7) -> ListSource:
    """A seeded, synthetic application history: random enterprises, each applying to some of
    the policies the calculator finds open to it, more often to policies that many of its
    kind chose before (a popularity process per industry division). Says nothing about real
    behaviour; it exists so the blend can be built and measured before real data."""
    from huiqi.profile import Profile

    rng = random.Random(seed)
    taste: dict[tuple[str, str], float] = {}
    out: list[Interaction] = []
    for n in range(enterprises):
        industry = rng.choice(_SYNTHETIC_INDUSTRIES)
        employees = int(rng.lognormvariate(3, 1.2)) + 1
        profile = Profile(
            industry=industry,
            region=rng.choice(_REGIONS),
            employees=employees,
            revenue=int(employees * rng.uniform(1e5, 6e5)),
            registered_on=as_of - dt.timedelta(days=rng.randint(30, 9000)),
        )
        variables, evaluations = library.evaluate(profile, as_of)
        open_ids = [ev.policy.id for ev in evaluations if ev.verdict != "ineligible"]
        if not open_ids:
            continue
        facts = profile.model_dump(exclude_none=True)
        attrs = attributes(facts, variables)
        weights = [taste.setdefault((industry[:3], p), rng.expovariate(1.0)) for p in open_ids]
        for p in set(rng.choices(open_ids, weights=weights, k=rng.randint(1, 3))):
            taste[industry[:3], p] += 0.5
            out.append(Interaction(f"synthetic-{n}", attrs, p))
    return ListSource(out)
