"""The recommendation gold set (gold/situations.yaml) and its measures (ranx: nDCG@10, MRR).

Three runs over the same situations, each listing only policies the calculator did not
find ineligible:

* ``amount``  — today's order: eligible first, then by amount (the calculator's answer order);
* ``ranking`` — :func:`huiqi.discover.recommend.recommend`;
* ``blend``   — the same with "similar enterprises also applied for" (ALS on synthetic
  applications, huiqi.discover.similar).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from huiqi.discover.documents import PolicyDoc, policy_doc
from huiqi.discover.recommend import SimilarScores, recommend
from huiqi.match import MatchResult, default_library, match
from huiqi.profile import parse_profile
from huiqi.rules import Library

GOLD = Path(__file__).parent / "gold" / "situations.yaml"
METRICS = ["ndcg@10", "mrr"]


@dataclass(frozen=True)
class Situation:
    id: str
    profile: dict[str, Any]
    relevant: dict[str, int]
    held_out: bool


def load() -> tuple[dt.date, list[Situation]]:
    doc = yaml.safe_load(GOLD.read_text("utf-8"))
    out = [
        Situation(s["id"], s["profile"], dict(s["relevant"]), bool(s.get("held_out", False))) for s in doc["situations"]
    ]
    return doc["as_of"], out


Run = dict[str, dict[str, float]]


def _as_run(order: list[str]) -> dict[str, float]:
    """A ranked list as ranx scores (higher first)."""
    return {pid: float(len(order) - i) for i, pid in enumerate(order)}


def runs(
    situations: list[Situation], as_of: dt.date, *, library: Library | None = None, similar: SimilarScores | None = None
) -> dict[str, Run]:
    library = library or default_library()
    docs: Mapping[str, PolicyDoc] = {p.id: policy_doc(p, library) for p in library.policies}
    out: dict[str, Run] = {"amount": {}, "ranking": {}}
    if similar is not None:
        out["blend"] = {}
    for s in situations:
        facts = parse_profile(s.profile).model_dump(exclude_none=True)
        answer: MatchResult = match(s.profile, as_of=as_of, library=library)
        out["amount"][s.id] = _as_run([r.policy_id for r in answer.results if r.verdict != "ineligible"])
        out["ranking"][s.id] = _as_run([r.policy_id for r in recommend(answer, facts, docs).items])
        if similar is not None:
            out["blend"][s.id] = _as_run([r.policy_id for r in recommend(answer, facts, docs, similar=similar).items])
    return out


def evaluate(situations: list[Situation], all_runs: dict[str, Run]) -> dict[str, dict[str, float]]:
    from ranx import Qrels
    from ranx import Run as RanxRun
    from ranx import evaluate as ranx_evaluate

    qrels = Qrels({s.id: s.relevant for s in situations})
    ids = {s.id for s in situations}
    out = {}
    for name, run in all_runs.items():
        scores = ranx_evaluate(qrels, RanxRun({k: v for k, v in run.items() if k in ids}), METRICS)
        out[name] = {m: float(scores[m]) for m in METRICS}
    return out


def split(situations: list[Situation], held_out: bool) -> list[Situation]:
    return [s for s in situations if s.held_out == held_out]


def report(similar: Callable[[], SimilarScores] | None = None) -> dict[str, dict[str, dict[str, float]]]:
    as_of, situations = load()
    all_runs = runs(situations, as_of, similar=similar() if similar else None)
    return {
        "train": evaluate(split(situations, False), all_runs),
        "held_out": evaluate(split(situations, True), all_runs),
        "all": evaluate(situations, all_runs),
    }
