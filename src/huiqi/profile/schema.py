"""The enterprise profile (企业画像): the contract of ARCHITECTURE.md as pydantic models,
generated from ``FIELDS`` (``huiqi.profile.fields``, which declares every field once)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    model_validator,
)

from huiqi.errors import FieldMessage, InputError, Message
from huiqi.profile.fields import FIELDS, FieldSpec, normalise


# --- the pydantic model, generated from FIELDS ------------------------------------------
def _not_a_boolean(v: Any) -> Any:
    # pydantic's lax mode would read true as 1: a count or an amount is never a yes/no.
    if isinstance(v, bool):
        raise ValueError("应为数字，不是是/否 / must be a number, not true/false")
    return v


def _date_text(v: Any) -> Any:
    # Lax mode would read a bare number as seconds since 1970.
    if isinstance(v, int | float):
        raise ValueError("应为日期，格式 YYYY-MM-DD / must be a date written YYYY-MM-DD")
    return v


def _unique_sorted(v: list[str]) -> list[str]:
    return sorted(set(v))


#: Checks every field of a kind gets before pydantic's own parsing.
_KIND_CHECKS: dict[str, Callable[[Any], Any]] = {"integer": _not_a_boolean, "money": _not_a_boolean, "date": _date_text}


def _annotation(spec: FieldSpec) -> Any:
    kind = spec.kind_spec
    base: Any = kind.python
    if spec.values and spec.kind == "string":
        base = Literal.__getitem__(spec.values)
    elif spec.values and spec.kind == "list":
        base = Annotated[list[Literal.__getitem__(spec.values)], AfterValidator(_unique_sorted)]  # type: ignore[misc]
    extra: list[Any] = []
    if spec.kind in _KIND_CHECKS:
        extra.append(BeforeValidator(_KIND_CHECKS[spec.kind]))
    if spec.check is not None:
        extra.append(AfterValidator(spec.check))
    if extra:
        base = Annotated[base, *extra]
    return base | None


class ProfileBase(BaseModel):
    """One enterprise's facts. Every field is optional; ``None`` means unknown, never 0."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    if TYPE_CHECKING:  # the fields are generated from FIELDS below

        def __init__(self, **data: Any) -> None: ...

        def __getattr__(self, name: str) -> Any: ...

    @model_validator(mode="after")
    def _not_empty(self) -> ProfileBase:
        if not self.model_dump(exclude_none=True):
            raise ValueError("企业画像不能为空 / the profile must not be empty")
        return self

    def facts(self) -> dict[str, Any]:
        """Field name → value, ``None`` for every unknown field (the evaluators' input)."""
        return {name: getattr(self, name) for name in FIELDS}


if TYPE_CHECKING:
    Profile = ProfileBase
else:
    Profile = create_model(
        "Profile",
        __base__=ProfileBase,
        __module__=__name__,
        __doc__=ProfileBase.__doc__,
        **{name: (_annotation(spec), Field(None, **spec.constraints)) for name, spec in FIELDS.items()},
    )


@dataclass(frozen=True, slots=True)
class FieldProblem:
    field: str  # dotted path, e.g. "certifications.0"; "" for the whole profile
    message_zh: str
    message_en: str

    @property
    def label(self) -> str:
        spec = FIELDS.get(self.field.split(".")[0])
        return f"{spec.label}（{self.field}）" if spec else (self.field or "企业画像")

    def __str__(self) -> str:
        return f"{self.label}：{self.message_zh} / {self.field or 'profile'}: {self.message_en}"


class ProfileError(InputError):
    """Bad profile input; ``problems`` names every field that is wrong."""

    def __init__(self, problems: list[FieldProblem]):
        self.problems = problems
        super().__init__(
            Message("企业画像有误", "invalid profile"),
            fields=[FieldMessage(p.field, Message(p.message_zh, p.message_en)) for p in problems],
        )

    def details(self) -> list[str]:
        return [str(p) for p in self.problems]


_ZH = {
    "missing": "缺少此项",
    "extra_forbidden": "不是企业画像中的字段",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "int_type": "应为整数",
    "decimal_parsing": "应为数字",
    "decimal_type": "应为数字",
    "decimal_max_places": "最多两位小数",
    "decimal_max_digits": "数值过大",
    "decimal_whole_digits": "数值过大",
    "finite_number": "应为有限的数字",
    "greater_than_equal": "不能为负数",
    "less_than_equal": "数值过大",
    "date_from_datetime_parsing": "应为日期，格式 YYYY-MM-DD",
    "date_parsing": "应为日期，格式 YYYY-MM-DD",
    "date_type": "应为日期，格式 YYYY-MM-DD",
    "string_type": "应为文字",
    "string_pattern_mismatch": "格式不对（应为6位数字的行政区划代码）",
    "string_too_short": "不能为空",
    "string_too_long": "过长",
    "literal_error": "取值不在允许范围内",
    "list_type": "应为列表",
    "model_type": "应为 JSON 对象",
    "dict_type": "应为 JSON 对象",
}


def _problem(err: Any) -> FieldProblem:
    loc = ".".join(str(p) for p in err.get("loc", ()))
    kind = err.get("type", "")
    en = str(err.get("msg", kind))
    if kind == "value_error":
        # Our validators already write "中文 / English".
        message = Message.parse(str(err.get("ctx", {}).get("error", en)))
        return FieldProblem(loc, message.zh, en if message.en == message.zh else message.en)
    zh = _ZH.get(kind, "取值无效")
    spec = FIELDS.get(loc.split(".")[0])
    if kind == "literal_error" and spec and spec.values:
        zh += "，可选：" + "、".join(f"{v}（{lab}）" for v, lab in zip(spec.values, spec.value_labels, strict=True))
    return FieldProblem(loc, zh, en)


def parse_profile(data: Any, *, as_of: dt.date | None = None) -> Profile:
    """Validate raw JSON-like input; raise ProfileError naming every bad field.

    What people type is normalised first (``normalise``): full-width and other Unicode digits
    (３０, ２００．５, ٣٣٩٩٠١) read as the ASCII ones, the same way for the API and the form.
    With ``as_of``, a 成立日期 after that date is refused too.
    """
    if not isinstance(data, dict):
        raise ProfileError([FieldProblem("", "应为 JSON 对象", "the profile must be a JSON object")])
    try:
        profile = Profile.model_validate(
            {k: normalise(v) if FIELDS.get(k) and not FIELDS[k].free_text else v for k, v in data.items()}
        )
    except ValidationError as exc:
        raise ProfileError([_problem(e) for e in exc.errors()]) from None
    if as_of is not None:
        check_registered(profile, as_of)
    return profile


def check_registered(profile: Profile, as_of: dt.date) -> None:
    """An enterprise is evaluated only on dates it existed: 成立日期 must not be after ``as_of``."""
    day = profile.registered_on
    if day is not None and day > as_of:
        raise ProfileError(
            [
                FieldProblem(
                    "registered_on",
                    f"成立日期 {day} 晚于评估日期 {as_of}，请核对",
                    f"the registration date {day} is after the evaluation date {as_of}",
                )
            ]
        )
