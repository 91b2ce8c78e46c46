"""The A2A side of an ``AgentMode.A2A`` app: its routes and their handlers, transport-neutral.

Every agent of the app is an A2A agent: its card at ``/api/agents/{name}/.well-known/agent-card.json`` and its
JSON-RPC endpoint at ``/api/agents/{name}/a2a``; the root ``/.well-known/agent-card.json`` (and the legacy
``agent.json``) is the default agent's card. The ``a2a`` SDK is imported on the first A2A request, never while
the Functions host indexes the app.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING

from .. import settings
from ..errors import AgentNotFoundError, require_extra
from ..http.calls import HttpCall, HttpReply, error_envelope
from ..http.pipeline import Handler, bounded
from ..http.routes import RouteSpec
from .routes import A2A_ROUTES

if TYPE_CHECKING:
    from ..agent import Agent
    from ..background.service import BackgroundTurns
    from ..runner import Runner
    from ..sessions.base import SessionStore
    from .endpoint import A2AEndpoint

logger = logging.getLogger("azurefunctions.agents.a2a")


class A2AServer:
    """Handlers of the A2A routes. ``rpc_auth_level`` is the JSON-RPC route's auth level (its card's security)."""

    def __init__(self, *, agents: Mapping[str, Agent], runners: Mapping[str, Runner], session_store: SessionStore,
                 default_agent: str | None, rpc_auth_level: str, max_body_bytes: int,
                 background: BackgroundTurns | None = None, api_base: str = "/api", streaming: bool = True) -> None:
        require_extra("a2a", "AgentMode.A2A", "a2a")
        self.agents = agents
        self.runners = runners
        self.session_store = session_store
        self.default_agent = default_agent
        self.rpc_auth_level = rpc_auth_level
        self.max_body_bytes = max_body_bytes
        #: Whether the app's responses stream as they are produced (the cards' ``capabilities.streaming``).
        self.streaming = streaming
        #: The app's background work, when it runs any: non-blocking sends are queued there.
        self.background = background
        #: Where the app's ``api/`` paths are served (host.json's routePrefix): the cards' endpoint URLs.
        self.api_base = api_base
        self.route_specs: list[RouteSpec] = list(A2A_ROUTES)
        self._endpoints: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, A2AEndpoint]] = (
            weakref.WeakKeyDictionary())

    def serves(self, spec: RouteSpec) -> bool:
        return spec in self.route_specs

    def handler_for(self, spec: RouteSpec) -> Handler:
        """The handler of one of the A2A routes."""
        if spec.handler == "a2a_rpc":
            return self.rpc

        async def card(call: HttpCall) -> HttpReply:
            dialect = "0.3" if spec.handler.endswith("_v03") or call_dialect(call) == "0.3" else "1.0"
            if spec.handler.startswith("a2a_root_card"):
                return self.card(call, self.default_agent or "", dialect)
            return self.card(call, call.route_params.get("agent_name", ""), dialect)

        return card

    async def dispatch(self, spec: RouteSpec, call: HttpCall) -> HttpReply:
        """Run the route's handler behind the method check and the error boundary (http/pipeline.py)."""
        return await bounded(spec, self.handler_for(spec))(call)

    # Handlers ---------------------------------------------------------------------------------------------
    def card(self, call: HttpCall, name: str, dialect: str = "1.0") -> HttpReply:
        """The agent's card: the A2A 1.0 form, or the 0.3 form at the 0.3 paths and for a request saying
        ``A2A-Version: 0.3``."""
        from .cards import CARD_CACHE_CONTROL, build_card, card_json

        agent = self.agents.get(name)
        if agent is None:
            return self._unknown_agent(name)
        card = build_card(agent, base_url=self.base_url(call), auth_level=self.rpc_auth_level,
                          api_base=self.api_base, streaming=self.streaming)
        body, etag = card_json(card, dialect)
        headers = {"Cache-Control": CARD_CACHE_CONTROL, "ETag": etag, "Vary": "A2A-Version"}
        if _matches(call.header("if-none-match"), etag):
            return HttpReply(status=304, headers=headers, body=b"")
        return HttpReply(status=200, headers=headers, body=body)

    async def rpc(self, call: HttpCall) -> HttpReply:
        name = call.route_params.get("agent_name", "")
        if name not in self.agents:
            return self._unknown_agent(name)
        return await self.endpoint(name, call).handle(call)

    def endpoint(self, name: str, call: HttpCall) -> A2AEndpoint:
        """The agent's endpoint on this event loop (the SDK's handler keeps loop-bound state)."""
        per_loop = self._endpoints.setdefault(asyncio.get_running_loop(), {})
        if name not in per_loop:
            from .cards import build_card
            from .endpoint import A2AEndpoint

            card = build_card(self.agents[name], base_url=self.base_url(call), auth_level=self.rpc_auth_level,
                              api_base=self.api_base, streaming=self.streaming)
            per_loop[name] = A2AEndpoint(self.runners[name], self.session_store, card,
                                         max_body_bytes=self.max_body_bytes, background=self.background_work)
        return per_loop[name]

    def background_work(self) -> BackgroundTurns | None:
        """The app's background work: the one given, else the one the app created for the same session store
        (``AgentFunctionApp(background=True)``), else ``None``."""
        if self.background is None and "azurefunctions.agents.background.service" in sys.modules:
            from ..background.service import background_of

            self.background = background_of(self.session_store)
        return self.background

    @staticmethod
    def base_url(call: HttpCall) -> str:
        return (settings.PUBLIC_URL.get() or call.base_url or "").rstrip("/")

    async def aclose(self) -> None:
        """Drain running tasks of the current loop's endpoints (local host shutdown, tests)."""
        try:
            per_loop = self._endpoints.pop(asyncio.get_running_loop(), {})
        except RuntimeError:
            return
        for endpoint in per_loop.values():
            await endpoint.aclose()

    def _unknown_agent(self, name: str) -> HttpReply:
        return error_envelope(AgentNotFoundError.named(name, self.agents))


def call_dialect(call: HttpCall) -> str:
    """``"0.3"`` when the request names A2A 0.x in ``A2A-Version`` (header or query), else ``"1.0"``."""
    version = (call.header("a2a-version") or call.query.get("A2A-Version") or "").strip()
    return "0.3" if version.startswith("0.") else "1.0"


def _matches(if_none_match: str | None, etag: str) -> bool:
    """Weak comparison of ``If-None-Match`` candidates with the card's ETag (RFC 9110 §13.1.2)."""
    if not if_none_match:
        return False
    candidates = [c.strip().removeprefix("W/") for c in if_none_match.split(",")]
    return "*" in candidates or etag.removeprefix("W/") in candidates

