"""The OpenAPI 3.1 description of an app's routes, built from the same route table that registers them."""

from __future__ import annotations

import re
from typing import Any

from ..messages import SESSION_ID_PATTERN
from .routes import RouteSpec

_ERROR = {"$ref": "#/components/schemas/Error"}
_PARAM = re.compile(r"{(\w+)}")


def build_openapi(routes: list[RouteSpec], auth: dict[str, str], *, title: str, version: str,
                  server_url: str, agent_names: list[str]) -> dict[str, Any]:
    """``auth`` maps a route name to its auth level (ANONYMOUS, FUNCTION, ADMIN)."""
    paths: dict[str, Any] = {}
    for spec in routes:
        path_item = paths.setdefault("/" + spec.route, {})
        for method in spec.methods:
            operation: dict[str, Any] = {
                "operationId": f"{spec.name}_{method.lower()}",
                "summary": spec.summary,
                "tags": [spec.group],
                "responses": _responses(spec, method),
            }
            params = [_path_param(name, agent_names) for name in _PARAM.findall(spec.route)]
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
                params.append({"name": "after", "in": "query", "required": False, "schema": {"type": "string"},
                               "description": "Replay the events after this event id."})
                params.append({"name": "Last-Event-ID", "in": "header", "required": False,
                               "schema": {"type": "string"}, "description": "Same as after=; wins over it."})
            if params:
                operation["parameters"] = params
            if spec.handler == "chat":
                operation["requestBody"] = {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/ChatRequest"}}}}
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
            "schemas": _SCHEMAS,
        },
        "security": [{"functionKey": []}, {"functionKeyQuery": []}],
    }


def _path_param(name: str, agent_names: list[str]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if name in ("session_id", "turn_id"):
        schema["pattern"] = SESSION_ID_PATTERN.pattern
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
        responses["200"]["content"]["text/event-stream"] = {"schema": {"type": "string"}}
        for status in ("400", "404", "409", "413", "429", "502", "504"):
            responses[status] = error
    if spec.group == "sessions":
        responses["404"] = error
        responses["400"] = error
        if method == "DELETE":
            responses = {"204": {"description": "Deleted"}, "404": error, "400": error}
    if spec.handler == "session_stream":
        responses["200"] = {"description": "The turn's events (SSE)",
                            "content": {"text/event-stream": {"schema": {"type": "string"}}}}
        responses["204"] = {"description": "Nothing more to send"}
    if "{agent_name}" in spec.route:
        responses["404"] = error
    responses["default"] = error
    return responses


_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "object", "required": ["code", "message"],
                      "properties": {"code": {"type": "string"}, "message": {"type": "string"}}},
            "agent": {"type": "string"},
            "session_id": {"type": "string"},
        },
    },
    "ChatRequest": {
        "type": "object",
        "required": ["message"],
        "properties": {
            "message": {"type": "string", "minLength": 1},
            "user_id": {"type": ["string", "null"], "maxLength": 256},
            "session_id": {"type": ["string", "null"], "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"},
            "context": {"type": ["object", "null"]},
            "stream": {"type": "boolean"},
        },
    },
    "ChatResponse": {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["success", "error"]},
            "response": {"type": ["string", "null"]},
            "agent": {"type": ["string", "null"]},
            "session_id": {"type": ["string", "null"]},
            "conversation_id": {"type": ["string", "null"]},
            "context": {"type": "object"},
            "usage": {"type": "object", "properties": {
                "input_tokens": {"type": "integer"}, "output_tokens": {"type": "integer"},
                "total_tokens": {"type": "integer"}, "requests": {"type": "integer"}}},
            "tool_calls": {"type": "array", "items": {"type": "object"}},
            "handoff_path": {"type": "array", "items": {"type": "string"}},
        },
    },
}
