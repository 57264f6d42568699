"""Versions: import/export round trip, the state machine, effective dates, four-eyes, the gate."""

import datetime as dt
from pathlib import Path

import pytest

from huiqi.library import LifecycleError, PermissionDenied
from huiqi.library.versions import content_hash
from huiqi.rules import load_library
from huiqi.rules.casetests import run_cases
from huiqi.store.audit import verify_chain

POLICIES = Path(__file__).resolve().parents[2] / "policies"
SMALL_LOW_PROFIT = "cn/cit.small-low-profit.yaml"
PID = "cn.cit.small-low-profit"
TITLE = "title: 小型微利企业所得税优惠"
NEW_TITLE = "title: 小型微利企业所得税优惠（修订）"


def _results(library):
    return sorted((r.policy.id, r.name, r.passed) for r in run_cases(library))


def test_import_then_export_round_trips(lc, tmp_path):
    out = tmp_path / "out"
    written = lc.export(out)
    originals = sorted(p.relative_to(POLICIES).as_posix() for p in POLICIES.rglob("*.yaml"))
    assert sorted(p.relative_to(out).as_posix() for p in written) == originals
    for rel in originals:
        assert (out / rel).read_bytes() == (POLICIES / rel).read_bytes()
    exported, original = load_library(out), load_library(POLICIES)
    assert [p.id for p in exported.policies] == [p.id for p in original.policies]
    assert _results(exported) == _results(original)
    assert all(passed for *_, passed in _results(exported))
    # shared files are documents too
    ids = {d.id for d in lc.documents()}
    assert {"_parameters", "_variables", PID} <= ids


def test_import_again_is_a_no_op_and_a_changed_file_is_refused(lc, tmp_path):
    report = lc.import_directory(POLICIES)
    assert report.imported == [] and len(report.unchanged) == len(lc.documents())
    changed = tmp_path / "lib"
    lc.export(changed)
    f = changed / SMALL_LOW_PROFIT
    f.write_text(f.read_text(encoding="utf-8").replace(TITLE, NEW_TITLE), encoding="utf-8")
    with pytest.raises(LifecycleError, match="submit and publish"):
        lc.import_directory(changed)


def test_publish_lifecycle_keeps_history_and_answers_as_of(lc, text_of, propose):
    old = text_of()
    new = old.replace(TITLE, NEW_TITLE)
    v = lc.create_draft(new, author="alice", note="标题更正")
    assert (v.state, v.number, v.author, v.note) == ("draft", 2, "alice", "标题更正")
    assert v.content_hash == content_hash(new)
    assert f"-{TITLE}\n+{NEW_TITLE}\n" in v.diff
    v = lc.submit(v.id, actor="alice")
    assert v.state == "in_review"
    effective = lc.clock.today() + dt.timedelta(days=30)
    v = lc.publish(v.id, actor="bob", effective=effective, note="同意")
    assert (v.state, v.published_by, v.effective_from) == ("published", "bob", effective)
    states = {x.number: x.state for x in lc.versions(PID)}
    assert states == {1: "superseded", 2: "published"}
    # before the effective date the old text is in force, from it the new one
    assert lc.library_for(lc.clock.today()).by_id[PID].definition.title == "小型微利企业所得税优惠"
    assert lc.library_for(effective).by_id[PID].definition.title == "小型微利企业所得税优惠（修订）"
    assert lc.library_for(effective - dt.timedelta(days=1)).by_id[PID].definition.title == "小型微利企业所得税优惠"
    assert verify_chain(lc.engine).ok


def test_known_at_reproduces_what_was_answered_before_a_backdated_publish(lc, text_of, propose):
    before_publish = lc.clock.now()
    lc.clock.advance(minutes=5)
    v = propose(lc, text_of().replace(TITLE, NEW_TITLE))
    lc.publish(v.id, actor="bob", effective=dt.date(2020, 1, 1))
    as_of = dt.date(2024, 6, 30)
    assert lc.library_for(as_of).by_id[PID].definition.title.endswith("（修订）")
    then = lc.library_for(as_of, known_at=before_publish)
    assert then.by_id[PID].definition.title == "小型微利企业所得税优惠"


def test_four_eyes_the_author_cannot_publish(lc, text_of, propose):
    v = propose(lc, text_of().replace(TITLE, NEW_TITLE), author="carol")
    with pytest.raises(PermissionDenied, match="four-eyes"):
        lc.publish(v.id, actor="carol")
    with pytest.raises(PermissionDenied, match="needs publisher"):
        lc.publish(v.id, actor="alice")
    with pytest.raises(PermissionDenied):
        lc.publish(v.id, actor="nobody")
    assert lc.publish(v.id, actor="bob").state == "published"


def test_viewer_cannot_draft(lc, text_of):
    from huiqi.library.officers import add_user

    add_user(lc.engine, "victor", "viewer", "victor-password", clock=lc.clock)
    with pytest.raises(PermissionDenied):
        lc.create_draft(text_of().replace(TITLE, NEW_TITLE), author="victor", note="x")


