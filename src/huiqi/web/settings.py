"""What an operator configures for the web app (environment variables, or ``huiqi serve`` options)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from huiqi.errors import InputError


@dataclass(frozen=True)
class Settings:
    #: ``HUIQI_BASE_URL``: the address people use (``https://huiqi.linjiang.gov.cn``). Absolute
    #: links are built from it, never from the request's Host header; when it is https, the
    #: session cookie is ``Secure`` and browsers are told to keep to https (HSTS).
    base_url: str | None = None
    #: ``HUIQI_REGISTRY``: the enterprise registry (Parquet) impact analysis runs on.
    registry: Path | None = None
    #: ``HUIQI_EXAMPLES``: the example profiles (the officers' preview; impact only when asked).
    examples: Path | None = None
    #: Library builds for dates not cached, per client address and minute.
    as_of_builds_per_minute: int = 6
    #: Lookups of e-licences by 证照标识 without the licence in hand (API and form), per client
    #: address and minute: identifiers are sequential, so an unlimited client could walk the
    #: register. The QR page (with the licence's access code) is not limited.
    cert_lookups_per_minute: int = 30

    @property
    def https(self) -> bool:
        return bool(self.base_url) and urlsplit(self.base_url or "").scheme == "https"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = environ if environ is not None else os.environ
        base = env.get("HUIQI_BASE_URL", "").strip().rstrip("/") or None
        if base is not None:
            parts = urlsplit(base)
            if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
                raise InputError(
                    f"HUIQI_BASE_URL 应为 https://主机名 / HUIQI_BASE_URL must be like https://host: {base[:100]!r}",
                    field="HUIQI_BASE_URL",
                )
        registry = env.get("HUIQI_REGISTRY", "").strip()
        examples = env.get("HUIQI_EXAMPLES", "").strip()
        return cls(
            base_url=base,
            registry=Path(registry) if registry else None,
            examples=Path(examples) if examples else _shipped_examples(),
        )


def _shipped_examples() -> Path | None:
    candidates = [Path("examples"), Path(__file__).resolve().parents[3] / "examples"]
    return next((p for p in candidates if p.is_dir()), None)
