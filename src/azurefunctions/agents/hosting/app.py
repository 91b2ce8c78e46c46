"""``AgentFunctionApp``: an Azure Functions app (Python v2 programming model) that serves agents over HTTP."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import azure.functions as func

from .. import __version__, settings
from ..a2a.server import A2AServer
from ..agent import Agent
from ..errors import missing_extra
from ..http.auth import EntraAuth
from ..http.calls import HttpCall
from ..http.guard import CHAT_GROUP, PUBLIC_GROUPS, RouteGuard
from ..http.hostjson import RoutePrefix, caller_file, discover_route_prefix
from ..http.pipeline import Handler, pipeline
from ..http.routes import (
    ALIAS_ROUTES,
    ALL_METHODS,
    APP_ROUTE,
    DEFAULT_GROUP_AUTH,
    STANDARD_ROUTES,
    RouteSpec,
    alias_reserved_names,
    function_route,
    normalize_prefix,
    public_path,
)
from ..limits import Limits
from ..redaction import install_log_redaction, register_secret
from ..runner import Runner
from ..sessions.base import SessionStore
from ..sessions.lazy import LazySessionStore
from .api import AgentHttpApi
from .app_routes import AppHandler, app_handler
from .modes import AgentMode
from .openapi import build_openapi

if TYPE_CHECKING:
    from ..background.service import BackgroundTurns

logger = logging.getLogger("azurefunctions.agents")


def _auth_level(value: func.AuthLevel | str) -> func.AuthLevel:
    if isinstance(value, func.AuthLevel):
        return value
    try:
        return func.AuthLevel[str(value).upper()]
    except KeyError:
        raise ValueError(f"auth level {value!r} is not one of ANONYMOUS, FUNCTION, ADMIN") from None


class AgentFunctionApp(func.FunctionApp):
    """A Function App whose HTTP routes serve the given agents.

    ``agents`` is a dict (route name -> agent) or a list (each agent under its own name). The documented paths
    (``/api/agents/{name}/chat`` ...) are served under ``host.json``'s ``routePrefix``, read from the folder
    the app is built in (``route_prefix=`` overrides it; it must then match ``host.json``): the default
    ``api`` and ``""`` give the documented paths, another prefix replaces their ``api`` (docs/routes.md).
    ``create_triggers=False``
    registers no routes: the app's own triggers call ``app.runners[name]``. ``background=True`` adds the
    queue triggers that run asynchronous turns (``"async": true``; see docs/background.md) from the queue
    ``AGENTS_WORK_QUEUE`` on the storage connection ``background_connection``. ``auth=EntraAuth(...)`` (or the
    ``AGENTS_AUTH=entra`` setting) requires callers signed in with Entra ID through App Service Authentication
    on every route but health, ``openapi.json`` and the cards; function keys are then off unless
    ``http_auth_level`` asks for them (see docs/security.md). ``playground=True`` serves the playground page
    beside the agents routes (``/api/playground``), behind the same auth as ``GET /api/agents``; off by
    default, the local host serves it at ``/playground`` either way (docs/playground.md).
    """

    def __init__(
        self,
        agents: Mapping[str, Agent] | Iterable[Agent] | None = None,
        mode: AgentMode | str = AgentMode.AZURE_FUNCTION_AGENT,
        http_auth_level: func.AuthLevel | str | None = None,
        *,
        create_triggers: bool = True,
        streaming: bool | None = None,
        session_store: SessionStore | None = None,
        max_body_bytes: int | None = None,
        auth_levels: Mapping[str, func.AuthLevel | str] | None = None,
        default_agent: str | None = None,
        title: str = "Agents",
        background: bool = False,
        background_connection: str = "AzureWebJobsStorage",
        auth: EntraAuth | None = None,
        route_prefix: str | None = None,
        playground: bool = False,
    ) -> None:
        if auth is not None and not isinstance(auth, EntraAuth):
            raise TypeError(f"auth must be an EntraAuth, got {type(auth).__name__}")
        self.auth: EntraAuth | None = auth if auth is not None else EntraAuth.from_settings()
        if http_auth_level is None:  # Entra ID replaces function keys unless the app asks for both
            http_auth_level = func.AuthLevel.ANONYMOUS if self.auth is not None else func.AuthLevel.FUNCTION
        self.http_auth_level_default = _auth_level(http_auth_level)
        super().__init__(http_auth_level=self.http_auth_level_default)
        self.mode = AgentMode(mode)
        from ..azure.sdk_logging import quiet_http_logging

        quiet_http_logging()
        self.agents: dict[str, Agent] = _agents_by_name(agents)
        if default_agent is not None and default_agent not in self.agents:
            raise ValueError(f"default_agent {default_agent!r} is not one of the app's agents")
        self.default_agent = default_agent or next(iter(self.agents), None)
        _check_handoff_targets(self.agents)
        install_log_redaction()  # keys and tokens never reach a log line (redaction.py)
        for agent in self.agents.values():
            register_secret(getattr(agent.llm_config, "api_key", None))
        if streaming is None:  # A2A apps stream: their cards promise it (docs/a2a.md "Streaming")
            streaming = self.mode is AgentMode.A2A or any(a.streaming for a in self.agents.values())
        self.streaming = streaming
        self.session_store: SessionStore = session_store if session_store is not None else LazySessionStore()
        self.limits = Limits.from_settings(max_body_bytes=max_body_bytes)
        self.max_body_bytes = self.limits.max_body_bytes
        self.guard = RouteGuard(auth=self.auth, limits=self.limits)
        self.title = title
        self.playground = playground  # the playground page as a route of the app (docs/playground.md)
        self.runners: dict[str, Runner] = {
            name: Runner(agent, session_store=self.session_store, agents=self.agents)
            for name, agent in self.agents.items()
        }
        self._group_auth = {group: _auth_level(level or self.http_auth_level_default)
                            for group, level in DEFAULT_GROUP_AUTH.items()}
        for group, level in (auth_levels or {}).items():
            if group not in self._group_auth:
                raise ValueError(f"auth_levels: unknown route group {group!r}; groups: {', '.join(self._group_auth)}")
            self._group_auth[group] = _auth_level(level)
        #: host.json's routePrefix, which the Functions host puts before every registered route.
        self.route_prefix_source: RoutePrefix = (
            discover_route_prefix(caller_file("azurefunctions.agents")) if route_prefix is None
            else RoutePrefix(normalize_prefix(route_prefix), "route_prefix argument"))
        self.route_prefix = self.route_prefix_source.value
        #: Where the documented ``/api/...`` paths are served: ``/api`` for the prefixes "api" and "", else
        #: ``/<prefix>``.
        self.api_base = public_path("api", self.route_prefix) or "/"
        self.route_specs: list[RouteSpec] = list(STANDARD_ROUTES)
        #: The app's own routes registered with ``agent_route``.
        self.app_routes: list[RouteSpec] = []
        self.background: BackgroundTurns | None = None
        if background:  # imported only by apps that use it
            from ..background.service import BackgroundTurns

            self.background = BackgroundTurns(runners=self.runners, session_store=self.session_store,
                                              connection=background_connection)
            self.background.register(self)
        self.a2a: A2AServer | None = None
        if self.mode is AgentMode.A2A:  # the A2A routes; the a2a SDK itself loads on the first A2A request
            self.a2a = A2AServer(agents=self.agents, runners=self.runners, session_store=self.session_store,
                                 default_agent=self.default_agent, rpc_auth_level=self._group_auth["a2a"].name,
                                 max_body_bytes=self.max_body_bytes, background=self.background,
                                 api_base=self.api_base, streaming=self.streaming)
            self.route_specs.extend(self.a2a.route_specs)
        # The short aliases go last (the platform tries routes in registration order), when an agent can use them.
        reserved = alias_reserved_names(self.route_specs)
        if any(name.lower() not in reserved for name in self.agents):
            self.route_specs.extend(ALIAS_ROUTES)
        # A root path (the A2A root card) cannot be served under a non-empty prefix.
        self.route_specs = [s for s in self.route_specs if function_route(s.route, self.route_prefix) is not None]
        self.api = AgentHttpApi(agents=self.agents, runners=self.runners, session_store=self.session_store,
                                routes=self.route_specs, mode=self.mode.value, max_body_bytes=self.max_body_bytes,
                                openapi=self._openapi, version=__version__, background=self.background,
                                route_prefix=self.route_prefix)
        if create_triggers:
            self._register_routes()

    # Registration -----------------------------------------------------------------------------------------
    def auth_level_of(self, spec: RouteSpec) -> func.AuthLevel:
        return self._group_auth[spec.group]

    def function_route(self, spec: RouteSpec) -> str:
        """The route registered with Functions for ``spec`` (the host puts ``routePrefix`` before it)."""
        route = function_route(spec.route, self.route_prefix)
        assert route is not None  # route_specs holds only routes the prefix can serve
        return route

    def url_path(self, spec: RouteSpec) -> str:
        """The URL path clients call for ``spec``, the prefix included."""
        return public_path(spec.route, self.route_prefix) or "/"

    def _adapter(self) -> Any:
        """The module that converts the worker's request and response types (classic, or HTTP streams)."""
        if self.streaming:
            try:
                from . import streams as adapter
            except ModuleNotFoundError as exc:
                raise missing_extra("Streaming agents", "streaming", exc) from exc
            return adapter
        from . import classic

        return classic

    def _register_routes(self) -> None:
        adapter = self._adapter()
        for spec in self.route_specs:
            self._register(spec, adapter.make_handler(self._runner_for(spec)))
        if self.playground:
            from ..playground.route import route_spec, serve_page

            page = route_spec()
            self._register(page, adapter.make_handler(pipeline(page, serve_page, self.guard)))

    def agent_route(self, route: str, *, methods: Sequence[str] = ("POST",), name: str | None = None,
                    group: str = CHAT_GROUP, auth_level: func.AuthLevel | str | None = None,
                    ) -> Callable[[AppHandler], AppHandler]:
        """Serve an app's own route through the built-in routes' pipeline.

        ``route`` is registered as ``func.FunctionApp.route`` registers it (the host puts host.json's
        ``routePrefix`` before it). The route gets what every built-in route gets: the app's function-key level
        and Entra ID check (``auth_level`` overrides the group's level), the turn slot, message-length limit
        and timeout of the ``chat`` group (``group="info"`` for a route that runs no turn), secret scrubbing,
        the JSON error envelope for every error and the telemetry flush. The handler takes an ``AppRequest``
        (its ``user_id`` is the signed-in caller with Entra ID) and returns an ``HttpReply`` or a JSON value.
        ``app.route`` stays the platform's raw decorator, for routes that want none of this (docs/routes.md).
        """
        if group not in self._group_auth:
            raise ValueError(f"agent_route: unknown route group {group!r}; groups: {', '.join(self._group_auth)}")
        allowed = tuple(dict.fromkeys(m.upper() for m in methods))
        if not allowed or not set(allowed) <= set(ALL_METHODS):
            raise ValueError(f"agent_route: methods must be some of {', '.join(ALL_METHODS)}, got {list(methods)}")
        level = _auth_level(auth_level) if auth_level is not None else self._group_auth[group]

        def decorator(handler: AppHandler) -> AppHandler:
            summary = (handler.__doc__ or "").strip().split("\n", 1)[0]
            spec = RouteSpec(name or handler.__name__, route.strip("/"), allowed, group, APP_ROUTE, summary)
            run = pipeline(spec, app_handler(handler, max_body_bytes=self.max_body_bytes), self.guard)
            self._register(spec, self._adapter().make_handler(run), route=spec.route, auth_level=level)
            self.app_routes.append(spec)
            return handler

        return decorator

    def get_functions(self) -> list[Any]:
        """The functions the worker indexes. The host tries routes in function-name order, so a short alias
        could shadow one of the app's own ``@app.route`` routes of the same shape (``x/chat``): such an alias
        is left out (and out of the OpenAPI description)."""
        functions = list(super().get_functions())
        ours = {spec.name for spec in self.route_specs}
        own_routes = [function_route_of(f) for f in functions if f.get_function_name() not in ours]
        shadowing = {spec.name for spec in self.route_specs if spec.deprecated
                     and any(_shadows(self.function_route(spec), route) for route in own_routes if route)}
        if shadowing:
            logger.info("short alias routes %s left out: the app's own routes have the same shape",
                        ", ".join(sorted(shadowing)))
            self.route_specs = [spec for spec in self.route_specs if spec.name not in shadowing]
            self.api.drop_routes(shadowing)
            functions = [f for f in functions if f.get_function_name() not in shadowing]
        return functions

    def _register(self, spec: RouteSpec, handler: Any, *, route: str | None = None,
                  auth_level: func.AuthLevel | None = None) -> None:
        handler.__name__ = spec.name
        handler.__qualname__ = spec.name
        decorated = self.route(route=self.function_route(spec) if route is None else route,
                               methods=list(ALL_METHODS),
                               auth_level=self.auth_level_of(spec) if auth_level is None else auth_level)(handler)
        self.function_name(name=spec.name)(decorated)

    def _runner_for(self, spec: RouteSpec) -> Handler:
        target = self.a2a if self.a2a is not None and self.a2a.serves(spec) else self.api
        return pipeline(spec, target.handler_for(spec), self.guard)

    def _openapi(self, call: HttpCall) -> dict[str, Any]:
        auth = {spec.name: self.auth_level_of(spec).name for spec in self.route_specs}
        base = settings.PUBLIC_URL.get() or call.base_url
        document = build_openapi(self.route_specs, auth, title=self.title, version=__version__,
                                 server_url=base, agent_names=list(self.agents), route_prefix=self.route_prefix,
                                 output_schemas={name: agent.structured_output.schema
                                                 for name, agent in self.agents.items()
                                                 if agent.structured_output is not None},
                                 background=self.background is not None)
        if self.auth is not None:
            _add_entra_security(document, self.route_specs, auth, self.route_prefix)
        return document

    async def aclose(self) -> None:
        """Close model clients and the session store (local host shutdown, tests)."""
        if self.a2a is not None:
            await self.a2a.aclose()
        if self.background is not None:
            await self.background.aclose()
        for agent in self.agents.values():
            await agent.aclose()
        await self.session_store.aclose()


