"""Policy versions: draft → in_review → published (effective date) → superseded / withdrawn.

Every document of the library (each policy, plus ``_parameters`` and ``_variables``) is a
chain of immutable versions. A version's text, hash, author, note and diff never change;
only its lifecycle columns do, and every change is an audited officer action.

What is in force on a date D (optionally: as known at an instant K, to reproduce exactly
what the platform answered then): for each document, among its versions published (by
K) with ``effective_from`` ≤ D, the one with the latest effective date (then the latest
publication); none if that version was withdrawn with effect on or before D.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from huiqi.clock import Clock, from_env
from huiqi.library import notify, states
from huiqi.library.checks import DB_ROOT, CheckReport, check_files
from huiqi.library.documents import DocRef, identify, require_valid_id, yaml_error
from huiqi.library.errors import LifecycleError, NotFound, PermissionDenied, TamperedVersion
from huiqi.library.officers import officer
from huiqi.rules import Library, LibraryError, load_library
from huiqi.store import audit
from huiqi.store.db import as_utc, bump_generation, make_engine, read_session, write_session
from huiqi.store.migrate import upgrade
from huiqi.store.models import (
    DRAFT,
    IN_REVIEW,
    PUBLISHED,
    SUPERSEDED,
    WITHDRAWN,
    Document,
    PublishEvent,
    Version,
)

#: Effective date of the versions imported from YAML: the library as it stood is taken to
#: have been in force all along, so past as-of dates answer as the YAML library did.
BEGINNING = dt.date(1900, 1, 1)
SYSTEM = "system"
#: Integrity failures an operator must see at once (wire this logger to the alerting).
alert = logging.getLogger("huiqi.alert")


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def unified_diff(old: str, new: str, path: str, old_label: str, new_label: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"a/{path} ({old_label})",
        tofile=f"b/{path} ({new_label})",
    )
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


def _snapshot(v: Version) -> dict[str, Any]:
    """What the audit log hashes as a version's state before and after an action."""
    return {
        "id": v.id,
        "document": v.document_id,
        "number": v.number,
        "state": v.state,
        "content_hash": v.content_hash,
        "effective_from": v.effective_from,
        "published_by": v.published_by,
        "withdrawn_from": v.withdrawn_from,
    }


@dataclass(frozen=True)
class InForce:
    document_id: str
    path: str
    version_id: int
    number: int
    content_hash: str


@dataclass
class ImportReport:
    imported: list[str]
    unchanged: list[str]
    generation: int


@dataclass(frozen=True)
class Published:
    """One published version as the in-force computation needs it (a row of the index)."""

    version_id: int
    document_id: str
    path: str
    number: int
    content_hash: str
    effective_from: dt.date
    published_at: dt.datetime
    withdrawn_from: dt.date | None
    withdrawn_at: dt.datetime | None


def version_index(session: Session) -> list[Published]:
    """Every published version (one small query): what :func:`select_in_force` reads.

    A server keeps this in memory per library generation, so that any date's versions
    are found without asking the database again.
    """
    rows = session.execute(
        select(
            Version.id,
            Version.document_id,
            Document.path,
            Version.number,
            Version.content_hash,
            Version.effective_from,
            Version.published_at,
            Version.withdrawn_from,
            Version.withdrawn_at,
        )
        .join(Document, Document.id == Version.document_id)
        .where(Version.published_at.is_not(None), Version.effective_from.is_not(None))
    ).all()
    return [
        Published(
            r.id,
            r.document_id,
            r.path,
            r.number,
            r.content_hash,
            r.effective_from,
            as_utc(r.published_at),
            r.withdrawn_from,
            as_utc(r.withdrawn_at) if r.withdrawn_at is not None else None,
        )
        for r in rows
    ]


def select_in_force(index: Iterable[Published], as_of: dt.date, known_at: dt.datetime | None = None) -> list[InForce]:
    """The version of each document in force on ``as_of`` (as known at ``known_at``)."""
    known = as_utc(known_at) if known_at is not None else None
    best: dict[str, Published] = {}
    for r in index:
        if r.effective_from > as_of or (known is not None and r.published_at > known):
            continue
        cur = best.get(r.document_id)
        if cur is None or (r.effective_from, r.published_at, r.version_id) > (
            cur.effective_from,
            cur.published_at,
            cur.version_id,
        ):
            best[r.document_id] = r
    out = []
    for doc_id, r in sorted(best.items()):
        withdrawn = r.withdrawn_from is not None and r.withdrawn_from <= as_of
        if withdrawn and (known is None or (r.withdrawn_at is not None and r.withdrawn_at <= known)):
            continue
        out.append(InForce(doc_id, r.path, r.version_id, r.number, r.content_hash))
    return out


