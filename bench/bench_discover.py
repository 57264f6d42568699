"""Discovery speed: policy search over 10,000 policies, and what recommendation adds to a match.

    .venv/bin/python bench/bench_discover.py [--policies 10000] [--queries 2000] [--profiles 2000]

1. Search: builds a synthetic library of N policy documents (the shipped policies' texts,
   recombined: titles, summaries, conditions and how-to-apply text shuffled between
   policies, with made-up districts, industries and amounts), indexes it (SQLite FTS5 +
   trigram, in memory) and times ``search()`` for a mix of queries — frequent words (企业,
   补贴), rare ones, synonyms (高企, 六税两费), substrings of three or more characters
   (在建工程, 农业发展银行), two-word AND, one character, a filter and a sort. Reports
   p50 / p99 of wall time and of the thread's CPU time (time.thread_time: what the search
   itself costs, whatever else the machine runs), with the load average before and after.
   Target: p99 ≤ 20 ms.
2. Recommendation: for N enterprises of the synthetic registry, the time of ``match()``
   and, separately, of ``recommend()`` on its answer (features, reasons, the missing-facts
   block) over the shipped library, without and with the ALS blend (synthetic history).
   Target: recommendation p99 ≤ 5 ms.
3. The gold set: nDCG@10 and MRR (ranx) of amount order, the ranking and the ranking +
   ALS on the synthetic history, on the training and held-out parts (tests/discover/gold).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from huiqi.batch.registry import generate_registry  # noqa: E402
from huiqi.discover.documents import PolicyDoc, policy_doc  # noqa: E402
from huiqi.discover.recommend import recommend  # noqa: E402
from huiqi.discover.search import SqliteBackend, search  # noqa: E402
from huiqi.match import default_library, match  # noqa: E402

TODAY = dt.date(2026, 6, 30)
QUERIES = ["企业", "补贴", "奖励 小微", "高企", "六税两费", "稳岗", "在建工程", "农业发展银行", "研发费用", "软件",
           "餐饮", "饭馆", "首台", "箱", "贴息 担保", "社保补贴", "专精特新", "增值税 小规模", "上市", "数字化改造",
           "工程", "处理", "认定", "临江区", "人才 住房"]  # fmt: skip
PLACES = ["临江区", "江北区", "高新区", "滨湖区", "东港区", "西山县"]
TRADES = ["餐饮", "零售", "软件", "制造业", "建筑业", "农业", "物流", "文化旅游", "生物医药", "在建工程"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(name: str, seconds: list[float], cpu: list[float] | None = None) -> None:
    ms = [s * 1000 for s in seconds]
    line = (
        f"{name:<30} p50 {percentile(ms, 0.5):7.3f} ms   p99 {percentile(ms, 0.99):7.3f} ms   "
        f"mean {statistics.fmean(ms):7.3f} ms   (n={len(ms)})"
    )
    if cpu:
        cpu_ms = [s * 1000 for s in cpu]
        line += f"   CPU p50 {percentile(cpu_ms, 0.5):7.3f} ms   p99 {percentile(cpu_ms, 0.99):7.3f} ms"
    print(line)


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores"


def synthetic_docs(n: int, seed: int = 7) -> list[PolicyDoc]:
    rng = random.Random(seed)
    base = [policy_doc(p, default_library()) for p in default_library().policies]
    out = []
    for i in range(n):
        a, b, c = rng.choice(base), rng.choice(base), rng.choice(base)
        place, trade = rng.choice(PLACES), rng.choice(TRADES)
        out.append(
            replace(
                a,
                policy_id=f"lj.synthetic.p{i}",
                title=f"{place}{trade}{a.title.removeprefix('临江市').removesuffix('（示例）')}",
                summary=f"{a.summary} {b.summary[: rng.randint(10, 60)]}",
                conditions=f"{a.conditions}\n{c.conditions}",
                text=f"{a.text}\n{b.text}\n{trade}企业可按规定申请，最高{rng.randint(1, 500)}万元。",
                valid_from=TODAY - dt.timedelta(days=rng.randint(0, 1500)),
                valid_to=TODAY + dt.timedelta(days=rng.randint(-100, 900)) if rng.random() < 0.7 else None,
                max_amount=None,
            )
        )
    return out


def bench_search(n: int, queries: int) -> None:
    docs = synthetic_docs(n)
    t = time.perf_counter()
    backend = SqliteBackend(docs)
    print(f"index {n:,} policies: {time.perf_counter() - t:.2f} s")
    rng = random.Random(1)
    for q in QUERIES:  # warm up jieba and SQLite
        search(backend, q, today=TODAY)
    times, cpu, totals = [], [], []
    print(f"before: {load()}")
    for _ in range(queries):
        q = rng.choice(QUERIES)
        kw: dict[str, object] = {}
        roll = rng.random()
        if roll < 0.15:
            kw = {"category": "reward"}
        elif roll < 0.25:
            kw = {"sort": "deadline", "closing_within": 30}
        elif roll < 0.35:
            kw = {"sort": "amount"}
        t, c = time.perf_counter(), time.thread_time()
        result = search(backend, q, today=TODAY, **kw)  # type: ignore[arg-type]
        cpu.append(time.thread_time() - c)
        times.append(time.perf_counter() - t)
        totals.append(result.total)
    print(f"after: {load()}")
    report(f"search ({n:,} policies)", times, cpu)
    print(f"  results per query: median {statistics.median(totals):.0f}, max {max(totals):,}")


def bench_recommend(profiles: int) -> None:
    import tempfile

    import pyarrow.parquet as pq

    library = default_library()
    docs = {p.id: policy_doc(p, library) for p in library.policies}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "registry.parquet"
        generate_registry(profiles, seed=11, out=path)
        rows = pq.read_table(path).to_pylist()
    from huiqi.discover.similar import SimilarEnterprises, synthetic_interactions

    similar = SimilarEnterprises(synthetic_interactions(library, TODAY))
    match_t, rec_t, match_c, rec_c, als_c = [], [], [], [], []
    print(f"before: {load()}")
    for row in rows:
        raw = {k: v for k, v in row.items() if v is not None and k in ("region", "industry", "registered_on",
               "employees", "revenue", "total_assets", "taxable_income", "rd_expense", "taxpayer_type",
               "monthly_sales", "certifications", "credit_rating")}  # fmt: skip
        t, c = time.perf_counter(), time.thread_time()
        answer = match(raw, as_of=TODAY, library=library)
        t1, c1 = time.perf_counter(), time.thread_time()
        recommend(answer, raw, docs)
        t2, c2 = time.perf_counter(), time.thread_time()
        match_t.append(t1 - t)
        rec_t.append(t2 - t1)
        match_c.append(c1 - c)
        rec_c.append(c2 - c1)
        c3 = time.thread_time()
        recommend(answer, raw, docs, similar=similar)
        als_c.append(time.thread_time() - c3)
    print(f"after: {load()}")
    report("match() (shipped library)", match_t, match_c)
    report("recommend() on its answer", rec_t, rec_c)
    report("recommend(similar=ALS), CPU", als_c, als_c)
    ratio = statistics.median(rec_c) / statistics.median(match_c)
    print(f"  recommend / match (median CPU): {ratio:.2f}")


def bench_gold() -> None:
    from huiqi.discover.similar import SimilarEnterprises, synthetic_interactions
    from tests.discover import goldset

    library = default_library()
    t = time.perf_counter()
    similar = SimilarEnterprises(synthetic_interactions(library, TODAY))
    print(f"ALS on the synthetic history: {time.perf_counter() - t:.1f} s")
    for part, scores in goldset.report(lambda: similar).items():
        line = "   ".join(f"{run} nDCG@10 {s['ndcg@10']:.3f} MRR {s['mrr']:.3f}" for run, s in scores.items())
        print(f"gold set, {part:<8} {line}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--policies", type=int, default=10_000)
    ap.add_argument("--queries", type=int, default=2_000)
    ap.add_argument("--profiles", type=int, default=2_000)
    args = ap.parse_args()
    bench_search(args.policies, args.queries)
    bench_recommend(args.profiles)
    bench_gold()


if __name__ == "__main__":
    main()
