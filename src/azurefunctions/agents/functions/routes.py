"""The app's HTTP routes, declared once: registration, the OpenAPI document and the docs all read this."""

from __future__ import annotations

from dataclasses import dataclass

ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class RouteSpec:
    name: str  # Functions function name
    route: str  # without a leading slash; host.json's routePrefix is "" so this is the full path
    methods: tuple[str, ...]  # the methods the route answers; the others get 405
    group: str  # auth group: chat, sessions, info, health, openapi, mcp, a2a, card
    handler: str  # AgentHttpApi method
    summary: str


STANDARD_ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec("agents_chat", "api/agents/{agent_name}/chat", ("POST",), "chat", "chat",
              "Send a message to an agent (JSON, or an SSE stream with Accept: text/event-stream)."),
    RouteSpec("agents_info", "api/agents/{agent_name}/info", ("GET",), "info", "info",
              "Describe one agent."),
    RouteSpec("agents_list", "api/agents", ("GET",), "info", "list_agents", "List the app's agents."),
    RouteSpec("health", "api/health", ("GET",), "health", "health", "Health check."),
    RouteSpec("openapi", "api/openapi.json", ("GET",), "openapi", "openapi",
              "This OpenAPI description."),
    RouteSpec("mcp", "api/mcp", ("POST",), "mcp", "mcp",
              "The app's agents as MCP tools (streamable HTTP, stateless, JSON responses)."),
    RouteSpec("sessions_item", "api/sessions/{session_id}", ("GET", "DELETE"), "sessions", "session",
              "Read (history, active agent) or delete a session; owner only."),
    RouteSpec("sessions_stream", "api/sessions/{session_id}/stream", ("GET",), "sessions", "session_stream",
              "Resume a streamed turn (SSE): the events after ?after=ID or Last-Event-ID, then live; owner only."),
    RouteSpec("sessions_turn", "api/sessions/{session_id}/turns/{turn_id}", ("GET", "DELETE"), "sessions",
              "session_turn", "A background turn's status and, once done, its answer; DELETE cancels it. Owner only."),
)

#: Auth level of each route group unless the app overrides it; None means the app's ``http_auth_level``.
DEFAULT_GROUP_AUTH: dict[str, str | None] = {
    "chat": None,
    "sessions": None,
    "info": None,
    "mcp": None,
    "a2a": None,
    "health": "ANONYMOUS",
    "openapi": "ANONYMOUS",
    "card": "ANONYMOUS",
}
