"""``AgentFunctionApp``: an Azure Functions app (Python v2 programming model) that serves agents over HTTP."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import azure.functions as func

from .. import __version__, settings
from ..a2a.server import A2AServer
from ..agent import Agent
from ..errors import ConfigurationError
from ..limits import Limits
from ..redaction import install_log_redaction, register_secret
from ..runner import Runner
from ..sessions.base import SessionStore
from ..sessions.lazy import LazySessionStore
from .api import AgentHttpApi
from .auth import EntraAuth
from .guard import PUBLIC_GROUPS, RouteGuard
from .http import HttpCall, HttpReply
from .modes import AgentMode
from .openapi import build_openapi
from .routes import ALL_METHODS, DEFAULT_GROUP_AUTH, STANDARD_ROUTES, RouteSpec
from .tracing import traced

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

    ``agents`` is a dict (route name -> agent) or a list (each agent under its own name). Routes carry the
    explicit ``api/`` prefix (the app's ``host.json`` sets ``routePrefix`` to ``""``). ``create_triggers=False``
    registers no routes: the app's own triggers call ``app.runners[name]``. ``background=True`` adds the
    queue triggers that run asynchronous turns (``"async": true``; see docs/background.md) from the queue
    ``AGENTS_WORK_QUEUE`` on the storage connection ``background_connection``. ``auth=EntraAuth(...)`` (or the
    ``AGENTS_AUTH=entra`` setting) requires callers signed in with Entra ID through App Service Authentication
    on every route but health, ``openapi.json`` and the cards; function keys are then off unless
    ``http_auth_level`` asks for them (see docs/security.md).
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
        self.streaming = streaming if streaming is not None else any(a.streaming for a in self.agents.values())
        self.session_store: SessionStore = session_store if session_store is not None else LazySessionStore()
        self.limits = Limits.from_settings(max_body_bytes=max_body_bytes)
        self.max_body_bytes = self.limits.max_body_bytes
        self.guard = RouteGuard(auth=self.auth, limits=self.limits)
        self.title = title
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
        self.route_specs: list[RouteSpec] = list(STANDARD_ROUTES)
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
                                 max_body_bytes=self.max_body_bytes, background=self.background)
            self.route_specs.extend(self.a2a.route_specs)
        self.api = AgentHttpApi(agents=self.agents, runners=self.runners, session_store=self.session_store,
                                routes=self.route_specs, mode=self.mode.value, max_body_bytes=self.max_body_bytes,
                                openapi=self._openapi, version=__version__, background=self.background)
        if create_triggers:
            self._register_routes()

    # Registration -----------------------------------------------------------------------------------------
    def auth_level_of(self, spec: RouteSpec) -> func.AuthLevel:
        return self._group_auth[spec.group]

    def _register_routes(self) -> None:
        if self.streaming:
            try:
                from . import streams as adapter
            except ModuleNotFoundError as exc:
                raise ConfigurationError(
                    "Streaming agents need the HTTP-streams extension: "
                    "pip install 'azurefunctions-agent-framework[streaming]'") from exc
        else:
            from . import classic as adapter  # type: ignore[no-redef]
        for spec in self.route_specs:
            self._register(spec, adapter.make_handler(self._runner_for(spec)))

    def _register(self, spec: RouteSpec, handler: Any) -> None:
        handler.__name__ = spec.name
        handler.__qualname__ = spec.name
        decorated = self.route(route=spec.route, methods=list(ALL_METHODS), auth_level=self.auth_level_of(spec))(
            handler)
        self.function_name(name=spec.name)(decorated)

    def _runner_for(self, spec: RouteSpec) -> Any:
        target = self.a2a if self.a2a is not None and self.a2a.serves(spec) else self.api

        async def dispatch(call: HttpCall) -> HttpReply:
            return await target.dispatch(spec, call)

        guarded = self.guard.wrap(spec, dispatch)

        async def run(call: HttpCall) -> HttpReply:
            return await traced(call, guarded)

        return run

    def _openapi(self, call: HttpCall) -> dict[str, Any]:
        auth = {spec.name: self.auth_level_of(spec).name for spec in self.route_specs}
        base = settings.PUBLIC_URL.get() or call.base_url
        document = build_openapi(self.route_specs, auth, title=self.title, version=__version__,
                                 server_url=base, agent_names=list(self.agents))
        if self.auth is not None:
            _add_entra_security(document, self.route_specs, auth)
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


def _add_entra_security(document: dict[str, Any], specs: list[RouteSpec], levels: dict[str, str]) -> None:
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
            document["paths"]["/" + spec.route][method.lower()]["security"] = security


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
