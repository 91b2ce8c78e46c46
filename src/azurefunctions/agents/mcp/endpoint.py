"""Agents served as MCP tools: the streamable HTTP endpoint behind ``/api/mcp``.

Each agent is one tool (named after the agent; arguments ``message`` and optional ``session_id``), so MCP
clients such as IDEs or other agents can call it. The ``mcp`` SDK's low-level server answers in *stateless*
streamable-HTTP mode with JSON responses: every POST is complete in itself, so any instance of a scaled-out
Function App can serve any request and nothing is kept between them (conversation state lives in the
session store, addressed by ``session_id``).

``MCPEndpoint.handle`` is transport-neutral: it takes the method, path, headers and body of one HTTP request
and returns status, headers and body, running the SDK's ASGI handler in-process on a synthetic scope. The
Functions HTTP trigger and the local host both call it; authentication (the app's auth level) is theirs.
"""

from __future__ import annotations

import asyncio
import contextvars
import ipaddress
import json
import logging
import re
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from .. import settings

logger = logging.getLogger("azurefunctions.agents.mcp")

# The caller of the HTTP request being served (the signed-in principal, or the user_id query parameter).
_caller: contextvars.ContextVar[str | None] = contextvars.ContextVar("mcp_caller", default=None)

_TOOL_NAME = re.compile(r"[^A-Za-z0-9_.-]")
MAX_BODY_BYTES = 1024 * 1024

INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "message": {"type": "string", "description": "The message for the agent."},
        "session_id": {
            "type": "string",
            "description": "Continue this conversation. Omit to start a new one; the result gives its id.",
        },
    },
    "required": ["message"],
    "additionalProperties": False,
}

OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "response": {"type": "string", "description": "The agent's answer."},
        "session_id": {"type": ["string", "null"], "description": "Pass it back to continue."},
    },
    "required": ["response"],
}


def _output_schema(agent: Any) -> dict[str, Any]:
    """``OUTPUT_SCHEMA``, plus the typed ``output`` of an agent with an ``output_type`` (its ``$defs`` at the
    root, where its ``#/$defs/...`` references resolve)."""
    structured = getattr(agent, "structured_output", None)
    if structured is None:
        return OUTPUT_SCHEMA
    schema = dict(structured.schema)
    defs = schema.pop("$defs", None)
    result: dict[str, Any] = {**OUTPUT_SCHEMA, "properties": {**OUTPUT_SCHEMA["properties"], "output": schema},
                              "required": ["response", "output"]}
    if defs:
        result["$defs"] = defs
    return result


def mcp_tool_name(agent_name: str) -> str:
    """A valid MCP tool name (``[A-Za-z0-9_.-]``, at most 128 characters) for an agent."""
    return (_TOOL_NAME.sub("_", agent_name)[:128]) or "agent"