def _add_entra_security(document: dict[str, Any], specs: list[RouteSpec], levels: dict[str, str],
                        route_prefix: str) -> None:
    """Entra mode: protected operations take a bearer token (and a function key where one is required)."""
    document["components"]["securitySchemes"]["entra"] = {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "An Entra ID access token for the app registration, checked by App Service Authentication."}
    for spec in specs:
        if spec.group in PUBLIC_GROUPS:
            continue
        needs_key = levels.get(spec.name, "ANONYMOUS").upper() != "ANONYMOUS"
        security: list[dict[str, list[str]]] = [{"entra": []}]
        if needs_key:
            security = [{"entra": [], "functionKey": []}, {"entra": [], "functionKeyQuery": []}]
        for method in spec.methods:
            document["paths"][public_path(spec.route, route_prefix)][method.lower()]["security"] = security


def function_route_of(function: Any) -> str | None:
    """The route of an HTTP-triggered ``Function`` (its name when it sets none), else ``None``."""
    trigger = function.get_trigger()
    if type(trigger).__name__ != "HttpTrigger":
        return None
    return str(trigger.route if trigger.route is not None else function.get_function_name()).strip("/")


def _shadows(alias: str, route: str) -> bool:
    """Whether the alias template (``{agent_name}/chat``) can match a path the other route serves."""
    alias_parts, route_parts = alias.split("/"), route.split("/")
    if len(alias_parts) != len(route_parts) or "{*" in route:
        return "{*" in route
    return all(a.startswith("{") or r.startswith("{") or a.lower() == r.lower()
               for a, r in zip(alias_parts, route_parts, strict=True))


