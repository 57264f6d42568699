"""Declarations kept in the platform database: versions, four-eyes review, publication.

The same discipline as the policies (``huiqi.library``): an editor writes a draft (a new
version of a declaration, never an edit of an old one) and submits it; a publisher who
did not write it publishes it (four-eyes) or sends it back; publishing supersedes the
previous version, withdrawing takes a declaration out of force. Every action is a row of
the hash-chained audit log. ``generation`` grows with every change of what is in force,
so the security servers know to refetch the catalogue.

A version is published only if the whole catalogue would still hold together (a purpose
declaration's fields must be released by the published service, no two declarations for
the same consumer, purpose and service).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from huiqi.clock import Clock
from huiqi.errors import Message
from huiqi.library.errors import LifecycleError, NotFound, PermissionDenied
from huiqi.library.officers import officer
from huiqi.sharing.catalogue import Catalogue, Declaration, DeclarationError, ServiceDeclaration, parse_declaration
from huiqi.sharing.schema import catalogue_state, declaration_versions, declarations, suspensions
from huiqi.store import audit
from huiqi.store.db import as_utc, write_session

SYSTEM = "system"
STATE_LABELS = {
    "draft": "草稿",
    "in_review": "待审核",
    "published": "已发布",
    "superseded": "已被取代",
    "withdrawn": "已撤回",
    "rejected": "已退回",
}


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class DeclarationVersion:
    id: int
    declaration_id: str
    number: int
    state: str
    content: str
    author: str
    note: str
    submitted_by: str | None
    published_by: str | None
    review_note: str | None
    created_at: Any

    @property
    def state_label(self) -> str:
        return STATE_LABELS.get(self.state, self.state)

    @property
    def declaration(self) -> Declaration:
        return parse_declaration(self.content, source=f"{self.declaration_id} v{self.number}")


def _member(decl: Declaration) -> str:
    return decl.provider if isinstance(decl, ServiceDeclaration) else decl.consumer_member


def _version(row: Any) -> DeclarationVersion:
    return DeclarationVersion(
        int(row.id),
        row.declaration_id,
        int(row.number),
        row.state,
        row.content,
        row.author,
        row.note or "",
        row.submitted_by,
        row.published_by,
        row.review_note,
        as_utc(row.created_at),
    )


class CatalogueStore:
    """The catalogue's declarations and their review, in the platform database."""

    def __init__(self, engine: Engine, *, clock: Clock):
        self.engine = engine
        self.clock = clock

    # --- reading ------------------------------------------------------------------------------
    def generation(self, conn: Connection | None = None) -> int:
        def read(c: Connection) -> int:
            value = c.execute(sa.select(catalogue_state.c.generation).where(catalogue_state.c.id == 1)).scalar()
            return int(value or 0)

        if conn is not None:
            return read(conn)
        with self.engine.connect() as c:
            return read(c)

    def published(self) -> Catalogue:
        """The catalogue in force: every published declaration, and the suspended officials."""
        with self.engine.connect() as c:
            rows = c.execute(sa.select(declaration_versions).where(declaration_versions.c.state == "published"))
            decls = [_version(r).declaration for r in rows]
            suspended = list(c.execute(sa.select(suspensions.c.official)).scalars())
            gen = self.generation(c)
        return Catalogue.of(decls, generation=gen, suspended=suspended)

    def versions(self, declaration_id: str | None = None, state: str | None = None) -> list[DeclarationVersion]:
        q = sa.select(declaration_versions).order_by(
            declaration_versions.c.declaration_id, declaration_versions.c.number.desc()
        )
        if declaration_id is not None:
            q = q.where(declaration_versions.c.declaration_id == declaration_id)
        if state is not None:
            q = q.where(declaration_versions.c.state == state)
        with self.engine.connect() as c:
            return [_version(r) for r in c.execute(q)]

    def version(self, version_id: int) -> DeclarationVersion:
        with self.engine.connect() as c:
            row = c.execute(sa.select(declaration_versions).where(declaration_versions.c.id == version_id)).first()
        if row is None:
            raise NotFound(Message(f"没有声明版本 {version_id}", f"no declaration version {version_id}"))
        return _version(row)

    # --- writing -------------------------------------------------------------------------------
    def _bump(self, c: Connection) -> int:
        now = self.clock.now()
        done = c.execute(
            catalogue_state.update()
            .where(catalogue_state.c.id == 1)
            .values(generation=catalogue_state.c.generation + 1, changed_at=now)
        ).rowcount
        if not done:
            c.execute(catalogue_state.insert().values(id=1, generation=1, changed_at=now))
        return self.generation(c)

    def _check_catalogue(self, c: Connection, replacing: Mapping[str, Declaration]) -> None:
        rows = c.execute(sa.select(declaration_versions).where(declaration_versions.c.state == "published"))
        current = {r.declaration_id: _version(r).declaration for r in rows}
        current.update(replacing)
        problems = Catalogue.of(current.values()).problems()
        if problems:
            raise DeclarationError("目录", problems)

    def create_draft(self, text: str, *, author: str, note: str = "") -> DeclarationVersion:
        """A new version (draft) of the declaration the text names; the text is checked first."""
        decl = parse_declaration(text, source="草稿")
        now = self.clock.now()
        with write_session(self.engine) as s:
            who = officer(s, author, "editor").name
            c = s.connection()
            if c.execute(sa.select(declarations.c.id).where(declarations.c.id == decl.id)).first() is None:
                member = _member(decl)
                c.execute(declarations.insert().values(id=decl.id, kind=decl.kind, member=member, created_at=now))
            number = (
                int(
                    c.execute(
                        sa.select(sa.func.coalesce(sa.func.max(declaration_versions.c.number), 0)).where(
                            declaration_versions.c.declaration_id == decl.id
                        )
                    ).scalar_one()
                )
                + 1
            )
            inserted = c.execute(
                declaration_versions.insert().values(
                    declaration_id=decl.id,
                    number=number,
                    state="draft",
                    content=text,
                    content_hash=content_hash(text),
                    author=who,
                    created_at=now,
                    note=note,
                )
            )
            vid = int(inserted.inserted_primary_key[0])  # type: ignore[index]
            audit.record(s, who, "declaration.draft", f"{decl.id} v{number}", at=now, after=text)
        return self.version(vid)

    def submit(self, version_id: int, *, actor: str) -> DeclarationVersion:
        return self._move(
            version_id,
            actor,
            "editor",
            ("draft",),
            "in_review",
            "declaration.submit",
            submitted_by=actor,
            submitted_at=self.clock.now(),
        )

    def reject(self, version_id: int, *, actor: str, note: str) -> DeclarationVersion:
        return self._move(
            version_id, actor, "publisher", ("in_review",), "draft", "declaration.reject", review_note=note
        )

    def publish(self, version_id: int, *, actor: str, note: str = "") -> DeclarationVersion:
        """Publish a reviewed version: a publisher who is not its author (four-eyes)."""
        now = self.clock.now()
        with write_session(self.engine) as s:
            who = officer(s, actor, "publisher").name
            c = s.connection()
            v = self._get(c, version_id)
            if v.state != "in_review":
                raise LifecycleError(
                    Message(
                        f"只能发布待审核的版本（当前：{v.state_label}）",
                        f"only a version in review can be published (is {v.state})",
                    )
                )
            if who == v.author:
                raise PermissionDenied(
                    Message(
                        f"四眼原则：{who} 是此版本的作者，不能自己发布",
                        "four-eyes: the author cannot publish their own version",
                    )
                )
            self._check_catalogue(c, {v.declaration_id: v.declaration})
            c.execute(
                declaration_versions.update()
                .where(
                    declaration_versions.c.declaration_id == v.declaration_id,
                    declaration_versions.c.state == "published",
                )
                .values(state="superseded")
            )
            c.execute(
                declaration_versions.update()
                .where(declaration_versions.c.id == version_id)
                .values(state="published", published_by=who, published_at=now, review_note=note or None)
            )
            gen = self._bump(c)
            audit.record(
                s,
                who,
                "declaration.publish",
                f"{v.declaration_id} v{v.number}",
                at=now,
                after=v.content,
                detail={"generation": gen},
            )
        return self.version(version_id)

    def withdraw(self, declaration_id: str, *, actor: str, note: str) -> DeclarationVersion:
        """Take a published declaration out of force: every request relying on it is refused."""
        now = self.clock.now()
        with write_session(self.engine) as s:
            who = officer(s, actor, "publisher").name
            c = s.connection()
            row = c.execute(
                sa.select(declaration_versions).where(
                    declaration_versions.c.declaration_id == declaration_id, declaration_versions.c.state == "published"
                )
            ).first()
            if row is None:
                raise NotFound(
                    Message(f"{declaration_id} 没有已发布的版本", f"{declaration_id} has no published version")
                )
            c.execute(
                declaration_versions.update()
                .where(declaration_versions.c.id == row.id)
                .values(state="withdrawn", withdrawn_by=who, withdrawn_at=now, review_note=note)
            )
            self._check_catalogue(c, {})
            gen = self._bump(c)
            audit.record(
                s,
                who,
                "declaration.withdraw",
                f"{declaration_id} v{row.number}",
                at=now,
                detail={"note": note, "generation": gen},
            )
        return self.version(int(row.id))

    def import_texts(self, texts: Mapping[str, str], *, actor: str | None = None) -> tuple[list[str], list[str]]:
        """First versions from files (``huiqi departments init``): published at once, like the
        library's import; an identical published text is skipped, a different one refused."""
        parsed = {name: parse_declaration(text, source=name) for name, text in texts.items()}
        now = self.clock.now()
        imported, unchanged = [], []
        with write_session(self.engine) as s:
            who = SYSTEM if actor is None else officer(s, actor, "publisher").name
            c = s.connection()
            replacing: dict[str, Declaration] = {}
            for name, decl in parsed.items():
                text = texts[name]
                row = c.execute(
                    sa.select(declaration_versions).where(
                        declaration_versions.c.declaration_id == decl.id, declaration_versions.c.state == "published"
                    )
                ).first()
                if row is not None:
                    if row.content_hash == content_hash(text):
                        unchanged.append(decl.id)
                        continue
                    raise LifecycleError(
                        Message(
                            f"{name}：{decl.id} 已发布且内容不同；请走起草、审核、发布流程",
                            f"{name}: {decl.id} is published with another text; submit it as a change",
                        )
                    )
                replacing[decl.id] = decl
            self._check_catalogue(c, replacing)
            for name, decl in parsed.items():
                if decl.id not in replacing:
                    continue
                text = texts[name]
                if c.execute(sa.select(declarations.c.id).where(declarations.c.id == decl.id)).first() is None:
                    member = _member(decl)
                    c.execute(declarations.insert().values(id=decl.id, kind=decl.kind, member=member, created_at=now))
                number = (
                    int(
                        c.execute(
                            sa.select(sa.func.coalesce(sa.func.max(declaration_versions.c.number), 0)).where(
                                declaration_versions.c.declaration_id == decl.id
                            )
                        ).scalar_one()
                    )
                    + 1
                )
                c.execute(
                    declaration_versions.insert().values(
                        declaration_id=decl.id,
                        number=number,
                        state="published",
                        content=text,
                        content_hash=content_hash(text),
                        author=who,
                        created_at=now,
                        note=f"从 {name} 导入 / imported",
                        published_by=who,
                        published_at=now,
                    )
                )
                imported.append(decl.id)
            if imported:
                gen = self._bump(c)
                audit.record(
                    s,
                    who,
                    "declaration.import",
                    ",".join(sorted(imported))[:255],
                    at=now,
                    detail={"generation": gen, "count": len(imported)},
                )
        return imported, unchanged

    # --- suspension after a confirmed incident ---------------------------------------------------
    def suspend(self, official: str, *, actor: str, reason: str) -> None:
        now = self.clock.now()
        with write_session(self.engine) as s:
            who = officer(s, actor, "publisher").name
            c = s.connection()
            if c.execute(sa.select(suspensions.c.official).where(suspensions.c.official == official)).first() is None:
                c.execute(
                    suspensions.insert().values(official=official, reason=reason, suspended_by=who, suspended_at=now)
                )
                gen = self._bump(c)
                audit.record(s, who, "sharing.suspend", official, at=now, detail={"reason": reason, "generation": gen})

    def reinstate(self, official: str, *, actor: str) -> None:
        now = self.clock.now()
        with write_session(self.engine) as s:
            who = officer(s, actor, "publisher").name
            c = s.connection()
            if c.execute(suspensions.delete().where(suspensions.c.official == official)).rowcount:
                gen = self._bump(c)
                audit.record(s, who, "sharing.reinstate", official, at=now, detail={"generation": gen})

    # --- helpers ---------------------------------------------------------------------------------
    def _get(self, c: Connection, version_id: int) -> DeclarationVersion:
        row = c.execute(sa.select(declaration_versions).where(declaration_versions.c.id == version_id)).first()
        if row is None:
            raise NotFound(Message(f"没有声明版本 {version_id}", f"no declaration version {version_id}"))
        return _version(row)

    def _move(
        self, version_id: int, actor: str, role: str, frm: tuple[str, ...], to: str, action: str, **values: Any
    ) -> DeclarationVersion:
        now = self.clock.now()
        with write_session(self.engine) as s:
            who = officer(s, actor, role).name
            c = s.connection()
            v = self._get(c, version_id)
            if v.state not in frm:
                raise LifecycleError(Message(f"版本当前为“{v.state_label}”，不能这样操作", f"the version is {v.state}"))
            if to == "in_review":
                parse_declaration(v.content, source=f"{v.declaration_id} v{v.number}")
                values["submitted_by"] = who
            c.execute(
                declaration_versions.update().where(declaration_versions.c.id == version_id).values(state=to, **values)
            )
            audit.record(s, who, action, f"{v.declaration_id} v{v.number}", at=now)
        return self.version(version_id)