class MCPEndpoint:
    """Serves ``runners`` (agent name -> object with ``async run(request)`` and ``.agent``) as MCP tools."""

    def __init__(self, runners: Mapping[str, Any], *, server_name: str = "azurefunctions-agents",
                 server_version: str | None = None, max_body_bytes: int = MAX_BODY_BYTES,
                 approvals_url: Callable[[str, str], str] | None = None) -> None:
        #: The URL path of a paused turn's decisions, by session id and turn id (the app's route table knows it).
        self.approvals_url = approvals_url
        self._runners: dict[str, tuple[str, Any]] = {}
        for agent_name, runner in runners.items():
            tool = mcp_tool_name(agent_name)
            if tool in self._runners:
                raise ValueError(f"runners: agents {self._runners[tool][0]!r} and {agent_name!r} would share "
                                 f"the MCP tool name {tool!r}; rename one")
            self._runners[tool] = (agent_name, runner)
        self.server_name = server_name
        if server_version is None:
            from .. import __version__

            server_version = __version__
        self.server_version = server_version
        self.max_body_bytes = max_body_bytes
        self._server: Any = None

    # MCP handlers ----------------------------------------------------------------------------------------
    def tool_definitions(self) -> list[dict[str, Any]]:
        """The tools as MCP lists them (also handy for ``/api/agents`` style listings)."""
        tools = []
        for tool, (agent_name, runner) in self._runners.items():
            agent = getattr(runner, "agent", None)
            description = getattr(agent, "description", None) or f"Chat with the agent {agent_name}."
            tools.append({"name": tool, "title": agent_name, "description": description,
                          "inputSchema": INPUT_SCHEMA, "outputSchema": _output_schema(agent)})
        return tools

    async def _list_tools(self, ctx: Any, params: Any) -> Any:
        import mcp_types as types

        return types.ListToolsResult(tools=[types.Tool.model_validate(t) for t in self.tool_definitions()])

    async def _call_tool(self, ctx: Any, params: Any) -> Any:
        import mcp_types as types
        from mcp.shared.exceptions import MCPError

        entry = self._runners.get(params.name)
        if entry is None:
            raise MCPError(types.INVALID_PARAMS, "Unknown tool: no agent has this name. Tools: "
                                                 f"{', '.join(self._runners) or 'none'}.")
        agent_name, runner = entry
        arguments = params.arguments or {}
        message = arguments.get("message")
        session_id = arguments.get("session_id")
        problem = None
        if not isinstance(message, str) or not message.strip():
            problem = "The argument 'message' is required and must be a non-empty string."
        elif session_id is not None and not isinstance(session_id, str):
            problem = "The argument 'session_id' must be a string."
        if problem is not None:
            return types.CallToolResult(content=[types.TextContent(type="text", text=problem)], is_error=True)

        request: dict[str, Any] = {"message": message}
        if session_id:
            request["session_id"] = session_id
        if _caller.get() is not None:
            request["user_id"] = _caller.get()
        try:
            response = await runner.run(request)
        except Exception:
            logger.exception("agent %r failed while serving an MCP tool call", agent_name)
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=f"The agent {agent_name} failed to answer.")],
                is_error=True)
        text = getattr(response, "response", None) or ""
        new_session = getattr(response, "session_id", None)
        if getattr(response, "status", "success") == "awaiting_approval":
            # Tool calls of the turn wait for a person: say which, and where the session's owner decides.
            reasons = "; ".join(str(a.get("reason") or a.get("tool")) for a in response.approvals)
            where = (f" with POST {self.approvals_url(str(new_session), str(response.turn_id))}"
                     if self.approvals_url is not None and new_session else "")
            text = (f"Agent {agent_name} waits for a person's approval before it goes on ({reasons}). The "
                    f"session's owner decides{where}; the turn then resumes.")
            return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=True)
        if getattr(response, "status", "success") != "success":
            error = getattr(response, "error", None) or "the agent could not answer"
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=f"Agent {agent_name} error: {error}")],
                is_error=True)
        structured = {"response": text, "session_id": new_session}
        if getattr(response, "output", None) is not None:
            structured["output"] = response.to_dict()["output"]  # the typed answer, as JSON data
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=text)],
            structured_content=structured,
        )

    def _mcp_server(self) -> Any:
        if self._server is None:
            from mcp.server import Server

            self._server = Server(
                self.server_name,
                version=self.server_version,
                description="AI agents of this Function App, each callable as a tool.",
                on_list_tools=self._list_tools,
                on_call_tool=self._call_tool,
            )
        return self._server

    # HTTP ------------------------------------------------------------------------------------------------
    async def handle(self, method: str, path: str, headers: Mapping[str, str],
                     body: bytes, *, user_id: str | None = None) -> tuple[int, dict[str, str], bytes]:
        """Answer one HTTP request to the MCP endpoint; ``user_id`` owns the sessions its tool calls create."""
        token = _caller.set(user_id)
        try:
            return await self._handle(method, path, headers, body)
        finally:
            _caller.reset(token)

    async def _handle(self, method: str, path: str, headers: Mapping[str, str],
                      body: bytes) -> tuple[int, dict[str, str], bytes]:
        method = method.upper()
        if method != "POST":
            # Stateless: no standalone SSE stream (GET) and no session to delete (DELETE).
            return _json_error(
                405, "Method not allowed: this MCP endpoint is stateless and accepts POST only.",
                {"Allow": "POST"})
        if not origin_allowed(_header(headers, "origin")):
            return _json_error(403, "Forbidden: this Origin may not call the MCP endpoint (browser pages need their "
                                    f"origin listed in {settings.MCP_ALLOWED_ORIGINS.name}).")
        if len(body) > self.max_body_bytes:
            return _json_error(413, f"Request body larger than {self.max_body_bytes} bytes.")
        problem = message_problem(body)
        if problem is not None:
            return problem

        from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

        manager = StreamableHTTPSessionManager(self._mcp_server(), json_response=True, stateless=True)
        path_only, _, query = path.partition("?")
        scope = {
            "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
            "method": method, "scheme": "https", "path": path_only, "raw_path": path_only.encode(),
            "query_string": query.encode(), "root_path": "",
            "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
            "server": ("localhost", 443), "client": ("127.0.0.1", 0),
        }
        done = asyncio.Event()
        sent_body = False

        async def receive() -> dict[str, Any]:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            await done.wait()  # block after the body, as a real server does, until the response is complete
            return {"type": "http.disconnect"}

        status = 500
        response_headers: dict[str, str] = {}
        chunks: list[bytes] = []

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                for key, value in message.get("headers", []):
                    response_headers[key.decode("latin-1")] = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    done.set()

        try:
            async with manager.run():
                await manager.handle_request(scope, receive, send)
        finally:
            done.set()
        response_headers.pop("content-length", None)
        return status, response_headers, _without_echo(b"".join(chunks))


