from contextlib import ExitStack
from pathlib import Path

import pytest

from huiqi.clock import FixedClock
from huiqi.library import Lifecycle
from huiqi.library.officers import add_user
from tests.conftest import TEST_NOW
from tests.postgres import require, temporary_database

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
EXAMPLES = ROOT / "examples"
SMALL_LOW_PROFIT = "cn/cit.small-low-profit.yaml"


@pytest.fixture(scope="session")
def seeded_templates(tmp_path_factory):
    """Per kind, lazily: a database with the library imported and the officers added."""
    made = {}
    stack = ExitStack()

    def get(kind):
        if kind not in made:
            url = stack.enter_context(temporary_database(kind, tmp_path_factory.mktemp("template")))
            make_lifecycle(url).engine.dispose()
            made[kind] = url
        return made[kind]

    with stack:
        yield get


@pytest.fixture(params=["sqlite", "postgresql"])
def seeded_url(request, tmp_path, seeded_templates):
    """A copy of the seeded template database, on SQLite and on PostgreSQL."""
    require(request.param)
    with temporary_database(request.param, tmp_path, template=seeded_templates(request.param)) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'huiqi.db'}"


def make_lifecycle(url, clock=None):
    clock = clock or FixedClock(TEST_NOW)
    lifecycle = Lifecycle.open(url, clock=clock)
    lifecycle.import_directory(POLICIES)
    add_user(lifecycle.engine, "alice", "editor", "alice-password", clock=clock)
    add_user(lifecycle.engine, "bob", "publisher", "bob-password", clock=clock)
    add_user(lifecycle.engine, "carol", "publisher", "carol-password", clock=clock)
    return lifecycle


@pytest.fixture
def lc(seeded_url, clock):
    """The shipped library imported, and three officers: an editor and two publishers."""
    lifecycle = Lifecycle.open(seeded_url, clock=clock)
    yield lifecycle
    lifecycle.engine.dispose()


@pytest.fixture
def text_of():
    def read(rel=SMALL_LOW_PROFIT):
        return (POLICIES / rel).read_text(encoding="utf-8")

    return read


@pytest.fixture
def propose():
    """Draft and submit a change as ``author``; return the version in review."""

    def run(lc, text, *, author="alice", note="修改", filename=None):
        v = lc.create_draft(text, author=author, note=note, filename=filename)
        return lc.submit(v.id, actor=author)

    return run


@pytest.fixture
def sqlite_lc(tmp_path, seeded_templates, clock):
    """Like ``lc``, on SQLite only (for the web pages, which do not depend on the database)."""
    with temporary_database("sqlite", tmp_path, template=seeded_templates("sqlite")) as url:
        lifecycle = Lifecycle.open(url, clock=clock)
        yield lifecycle
        lifecycle.engine.dispose()
