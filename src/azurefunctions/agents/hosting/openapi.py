"""The OpenAPI 3.1 description of an app's routes, built from the same route table that registers them.

The chat request's schema is generated from ``ChatRequest``, the pydantic model that validates it (with the
HTTP-only ``async`` field), and the error envelope's from ``ErrorEnvelope``; ids use ``SESSION_ID_PATTERN``,
the pattern the handlers check. tests/security/test_schemathesis.py checks the description against the
running app.
"""

from __future__ import annotations

import copy
import functools
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from ..http.routes import RouteSpec, alias_reserved_names, public_path
from ..messages import SESSION_ID_PATTERN
from ..sessions.events import EVENT_ID_PATTERN
from ..types import MESSAGE_PATTERN, TEXT_PATTERN, ChatRequest
from ..types import TURN_ID_PATTERN as REQUEST_TURN_ID_PATTERN
from .approvals import DecisionsCall


class ChatCall(ChatRequest):
    """The chat route's body: a ``ChatRequest`` and the HTTP-only ``async`` flag (a background turn)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    run_async: StrictBool = Field(default=False, alias="async",
                                  description="Run the turn in the background: 202 with the turn's URL.")


class UsageReply(BaseModel):
    """``Usage.to_dict()``."""

    input_tokens: int
    output_tokens: int
    total_tokens: int
    requests: int
    reasoning_tokens: int


class ToolCallReply(BaseModel):
    """``ToolCallRecord.to_dict()``."""

    id: str
    name: str
    arguments: dict[str, Any]
    result: str | None
    is_error: bool
    agent: str | None


class ChatReply(BaseModel):
    """The chat route's 200 body, ``ChatResponse.to_dict()``; a turn's metadata (``contributions``,
    ``handoff_stopped``, ``input_required`` ...) comes as further fields. tests/hosting/test_openapi_models.py
    keeps these models and the ``to_dict`` methods equal."""

    model_config = ConfigDict(extra="allow")

    status: Literal["success", "error", "awaiting_approval"]
    response: str | None
    agent: str | None
    session_id: str | None
    conversation_id: str | None
    context: dict[str, Any]
    usage: UsageReply
    tool_calls: list[ToolCallReply]
    handoff_path: list[str]
    error: str | None = Field(default=None, description="A failed turn's message (with status error).")
    error_code: str | None = None
    turn_id: str | None = Field(default=None, description="The turn's id: send it again (Idempotency-Key) to get "
                                "this answer instead of a second run.")
    approvals: list[dict[str, Any]] | None = Field(
        default=None, description="With status awaiting_approval: the tool calls waiting for a decision (id, call_id, "
        "agent, tool, arguments, reason, kind, created_at, expires_at, status).")


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorEnvelope(BaseModel):
    """Every error reply of the app's JSON routes."""

    error: ErrorDetail
    agent: str | None = None
    session_id: str | None = None
    turn_id: str | None = Field(default=None, description="approval_pending: the turn waiting for a decision.")
    approvals_url: str | None = Field(default=None, description="approval_pending: where the decisions go.")
    approvals: list[dict[str, Any]] | None = Field(default=None,
                                                   description="approval_pending: the pending approvals.")


