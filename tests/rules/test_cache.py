"""The compiled library cached on disk: same answers, never stale, corrupt entries ignored."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from huiqi.match import answer
from huiqi.rules import LibraryError, Policy, default_library_path
from huiqi.rules import cache as library_cache
from huiqi.rules.cache import load_library_cached

ROOT = Path(__file__).resolve().parents[2]
AS_OF = dt.date(2026, 6, 30)
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))


@pytest.fixture
def library_root(tmp_path: Path) -> Path:
    root = tmp_path / "policies"
    shutil.copytree(default_library_path(), root)
    return root


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every time the library is really compiled (not read from the cache)."""
    calls: list[Path] = []
    real = library_cache.load_library

    def counting(root: Path) -> object:
        calls.append(root)
        return real(root)

    monkeypatch.setattr(library_cache, "load_library", counting)
    return calls


def answers(library: object) -> list[dict[str, object]]:
    return [answer(json.loads(p.read_text("utf-8")), AS_OF, library) for p in EXAMPLES]  # type: ignore[arg-type]


def test_second_load_is_read_from_the_cache_and_answers_the_same(
    library_root: Path, tmp_path: Path, compiles: list[Path]
) -> None:
    cache = tmp_path / "cache"
    first = load_library_cached(library_root, cache)
    second = load_library_cached(library_root, cache)
    assert len(compiles) == 1
    assert second is not first
    assert answers(second) == answers(first)
    assert [p.id for p in second.policies] == [p.id for p in first.policies]
    assert all(isinstance(p, Policy) and p.index == i for i, p in enumerate(second.policies))


def test_an_edited_policy_is_compiled_again(library_root: Path, tmp_path: Path, compiles: list[Path]) -> None:
    cache = tmp_path / "cache"
    before = load_library_cached(library_root, cache)
    path = library_root / "lj" / "hr.job-stabilization.yaml"
    text = path.read_text("utf-8")
    title = next(line for line in text.splitlines() if line.startswith("title:"))
    path.write_text(text.replace(title, "title: 改过的标题", 1), "utf-8")
    after = load_library_cached(library_root, cache)
    assert len(compiles) == 2
    changed = [p for p in after.policies if p.definition.title == "改过的标题"]
    assert len(changed) == 1
    assert before.by_id[changed[0].id].definition.title != "改过的标题"


def test_other_code_uses_another_entry(
    library_root: Path, tmp_path: Path, compiles: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    load_library_cached(library_root, cache)
    monkeypatch.setattr(library_cache, "code_version", lambda: b"another version of huiqi")
    load_library_cached(library_root, cache)
    assert len(compiles) == 2
    assert len(list(cache.glob("*.pickle"))) == 2


@pytest.mark.parametrize("damage", [b"", b"not a pickle", b"\x80\x05\x95garbage"])
def test_a_corrupt_entry_is_compiled_again_and_rewritten(
    library_root: Path, tmp_path: Path, compiles: list[Path], damage: bytes
) -> None:
    cache = tmp_path / "cache"
    expected = answers(load_library_cached(library_root, cache))
    (entry,) = cache.glob("*.pickle")
    entry.write_bytes(damage)
    library = load_library_cached(library_root, cache)
    assert len(compiles) == 2
    assert answers(library) == expected
    assert load_library_cached(library_root, cache) is not None
    assert len(compiles) == 2  # the rewritten entry is read


def test_an_entry_in_a_directory_others_may_write_is_not_read(
    library_root: Path, tmp_path: Path, compiles: list[Path]
) -> None:
    cache = tmp_path / "cache"
    load_library_cached(library_root, cache)
    cache.chmod(0o777)
    load_library_cached(library_root, cache)
    assert len(compiles) == 2


def test_a_library_with_errors_raises_and_is_not_cached(library_root: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    (library_root / "lj" / "broken.yaml").write_text("id: lj.x.broken\ntitle: [unclosed\n", "utf-8")
    with pytest.raises(LibraryError):
        load_library_cached(library_root, cache)
    assert not list(cache.glob("*.pickle"))


def test_cache_off(library_root: Path, compiles: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUIQI_CACHE_DIR", "off")
    load_library_cached(library_root)
    load_library_cached(library_root)
    assert len(compiles) == 2


def test_the_key_names_the_installed_sqlglot_and_pydantic_without_importing_them() -> None:
    import pydantic
    import sqlglot

    assert f"sqlglot-{sqlglot.__version__}.dist-info" in library_cache.installed("sqlglot")
    assert f"pydantic-{pydantic.VERSION}.dist-info" in library_cache.installed("pydantic")
