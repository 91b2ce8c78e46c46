"""The OpenAPI description's schemas come from pydantic models that stay equal to what the runtime validates and
answers: the chat body from ``ChatRequest`` (plus ``async``), the reply models from the ``to_dict`` methods that
shape the JSON, the ids from the patterns the handlers check."""

from __future__ import annotations

import re
from typing import Any

import pytest
from openapi_spec_validator import validate

from azurefunctions.agents.errors import InvalidRequestError
from azurefunctions.agents.hosting.openapi import (
    ChatCall,
    ChatReply,
    ToolCallReply,
    UsageReply,
    build_openapi,
)
from azurefunctions.agents.http.routes import STANDARD_ROUTES
from azurefunctions.agents.messages import Usage
from azurefunctions.agents.runner import normalize_request
from azurefunctions.agents.types import ChatRequest, ChatResponse, ToolCallRecord


def _document(**kwargs: Any) -> dict[str, Any]:
    return build_openapi(list(STANDARD_ROUTES), {}, title="t", version="1", server_url="/",
                         agent_names=["weather"], **kwargs)


def test_the_reply_models_have_exactly_the_keys_the_runtime_sends() -> None:
    assert set(UsageReply.model_fields) == set(Usage().to_dict())
    assert set(ToolCallReply.model_fields) == set(ToolCallRecord(id="1", name="t", arguments={}).to_dict())
    ok = ChatResponse(response="hi", agent="weather").to_dict()
    failed = ChatResponse(status="error", error="no", error_code="agent_error").to_dict()
    paused = ChatResponse(status="awaiting_approval", agent="weather", turn_id="t1",
                          approvals=[{"id": "a", "tool": "refund"}]).to_dict()
    assert set(ChatReply.model_fields) == set(ok) | set(failed) | set(paused)
    assert {name for name, field in ChatReply.model_fields.items() if field.is_required()} == set(ok)
    ChatReply.model_validate(ok)
    ChatReply.model_validate(failed)
    ChatReply.model_validate(paused)


def test_the_chat_body_model_is_the_request_model_plus_async() -> None:
    assert set(ChatCall.model_fields) == set(ChatRequest.model_fields) | {"run_async"}
    schema = _document()["components"]["schemas"]["ChatRequest"]
    assert set(schema["properties"]) == {"message", "user_id", "session_id", "conversation_id", "context",
                                         "stream", "async", "turn_id"}
    assert schema["required"] == ["message"]


@pytest.mark.parametrize(("session_id", "accepted"), [
    ("alice@contoso", True), ("_x", True), ("a.b:c-d", True), ("x" * 128, True),
    (".hidden", False), ("x" * 129, False), ("a/b", False), ("", False),
])
def test_the_described_session_id_pattern_is_the_one_the_runtime_applies(session_id: str, accepted: bool) -> None:
    document = _document()
    schema = document["components"]["schemas"]["ChatRequest"]["properties"]["session_id"]["anyOf"][0]
    path_schema = next(p["schema"] for p in document["paths"]["/api/sessions/{session_id}"]["get"]["parameters"]
                       if p["name"] == "session_id")
    assert schema["pattern"] == path_schema["pattern"]
    assert bool(re.match(schema["pattern"], session_id)) is accepted
    try:
        normalize_request({"message": "hi", "session_id": session_id})
    except InvalidRequestError:
        runtime = False
    else:
        runtime = True
    assert runtime is accepted


def test_async_is_allowed_only_where_background_turns_run() -> None:
    without = _document()["components"]["schemas"]["ChatRequest"]["properties"]["async"]
    with_background = _document(background=True)["components"]["schemas"]["ChatRequest"]["properties"]["async"]
    assert without["enum"] == [False] and "enum" not in with_background
    chat = _document()["paths"]["/api/agents/{agent_name}/chat"]["post"]["responses"]
    assert {"200", "202", "400", "404", "409", "413", "429", "502", "503", "504"} <= set(chat)


def test_the_generated_document_is_valid_openapi_31() -> None:
    validate(_document())
    validate(_document(background=True, output_schemas={"weather": {"type": "object"}}))