@functools.cache
def _request_schemas() -> dict[str, Any]:
    chat = ChatCall.model_json_schema(by_alias=True, mode="validation")
    props = chat["properties"]
    props["message"]["minLength"] = 1
    props["message"]["pattern"] = MESSAGE_PATTERN  # not blank, no control characters (types.check_text)
    text = {"type": "string", "pattern": TEXT_PATTERN}
    props["user_id"] = {"anyOf": [{**text, "maxLength": 256}, {"type": "null"}]}
    session = {"type": "string", "pattern": SESSION_ID_PATTERN.pattern}
    props["session_id"] = {"anyOf": [session, {"type": "null"}]}
    props["conversation_id"] = {"anyOf": [session, {"type": "null"}],
                                "description": "The older name of session_id."}
    props["turn_id"] = {"anyOf": [{"type": "string", "pattern": REQUEST_TURN_ID_PATTERN.pattern}, {"type": "null"}],
                        "description": "Names the turn: sent again, the finished turn's answer or the turn resumed "
                                       "after its last completed step, never a second run."}
    # Any JSON object whose strings (keys included) follow the same text rule, at any depth.
    value = {"$ref": "#/components/schemas/ContextValue"}
    context_value = {"anyOf": [text, {"type": ["number", "boolean", "null"]}, {"type": "array", "items": value},
                               {"type": "object", "propertyNames": text, "additionalProperties": value}]}
    props["context"] = {"anyOf": [{"type": "object", "propertyNames": text, "additionalProperties": value},
                                  {"type": "null"}]}
    ref = "#/components/schemas/{model}"
    envelope = ErrorEnvelope.model_json_schema(ref_template=ref)
    reply = ChatReply.model_json_schema(ref_template=ref)
    decisions = DecisionsCall.model_json_schema(by_alias=True, mode="validation", ref_template=ref)
    # A decision's message follows the text rule too (ApprovalDecision checks it with types.check_text).
    decisions["$defs"]["ApprovalDecision"]["properties"]["message"]["anyOf"][0]["pattern"] = TEXT_PATTERN
    return {"ChatRequest": chat, "ContextValue": context_value, "Error": envelope, **envelope.pop("$defs"),
            "ChatResponse": reply, **reply.pop("$defs"), "DecisionsRequest": decisions,
            **decisions.pop("$defs", {})}

#: A turn's id as the turn route accepts it (background/http.py): the request's turn id shape.
TURN_ID_PATTERN = REQUEST_TURN_ID_PATTERN.pattern
_ERROR = {"$ref": "#/components/schemas/Error"}
#: Route groups that speak JSON-RPC (MCP, A2A): their bodies and errors are JSON-RPC's.
JSON_RPC_GROUPS = frozenset({"mcp", "a2a"})
#: One server-sent event of a streamed turn (streaming/sse.py): ``data`` is the event's JSON.
_SSE_EVENT = {"$ref": "#/components/schemas/StreamEvent"}
_PARAM = re.compile(r"{(\w+)}")


def _idempotency_key_param() -> dict[str, Any]:
    from .idempotency import IDEMPOTENCY_HEADER

    return {"name": IDEMPOTENCY_HEADER, "in": "header", "required": False,
            "schema": {"type": "string", "pattern": REQUEST_TURN_ID_PATTERN.pattern},
            "description": "The turn's id, chosen by the client (a UUID): a retry with the same key gets the "
                           "finished turn's answer or resumes the turn after its last completed step, never a "
                           "second run; 409 turn_in_progress while the first request still runs. Without a "
                           "session_id the session is derived from the caller and the key. A body that also names "
                           "turn_id must name the same one (400 otherwise). See docs/crash-safety.md."}


