import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from huiqi.clock import FixedClock
from tests.postgres import require, temporary_database

settings.register_profile("default", max_examples=60, deadline=None)
settings.register_profile("thorough", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HUIQI_HYPOTHESIS", "default"))

#: "Now" for every test: tests never read the machine's clock (see huiqi.clock).
TEST_NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: every storage test runs on SQLite and on PostgreSQL."""
    require(request.param)
    with temporary_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def clock() -> FixedClock:
    """The one clock of the code under test; a test moves it with ``clock.advance(...)``."""
    return FixedClock(TEST_NOW)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--system-clock-at",
        metavar="YYYY-MM-DD",
        help="move the machine's clock (time-machine) to this date for the whole run, to show that "
        "no test and no code path depends on the real date",
    )


def pytest_configure(config: pytest.Config) -> None:
    # The compiled-library cache (huiqi.rules.cache) of this run, not the user's.
    if "HUIQI_CACHE_DIR" not in os.environ:
        cache = tempfile.mkdtemp(prefix="huiqi-test-cache-")
        os.environ["HUIQI_CACHE_DIR"] = cache
        config.add_cleanup(lambda: shutil.rmtree(cache, ignore_errors=True))
    at = config.getoption("--system-clock-at")
    if at:
        import time_machine

        traveller = time_machine.travel(dt.datetime.combine(dt.date.fromisoformat(at), dt.time(10, 0)), tick=True)
        traveller.start()
        config.add_cleanup(traveller.stop)
