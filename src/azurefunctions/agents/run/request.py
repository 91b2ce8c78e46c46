"""A turn's input and output at its edge: a request from what callers pass, a response from what an agent's
``process_request`` returned."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from ..errors import AgentFrameworkError, InvalidRequestError
from ..types import ChatRequest, ChatResponse


def normalize_request(request: ChatRequest | Mapping[str, Any] | str) -> ChatRequest:
    """A ``ChatRequest`` from a string, a dict or a request; bad input raises ``InvalidRequestError``."""
    if isinstance(request, ChatRequest):
        return request
    if isinstance(request, str):
        request = {"message": request}
    if not isinstance(request, Mapping):
        raise InvalidRequestError("the request must be a string, a dict or a ChatRequest")
    try:
        return ChatRequest.model_validate(dict(request))
    except ValidationError as exc:
        raise InvalidRequestError(describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "body"
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            message = "is required"
        elif err["type"] == "string_type":
            message = "must be a string"
        elif err["type"] == "string_unicode":
            message = ("contains a lone UTF-16 surrogate or other text that is not valid Unicode: "
                       "send valid Unicode text")
        elif err["type"] == "bool_type":
            message = "must be true or false"
        elif err["type"] == "dict_type":
            message = "must be a JSON object"
        problems.append(f"{where} {message}" if not message.startswith(where) else message)
    return "; ".join(problems)


def as_response(result: Any, agent_name: str, request: ChatRequest) -> ChatResponse:
    """Whatever a (possibly customised) ``process_request`` returned, as a ``ChatResponse``."""
    if isinstance(result, ChatResponse):
        return result
    if isinstance(result, str):
        return ChatResponse(response=result, agent=agent_name, session_id=request.session_id,
                            context=dict(request.context))
    if isinstance(result, Mapping):
        known = {"status", "response", "agent", "context", "error", "session_id"}
        data = {k: v for k, v in result.items() if k in known}
        data.setdefault("agent", agent_name)
        data.setdefault("session_id", request.session_id)
        extra = {k: v for k, v in result.items() if k not in known}
        return ChatResponse(**data, metadata=extra)
    raise AgentFrameworkError(f"process_request of agent {agent_name} returned {type(result).__name__}; "
                              "return a ChatResponse, a dict or a string")
