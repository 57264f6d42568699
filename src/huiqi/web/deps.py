"""What the officers' and the enterprises' endpoints share: the lifecycle database and
input checks that keep what reaches the database storable (PostgreSQL refuses NUL)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Request
from pydantic import StringConstraints

from huiqi.errors import Message, Unavailable
from huiqi.library import Lifecycle
from huiqi.web.settings import Settings

#: No control characters (NUL above all), tab and newlines aside.
PRINTABLE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


#: Request strings: bounded, without control characters. A line of text (a name, a note):
Line = Annotated[str, StringConstraints(max_length=255, pattern=PRINTABLE)]
#: a token or a short code:
Token = Annotated[str, StringConstraints(max_length=200, pattern=PRINTABLE)]
#: a whole policy file:
Document = Annotated[str, StringConstraints(max_length=200_000, pattern=PRINTABLE)]


def has_control(value: Any) -> bool:
    """Whether a JSON-like value holds a control character anywhere (keys included)."""
    if isinstance(value, str):
        return bool(_CONTROL.search(value))
    if isinstance(value, dict):
        return any(has_control(k) or has_control(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_control(v) for v in value)
    return False


def lifecycle(request: Request) -> Lifecycle:
    """The lifecycle of the app's database; 503 when the app serves files, not a database."""
    state = request.app.state
    lc = getattr(state, "lifecycle", None)
    if lc is None:
        engine = getattr(getattr(state, "source", None), "engine", None)
        if engine is None:
            raise Unavailable(
                Message("政策库未连接数据库：请设置 HUIQI_DB 后启动", "no lifecycle database: start with HUIQI_DB")
            )
        lc = Lifecycle(engine, state.clock)
        state.lifecycle = lc
    return lc


def settings(request: Request) -> Settings:
    found: Settings = request.app.state.settings
    return found
