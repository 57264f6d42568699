"""One table of rule functions, read by every backend; nothing unknown passes silently."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlglot import exp

from huiqi.profile import parse_profile
from huiqi.rules import lang, pygen, sqlgen
from huiqi.rules.functions import RULE_FUNCTIONS
from huiqi.rules.lang import ExprError, Scope

AS_OF = dt.date(2024, 6, 30)


def _handled(obj: object, node_type: type) -> bool:
    return hasattr(obj, "_" + node_type.__name__.lower())


def _checker_node_types() -> list[type[exp.Expr]]:
    """Every sqlglot node class the type-checker accepts (it has a ``_<class>`` method)."""
    names = {n[1:] for n in dir(lang._Checker) if n.startswith("_") and not n.startswith("__")}
    out = []
    for cls in vars(exp).values():
        if isinstance(cls, type) and issubclass(cls, exp.Expr) and cls.__name__.lower() in names:
            out.append(cls)
    return out


def test_every_node_the_checker_accepts_has_a_python_and_a_sql_translation() -> None:
    types = _checker_node_types()
    assert exp.Case in types and exp.Anonymous in types  # the introspection found the checker's methods
    gen = sqlgen.SqlGen(AS_OF, {})
    for node_type in types:
        assert _handled(pygen.Emitter, node_type), f"pygen has no _{node_type.__name__.lower()}"
        assert _handled(gen, node_type) or node_type in sqlgen.SAME_SHAPE, node_type.__name__


def test_the_sql_generator_refuses_a_node_it_does_not_know() -> None:
    gen = sqlgen.SqlGen(AS_OF, {})
    with pytest.raises(ExprError, match="unsupported expression type Pow"):
        gen.sql(exp.Pow(this=exp.Literal.number(2), expression=exp.Literal.number(3)))


def test_an_unknown_function_is_a_check_error_naming_the_ones_that_exist() -> None:
    with pytest.raises(ExprError) as e:
        lang.check("quarters_between(registered_on, as_of) > 2", Scope(), expect="boolean")
    assert "quarters_between" in str(e.value)
    for name in RULE_FUNCTIONS:
        assert f"{name}()" in str(e.value)


def test_months_between_is_one_shape_for_every_backend() -> None:
    # sqlglot reads months_between as its own class; the rule language sees a plain call
    tree = lang.check("months_between(registered_on, as_of)", Scope()).tree
    assert isinstance(tree, exp.Anonymous) and tree.name.lower() == "months_between"
    sql = sqlgen.SqlGen(AS_OF, {}).sql(tree).sql(dialect="duckdb")
    assert "MONTHS_BETWEEN" not in sql.upper()  # our portable arithmetic, not the engine's


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("C1620", "ineligible"),  # 卷烟制造 is inside C16
        ("C16", "ineligible"),
        ("C", "undetermined"),  # 制造业: may or may not be 烟草制品业
        ("C3911", "eligible"),  # another manufacturing class
        ("F5211", "eligible"),
    ],
)
def test_within_is_unknown_for_a_code_coarser_than_the_class(make_library, code: str, expected: str) -> None:
    lib = make_library(["NOT within(industry, 'C16')"])
    _, (ev,) = lib.evaluate(parse_profile({"industry": code}), AS_OF)
    assert ev.verdict == expected
    if expected == "undetermined":
        assert ev.missing == ("industry",)


def test_within_needs_a_quoted_class() -> None:
    with pytest.raises(ExprError, match="字符串常量"):
        lang.check("within(industry, industry_section)", Scope(variables={"industry_section": lang.Symbol("string")}))
