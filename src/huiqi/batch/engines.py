"""Batch engines by name: ``"module:Class"``, imported on first use.

Adding an engine = one line here and a class implementing
:class:`huiqi.batch.base.BatchEngine`. Nothing imports an engine module directly, so an
engine whose library is not installed (PySpark) costs nothing until it is picked.
"""

from __future__ import annotations

import importlib
from typing import Any

from huiqi.batch.base import BatchEngine, BatchError

ENGINES: dict[str, str] = {
    "duckdb": "huiqi.batch.duckdb_engine:DuckDBEngine",
    "spark": "huiqi.batch.spark_engine:SparkEngine",
}
DEFAULT_ENGINE = "duckdb"


def check_engine(name: str) -> None:
    if name not in ENGINES:
        raise BatchError(
            "--engine",
            f"引擎只能是 {' 或 '.join(ENGINES)}，收到 {name!r}",
            f"engine must be one of {', '.join(ENGINES)}, got {name!r}",
        )


def engine_class(name: str) -> type[BatchEngine]:
    """The engine class registered as ``name`` (imports its module)."""
    check_engine(name)
    module, _, attr = ENGINES[name].partition(":")
    cls: type[BatchEngine] = getattr(importlib.import_module(module), attr)
    return cls


def create_engine(name: str, **settings: Any) -> BatchEngine:
    """A new engine ``name`` built with its own ``settings`` (e.g. DuckDB's ``threads``)."""
    return engine_class(name)(**settings)
