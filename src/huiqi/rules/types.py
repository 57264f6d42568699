"""The rule language's types (what every expression is checked to be)."""

from __future__ import annotations

NUMBER, STRING, DATE, BOOLEAN, LIST, NULL = "number", "string", "date", "boolean", "list", "null"
TYPE_ZH = {NUMBER: "数值", STRING: "文字", DATE: "日期", BOOLEAN: "真假", LIST: "列表", NULL: "空值"}
#: In a function signature: any one type, the same for every argument marked so (and the result).
SAME = "same"
