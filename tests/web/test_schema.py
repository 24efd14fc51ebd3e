"""Schemathesis against the dashboard's OpenAPI schema: generated requests to every operation, logged in as an
admin with the CSRF token, get no server error and responses that match the documented schemas."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 12


def _fuzz(operation, cookies: dict, csrf: str, codes: set[int]):
    """A Hypothesis test of one operation: every generated request passes the checks."""

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def check(case):
        response = case.call_and_validate(
            cookies=cookies, headers={"X-CSRF-Token": csrf},
            checks=[not_a_server_error, response_schema_conformance, status_code_conformance],
        )
        codes.add(response.status_code)

    return check


def test_api_has_no_server_errors(app, client_for):
    client, csrf = client_for("adm")
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    calls: dict[str, set[int]] = {}
    failures = []
    for operation in operations:
        codes = calls.setdefault(operation.label, set())
        try:
            _fuzz(operation, dict(client.cookies), csrf, codes)()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {str(exc)[:800]}")
    assert not failures, "\n\n".join(failures)
    assert all(calls.values())
    # The generated requests did reach the handlers (not only validation errors).
    assert sum(200 in codes for codes in calls.values()) >= 10
