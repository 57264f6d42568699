"""Which document a YAML text is: a policy (by its id) or a shared file of the library."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import yaml

from huiqi.library.errors import LifecycleError
from huiqi.rules import yamlfile
from huiqi.rules.library import PARAMETERS_FILE, VARIABLES_FILE
from huiqi.rules.model import POLICY_ID

_POLICY_ID = re.compile(POLICY_ID)
MAX_ID = 100

#: Shared files are versioned as documents with these ids.
SHARED = {"_parameters": PARAMETERS_FILE, "_variables": VARIABLES_FILE}
SHARED_BY_FILE = {v: k for k, v in SHARED.items()}
KINDS = {"_parameters": "parameters", "_variables": "variables"}


@dataclass(frozen=True)
class DocRef:
    id: str
    path: str  # relative path inside the library, e.g. cn/cit.small-low-profit.yaml
    kind: str  # policy | parameters | variables
    category: str | None = None
    title: str | None = None


def policy_path(policy_id: str) -> str:
    """``cn.cit.small-low-profit`` → ``cn/cit.small-low-profit.yaml`` (the library's layout)."""
    prefix, _, rest = policy_id.partition(".")
    return f"{prefix}/{rest}.yaml"


def parse(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except (yaml.YAMLError, ValueError):  # ValueError: e.g. a number of more than 4,300 digits
        return None


def yaml_error(text: str) -> tuple[int, str] | None:
    """Where and why a text is not YAML (line, message); None when it parses."""
    try:
        yamlfile.loads(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        return (mark.line + 1 if mark else 1), str(e.problem or e)
    except (yaml.YAMLError, ValueError) as e:
        return 1, str(e)
    return None


def identify(text: str, filename: str | None = None, path: str | None = None) -> DocRef | None:
    """The document a text belongs to; None when it names no policy id and no shared file.

    ``filename`` (a basename such as ``_parameters.yaml``) identifies shared files;
    ``path`` keeps an imported file's own relative path.
    """
    name = PurePosixPath(path or filename or "").name
    if name in SHARED_BY_FILE:
        doc_id = SHARED_BY_FILE[name]
        return DocRef(doc_id, SHARED[doc_id], KINDS[doc_id])
    doc = parse(text)
    if not isinstance(doc, dict) or not isinstance(doc.get("id"), str) or "." not in doc["id"]:
        return None
    policy_id = doc["id"]
    category = doc.get("category")
    title = doc.get("title")
    return DocRef(
        policy_id,
        path or policy_path(policy_id),
        "policy",
        str(category)[:32] if category else None,
        str(title)[:255] if title else None,
    )


def require_valid_id(ref: DocRef) -> None:
    """A new document's id must be a policy id (``cn.<area>.<name>`` / ``lj.<area>.<name>``):
    it becomes a path in the library and a URL on the pages, so nothing else is accepted."""
    if ref.kind == "policy" and (len(ref.id) > MAX_ID or not _POLICY_ID.match(ref.id)):
        raise LifecycleError(
            f"政策 id “{ref.id[:60]}” 无效：应为 cn.领域.名称 或 lj.领域.名称（小写字母、数字和连字符，"
            f"最长 {MAX_ID} 字） / invalid policy id: cn.<area>.<name> or lj.<area>.<name>, lower case"
        )