def test_a_broken_policy_can_never_be_submitted_or_published(lc, text_of):
    broken = text_of().replace(
        "when: taxable_income <= param('cit.small_low_profit.max_taxable_income')",
        "when: taxable_income <= 'three million'",
    )
    assert broken != text_of()
    v = lc.create_draft(broken, author="alice", note="坏的")
    with pytest.raises(LifecycleError) as exc:
        lc.submit(v.id, actor="alice")
    assert any("taxable_income" in p for p in exc.value.problems)
    # even if it got into review some other way, publish re-checks
    from huiqi.store import write_session
    from huiqi.store.models import Version

    with write_session(lc.engine) as s:
        s.get(Version, v.id).state = "in_review"
    with pytest.raises(LifecycleError) as exc:
        lc.publish(v.id, actor="bob")
    assert exc.value.problems
    assert lc.library_for(lc.clock.today()).by_id[PID].definition.conditions[0].when.endswith("max_taxable_income')")


def test_failing_own_test_case_blocks_publishing(lc, text_of):
    failing = text_of().replace("employees <= param('cit.small_low_profit.max_employees')", "employees <= 200")
    v = lc.create_draft(failing, author="alice", note="收紧人数")
    with pytest.raises(LifecycleError) as exc:
        lc.submit(v.id, actor="alice")
    assert any("测试失败" in p and PID in p for p in exc.value.problems)


def test_a_stale_change_is_refused(lc, text_of, propose):
    first = propose(lc, text_of().replace(TITLE, NEW_TITLE))
    second = propose(lc, text_of().replace("issuer: 财政部 税务总局", "issuer: 财政部 国家税务总局"))
    lc.publish(first.id, actor="bob")
    with pytest.raises(LifecycleError, match="older published version"):
        lc.publish(second.id, actor="bob")


def test_shared_parameters_are_versioned_and_checked(lc, propose):
    params = (POLICIES / "_parameters.yaml").read_text(encoding="utf-8")
    # removing a parameter that policies use breaks the library: refused
    import yaml

    doc = yaml.safe_load(params)
    name = "cit.small_low_profit.max_employees"
    assert name in doc["parameters"]
    start = params.index(f"  {name}:")
    end = params.index("\n  cit.", start + 1)
    without = params[:start] + params[end + 1 :]
    v = lc.create_draft(without, author="alice", note="删除参数", filename="_parameters.yaml")
    assert v.document_id == "_parameters"
    with pytest.raises(LifecycleError) as exc:
        lc.submit(v.id, actor="alice")
    assert any(name in p for p in exc.value.problems)
    # a harmless change (a label) publishes as version 2 of _parameters
    relabelled = params.replace("label: 从业人数上限", "label: 从业人数上限（人）", 1)
    assert relabelled != params
    v = propose(lc, relabelled, filename="_parameters.yaml")
    v = lc.publish(v.id, actor="bob")
    assert (v.document_id, v.number) == ("_parameters", 3)
    assert lc.library_for(lc.clock.today()).parameters[name].definition.label == "从业人数上限（人）"


def test_withdraw_removes_a_policy_from_its_date_on(lc):
    latest = lc.latest_published(PID)
    when = lc.clock.today() + dt.timedelta(days=10)
    with pytest.raises(PermissionDenied):
        lc.withdraw(latest.id, actor="alice", effective=when, note="停止执行")
    v = lc.withdraw(latest.id, actor="bob", effective=when, note="停止执行")
    assert v.state == "withdrawn"
    assert PID in lc.library_for(when - dt.timedelta(days=1)).by_id
    assert PID not in lc.library_for(when).by_id
    with pytest.raises(LifecycleError, match="cannot be withdrawn"):
        lc.withdraw(lc.latest_published("_parameters").id, actor="bob", note="x")


def test_new_policy_is_created_as_a_new_document(lc, text_of, propose):
    new_id = "cn.stamp.small-micro-loan-contract-copy"
    text = text_of("cn/stamp.small-micro-loan-contract.yaml").replace(
        "id: cn.stamp.small-micro-loan-contract", f"id: {new_id}"
    )
    v = propose(lc, text)
    v = lc.publish(v.id, actor="bob")
    assert (v.document_id, v.number) == (new_id, 1)
    doc = lc.document(new_id)
    assert (doc.path, doc.category) == ("cn/stamp.small-micro-loan-contract-copy.yaml", "finance")
    assert new_id in lc.library_for(lc.clock.today()).by_id
    # a copy that redefines another policy's parameters is refused, naming them
    rd = "cn.cit.rd-super-deduction"  # defines its own parameters (cit.rd.*)
    clash = text_of(f"cn/{rd.removeprefix('cn.')}.yaml").replace(f"id: {rd}", f"id: {rd}-copy")
    v = lc.create_draft(clash, author="alice", note="复制")
    with pytest.raises(LifecycleError) as exc:
        lc.submit(v.id, actor="alice")
    assert any("parameter defined twice" in p for p in exc.value.problems)
