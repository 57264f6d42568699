"""The one way tests build policy libraries in memory (every test folder uses it)."""

from __future__ import annotations

from typing import Any

import yaml

VARIABLES = {
    "variables": {
        "age_years": {"label": "成立年限", "expr": "years_between(registered_on, as_of)"},
        "industry_section": {"label": "行业门类", "expr": "substr(industry, 1, 1)"},
    }
}


def policy_yaml(
    conditions: list[Any], formula: str | None = None, *, label_suffix: str = "", **extra: Any
) -> dict[str, Any]:
    """A valid policy document: conditions given as ``when`` texts (or whole dicts), optional
    formula; any other key of the policy format as a keyword (``id=``, ``valid_from=``, …)."""
    doc: dict[str, Any] = {
        "id": "cn.test.policy",
        "title": "测试政策",
        "issuer": "测试机关",
        "document_number": "测试〔2024〕1号",
        "source_url": "https://example.invalid/doc",
        "region": "000000",
        "valid_from": "2019-01-01",
        "category": "tax",
        "last_verified": "2026-11-01",
        "summary": "用于测试的政策",
        "conditions": [
            c if isinstance(c, dict) else {"id": f"c{i}", "label": f"条件 c{i}{label_suffix}", "when": c}
            for i, c in enumerate(conditions)
        ],
        "apply": {
            "mode": "申报享受",
            "channel": "电子税务局",
            "office": "税务局",
            "deadline": "随时",
            "contact": "12366",
        },
    }
    if formula is not None:
        doc["benefit"] = {"formula": formula, "explain": "测试金额", "unit": "yuan/year"}
    doc.update(extra)
    return doc


def dump(doc: dict[str, Any]) -> str:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def files_for(
    *policies: dict[str, Any], parameters: dict[str, Any] | None = None, variables: dict[str, Any] | None = None
) -> dict[str, str]:
    """A whole library as texts (``load_library(files=...)``): shared files, then ``cn/p<i>.yaml``."""
    files = {"_variables.yaml": dump(variables or VARIABLES)}
    if parameters:
        files["_parameters.yaml"] = dump({"parameters": parameters})
    for i, p in enumerate(policies):
        files[f"cn/p{i}.yaml"] = dump(p)
    return files
