"""The handlers behind the standard routes, written against ``HttpCall``/``HttpReply`` only.

Handlers raise ``AgentFrameworkError`` for what a client can cause or meet; the error boundary of the pipeline
(pipeline.py) turns it into the JSON error envelope, and anything unexpected into a generic 500.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..background.http import BackgroundHttp
from ..errors import (
    AGENT_ERROR,
    AGENT_FAILED_MESSAGE,
    AgentFrameworkError,
    AgentNotFoundError,
    ApprovalPendingError,
    InvalidRequestError,
    NotFoundError,
    PayloadTooLargeError,
    SessionNotFoundError,
    missing_extra,
    owned_by,
    require_extra,
)
from ..http.calls import JSON_TYPE, SSE_TYPE, HttpCall, HttpReply, error_envelope, error_reply, json_reply
from ..http.pipeline import Handler, bounded
from ..http.routes import ALIAS_OF, RouteSpec, alias_reserved_names, public_path, template_regex
from ..messages import SESSION_ID_PATTERN, SESSION_ID_RULE
from ..runner import normalize_request
from ..streaming.live import StreamedTurn
from ..streaming.sse import SSE_HEADERS
from ..types import ChatRequest, ChatResponse
from .approvals import ApprovalsHttp, approval_pending_reply, waiting_turn
from .idempotency import IDEMPOTENCY_HEADER, RETRY_SOON_CODES, keyed_request, refused_before_start
from .resume import StreamResumer
from .session_pages import history_page_query

if TYPE_CHECKING:
    from ..agent import Agent
    from ..background.service import BackgroundTurns
    from ..runner import Runner
    from ..sessions.base import SessionStore

logger = logging.getLogger("azurefunctions.agents.http")

class AgentHttpApi:
    def __init__(self, *, agents: Mapping[str, Agent], runners: Mapping[str, Runner],
                 session_store: SessionStore, routes: list[RouteSpec], mode: str, max_body_bytes: int,
                 openapi: Callable[[HttpCall], dict[str, Any]], version: str,
                 background: BackgroundTurns | None = None, route_prefix: str = "") -> None:
        self.agents = agents
        self.runners = runners
        self.session_store = session_store
        self.routes = {spec.name: spec for spec in routes}
        #: host.json's routePrefix; every URL this API hands out includes it.
        self.route_prefix = route_prefix
        self.api_base = public_path("api", route_prefix) or "/"
        self._paths = {spec.name: public_path(spec.route, route_prefix) or "/" for spec in routes}
        #: Agent names the short aliases leave to the app's own routes (``/api/sessions/info`` is a session).
        self._alias_reserved = alias_reserved_names(routes)
        self.mode = mode
        self.max_body_bytes = max_body_bytes
        self._openapi = openapi
        self.version = version
        self._mcp: Any = None
        #: Replays and follows kept stream events (``GET /api/sessions/{id}/stream``).
        self.resumer = StreamResumer(session_store)
        #: ``"async": true`` chat calls and ``/api/sessions/{id}/turns/{turn_id}`` (background/http.py).
        self.turns = BackgroundHttp(background, api_base=self.api_base)
        #: The handler of each ``RouteSpec.handler``.
        self._handlers: dict[str, Handler] = {
            "health": self.health, "list_agents": self.list_agents, "info": self.info, "openapi": self.openapi,
            "chat": self.chat, "mcp": self.mcp, "session": self.session, "session_stream": self.session_stream,
            "session_turn": self.session_turn, "turn_approvals": self.turn_approvals}
        #: ``POST /api/sessions/{id}/turns/{turn_id}/approvals`` (approvals.py).
        self.approvals = ApprovalsHttp(runners=runners, session_store=session_store, turns=self.turns,
                                       reply=chat_reply, api_base=self.api_base)

    def drop_routes(self, names: set[str]) -> None:
        """Forget routes the app left out (aliases shadowing the app's own routes)."""
        for name in names:
            self.routes.pop(name, None)
            self._paths.pop(name, None)

    def handler_for(self, spec: RouteSpec) -> Handler:
        """The handler of ``spec`` (a deprecated alias answers as its canonical route)."""
        if spec.deprecated:
            return lambda call: self._alias(spec, call)
        handler = self._handlers.get(spec.handler)
        if handler is None:
            raise ValueError(f"route {spec.name!r}: no handler {spec.handler!r}")
        return handler

    async def dispatch(self, spec: RouteSpec, call: HttpCall) -> HttpReply:
        """Run the route's handler behind the method check and the error boundary (pipeline.py)."""
        return await bounded(spec, self.handler_for(spec))(call)

    async def _alias(self, spec: RouteSpec, call: HttpCall) -> HttpReply:
        """A deprecated short path: the canonical route's answer, with ``Deprecation`` and its successor.

        A name that is the first segment of one of the app's own routes is never an alias: the request goes to
        the app's route that matches the path (the platform may have tried the alias first), or gets a 404.
        """
        canonical = self.routes.get(ALIAS_OF.get(spec.name, ""))
        name = call.route_params.get("agent_name", "")
        if canonical is None or name.lower() in self._alias_reserved:
            own = self._own_route_for(call)
            if own is not None:
                target, params = own
                call.route_params = params
                return await self.dispatch(target, call)
            raise NotFoundError(f"No route serves {call.path[:200]}.")
        reply = await self.dispatch(canonical, call)
        successor = self._paths[canonical.name].replace("{agent_name}", quote(name, safe=""))  # header-safe
        reply.headers["Deprecation"] = "true"
        reply.headers["Link"] = f'<{successor}>; rel="successor-version"'
        return reply

    def _own_route_for(self, call: HttpCall) -> tuple[RouteSpec, dict[str, str]] | None:
        for spec in self.routes.values():
            if spec.deprecated or spec.handler not in self._handlers:
                continue
            found = template_regex(self._paths[spec.name]).match(call.path)
            if found is not None:
                return spec, {k: v for k, v in found.groupdict().items() if v is not None}
        return None

    # Routes -----------------------------------------------------------------------------------------------
    async def health(self, call: HttpCall) -> HttpReply:
        return json_reply({"status": "healthy", "mode": self.mode, "agents": len(self.agents),
                           "version": self.version})

    async def list_agents(self, call: HttpCall) -> HttpReply:
        agents = [{"name": name, "description": agent.description, "type": type(agent).__name__,
                   "streaming": agent.streaming, "routes": self._agent_routes(name)}
                  for name, agent in self.agents.items()]
        return json_reply({"agents": agents, "count": len(agents), "mode": self.mode})

    async def info(self, call: HttpCall) -> HttpReply:
        agent = self._agent(call)
        data = agent.info()
        data["routes"] = self._agent_routes(agent.name)
        return json_reply(data)

    async def openapi(self, call: HttpCall) -> HttpReply:
        return json_reply(self._openapi(call))

    async def chat(self, call: HttpCall) -> HttpReply:
        agent = self._agent(call)
        try:
            body = self._json_body(call)
        except AgentFrameworkError as exc:
            return error_envelope(exc, agent=agent.name)
        try:
            request = normalize_request(body)
        except InvalidRequestError as exc:
            return error_reply(400, exc.code, exc.message, agent=agent.name,
                               session_id=body.get("session_id") if isinstance(body.get("session_id"), str)
                               and SESSION_ID_PATTERN.match(body["session_id"]) else None)
        try:
            request = keyed_request(request, call.header(IDEMPOTENCY_HEADER))
        except InvalidRequestError as exc:
            return error_reply(400, exc.code, exc.message, agent=agent.name)
        runner = self.runners[agent.name]
        if self.turns.wants_async(call, body) or self._wants_stream(call, request, agent):
            # A session whose turn waits for approval refuses the message with a JSON 409 before anything is
            # queued or streamed (the synchronous turn below answers it from the Runner).
            waiting = await waiting_turn(self.session_store, request, agent.name)
            if waiting is not None:
                return approval_pending_reply(waiting, self.api_base)
        if self.turns.wants_async(call, body):
            # A keyed turn's session is the one a synchronous retry of the same key would use.
            return await self.turns.submit(agent, runner.keyed_session(request))
        if self._wants_stream(call, request, agent):
            # The turn runs on its own task: a client that disconnects does not stop it (see live.py).
            keep = self.session_store if agent.enable_conversational_agent else None
            events = runner.run_stream(request)
            if request.turn_id is not None:  # a retry finding its turn running gets 409, not a stream
                events, refused = await refused_before_start(events)
                if refused is not None:
                    return chat_reply(refused)
            turn = StreamedTurn(events, keep, owner=request.user_id).start()
            return HttpReply(status=200, media_type=SSE_TYPE, headers=dict(SSE_HEADERS), stream=turn.body())
        response = await runner.run(request)
        if response.error_code == ApprovalPendingError.code:
            return approval_pending_reply(response, self.api_base)
        return chat_reply(response)

    async def mcp(self, call: HttpCall) -> HttpReply:
        """Agents as MCP tools, answered by the ``mcp`` SDK's server (imported on the first MCP request)."""
        if self._mcp is None:
            try:
                require_extra("mcp", "The MCP endpoint", "mcp")
                from ..mcp.endpoint import MCPEndpoint
            except ModuleNotFoundError as exc:
                raise missing_extra("The MCP endpoint", "mcp", exc) from exc
            self._mcp = MCPEndpoint(self.runners, max_body_bytes=self.max_body_bytes,
                                    approvals_url=self.approvals.url)
        status, headers, body = await self._mcp.handle(call.method, call.path, call.headers, call.body,
                                                       user_id=call.query.get("user_id") or None)
        media_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
        if status >= 400 and not _is_json(body):
            # The SDK answers some transport errors in plain text: give them the JSON error envelope.
            text = body.decode("utf-8", "replace").strip().splitlines()[0][:200] if body.strip() else ""
            return error_reply(status, InvalidRequestError.code if status < 500 else AgentFrameworkError.code,
                               f"The MCP request was not accepted: {text or 'HTTP ' + str(status)}")
        media_type = media_type or JSON_TYPE
        headers = {k: v for k, v in headers.items() if k.lower() not in ("content-type", "content-length")}
        return HttpReply(status=status, headers=headers, body=body, media_type=media_type)

    async def session(self, call: HttpCall) -> HttpReply:
        session_id = call.route_params.get("session_id", "")
        if not SESSION_ID_PATTERN.match(session_id):
            return error_reply(400, "invalid_request", SESSION_ID_RULE)
        user_id = call.query.get("user_id") or None
        try:
            offset, limit = history_page_query(call.query)
        except InvalidRequestError as exc:
            return error_reply(400, exc.code, exc.message, session_id=session_id)
        deleting = call.method.upper() == "DELETE"
        # One page of the history, never the whole of a long conversation at once (DELETE reads none of it).
        page = await self.session_store.read_history(session_id, offset, 0 if deleting else limit)
        session = page.session if page is not None else None
        if page is None or session is None or not owned_by(session.user_id, user_id):
            return error_envelope(SessionNotFoundError.for_id(session_id), session_id=session_id)
        if deleting:
            await self.session_store.delete(session_id)
            return HttpReply(status=204, body=b"")
        body = session.to_dict()
        body.update(messages=[m.to_dict() for m in page.messages], message_count=page.total, offset=offset,
                    next_offset=page.next_offset)
        return json_reply(body)

    async def session_stream(self, call: HttpCall) -> HttpReply:
        """Resume a streamed turn after an event id (``after`` or ``Last-Event-ID``); owner only."""
        return await self.resumer.reply(call)

    async def session_turn(self, call: HttpCall) -> HttpReply:
        """A background turn's status and answer (``GET``), or cancel it (``DELETE``); owner only."""
        return await self.turns.turn(call)

    async def turn_approvals(self, call: HttpCall) -> HttpReply:
        """A person's decisions on a paused turn's tool calls; the reply is the resumed turn's. Owner only."""
        try:
            body = self._json_body(call)
        except AgentFrameworkError as exc:
            return error_envelope(exc, session_id=call.route_params.get("session_id"))
        return await self.approvals.decide(call, body)

    # Helpers ----------------------------------------------------------------------------------------------
    def _agent(self, call: HttpCall) -> Agent:
        name = call.route_params.get("agent_name", "")
        agent = self.agents.get(name)
        if agent is None:
            raise AgentNotFoundError.named(name, self.agents)
        return agent

    def _json_body(self, call: HttpCall) -> dict[str, Any]:
        if len(call.body) > self.max_body_bytes:
            raise PayloadTooLargeError(f"The request body is larger than {self.max_body_bytes} bytes.")
        if not call.body.strip():
            raise InvalidRequestError('The request body must be a JSON object such as {"message": "Hello"}.')
        try:
            data = json.loads(call.body.decode("utf-8"))
        except UnicodeDecodeError:
            raise InvalidRequestError("The request body must be UTF-8 encoded JSON.") from None
        except (ValueError, RecursionError):
            raise InvalidRequestError("The request body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise InvalidRequestError('The request body must be a JSON object such as {"message": "Hello"}.')
        return data

    @staticmethod
    def _wants_stream(call: HttpCall, request: ChatRequest, agent: Agent) -> bool:
        accept = call.header("accept") or ""
        return request.stream or SSE_TYPE in accept or (agent.streaming and "application/json" not in accept)

    def _agent_routes(self, name: str) -> dict[str, str]:
        """The agent's URL paths, the prefix included (the deprecated aliases are not advertised)."""
        routes: dict[str, str] = {}
        for spec in self.routes.values():
            if "{agent_name}" in spec.route and not spec.deprecated:
                routes[spec.handler if spec.handler != "a2a_rpc" else "a2a"] = self._paths[spec.name].replace(
                    "{agent_name}", name)
        return routes


def _is_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


def chat_reply(response: ChatResponse) -> HttpReply:
    """The chat route's JSON: the response (also a turn paused for approval), or the error envelope with the
    turn's status."""
    if response.status in ("success", "awaiting_approval"):
        return json_reply(response.to_dict())
    status = response.status_code or 500
    message = response.error or "The turn failed."
    headers: dict[str, str] = {}
    if status == 429:
        headers["Retry-After"] = str(max(1, round(response.retry_after or 1)))
    elif response.error_code in RETRY_SOON_CODES:  # the same turn id works again in a moment
        headers["Retry-After"] = "1"
    if status >= 500 and response.error_code == AgentFrameworkError.code:
        message = AGENT_FAILED_MESSAGE
    return error_reply(status, response.error_code or AGENT_ERROR, message, agent=response.agent,
                       session_id=response.session_id, headers=headers)