Reply = tuple[int, dict[str, str], bytes]

#: JSON-RPC 2.0 error codes (https://www.jsonrpc.org/specification#error_object).
PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS = -32700, -32600, -32601, -32602


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return next((value for key, value in headers.items() if key.lower() == name), None)


def _normal_origin(origin: str) -> str | None:
    """``scheme://host[:port]`` in lower case without the scheme's default port; ``None`` when ``origin``
    is not such a value (``null``, a path, user info ...)."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") or (
            parts.query or parts.fragment or parts.username or parts.password):
        return None
    default = 443 if parts.scheme == "https" else 80
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def allowed_origins() -> frozenset[str]:
    """``MCP_ALLOWED_ORIGINS`` and the origin of ``AGENTS_PUBLIC_URL``, normalised (``*`` allows any)."""
    listed = settings.get_list(settings.MCP_ALLOWED_ORIGINS)
    public = settings.PUBLIC_URL.get()
    candidates = [*listed, *([public] if public else [])]
    return frozenset(o for o in (("*" if c.strip() == "*" else _normal_origin(c)) for c in candidates) if o)


def origin_allowed(origin: str | None) -> bool:
    """The MCP transport's Origin rule (streamable HTTP, "Security Warning": servers MUST validate ``Origin``
    and answer 403 to an invalid one). No ``Origin``: not a browser page (IDEs, agents, curl), allowed. A
    browser page: allowed from a loopback origin (a local tool such as the MCP Inspector) or a listed one.
    Deliberately not "the same host as the Host header": under DNS rebinding the attacker's page has exactly
    that."""
    if origin is None:
        return True
    normal = _normal_origin(origin)
    if normal is None:
        return False
    allowed = allowed_origins()
    if "*" in allowed or normal in allowed:
        return True
    host = urlsplit(normal).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def message_problem(body: bytes) -> Reply | None:
    """The JSON-RPC error for a body that is not one well-formed JSON-RPC 2.0 message, in our words: the
    SDK's own answer would be pydantic's validation dump, quoting the input back."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return _json_error(400, "Parse error: the request body is not valid JSON.", code=PARSE_ERROR)
    if isinstance(data, list):
        return _json_error(400, "Invalid Request: JSON-RPC batches are not supported (MCP removed them in "
                                "2025-06-18); send one message per POST.")
    if not isinstance(data, dict):
        return _json_error(400, "Invalid Request: the body must be one JSON-RPC message, a JSON object.")
    request_id = data.get("id")
    valid_id = isinstance(request_id, str | int) and not isinstance(request_id, bool)
    if "id" in data and not valid_id:
        return _json_error(400, "Invalid Request: id must be a string or an integer.")
    answer_id = request_id if valid_id else None
    if data.get("jsonrpc") != "2.0":
        return _json_error(400, 'Invalid Request: "jsonrpc" must be "2.0".', request_id=answer_id)
    method = data.get("method")
    if "method" in data and (not isinstance(method, str) or not method):
        return _json_error(400, "Invalid Request: method must be a non-empty string.", request_id=answer_id)
    if method is None and not ("result" in data or "error" in data) and valid_id:
        return _json_error(400, "Invalid Request: a message needs a method (or a result or an error).",
                           request_id=answer_id)
    if method is None and not valid_id:
        return _json_error(400, "Invalid Request: a message needs a method.")
    if "params" in data and not isinstance(data["params"], dict):
        return _json_error(400, "Invalid params: params must be a JSON object.", code=INVALID_PARAMS,
                           request_id=answer_id)
    return None


def _without_echo(body: bytes) -> bytes:
    """The SDK's JSON-RPC error answers, without the parts that quote the request (``data``, validation
    text); everything else as the SDK wrote it."""
    if b'"error"' not in body:
        return body
    try:
        data = json.loads(body)
    except ValueError:
        return body
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return body
    changed = error.pop("data", None) is not None
    if str(error.get("message", "")).startswith("Validation error"):
        error["message"] = "Invalid Request: not a valid MCP message."
        changed = True
    return json.dumps(data).encode() if changed else body


def _json_error(status: int, message: str, extra: dict[str, str] | None = None, *, code: int = INVALID_REQUEST,
                request_id: str | int | None = None) -> Reply:
    payload = {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}
    return status, {"content-type": "application/json", **(extra or {})}, json.dumps(payload).encode()
