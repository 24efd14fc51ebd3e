"""Schemathesis against the dashboard's OpenAPI schema: generated requests, logged in as an admin, get no
server error and responses that match the documented schemas."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture
def api_schema(app):
    return schemathesis.openapi.from_asgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_api_has_no_server_errors(case, client_for):
    from schemathesis.checks import not_a_server_error

    client, csrf = client_for("adm")
    case.call_and_validate(cookies=dict(client.cookies), headers={"X-CSRF-Token": csrf},
                           checks=[not_a_server_error, response_schema_conformance])
