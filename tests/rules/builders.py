"""Small in-memory libraries for tests."""

from __future__ import annotations

from typing import Any

import yaml

VARIABLES = {
    "variables": {
        "age_years": {"label": "成立年限", "expr": "years_between(registered_on, as_of)"},
        "industry_section": {"label": "行业门类", "expr": "substr(industry, 1, 1)"},
    }
}


def policy_yaml(conditions: list[Any], formula: str | None = None, **extra: Any) -> dict[str, Any]:
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
            c if isinstance(c, dict) else {"label": f"条件{i}", "when": c} for i, c in enumerate(conditions)
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


def files_for(*policies: dict[str, Any], parameters: dict[str, Any] | None = None) -> dict[str, str]:
    files = {"_variables.yaml": yaml.safe_dump(VARIABLES, allow_unicode=True)}
    if parameters:
        files["_parameters.yaml"] = yaml.safe_dump({"parameters": parameters}, allow_unicode=True)
    for i, p in enumerate(policies):
        files[f"cn/p{i}.yaml"] = yaml.safe_dump(p, allow_unicode=True, sort_keys=False)
    return files
