"""Schemathesis drives the API from its own OpenAPI document: no input may cause a 5xx, and
every documented answer must match its schema."""

from __future__ import annotations

from collections import defaultdict

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from support.gateway import Gateway

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),
    # schemathesis' own strategies still use `random`; that is its business, not ours
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]


def test_every_operation_survives_generated_input_and_answers_as_documented(
    gateway: Gateway,
) -> None:
    schema = schemathesis.openapi.from_url(f"{gateway.server.url}/openapi.json")
    tenant_key = gateway.api.headers["Authorization"]
    operations = [result.ok() for result in schema.get_all_operations()]
    seen: dict[str, set[int]] = defaultdict(set)
    assert {op.path for op in operations} >= {"/v1/returns", "/v1/returns/{return_id}"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=60,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        def exercise(case: schemathesis.Case) -> None:
            response = case.call_and_validate(
                headers={"Authorization": tenant_key},
                checks=[not_a_server_error, response_schema_conformance],
            )
            seen[f"{case.method} {case.path}"].add(response.status_code)

        exercise()
    # the generator reached past input validation on the main routes (not only 4xx answers)
    assert 202 in seen["POST /v1/returns"], seen
    assert 200 in seen["GET /v1/returns"], seen
