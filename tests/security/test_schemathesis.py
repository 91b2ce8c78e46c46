"""Schemathesis against the local host's own ``/api/openapi.json``: every operation it describes, with data that
fits the schema and data that does not, answers without a 5xx and without internal details.

The description itself must be valid OpenAPI 3.1 and list every route the app registers.
"""

from __future__ import annotations

from typing import Any

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error

from azurefunctions.agents.a2a.routes import A2A_ROUTES
from azurefunctions.agents.http.routes import STANDARD_ROUTES
from tests.security.conftest import LEAKS, TALLY
from tests.servers.localhost import LocalHostProcess

SUITE = "schemathesis"
EXAMPLES = 10


def test_the_openapi_description_is_valid_31_and_complete(surface: LocalHostProcess) -> None:
    document: dict[str, Any] = httpx.get(f"{surface.url}/api/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    validate(document)
    for spec in (*STANDARD_ROUTES, *A2A_ROUTES):
        operations = document["paths"].get("/" + spec.route, {})
        assert {m.lower() for m in spec.methods} <= set(operations), f"{spec.route} missing from openapi.json"


def test_every_operation_with_generated_valid_and_invalid_data(surface: LocalHostProcess) -> None:
    schema = schemathesis.openapi.from_url(f"{surface.url}/api/openapi.json")
    session = requests.Session()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= len(STANDARD_ROUTES)
    for operation in operations:
        for mode in schemathesis.GenerationMode:
            _exercise(operation, mode, session)
    assert TALLY.requests.get(SUITE, 0) >= len(operations)
    assert not [e for e in TALLY.server_errors if "schemathesis" in e]


def _exercise(operation: Any, mode: schemathesis.GenerationMode, session: requests.Session) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(session=session, timeout=20)
        TALLY.record(SUITE, case.method, case.formatted_path, response.status_code)
        case.validate_response(response, checks=[not_a_server_error])
        assert not LEAKS.search(response.text), f"{case.method} {case.formatted_path}: {response.text[:300]}"

    try:
        run()
    except Unsatisfiable:
        # An operation with nothing to get wrong (no parameters, no body) has no invalid data to generate.
        assert mode is schemathesis.GenerationMode.NEGATIVE
