"""The compiled library kept on disk, so that a one-enterprise process starts fast.

Loading the shipped library parses and type-checks every expression and generates its
Python code: most of what ``huiqi match`` spends before it answers. The result is pickled
under a key made of everything it depends on — the library's texts (each file's relative
path and content), where it was read from, the code that reads and compiles it (the
sources of ``huiqi.rules`` and ``huiqi.profile``, ``huiqi.errors``) and the versions of
Python, sqlglot and pydantic. Any change gives another key, so a stale entry is never read.
An entry that cannot be read (truncated, corrupt, written by another version) is ignored:
the library is compiled as without a cache and the entry written again.

The cache lives in ``HUIQI_CACHE_DIR``, else ``$XDG_CACHE_HOME/huiqi``, else
``~/.cache/huiqi``, a directory only its owner may write (pickle runs code on load, so
entries are only read from a directory nobody else can write). ``HUIQI_CACHE_DIR=off``
turns it off.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the lean entries (huiqi.match.lean) are read without them
    from huiqi.rules.library import Library

#: Bump when the pickled layout changes in a way the source hash would not show.
FORMAT = b"huiqi-library-cache-1"
OFF = "off"


def cache_dir() -> Path | None:
    """Where entries live, or None when the cache is off."""
    env = os.environ.get("HUIQI_CACHE_DIR")
    if env is not None:
        return None if env in ("", OFF) else Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "huiqi"


@cache
def code_version() -> bytes:
    """A digest of the code a compiled library depends on."""
    digest = hashlib.sha256(FORMAT)
    digest.update(f"{sys.version}|{installed('sqlglot')}|{installed('pydantic')}".encode())
    digest_sources(digest, ["errors.py", "rules/*.py", "profile/**/*"])
    return digest.digest()


def installed(name: str) -> str:
    """The installed distribution of a top-level package, by the name of its metadata folder
    (``sqlglot-30.31.0.dist-info``): its version, read without importing it (sqlglot alone
    costs ~60 ms to import, and ``huiqi match`` reads the lean entry without it). Installed
    some other way (no such folder beside it), the package is imported and asked."""
    import importlib
    from importlib.util import find_spec

    spec = find_spec(name)
    if spec is not None and spec.origin is not None:
        site = Path(spec.origin).parent.parent
        found = sorted(p.name for p in site.glob(f"{name}-*.dist-info"))
        if found:
            return ",".join(found)
    module = importlib.import_module(name)
    return f"{name} {getattr(module, '__version__', None) or getattr(module, 'VERSION', None)}"


def digest_sources(digest: Any, patterns: list[str]) -> None:
    """Add huiqi's files matching ``patterns`` (relative to the package), path and content."""
    package = Path(__file__).resolve().parent.parent
    for pattern in patterns:
        for path in sorted(package.glob(pattern)):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes() + b"\0")


def library_key(root: Path) -> str:
    """The key of the library in ``root`` as it is on disk now (see the module docstring)."""
    digest = hashlib.sha256(code_version())
    digest.update(str(root.resolve()).encode() + b"\0")
    for path in sorted(root.rglob("*.yaml")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def load_library_cached(root: Path | None = None, directory: Path | None = None) -> Library:
    """``load_library(root)``, from the cache when the same texts were compiled before.

    Raises ``LibraryError`` as ``load_library`` does; a library with errors is never cached.
    """
    from huiqi.rules.library import Library, default_library_path

    root = root or default_library_path()
    directory = directory or cache_dir()
    if directory is None or not root.is_dir():
        return load_library(root)
    entry = directory / f"{library_key(root)}.pickle"
    library = read(entry)
    if not isinstance(library, Library):
        library = load_library(root)
        write(directory, entry, library)
    return library


def load_library(root: Path) -> Library:
    """``huiqi.rules.loader.load_library`` (imported on first use: it needs sqlglot and pydantic)."""
    from huiqi.rules.loader import load_library as compile_library

    return compile_library(root)


def _private(directory: Path) -> bool:
    """The directory is ours and nobody else may write to it."""
    info = directory.stat()
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def read(entry: Path) -> Any:
    """What ``entry`` holds, or None when it is missing, unreadable or not only ours."""
    try:
        if not _private(entry.parent):
            return None
        with entry.open("rb") as f:
            return pickle.load(f)
    except Exception:  # missing, truncated, corrupt or from other code: compile instead
        return None


def write(directory: Path, entry: Path, value: Any) -> None:
    """Write the entry atomically; a cache that cannot be written is no error."""
    import tempfile

    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(directory):
            return
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".pickle")
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, entry)
        except BaseException:
            os.unlink(tmp)
            raise
    except (OSError, pickle.PicklingError):
        return
