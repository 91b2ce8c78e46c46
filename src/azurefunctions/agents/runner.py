"""``Runner``: runs an agent's turns, framework-agnostic (no HTTP in here).

One loop, and it is a stream of events: ``run_stream`` yields them as they happen; ``run`` is the same events
collected into a ``ChatResponse``. A turn loads the session, runs the model/tool loop (and handoffs), then
saves the session, so any trigger (HTTP, queue, timer, a test) gets identical behaviour. The turn itself is
run/execute.py (session load and save) and run/loop.py (how an agent answers); this module is their public face.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

from .agent import Agent
from .errors import AGENT_ERROR, InvalidRequestError
from .events import AgentEvent, TextDelta, TurnCompleted, TurnFailed, TurnStarted
from .handoff.override import overrides_process_request
from .run.execute import TurnExecutor, collect
from .run.request import as_response, normalize_request
from .sessions.base import SessionStore
from .types import ChatRequest, ChatResponse


class Runner(TurnExecutor):
    """Executes one agent's turns, with sessions from ``session_store``.

    ``agents`` is the registry of agents this runner may hand off to (an ``AgentFunctionApp`` passes all of
    its agents); a runner built from one agent knows only that agent and its handoff targets.
    """

    def __init__(self, agent: Agent, *, session_store: SessionStore | None = None,
                 agents: Mapping[str, Agent] | None = None) -> None:
        if not isinstance(agent, Agent):
            raise TypeError(f"Runner() expects an Agent, got {type(agent).__name__}")
        super().__init__(agent, session_store=session_store, agents=agents)

    @classmethod
    def for_agent(cls, agent: Agent) -> Runner:
        """The runner currently running ``agent`` (inside ``Runner.run``), else a new one."""
        return super().for_agent(agent)

    # Public API -------------------------------------------------------------------------------------------
    async def run(self, request: ChatRequest | Mapping[str, Any] | str) -> ChatResponse:
        """Run one turn through ``agent.process_request`` and return its response; never raises for a
        failed turn (the response says ``status="error"``)."""
        try:
            chat_request = normalize_request(request)
        except InvalidRequestError as exc:
            return ChatResponse(status="error", agent=self.agent.name, error=exc.message, error_code=exc.code)
        with self.running():
            # A subclass's override gets the README's ``request_data`` dict; the base implementation takes the
            # validated request as it is (no second validation per turn).
            overridden = overrides_process_request(self.agent)
            result = await self.agent.process_request(chat_request.model_dump() if overridden else chat_request)
        return as_response(result, self.agent.name, chat_request)

    def run_sync(self, request: ChatRequest | Mapping[str, Any] | str) -> ChatResponse:
        """``run`` for synchronous code (not inside a running event loop)."""
        return asyncio.run(self.run(request))

    async def run_stream(self, request: ChatRequest | Mapping[str, Any] | str) -> AsyncIterator[AgentEvent]:
        """The turn's events as they happen, ending with ``TurnCompleted`` or ``TurnFailed``."""
        if not overrides_process_request(self.agent):
            async for event in self.events(request, stream=True):
                yield event
            return
        # A subclass customises process_request: its result is authoritative, so stream it as one turn.
        response = await self.run(request)
        yield TurnStarted(session_id=response.session_id, agent=response.agent or self.agent.name,
                          turn_id=uuid.uuid4().hex)
        if response.status == "success":
            if response.response:
                yield TextDelta(agent=response.agent or self.agent.name, text=response.response)
            yield TurnCompleted(response=response)
        else:
            yield TurnFailed(code=response.error_code or AGENT_ERROR, message=response.error or "",
                             agent=response.agent, session_id=response.session_id, response=response)

    # Handoffs through the Runner (the seed README's runner-based API) -------------------------------------
    def can_handoff_to(self, target_agent: str) -> bool:
        """Whether ``target_agent`` is one of this agent's handoff targets and can be reached."""
        config = self.agent.handoff_config
        return (config is not None and config.target(target_agent) is not None
                and target_agent in self.agents)

    async def handoff_to(self, target_agent: str, input_data: Any = None, conversation_id: str | None = None,
                         reason: str | None = None, *, user_id: str | None = None) -> ChatResponse:
        """Hand work to another agent directly; its ``ChatResponse`` records the path and the reason.

        ``input_data`` is a message string, or a dict: with ``message`` it is a request; without, the dict is
        given to the target as JSON text and as its context.
        """
        if not self.can_handoff_to(target_agent):
            targets = [t.agent_name for t in self.agent.handoff_config.targets] if self.agent.handoff_config else []
            return ChatResponse(status="error", agent=self.agent.name, error_code="handoff_refused",
                                error=f"{self.agent.name} cannot hand off to {target_agent!r}; its targets are: "
                                      f"{', '.join(targets) or 'none'}", session_id=conversation_id,
                                status_code=409)
        if isinstance(input_data, Mapping) and "message" in input_data:
            request: dict[str, Any] = dict(input_data)
        elif isinstance(input_data, Mapping):
            request = {"message": json.dumps(dict(input_data), default=str), "context": dict(input_data)}
        else:
            request = {"message": str(input_data) if input_data is not None else reason or "Continue."}
        request.setdefault("session_id", conversation_id)
        if user_id is not None:
            request.setdefault("user_id", user_id)
        target = self.agents[target_agent]
        runner = Runner(target, session_store=self.session_store, agents=self.agents)
        response = await runner.run(request)
        response.handoff_path = [self.agent.name, *response.handoff_path]
        response.metadata["handoff_reason"] = reason
        return response


__all__ = ["Runner", "collect", "normalize_request"]
