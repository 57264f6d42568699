"""Region names for the demo city 临江市 (fictional: the prefix 3399 is unused in GB/T 2260).

Only the sample city's codes are named here; a real deployment would ship the GB/T 2260
table as package data, as GB/T 4754 is. 339901–339903 are the names the sample policies
use; 339904–339906 are the other districts of the synthetic registry (docs/registry.md);
339921 is the city's one county (the sample policies for 市辖区 leave it out).

A profile's region must be one of these: the platform serves the city's enterprises, and
a code it does not know is refused with the list (huiqi.profile.schema), never guessed.
"""

from __future__ import annotations

SAMPLE_REGIONS: dict[str, str] = {
    "339900": "临江市",
    "339901": "临江区",
    "339902": "江北区",
    "339903": "临江高新区",
    "339904": "东湖区",
    "339905": "西山区",
    "339906": "南港区",
    "339921": "青山县",
}


def region_name(code: str) -> str | None:
    """The name of a 临江市 region code, or None for codes this demo does not know."""
    return SAMPLE_REGIONS.get(code)
