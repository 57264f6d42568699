"""``huiqi match`` from a cold cache (the full path, which writes the lean entry) and from a
warm one (the lean entry, no pydantic, sqlglot or Typer) prints the same bytes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))


def huiqi(cache: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HUIQI_CACHE_DIR": str(cache), "HUIQI_NOW": "2026-06-30T12:00:00+08:00"}
    return subprocess.run(
        [sys.executable, "-m", "huiqi.cli", "match", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )


def compare(tmp_path: Path, examples: list[Path], dates: list[list[str]]) -> None:
    cache = tmp_path / "cache"
    for fmt in ("table", "json"):
        for example in examples:
            for as_of in dates:
                full = huiqi(Path("off"), str(example), "--format", fmt, *as_of)  # no cache: the full path
                huiqi(cache, str(example), "--format", fmt, *as_of)  # writes the entries when cold
                warm = huiqi(cache, str(example), "--format", fmt, *as_of)
                assert full.returncode == warm.returncode == 0, full.stderr + warm.stderr
                assert warm.stdout == full.stdout, (example, fmt, as_of)
    assert len(list(cache.glob("*.lean"))) == 1


def test_warm_and_cold_processes_print_the_same(tmp_path: Path) -> None:
    compare(tmp_path, [ROOT / "examples" / "manufacturer.json"], [[]])


@pytest.mark.slow
def test_warm_and_cold_processes_print_the_same_for_every_example(tmp_path: Path) -> None:
    compare(tmp_path, EXAMPLES, [[], ["--as-of", "2027-01-01"]])


def test_a_warm_process_imports_neither_pydantic_nor_sqlglot_nor_typer(tmp_path: Path) -> None:
    example = str(ROOT / "examples" / "manufacturer.json")
    assert huiqi(tmp_path, example).returncode == 0
    code = (
        "import sys\n"
        f"sys.argv = ['huiqi', 'match', {example!r}]\n"
        "from huiqi.cli import main\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "heavy = ('pydantic', 'sqlglot', 'typer', 'click', 'yaml', 'stdnum', 'huiqi.match.engine')\n"
        "print('LOADED', sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    env = {**os.environ, "HUIQI_CACHE_DIR": str(tmp_path), "HUIQI_NOW": "2026-06-30T12:00:00+08:00"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "可享受" in run.stdout
    assert run.stdout.splitlines()[-1] == "LOADED []"


def test_a_corrupt_lean_entry_is_ignored_and_written_again(tmp_path: Path) -> None:
    example = str(ROOT / "examples" / "restaurant.json")
    expected = huiqi(tmp_path, example, "--format", "json").stdout
    (entry,) = tmp_path.glob("*.lean")
    entry.write_bytes(b"\x80\x05\x95garbage")
    again = huiqi(tmp_path, example, "--format", "json")
    assert again.returncode == 0 and again.stdout == expected
    assert entry.read_bytes() != b"\x80\x05\x95garbage"


def test_options_help_and_usage_errors(tmp_path: Path) -> None:
    help_ = huiqi(tmp_path, "--help")
    assert help_.returncode == 0
    for words in ("政策计算器", "企业画像 JSON 文件", "--as-of", "评估日期", "--format", "table 或 json", "--policies"):
        assert words in help_.stdout
    missing = huiqi(tmp_path)
    assert missing.returncode == 2 and "profile" in missing.stderr and "错误 error" in missing.stderr
    unknown = huiqi(tmp_path, "x.json", "--bogus")
    assert unknown.returncode == 2 and "--bogus" in unknown.stderr


def test_a_registration_after_the_evaluation_date_is_a_message(tmp_path: Path) -> None:
    for _ in range(2):  # cold, then warm
        run = huiqi(tmp_path, "-", "--as-of", "2026-06-30", stdin='{"employees": 5, "registered_on": "2027-01-01"}')
        assert run.returncode == 2
        assert "成立日期（registered_on）" in run.stderr and "Traceback" not in run.stderr


def test_a_profile_the_plain_reader_leaves_to_pydantic_is_answered_the_full_way(tmp_path: Path) -> None:
    """``"employees": "260"`` (a string) is read by pydantic's lax mode: same answer as 260, and
    the lean entry is neither needed nor written again."""
    ordinary = (ROOT / "examples" / "manufacturer.json").read_text("utf-8")
    expected = huiqi(tmp_path, "-", "--format", "json", stdin=ordinary)
    (entry,) = tmp_path.glob("*.lean")
    written = entry.stat().st_mtime_ns
    lax = huiqi(tmp_path, "-", "--format", "json", stdin=ordinary.replace('"employees": 260', '"employees": "260"'))
    assert lax.returncode == 0 and lax.stdout == expected.stdout
    assert entry.stat().st_mtime_ns == written
