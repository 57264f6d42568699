import os

import pytest

from tests.postgres import postgres_available, temporary_database


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """An empty database: every storage test runs on SQLite and on PostgreSQL."""
    if request.param == "postgresql" and not postgres_available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not reachable (run scripts/ensure-postgres.sh)")
        pytest.skip("PostgreSQL is not reachable (run scripts/ensure-postgres.sh)")
    with temporary_database(request.param, tmp_path) as url:
        yield url