def _check_handoff_targets(agents: Mapping[str, Agent]) -> None:
    for agent in agents.values():
        for target in getattr(agent.handoff_config, "targets", None) or []:
            if target.agent_name not in agents:
                raise ValueError(f"agent {agent.name!r} hands off to {target.agent_name!r}, which is not one of "
                                 f"the app's agents ({', '.join(agents)})")


def _agents_by_name(agents: Mapping[str, Agent] | Iterable[Agent] | None) -> dict[str, Agent]:
    if agents is None:
        raise ValueError("AgentFunctionApp needs agents=: a dict of name -> Agent, or a list of agents")
    items = list(agents.items()) if isinstance(agents, Mapping) else [(getattr(a, "name", None), a) for a in agents]
    result: dict[str, Agent] = {}
    for name, agent in items:
        if not isinstance(agent, Agent):
            raise TypeError(f"agents must be Agent instances, got {type(agent).__name__}")
        if not isinstance(name, str) or not name or not all(c.isalnum() or c in "_-." for c in name):
            raise ValueError(f"agent name {name!r} must be letters, digits, '_', '-' or '.' (it is a URL path)")
        if name in result:
            raise ValueError(f"two agents are named {name!r}")
        result[name] = agent
    if not result:
        raise ValueError("AgentFunctionApp needs at least one agent")
    return result