def in_force(session: Session, as_of: dt.date, known_at: dt.datetime | None = None) -> list[InForce]:
    """The version of each document in force on ``as_of`` (as known at ``known_at``)."""
    return select_in_force(version_index(session), as_of, known_at)


def contents(session: Session, version_ids: Iterable[int]) -> dict[int, str]:
    """The texts of these versions, each checked against its stored SHA-256.

    A text that does not match its hash was changed in the database behind the
    lifecycle's back: refused (:class:`TamperedVersion`) and reported on the alert log,
    never served.
    """
    ids = list(version_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(Version.id, Version.document_id, Version.number, Version.content, Version.content_hash).where(
            Version.id.in_(ids)
        )
    ).all()
    bad = [r for r in rows if content_hash(r.content) != r.content_hash]
    if bad:
        names = [f"{r.document_id} v{r.number} (#{r.id})" for r in bad]
        alert.critical("version text does not match its stored hash: %s", ", ".join(names))
        raise TamperedVersion(names)
    return {int(r.id): str(r.content) for r in rows}


def files_in_force(session: Session, as_of: dt.date, known_at: dt.datetime | None = None) -> dict[str, str]:
    refs = in_force(session, as_of, known_at)
    texts = contents(session, (r.version_id for r in refs))
    return {r.path: texts[r.version_id] for r in refs}


def _change_dates(session: Session, after: dt.date) -> list[dt.date]:
    """Later dates on which something already published takes effect (or is withdrawn)."""
    eff = session.scalars(
        select(Version.effective_from).where(Version.published_at.is_not(None), Version.effective_from > after)
    ).all()
    wd = session.scalars(select(Version.withdrawn_from).where(Version.withdrawn_from > after)).all()
    return sorted({d for d in (*eff, *wd) if d is not None})


