"""The version state machine as one table: (state, action) → who may, and the new state.

::

    draft ──submit──▶ in_review ──publish──▶ published ──withdraw──▶ withdrawn
      ▲                  │                      │
      └─────reject───────┘                      └─(a newer version published)─▶ superseded
    draft / in_review ──abandon──▶ withdrawn

The lifecycle checks every action against this table (:func:`require`); the officer pages
offer exactly the actions it allows (:func:`allowed`); the CLI names the next actions of a
version from it (:func:`next_actions`). Nothing else decides who may do what.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from huiqi import vocab
from huiqi.library.errors import LifecycleError, PermissionDenied
from huiqi.store.models import DRAFT, IN_REVIEW, PUBLISHED, SUPERSEDED, WITHDRAWN

#: Extra rule on the acting officer, beyond the role.
Actor = Literal["any", "not_author", "author_or_publisher"]
#: Rank of each role: a role may do what the roles before it may.
RANK = {role: i for i, role in enumerate(vocab.ROLES)}


@dataclass(frozen=True)
class Transition:
    state: str  # the version's state before
    action: str
    role: str  # the least role that may do it
    to: str  # the version's state after
    actor: Actor = "any"
    kinds: frozenset[str] = frozenset({"policy", "parameters", "variables"})  # document kinds it applies to
    label: str = ""  # the button / done message, in Chinese


TRANSITIONS: tuple[Transition, ...] = (
    Transition(DRAFT, "submit", "editor", IN_REVIEW, label="提交审核"),
    Transition(IN_REVIEW, "reject", "publisher", DRAFT, label="退回修改"),
    # Four-eyes: the author of a change never publishes it, whatever their role.
    Transition(IN_REVIEW, "publish", "publisher", PUBLISHED, "not_author", label="审核通过并发布"),
    # A draft is its author's; a publisher may clear away anyone's.
    Transition(DRAFT, "abandon", "editor", WITHDRAWN, "author_or_publisher", label="放弃此版本"),
    Transition(IN_REVIEW, "abandon", "editor", WITHDRAWN, "author_or_publisher", label="放弃此版本"),
    # Shared parameter and variable files cannot be withdrawn: publish a new version instead.
    Transition(PUBLISHED, "withdraw", "publisher", WITHDRAWN, kinds=frozenset({"policy"}), label="撤回政策"),
    # Done by publishing the next version, never asked for on its own.
    Transition(PUBLISHED, "supersede", "publisher", SUPERSEDED, label="被新版本取代"),
)
_TABLE = {(t.state, t.action): t for t in TRANSITIONS}
#: Actions an officer asks for (the others happen as a consequence).
ACTIONS = ("submit", "reject", "publish", "abandon", "withdraw")


class VersionLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def state(self) -> str: ...
    @property
    def author(self) -> str: ...


class OfficerLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def role(self) -> str: ...


def _refusal(t: Transition | None, v: VersionLike, action: str, kind: str, who: OfficerLike) -> LifecycleError | None:
    state = vocab.STATES.get(v.state, v.state)
    if t is None:
        return LifecycleError(
            f"版本 #{v.id} 的状态是“{state}”，不能{_action_zh(action)} / a {v.state} version cannot be {action}ed"
        )
    if kind not in t.kinds:
        return LifecycleError(
            f"共享参数和变量文件不能{t.label or action}，只能发布新版本 / {kind} files cannot be {action}n; "
            "publish a new version instead"
        )
    if RANK[who.role] < RANK[t.role]:
        return PermissionDenied(
            f"用户 “{who.name}” 的角色是{vocab.ROLES[who.role]}，{t.label or action}需要{vocab.ROLES[t.role]} / "
            f"role {who.role} cannot {action}; it needs {t.role}"
        )
    if t.actor == "not_author" and who.name == v.author:
        return PermissionDenied(
            f"四眼原则：{who.name} 是此版本的作者，不能自己发布 / four-eyes: the author cannot publish their own change"
        )
    if t.actor == "author_or_publisher" and who.name != v.author and RANK[who.role] < RANK["publisher"]:
        return PermissionDenied(
            f"只有作者 {v.author} 或发布人可以放弃此版本 / only its author or a publisher may abandon it"
        )
    return None


def _action_zh(action: str) -> str:
    return next((t.label for t in TRANSITIONS if t.action == action and t.label), action)


def require(v: VersionLike, action: str, who: OfficerLike, *, kind: str = "policy") -> Transition:
    """The transition for ``action`` on ``v`` by ``who``; raises saying why it is refused."""
    t = _TABLE.get((v.state, action))
    refusal = _refusal(t, v, action, kind, who)
    if refusal is not None:
        raise refusal
    assert t is not None
    return t


def allowed(v: VersionLike, who: OfficerLike, *, kind: str = "policy") -> list[Transition]:
    """The actions ``who`` may take on ``v`` now, in table order (what a page offers)."""
    out = []
    for action in ACTIONS:
        t = _TABLE.get((v.state, action))
        if t is not None and _refusal(t, v, action, kind, who) is None:
            out.append(t)
    return out


def next_actions(state: str, *, kind: str = "policy") -> list[Transition]:
    """Every action the table allows from ``state`` to someone (what the CLI lists)."""
    return [t for t in TRANSITIONS if t.state == state and t.action in ACTIONS and kind in t.kinds]