def build_openapi(routes: list[RouteSpec], auth: dict[str, str], *, title: str, version: str,
                  server_url: str, agent_names: list[str], route_prefix: str = "",
                  output_schemas: dict[str, dict[str, Any]] | None = None,
                  background: bool = False) -> dict[str, Any]:
    """``auth`` maps a route name to its auth level (ANONYMOUS, FUNCTION, ADMIN); ``output_schemas`` the
    JSON schema of each typed agent's ``output`` (``Agent(output_type=...)``). Paths are the URL paths the
    platform serves under host.json's ``route_prefix``; routes the prefix cannot serve are left out. Without
    ``background`` work, ``"async": true`` is refused (400 ``async_not_enabled``): the body allows only ``false``."""
    paths: dict[str, Any] = {}
    reserved = alias_reserved_names(routes)
    alias_names = [name for name in agent_names if name.lower() not in reserved]
    for spec in routes:
        path = public_path(spec.route, route_prefix)
        if path is None:
            continue
        path_item = paths.setdefault(path, {})
        for method in spec.methods:
            operation: dict[str, Any] = {
                "operationId": f"{spec.name}_{method.lower()}",
                "summary": spec.summary,
                "tags": [spec.group],
                "responses": _responses(spec, method),
            }
            names = alias_names if spec.deprecated else agent_names
            params = [_path_param(name, names, spec) for name in _PARAM.findall(spec.route)]
            if spec.group == "sessions":
                params.append({"name": "user_id", "in": "query", "required": False,
                               "schema": {"type": "string"},
                               "description": "Owner of the session (the authenticated principal when auth is on)."})
            if spec.handler == "session" and method == "GET":
                from .session_pages import MAX_HISTORY_PAGE

                params.append({"name": "offset", "in": "query", "required": False,
                               "schema": {"type": "integer", "minimum": 0, "default": 0},
                               "description": "Position of the first message of the page (next_offset of the last)."})
                params.append({"name": "limit", "in": "query", "required": False,
                               "schema": {"type": "integer", "minimum": 0, "maximum": MAX_HISTORY_PAGE,
                                          "default": MAX_HISTORY_PAGE},
                               "description": "Messages in the page."})
            if spec.handler == "session_stream":
                event_id = {"type": "string", "pattern": EVENT_ID_PATTERN.pattern}
                params.append({"name": "after", "in": "query", "required": False, "schema": event_id,
                               "description": "Replay the events after this event id."})
                params.append({"name": "Last-Event-ID", "in": "header", "required": False,
                               "schema": event_id, "description": "Same as after=; wins over it."})
            if spec.handler == "chat":
                params.append(_idempotency_key_param())
            if params:
                operation["parameters"] = params
            if spec.deprecated:
                operation["deprecated"] = True
            if spec.handler == "chat":
                operation["requestBody"] = {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/ChatRequest"}}}}
            if spec.handler == "turn_approvals":
                operation["requestBody"] = {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/DecisionsRequest"}}}}
            if spec.group in JSON_RPC_GROUPS:
                operation["requestBody"] = {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/JsonRpcRequest"}}}}
            if auth.get(spec.name, "ANONYMOUS").upper() == "ANONYMOUS":
                operation["security"] = []
            path_item[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "servers": [{"url": server_url or "/"}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "functionKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"},
                "functionKeyQuery": {"type": "apiKey", "in": "query", "name": "code"},
            },
            "schemas": _with_outputs(output_schemas or {}, background),
        },
        "security": [{"functionKey": []}, {"functionKeyQuery": []}],
    }


def _path_param(name: str, agent_names: list[str], spec: RouteSpec) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if name == "session_id":
        schema["pattern"] = SESSION_ID_PATTERN.pattern
    if name == "turn_id":
        # Any turn (the journal's ids) may wait for approval; the background turn route takes its own ids.
        schema["pattern"] = REQUEST_TURN_ID_PATTERN.pattern if spec.handler == "turn_approvals" else TURN_ID_PATTERN
    if name == "agent_name" and agent_names:
        schema["enum"] = agent_names
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _responses(spec: RouteSpec, method: str) -> dict[str, Any]:
    error = {"description": "Error", "content": {"application/json": {"schema": _ERROR}}}
    ok_schema: dict[str, Any] = {"type": "object"}
    if spec.handler == "chat":
        ok_schema = {"$ref": "#/components/schemas/ChatResponse"}
    responses: dict[str, Any] = {"200": {"description": "OK", "content": {"application/json": {
        "schema": ok_schema}}}}
    if spec.handler == "chat":
        responses["200"]["content"]["text/event-stream"] = {"schema": _SSE_EVENT}
        responses["202"] = {"description": "Accepted as a background turn (\"async\": true): its status URL.",
                            "content": {"application/json": {"schema": {"type": "object", "properties": {
                                "turn_id": {"type": "string"}, "session_id": {"type": "string"},
                                "status": {"type": "string"}}}}}}
        for status in ("400", "404", "409", "413", "429", "502", "503", "504"):
            responses[status] = error
    if spec.handler == "turn_approvals":
        responses["200"]["content"]["application/json"]["schema"] = {"$ref": "#/components/schemas/ChatResponse"}
        responses["200"]["content"]["text/event-stream"] = {"schema": _SSE_EVENT}
        responses["202"] = {"description": "Resumed as a background turn (\"async\": true): its status URL.",
                            "content": {"application/json": {"schema": {"type": "object"}}}}
        for status in ("400", "404", "409", "410", "413"):
            responses[status] = error
    if spec.group in JSON_RPC_GROUPS:
        # JSON-RPC: protocol errors in the JSON-RPC error object; the pipeline's own (401, 503 ...) in the
        # error envelope.
        rpc = {"content": {"application/json": {"schema": {"anyOf": [{"$ref": "#/components/schemas/JsonRpcResponse"},
                                                                      _ERROR]}}}}
        return {"200": {"description": "The JSON-RPC response (or an SSE stream of them)",
                        "content": {**rpc["content"], "text/event-stream": {"schema": _SSE_EVENT}}},
                "202": {"description": "Accepted (a notification)"},
                "default": {"description": "Error", **rpc}}
    if spec.group == "sessions":
        responses["404"] = error
        responses["400"] = error
        if method == "DELETE":
            responses = {"204": {"description": "Deleted"}, "404": error, "400": error}
    if spec.handler == "session_stream":
        responses["200"] = {"description": "The turn's events (SSE)",
                            "content": {"text/event-stream": {"schema": _SSE_EVENT}}}
        responses["204"] = {"description": "Nothing more to send"}
    if "{agent_name}" in spec.route:
        responses["404"] = error
    responses["default"] = error
    return responses


def _with_outputs(output_schemas: dict[str, dict[str, Any]], background: bool) -> dict[str, Any]:
    """The component schemas, with ``ChatResponse.output`` as one of the typed agents' output schemas.

    Each output schema becomes ``Output_<agent>``; its ``$defs`` become components of their own (a ``$ref``
    in a component resolves against the document, not the component), named ``Output_<agent>_<def>``.
    """
    schemas = {**copy.deepcopy(_SCHEMAS), **copy.deepcopy(_request_schemas())}
    if not background:
        schemas["ChatRequest"]["properties"]["async"]["enum"] = [False]
    if not output_schemas:
        return schemas
    refs = []
    for agent, schema in output_schemas.items():
        prefix = "Output_" + re.sub(r"[^A-Za-z0-9_.-]", "_", agent)
        defs = schema.get("$defs") or {}
        rename = {f"#/$defs/{name}": f"#/components/schemas/{prefix}_{name}" for name in defs}
        for name, sub in defs.items():
            schemas[f"{prefix}_{name}"] = _rewrite_refs(sub, rename)
        schemas[prefix] = _rewrite_refs({k: v for k, v in schema.items() if k != "$defs"}, rename)
        refs.append({"$ref": f"#/components/schemas/{prefix}"})
    schemas["ChatResponse"]["properties"]["output"] = {
        "description": "The typed answer of an agent with an output type (its JSON is also in response).",
        "anyOf": [*refs, {"type": "null"}]}
    return schemas


def _rewrite_refs(node: Any, rename: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {k: (rename.get(v, v) if k == "$ref" and isinstance(v, str) else _rewrite_refs(v, rename))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite_refs(item, rename) for item in node]
    return node


_SCHEMAS: dict[str, Any] = {
    "JsonRpcRequest": {
        "type": "object",
        "required": ["jsonrpc", "method"],
        "properties": {"jsonrpc": {"const": "2.0"}, "method": {"type": "string"},
                       "id": {"type": ["string", "integer", "null"]}, "params": {"type": "object"}},
    },
    "JsonRpcResponse": {
        "type": "object",
        "required": ["jsonrpc"],
        "properties": {"jsonrpc": {"const": "2.0"}, "id": {"type": ["string", "integer", "null"]}, "result": {},
                       "error": {"type": "object", "required": ["code", "message"], "properties": {
                           "code": {"type": "integer"}, "message": {"type": "string"}, "data": {}}}},
    },
    "StreamEvent": {
        "type": "object",
        "required": ["data"],
        "properties": {"event": {"type": "string"}, "data": {"type": "string"}, "id": {"type": "string"},
                       "retry": {"type": "integer"}},
    },
}
