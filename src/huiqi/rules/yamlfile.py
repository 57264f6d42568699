"""YAML that remembers where each key and list item was written.

PyYAML gives line numbers only on its node graph; we keep them on the constructed
dicts and lists so that a schema or type error can point at ``file:line``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

_Base: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LineDict(dict[str, Any]):
    lines: dict[str, int]
    line: int


class LineList(list[Any]):
    lines: list[int]
    line: int


class _Loader(_Base):
    pass


def _mapping(loader: Any, node: yaml.MappingNode) -> LineDict:
    out = LineDict()
    out.line = node.start_mark.line + 1
    out.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = key_node.start_mark.line + 1
    return out


def _sequence(loader: Any, node: yaml.SequenceNode) -> LineList:
    out = LineList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.lines = [child.start_mark.line + 1 for child in node.value]
    return out


def _int(loader: Any, node: yaml.ScalarNode) -> int:
    try:
        return int(yaml.constructor.SafeConstructor.construct_yaml_int(loader, node))
    except ValueError:  # e.g. Python's limit of 4,300 digits: an error at the number's line
        raise yaml.constructor.ConstructorError(
            None, None, "数字过长 / the number is too long", node.start_mark
        ) from None


_Loader.add_constructor("tag:yaml.org,2002:int", _int)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def load(path: Path) -> Any:
    return loads(path.read_text(encoding="utf-8"))


def loads(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)


def line_of(doc: Any, loc: Sequence[str | int]) -> int | None:
    """The line of the deepest part of ``loc`` that exists in the document."""
    line = getattr(doc, "line", None)
    node = doc
    for part in loc:
        if isinstance(node, LineDict) and str(part) in node:
            line = node.lines.get(str(part), line)
            node = node[str(part)]
        elif isinstance(node, LineList) and isinstance(part, int) and 0 <= part < len(node):
            line = node.lines[part]
            node = node[part]
        else:
            break
    return line