class Lifecycle:
    """All lifecycle actions on one database. Every write is one audited transaction."""

    def __init__(self, engine: Engine, clock: Clock | None = None):
        self.engine = engine
        self.clock: Clock = clock or from_env()

    @classmethod
    def open(cls, url: str | None = None, *, migrate: bool = True, clock: Clock | None = None) -> Lifecycle:
        engine = make_engine(url)
        if migrate:
            upgrade(engine)
        return cls(engine, clock)

    # --- reading ------------------------------------------------------------------------
    def in_force(self, as_of: dt.date, known_at: dt.datetime | None = None) -> list[InForce]:
        with read_session(self.engine) as s:
            return in_force(s, as_of, known_at)

    def files_for(self, as_of: dt.date, known_at: dt.datetime | None = None) -> dict[str, str]:
        with read_session(self.engine) as s:
            return files_in_force(s, as_of, known_at)

    def library_for(self, as_of: dt.date, known_at: dt.datetime | None = None) -> Library:
        return load_library(DB_ROOT, files=self.files_for(as_of, known_at))

    def documents(self) -> list[Document]:
        with read_session(self.engine) as s:
            return list(s.scalars(select(Document).order_by(Document.id)))

    def document(self, doc_id: str) -> Document:
        with read_session(self.engine) as s:
            doc = s.get(Document, doc_id)
        if doc is None:
            raise NotFound(f"没有文档 “{doc_id}” / no such document")
        return doc

    def versions(self, doc_id: str | None = None, state: str | None = None) -> list[Version]:
        with read_session(self.engine) as s:
            q = select(Version).order_by(Version.document_id, Version.number.desc())
            if doc_id is not None:
                q = q.where(Version.document_id == doc_id)
            if state is not None:
                q = q.where(Version.state == state)
            return list(s.scalars(q))

    def version(self, version_id: int) -> Version:
        with read_session(self.engine) as s:
            v = s.get(Version, version_id)
        if v is None:
            raise NotFound(f"没有版本 #{version_id} / no such version")
        return v

    def latest_published(self, doc_id: str) -> Version | None:
        with read_session(self.engine) as s:
            return _latest_published(s, doc_id)

    def check_text(
        self, text: str, *, filename: str | None = None, as_of: dt.date | None = None, display: str | None = None
    ) -> tuple[DocRef | None, CheckReport]:
        """Lint a proposed text against the library in force on ``as_of`` and run the tests."""
        ref = identify(text, filename)
        if ref is None:
            broken = yaml_error(text)
            where = display or filename or "政策 YAML"
            if broken is not None:
                line, message = broken
                return None, CheckReport(errors=[f"{where}:{line}: YAML 格式错误 / invalid YAML: {message}"])
            return None, CheckReport(errors=[_unidentified(display or filename)])
        with read_session(self.engine) as s:
            doc = s.get(Document, ref.id)
            if doc is not None:
                ref = DocRef(ref.id, doc.path, ref.kind, ref.category, ref.title)
            files = files_in_force(s, as_of or self.clock.today())
        files[ref.path] = text
        return ref, check_files(
            files,
            focus=ref.path,
            focus_policy=ref.id if ref.kind == "policy" else None,
            display={ref.path: display or ref.path},
            today=self.clock.today(),
        )

    # --- writing ------------------------------------------------------------------------
    def import_directory(self, root: Path, *, actor: str | None = None, effective: dt.date = BEGINNING) -> ImportReport:
        """Import a YAML library as first versions, published with ``effective``.

        The directory must load without errors and pass every test. Documents already in
        the database with the same text are skipped; a different text is refused (that
        is a change: submit and publish it).
        """
        texts = {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8") for p in sorted(root.rglob("*.yaml"))}
        if not texts:
            raise LifecycleError(f"{root} 下没有 YAML 文件 / no YAML files under {root}")
        report = check_files(texts, display={k: str(root / k) for k in texts})
        if not report.ok:
            raise LifecycleError("政策库有错误，未导入 / the library has errors; nothing imported", report.problems)
        imported, unchanged = [], []
        with write_session(self.engine) as s:
            who = SYSTEM if actor is None else officer(s, actor, "publisher").name
            for rel, text in texts.items():
                ref = identify(text, path=rel)
                if ref is None:
                    raise LifecycleError(_unidentified(rel))
                doc = s.get(Document, ref.id)
                if doc is not None:
                    latest = _latest_published(s, ref.id)
                    if latest is not None and latest.content_hash == content_hash(text):
                        unchanged.append(ref.id)
                        continue
                    raise LifecycleError(
                        f"{rel}: 数据库中的 {ref.id} 内容不同；请走提交、审核、发布流程 / "
                        "differs from the database; submit and publish it as a change"
                    )
                doc = _new_document(s, ref, self.clock.now())
                v = Version(
                    document_id=doc.id,
                    number=1,
                    state=PUBLISHED,
                    content=text,
                    content_hash=content_hash(text),
                    parent_id=None,
                    diff=unified_diff("", text, rel, "无", "v1"),
                    author=who,
                    created_at=self.clock.now(),
                    note=f"从 {root} 导入 / imported",
                    published_by=who,
                    published_at=self.clock.now(),
                    effective_from=effective,
                    publish_note="导入 / import",
                )
                s.add(v)
                s.flush()
                self._audit(s, who, "import", v, path=rel)
                imported.append(ref.id)
            gen = bump_generation(s, self.clock.now()) if imported else _generation(s)
        return ImportReport(imported, unchanged, gen)

    def create_draft(
        self,
        text: str,
        *,
        author: str,
        note: str = "",
        filename: str | None = None,
        document_id: str | None = None,
    ) -> Version:
        """A new draft version; its diff is against the latest published version."""
        if not note.strip():
            raise LifecycleError("请写明修改说明 / a change note is required")
        ref = identify(text, filename)
        if ref is None:
            raise LifecycleError(_unidentified(filename))
        require_valid_id(ref)
        if document_id is not None and ref.id != document_id:
            raise LifecycleError(
                f"文本中的 id “{ref.id}” 与所编辑的文档 “{document_id}” 不同 / the id in the text changed"
            )
        with write_session(self.engine) as s:
            who = officer(s, author, "editor").name
            doc = s.get(Document, ref.id) or _new_document(s, ref, self.clock.now())
            base = _latest_published(s, doc.id)
            if base is not None and base.content_hash == content_hash(text):
                raise LifecycleError("与当前发布版本相同，没有改动 / no change from the published version")
            number = (s.scalar(select(func.max(Version.number)).where(Version.document_id == doc.id)) or 0) + 1
            v = Version(
                document_id=doc.id,
                number=number,
                state=DRAFT,
                content=text,
                content_hash=content_hash(text),
                parent_id=base.id if base else None,
                diff=unified_diff(
                    base.content if base else "", text, doc.path, f"v{base.number}" if base else "无", f"v{number}"
                ),
                author=who,
                created_at=self.clock.now(),
                note=note.strip(),
            )
            s.add(v)
            s.flush()
            self._audit(s, who, "draft", v, note=v.note)
            return v

    def submit(self, version_id: int, *, actor: str) -> Version:
        """Draft → in review. The change must already pass lint and the tests."""
        v = self.version(version_id)
        self._require_checks(v, self.clock.today())
        with write_session(self.engine) as s:
            v, who, before = self._begin(s, version_id, "submit", actor)
            v.state, v.submitted_by, v.submitted_at = IN_REVIEW, who, self.clock.now()
            self._audit(s, who, "submit", v, before)
            return v

    def reject(self, version_id: int, *, actor: str, note: str) -> Version:
        """In review → draft again, with the reviewer's reason."""
        with write_session(self.engine) as s:
            v, who, before = self._begin(s, version_id, "reject", actor)
            v.state = DRAFT
            self._audit(s, who, "reject", v, before, note=note)
            return v

    def abandon(self, version_id: int, *, actor: str, note: str) -> Version:
        """A draft or a version in review is given up (by its author or a publisher)."""
        if not note.strip():
            raise LifecycleError("请写明放弃原因 / a reason is required")
        with write_session(self.engine) as s:
            v, who, before = self._begin(s, version_id, "abandon", actor)
            v.state, v.withdrawn_by, v.withdrawn_at, v.withdraw_note = WITHDRAWN, who, self.clock.now(), note.strip()
            self._audit(s, who, "abandon", v, before)
            return v

    def publish(
        self,
        version_id: int,
        *,
        actor: str,
        effective: dt.date | None = None,
        note: str = "",
    ) -> Version:
        """In review → published, effective from ``effective`` (default today).

        Refused unless: the actor may publish it (``huiqi.library.states``: a publisher, not
        the version's author — four-eyes); the version was made from the latest published
        one (no lost update); the effective date is not before that one's; and the library
        with this version loads and passes every test on the effective date and on every
        later date something else changes. See :meth:`_go_live` for the locking.
        """
        effective = effective or self.clock.today()
        return self._go_live(version_id, "publish", actor, effective, note)

    def withdraw(
        self,
        version_id: int,
        *,
        actor: str,
        effective: dt.date | None = None,
        note: str = "",
    ) -> Version:
        """Withdraw a published version from ``effective`` on (the library without it must
        still pass). A draft or a version in review is abandoned instead (:meth:`abandon`)."""
        if self.version(version_id).state in (DRAFT, IN_REVIEW):
            return self.abandon(version_id, actor=actor, note=note)
        if not note.strip():
            raise LifecycleError("请写明撤回原因 / a reason is required")
        effective = effective or self.clock.today()
        return self._go_live(version_id, "withdraw", actor, effective, note)

    # --- the steps of an action -----------------------------------------------------------
    def _audit(self, s: Session, who: str, action: str, v: Version, before: Any = None, **detail: Any) -> None:
        """The audit row of an action on version ``v`` (its state before and after)."""
        audit.record(
            s, who, action, f"version:{v.id}", at=self.clock.now(), before=before, after=_snapshot(v), detail=detail
        )

    def _begin(self, s: Session, version_id: int, action: str, actor: str) -> tuple[Version, str, dict[str, Any]]:
        """In a write transaction: the version, the acting officer (checked against the state
        table) and the version's snapshot before the action."""
        v = _get(s, version_id)
        doc = s.get(Document, v.document_id)
        assert doc is not None
        who = officer(s, actor, "viewer")
        states.require(v, action, who, kind=doc.kind)
        return v, who.name, _snapshot(v)

    def _go_live(self, version_id: int, action: str, actor: str, effective: dt.date, note: str) -> Version:
        """Publish or withdraw: check first, then lock only to write.

        The expensive part — loading the library with and without the change, linting it and
        running every test case on each date it will be in force — runs in a read
        transaction, without the write lock, remembering the library generation it saw.
        The write transaction then redoes only the cheap checks, and if the generation moved
        meanwhile (someone else published), the change is checked again from the start.
        """
        for _ in range(_ATTEMPTS):
            plan = self._plan(version_id, action, actor, effective)
            with write_session(self.engine) as s:
                if _generation(s) != plan.generation:
                    continue  # the library changed while we checked: check again
                v, who, before = self._begin(s, version_id, action, actor)
                doc = s.get(Document, v.document_id)
                assert doc is not None
                _require_current(s, v, doc, action, effective)
                if action == "publish":
                    self._write_publish(s, v, doc, who, effective, note)
                else:
                    v.state, v.withdrawn_by, v.withdrawn_at = WITHDRAWN, who, self.clock.now()
                    v.withdrawn_from, v.withdraw_note = effective, note.strip()
                _announce(s, action, v, doc, who, effective, note, before, plan, self.clock)
                return v
        raise LifecycleError("检查期间政策库多次被修改，请稍后重试 / the library kept changing while checked; retry")

    def _plan(self, version_id: int, action: str, actor: str, effective: dt.date) -> _Plan:
        """The checks of :meth:`_go_live`, outside the write lock."""
        with read_session(self.engine) as s:
            generation = _generation(s)
            v = _get(s, version_id)
            doc = s.get(Document, v.document_id)
            assert doc is not None
            states.require(v, action, officer(s, actor, "viewer"), kind=doc.kind)
            _require_current(s, v, doc, action, effective)
            old_files = files_in_force(s, effective)
            report, new_library = _check_change(
                s, doc, v.content if action == "publish" else None, effective, self.clock.today()
            )
        if not report.ok:
            if action == "publish":
                raise LifecycleError(
                    f"版本 #{v.id} 未通过检查，不能发布 / it does not pass lint and tests", report.problems
                )
            raise LifecycleError("撤回后政策库无法通过检查 / the library fails without it", report.problems)
        # The library in force before the change must load: notifications compare the two.
        # A failure here stops the action rather than telling every subscriber they newly qualify.
        try:
            old_library = load_library(DB_ROOT, files=old_files)
        except LibraryError as e:
            raise LifecycleError(
                f"{effective} 现行的政策库无法加载，无法计算通知，操作未执行 / the library in force on {effective} "
                "does not load, so notifications cannot be computed; nothing was changed",
                e.details(),
            ) from e
        assert new_library is not None
        return _Plan(generation, old_library, new_library)

    def _write_publish(self, s: Session, v: Version, doc: Document, who: str, effective: dt.date, note: str) -> None:
        current = _latest_published(s, doc.id)
        if current is not None and current.state == PUBLISHED:
            prev_before = _snapshot(current)
            current.state, current.superseded_by = SUPERSEDED, v.id
            self._audit(s, who, "supersede", current, prev_before)
        v.state, v.published_by, v.published_at = PUBLISHED, who, self.clock.now()
        v.effective_from, v.publish_note = effective, note.strip() or None
        ref = identify(v.content, path=doc.path)
        if ref is not None and ref.kind == "policy":
            doc.category, doc.title = ref.category, ref.title

    # --- helpers for CLI automation ------------------------------------------------------
    def pending_for_text(self, text: str, filename: str | None = None) -> Version | None:
        """The version in review whose text is exactly ``text`` (what ``publish FILE`` publishes)."""
        ref = identify(text, filename)
        if ref is None:
            return None
        with read_session(self.engine) as s:
            return s.scalars(
                select(Version)
                .where(
                    Version.document_id == ref.id,
                    Version.content_hash == content_hash(text),
                    Version.state == IN_REVIEW,
                )
                .order_by(Version.id.desc())
            ).first()

    def export(self, out: Path, as_of: dt.date | None = None, known_at: dt.datetime | None = None) -> list[Path]:
        """Write the library in force on ``as_of`` as YAML files, byte for byte as stored."""
        written = []
        for rel, text in sorted(self.files_for(as_of or self.clock.today(), known_at).items()):
            path = out / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", newline="")
            written.append(path)
        return written

    def _require_checks(self, v: Version, as_of: dt.date) -> None:
        with read_session(self.engine) as s:
            doc = s.get(Document, v.document_id)
            assert doc is not None
            report, _ = _check_change(s, doc, v.content, max(as_of, v.effective_from or as_of), self.clock.today())
        if not report.ok:
            raise LifecycleError(f"版本 #{v.id} 未通过检查 / it does not pass lint and tests", report.problems)


#: How often :meth:`Lifecycle._go_live` checks again when the library changes meanwhile.
_ATTEMPTS = 3


@dataclass(frozen=True)
class _Plan:
    """What the checks of a publish or withdrawal found, valid while the generation stands."""

    generation: int
    old_library: Library  # in force on the effective date before the change
    new_library: Library  # in force on the effective date after it


def _require_current(s: Session, v: Version, doc: Document, action: str, effective: dt.date) -> None:
    """The cheap preconditions of going live, checked again under the write lock."""
    if action == "withdraw":
        if v.effective_from is not None and effective < v.effective_from:
            raise LifecycleError(f"撤回日期早于生效日期 {v.effective_from} / before the effective date")
        return
    current = _latest_published(s, doc.id)
    if (current.id if current else None) != v.parent_id:
        raise LifecycleError(
            f"版本 #{v.id} 基于旧版本，期间已有新版本发布，请在最新版本上重新修改 / "
            "this version was based on an older published version"
        )
    if current is not None and current.effective_from and effective < current.effective_from:
        raise LifecycleError(
            f"生效日期 {effective} 早于现行版本的生效日期 {current.effective_from} / "
            "effective date before the current version's"
        )


def _check_change(
    s: Session, doc: Document, text: str | None, effective: dt.date, today: dt.date
) -> tuple[CheckReport, Library | None]:
    """The library with ``doc`` replaced by ``text`` (or removed) on ``effective`` and on
    every later date where something already published changes, must load and pass."""
    report = CheckReport()
    first: Library | None = None
    for i, day in enumerate([effective, *_change_dates(s, effective)]):
        files = files_in_force(s, day)
        if text is None:
            files.pop(doc.path, None)
        else:
            files[doc.path] = text
        focus_policy = doc.id if (doc.kind == "policy" and text is not None) else None
        r = check_files(files, focus=doc.path, focus_policy=focus_policy, today=today)
        if i == 0:
            report.warnings = r.warnings
            report.cases_passed = r.cases_passed
            first = r.library
        report.merge(r, str(day))
    return report, first


def _generation(s: Session) -> int:
    from huiqi.store.models import LibraryState

    state = s.get(LibraryState, 1)
    return state.generation if state else 0


def _get(s: Session, version_id: int) -> Version:
    v = s.get(Version, version_id)
    if v is None:
        raise NotFound(f"没有版本 #{version_id} / no such version")
    return v


def _latest_published(s: Session, doc_id: str) -> Version | None:
    """The document's newest published version (by effective date), withdrawn ones included."""
    return s.scalars(
        select(Version)
        .where(Version.document_id == doc_id, Version.published_at.is_not(None))
        .order_by(Version.effective_from.desc(), Version.published_at.desc(), Version.id.desc())
        .limit(1)
    ).first()


def _new_document(s: Session, ref: DocRef, at: dt.datetime) -> Document:
    clash = s.scalar(select(Document).where(Document.path == ref.path))
    if clash is not None:
        raise LifecycleError(f"路径 {ref.path} 已被文档 {clash.id} 使用 / path already used")
    doc = Document(id=ref.id, path=ref.path, kind=ref.kind, created_at=at, category=ref.category, title=ref.title)
    s.add(doc)
    s.flush()
    return doc


def _unidentified(name: str | None) -> str:
    where = f"{name}: " if name else ""
    return (
        f"{where}无法识别文档：政策文件需要 id 字段，共享文件须命名为 _parameters.yaml 或 _variables.yaml / "
        "cannot tell which document this is"
    )


__all__ = [
    "BEGINNING",
    "ImportReport",
    "InForce",
    "Lifecycle",
    "PermissionDenied",
    "Published",
    "content_hash",
    "files_in_force",
    "in_force",
    "select_in_force",
    "version_index",
]


def _announce(
    s: Session,
    kind: str,
    v: Version,
    doc: Document,
    who: str,
    effective: dt.date,
    note: str,
    before: dict[str, Any],
    plan: _Plan,
    clock: Clock,
) -> None:
    """A publish or withdrawal goes live: bump the generation the servers poll, record the
    event and the audit row, and notify the affected subscribers — one transaction."""
    at = clock.now()
    gen = bump_generation(s, at)
    event = PublishEvent(
        kind=kind,
        version_id=v.id,
        document_id=doc.id,
        effective_on=effective,
        actor=who,
        at=at,
        generation=gen,
    )
    s.add(event)
    s.flush()
    audit.record(
        s,
        who,
        kind,
        f"version:{v.id}",
        at=at,
        before=before,
        after=_snapshot(v),
        detail={"effective": effective, "note": note, "event": event.id, "generation": gen},
    )
    notify.fanout(s, event, doc, plan.old_library, plan.new_library, at=at)
