"""The app's HTTP routes, declared once: registration, the OpenAPI document and the docs all read this.

Each route is written as its documented path (``api/agents/{agent_name}/chat``). The Functions host puts
``host.json``'s ``extensions.http.routePrefix`` (default ``api``) in front of every registered route, so what
is registered depends on the prefix: see :func:`function_route` and docs/routes.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

#: ``RouteSpec.handler`` of an app's own route (``AgentFunctionApp.agent_route``): its handler is the app's.
APP_ROUTE = "app_route"

#: The platform's ``routePrefix`` when ``host.json`` does not set one (and when there is no ``host.json``).
DEFAULT_ROUTE_PREFIX = "api"
#: The first segment of every documented app path; the prefix takes its place.
API_SEGMENT = "api"


@dataclass(frozen=True)
class RouteSpec:
    name: str  # Functions function name
    route: str  # the documented path without its leading slash (what routePrefix "" serves)
    methods: tuple[str, ...]  # the methods the route answers; the others get 405
    group: str  # auth group: chat, sessions, info, health, openapi, mcp, a2a, card
    handler: str  # AgentHttpApi method
    summary: str
    #: A deprecated alias (the original short paths); the OpenAPI description marks it so.
    deprecated: bool = False


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
    RouteSpec("sessions_turn_approvals", "api/sessions/{session_id}/turns/{turn_id}/approvals", ("POST",),
              "sessions", "turn_approvals",
              "Approve or reject the tool calls a paused turn waits on; the reply is the resumed turn's (JSON, SSE "
              "or 202). Owner only."),
)

#: The standard routes by function name, for ``url_for``.
ROUTES_BY_NAME: dict[str, RouteSpec] = {spec.name: spec for spec in STANDARD_ROUTES}

#: The original README's short forms, served for agent names that are not a first segment of the app's own
#: routes (``sessions``, ``agents`` ...). Registered after every other route: the platform matches routes in
#: registration order, so the app's own routes win.
ALIAS_ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec("agent_chat_alias", "api/{agent_name}/chat", ("POST",), "chat", "chat",
              "Deprecated alias of POST /api/agents/{agent_name}/chat.", deprecated=True),
    RouteSpec("agent_info_alias", "api/{agent_name}/info", ("GET",), "info", "info",
              "Deprecated alias of GET /api/agents/{agent_name}/info.", deprecated=True),
)

#: The canonical route each alias stands for (by function name).
ALIAS_OF: dict[str, str] = {"agent_chat_alias": "agents_chat", "agent_info_alias": "agents_info"}


def normalize_prefix(prefix: object) -> str:
    """``routePrefix`` as the platform applies it: a string, surrounding slashes removed."""
    if prefix is None:
        return DEFAULT_ROUTE_PREFIX
    if not isinstance(prefix, str):
        raise ValueError(f"routePrefix must be a string, got {type(prefix).__name__}")
    return prefix.strip().strip("/")


def function_route(route: str, prefix: str) -> str | None:
    """The route to register with Functions so that the documented ``route`` is served under ``prefix``.

    The host serves ``<prefix>/<registered route>`` (WebJobsRouteBuilder.BuildRouteTemplate). With the prefix
    ``""`` the documented path is registered as it is; with any other prefix its leading ``api/`` is replaced by
    the prefix, so ``api`` gives the documented path exactly and ``v1`` gives ``/v1/agents/...``. A path outside
    ``api/`` (the A2A root card) cannot be served under a non-empty prefix: ``None``.
    """
    if not prefix:
        return route
    head, _, rest = route.partition("/")
    if head != API_SEGMENT:
        return None
    return rest


def public_path(route: str, prefix: str) -> str | None:
    """The URL path a client calls for the documented ``route`` under ``prefix`` (``None``: not served)."""
    registered = function_route(route, prefix)
    if registered is None:
        return None
    return "/" + "/".join(part for part in (prefix, registered) if part)


def url_for(spec: RouteSpec, api_base: str, **params: str) -> str:
    """The URL path of ``spec`` with its ``{parameters}`` filled in (URL-quoted), for an app whose ``api/`` paths
    are served at ``api_base`` (``/api``, or ``/v1`` for the routePrefix ``v1``; see ``public_path``)."""
    head, _, rest = spec.route.partition("/")
    if head != API_SEGMENT:
        raise ValueError(f"route {spec.name!r} is not under api/")

    def value(match: re.Match[str]) -> str:
        name = match.group(2)
        if name not in params:
            raise ValueError(f"url_for({spec.name!r}) needs {name}=")
        return quote(str(params[name]), safe="@:")

    return _SEGMENT.sub(value, f"{api_base.rstrip('/')}/{rest}")


def alias_reserved_names(routes: list[RouteSpec] | tuple[RouteSpec, ...]) -> set[str]:
    """Agent names the short aliases do not serve: the first segments of the app's own ``api/`` routes."""
    names: set[str] = set()
    for spec in routes:
        head, _, rest = spec.route.partition("/")
        first = rest.split("/", 1)[0]
        if not spec.deprecated and head == API_SEGMENT and first and "{" not in first:
            names.add(first.lower())
    return names


def template_regex(template: str) -> re.Pattern[str]:
    """A Functions route template (``{name}``, ``{name?}``, ``{*rest}``, ``{id:int}``) as a path regex."""
    pattern = ""
    position = 0
    for match in _SEGMENT.finditer(template):
        pattern += re.escape(template[position:match.start()])
        catch_all, name, optional = match.group(1), match.group(2), match.group(3)
        body = ".*" if catch_all else "[^/]+"
        pattern += f"(?P<{name}>{body})" + ("?" if optional else "")
        position = match.end()
    pattern += re.escape(template[position:])
    return re.compile(f"^{pattern}/?$", re.IGNORECASE)


_SEGMENT = re.compile(r"{(\*?)(\w+)(?::[^}?]+)?(\??)}")

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
