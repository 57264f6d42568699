"""Migrations: the schema they build is the models' schema, and upgrades keep data."""

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from huiqi.certs import schema as certs_schema
from huiqi.portal import schema as portal_schema
from huiqi.sharing import schema as sharing_schema
from huiqi.store import current_revision, generation, head_revision, make_engine, upgrade
from huiqi.store.models import Base
from huiqi.trust import schema as trust_schema

POLICY = (Path(__file__).resolve().parents[2] / "policies" / "cn" / "cit.small-low-profit.yaml").read_text(
    encoding="utf-8"
)


def test_head_schema_matches_the_models(db_url):
    engine = make_engine(db_url)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn),
            [
                Base.metadata,
                trust_schema.metadata,
                certs_schema.metadata,
                sharing_schema.metadata,
                portal_schema.metadata,
            ],
        )
    assert diff == []
    assert generation(engine) == 0
    upgrade(engine)  # a second upgrade is a no-op
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_upgrade_from_revision_1_keeps_and_backfills_data(db_url):
    engine = make_engine(db_url)
    upgrade(engine, "0001")
    assert current_revision(engine) == "0001"
    with engine.begin() as conn:
        conn.execute(text("UPDATE library_state SET generation = 7 WHERE id = 1"))
        conn.execute(
            text("INSERT INTO documents (id, path, kind, created_at) VALUES (:id, :path, 'policy', :t)"),
            {"id": "cn.cit.small-low-profit", "path": "cn/cit.small-low-profit.yaml", "t": "2026-01-01 00:00:00"},
        )
        conn.execute(
            text(
                "INSERT INTO versions (document_id, number, state, content, content_hash, diff, author,"
                " created_at, note) VALUES (:d, 1, 'published', :c, 'h', '', 'alice', :t, 'first')"
            ),
            {"d": "cn.cit.small-low-profit", "c": POLICY, "t": "2026-01-01 00:00:00"},
        )
        conn.execute(
            text(
                "INSERT INTO users (name, password_hash, role, active, created_at)"
                " VALUES ('alice', 'scrypt$x', 'editor', :a, :t)"
            ),
            {"a": True, "t": "2026-01-01 00:00:00"},
        )
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        doc = conn.execute(text("SELECT id, category, title FROM documents")).one()
        assert doc == ("cn.cit.small-low-profit", "tax", "小型微利企业所得税优惠")
        assert conn.execute(text("SELECT content FROM versions")).scalar() == POLICY
        assert conn.execute(text("SELECT role FROM users WHERE name = 'alice'")).scalar() == "editor"
        # the new tables exist and are empty
        assert conn.execute(text("SELECT count(*) FROM inbox")).scalar() == 0
    assert generation(engine) == 7
    engine.dispose()


def test_sqlite_default_url_is_var_huiqi_db(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HUIQI_DB", raising=False)
    engine = make_engine()
    upgrade(engine)
    assert (tmp_path / "var" / "huiqi.db").exists()
    engine.dispose()


def test_huiqi_db_env_names_the_database(tmp_path, monkeypatch):
    monkeypatch.setenv("HUIQI_DB", f"sqlite:///{tmp_path / 'other.db'}")
    engine = make_engine()
    upgrade(engine)
    assert (tmp_path / "other.db").exists()
    engine.dispose()


@pytest.mark.parametrize("url", ["postgresql://postgres@127.0.0.1:5432/test"])
def test_plain_postgresql_url_uses_psycopg3(url):
    assert make_engine(url).dialect.driver == "psycopg"
