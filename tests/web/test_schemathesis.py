"""Property-based API tests generated from our own OpenAPI spec (schemathesis).

Valid and invalid requests alike: never a 5xx, every response as the spec says (status,
media type, body schema), invalid input refused with a 4xx. Bounded: a few dozen examples
per operation and mode, so the whole file runs in well under a minute.

``positive_data_acceptance`` is left out on purpose: JSON Schema cannot say that a USCC's
check character must be right or that an industry code must exist in GB/T 4754, so some
schema-valid requests are rightly refused with a 422 naming the field.
"""

from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from huiqi.clock import FixedClock
from huiqi.match import default_library
from huiqi.rules import StaticSource
from huiqi.web import create_app
from tests.conftest import TEST_NOW

MAX_EXAMPLES = int(os.environ.get("HUIQI_SCHEMATHESIS_EXAMPLES", "40"))

#: The operations of the calculator API. The officers' and notification endpoints under
#: /admin and /api/v1/{inbox,subscriptions} need the lifecycle database (503 without one)
#: and are tested with it by their own module.
OURS = r"^/api/v1/(match|policies|policies/\{policy_id\}|industries|health)$"

schema = schemathesis.openapi.from_asgi(
    "/openapi.json", create_app(StaticSource(default_library()), clock=FixedClock(TEST_NOW))
).include(path_regex=OURS)
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=MAX_EXAMPLES)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_spec(case: schemathesis.Case) -> None:
    case.call_and_validate(excluded_checks=[positive_data_acceptance])
