"""The generated OpenAPI description and the running app agree: schemathesis, against the local host's own
``/api/openapi.json``, finds no answer whose status, content type or body the description does not document,
no request the description calls invalid that the app accepts, and none it calls valid that the app rejects.

Bounded: ``EXAMPLES`` generated cases per operation and generation mode, derandomized (the same cases every
run). MCP and A2A speak JSON-RPC: the description gives their envelopes, but JSON-RPC answers a malformed
request in-band (A2A: HTTP 200 with error -32700, a2a/endpoint.py ``A2AEndpoint.handle``) and refuses a
well-formed envelope naming a method the protocol does not have, so "invalid data is rejected" and "valid data
is accepted" are not checked for them; their status codes, media types and bodies are (their protocol
behaviour is tested by tests/mcp and tests/a2a against the SDKs' own clients).

One rule of the chat route spans two places, which OpenAPI cannot state: the ``Idempotency-Key`` header and the
body's ``turn_id`` name the same turn, so when both are sent they must be equal (the description says so in
prose; a mismatch is a 400 tested in tests/hosting/test_idempotency_key.py). Valid cases that break only that
rule are left out of the "valid data is accepted" check.
"""

from __future__ import annotations

from typing import Any

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from azurefunctions.agents.hosting.openapi import JSON_RPC_GROUPS
from tests.servers.localhost import LocalHostProcess

EXAMPLES = 15
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_the_runtime_answers_only_what_the_description_documents(surface: LocalHostProcess) -> None:
    schema = schemathesis.openapi.from_url(f"{surface.url}/api/openapi.json")
    session = requests.Session()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/api/agents/{agent_name}/chat", "/api/sessions/{session_id}"}
    for operation in operations:
        rpc = bool(set(operation.definition.raw.get("tags", [])) & JSON_RPC_GROUPS)
        for mode in schemathesis.GenerationMode:
            checks = list(CHECKS)
            if not rpc:
                checks.append(negative_data_rejection if mode is schemathesis.GenerationMode.NEGATIVE
                              else positive_data_acceptance)
            _exercise(operation, mode, session, checks)


def test_ids_the_runtime_accepts_fit_the_described_pattern(surface: LocalHostProcess) -> None:
    """Session ids such as ``alice@contoso`` and ``_x`` are accepted by the runtime and by the description."""
    import re

    document: dict[str, Any] = httpx.get(f"{surface.url}/api/openapi.json").json()
    chat = document["paths"]["/api/agents/{agent_name}/chat"]["post"]
    body = document["components"]["schemas"]["ChatRequest"]
    assert "async" in body["properties"] and {"202", "503"} <= set(chat["responses"])
    pattern = next(p["schema"]["pattern"] for p in
                   document["paths"]["/api/sessions/{session_id}"]["get"]["parameters"] if p["name"] == "session_id")
    for session_id in ("alice@contoso", "_x", "a.b:c-d"):
        assert re.match(pattern, session_id), session_id
        answer = httpx.get(f"{surface.url}/api/sessions/{session_id}")
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "session_not_found", answer.text
    for session_id in (".hidden", "x" * 129):
        assert not re.match(pattern, session_id)
        assert httpx.get(f"{surface.url}/api/sessions/{session_id}").status_code == 400


def _one_turn_id(case: Any) -> bool:
    """Whether the case names at most one turn id (the header and the body's ``turn_id`` agree when both are sent)."""
    header = next((value for name, value in (case.headers or {}).items() if name.lower() == "idempotency-key"), None)
    body = case.body.get("turn_id") if isinstance(case.body, dict) else None
    return header is None or body is None or header == body


def _exercise(operation: Any, mode: schemathesis.GenerationMode, session: requests.Session,
              checks: list[Any]) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode).filter(
        lambda case: mode is schemathesis.GenerationMode.NEGATIVE or _one_turn_id(case)))
    def run(case: Any) -> None:
        response = case.call(session=session, timeout=20)
        case.validate_response(response, checks=checks)

    try:
        run()
    except Unsatisfiable:
        assert mode is schemathesis.GenerationMode.NEGATIVE
