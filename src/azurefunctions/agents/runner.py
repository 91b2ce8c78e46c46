"""``Runner``: runs an agent's turns, framework-agnostic (no HTTP in here).

One loop, and it is a stream of events: ``run_stream`` yields them as they happen; ``run`` is the same events
collected into a ``ChatResponse``. A turn loads the session, runs the model/tool loop (and handoffs), then
saves the session, so any trigger (HTTP, queue, timer, a test) gets identical behaviour.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

from . import settings
from .agent import Agent
from .errors import (
    AGENT_ERROR,
    AGENT_FAILED_MESSAGE,
    INTERNAL_ERROR,
    AgentFrameworkError,
    InvalidOutputError,
    InvalidRequestError,
    MaxTurnsExceededError,
    MissingExtraError,
    ProviderRateLimitError,
    SessionNotFoundError,
    owned_by,
)
from .events import (
    AgentEvent,
    TextDelta,
    ToolCallCompleted,
    ToolCallStarted,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
    UsageReported,
)
from .handoff.config import ControlReturn
from .handoff.engine import HandoffEngine
from .handoff.override import (
    answer_through_override,
    continue_step,
    current_step_for,
    overrides_process_request,
    runs_through_override,
)
from .handoff.tools import AskTool, HandoffTool
from .interrupts import METADATA_KEY as INPUT_REQUIRED
from .interrupts import InputRequired
from .limits import check_message, split_tool_calls, too_many_tool_calls_result, tool_call_limit
from .messages import Message, ToolCall, Usage, history_window
from .providers.base import ModelRequest, ModelResponse
from .run.request import as_response, normalize_request
from .run.strategy import TurnStrategy
from .run.turn import Final, FinalText, Turn
from .sessions.base import Session, SessionStore
from .structured_output import OutputInvalid
from .telemetry import instrumentation
from .tools.base import Tool, ToolContext, ToolOutput
from .types import ChatRequest, ChatResponse, ToolCallRecord

logger = logging.getLogger("azurefunctions.agents")

_current_runner: contextvars.ContextVar[Runner | None] = contextvars.ContextVar("current_runner", default=None)
_default_store: SessionStore | None = None


def _process_default_store() -> SessionStore:
    """Programmatic runners share one in-memory store per process unless given one."""
    global _default_store
    if _default_store is None:
        from .sessions.memory import MemorySessionStore

        # Bounded: sessions of programmatic runs expire after an hour idle instead of accumulating forever.
        _default_store = MemorySessionStore(ttl_seconds=3600)
    return _default_store


class Runner:
    """Executes one agent's turns, with sessions from ``session_store``.

    ``agents`` is the registry of agents this runner may hand off to (an ``AgentFunctionApp`` passes all of
    its agents); a runner built from one agent knows only that agent and its handoff targets.
    """

    def __init__(self, agent: Agent, *, session_store: SessionStore | None = None,
                 agents: Mapping[str, Agent] | None = None) -> None:
        if not isinstance(agent, Agent):
            raise TypeError(f"Runner() expects an Agent, got {type(agent).__name__}")
        self.agent = agent
        self.session_store = session_store if session_store is not None else _process_default_store()
        self.agents: dict[str, Agent] = dict(agents or {})
        self.agents.setdefault(agent.name, agent)
        self._handoffs: HandoffEngine | None = None

    @property
    def handoffs(self) -> HandoffEngine:
        if self._handoffs is None:
            self._handoffs = HandoffEngine(self.agents, self._answer)
        return self._handoffs

    @classmethod
    def for_agent(cls, agent: Agent) -> Runner:
        """The runner currently running ``agent`` (inside ``Runner.run``), else a new one."""
        current = _current_runner.get()
        if current is not None and current.agent is agent:
            return current
        return cls(agent)

    # Public API -------------------------------------------------------------------------------------------
    async def run(self, request: ChatRequest | Mapping[str, Any] | str) -> ChatResponse:
        """Run one turn through ``agent.process_request`` and return its response; never raises for a
        failed turn (the response says ``status="error"``)."""
        try:
            chat_request = normalize_request(request)
        except InvalidRequestError as exc:
            return ChatResponse(status="error", agent=self.agent.name, error=exc.message, error_code=exc.code)
        token = _current_runner.set(self)
        try:
            # A subclass's override gets the README's ``request_data`` dict; the base implementation takes the
            # validated request as it is (no second validation per turn).
            overridden = overrides_process_request(self.agent)
            result = await self.agent.process_request(chat_request.model_dump() if overridden else chat_request)
        finally:
            _current_runner.reset(token)
        return as_response(result, self.agent.name, chat_request)

    def run_sync(self, request: ChatRequest | Mapping[str, Any] | str) -> ChatResponse:
        """``run`` for synchronous code (not inside a running event loop)."""
        return asyncio.run(self.run(request))

    async def run_stream(self, request: ChatRequest | Mapping[str, Any] | str) -> AsyncIterator[AgentEvent]:
        """The turn's events as they happen, ending with ``TurnCompleted`` or ``TurnFailed``."""
        if not overrides_process_request(self.agent):
            async for event in self._events(request, stream=True):
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

    async def _execute(self, request: ChatRequest | Mapping[str, Any] | str) -> ChatResponse:
        """The base ``process_request``: the event loop, collected; for a handoff target called from its
        override, the target's part of the running turn."""
        step = current_step_for(self.agent)
        if step is not None:
            return await continue_step(step, request)
        return await collect(self._events(request, stream=False))

    # The loop ---------------------------------------------------------------------------------------------
    async def _events(self, raw: ChatRequest | Mapping[str, Any] | str, *,
                      stream: bool) -> AsyncIterator[AgentEvent]:
        turn: Turn | None = None
        try:
            request = normalize_request(raw)
            check_message(request.message, settings.get_int(settings.MAX_MESSAGE_CHARS))
            session = await self._load_session(request)
            turn = Turn(request=request, session=session, agent=self.agent)
            yield TurnStarted(session_id=turn.session_id, agent=self.agent.name, turn_id=turn.turn_id)
            history = list(session.messages) if session is not None else []
            history.append(Message(role="user", content=request.message))
            with instrumentation().invoke_agent(agent=self.agent, conversation_id=turn.session_id) as span:
                answer = FinalText(self._answer(turn, self.agent, history, stream))
                try:
                    async for event in answer:
                        yield event
                except AgentFrameworkError as exc:
                    span.record_error(exc.code)
                    raise
                text = answer.text
                if turn.structured is not None and text != turn.structured.dump_json(turn.output):
                    # A loop around the agent's (reflection) chose another of its validated answers.
                    turn.output = turn.structured.validate(text)
                span.set("gen_ai.usage.input_tokens", turn.usage.input_tokens)
                span.set("gen_ai.usage.output_tokens", turn.usage.output_tokens)
            if session is not None and turn.metadata.get("conversation_ended"):
                await self.session_store.delete(session.id)
            elif session is not None:
                # Store what the turn added after the window it loaded, never the whole history again.
                session.active_agent = turn.answered_by or turn.agent.name
                await self.session_store.append(session, history[len(session.messages):])
            yield TurnCompleted(response=turn.response(text))
        except AgentFrameworkError as exc:
            if not isinstance(exc, InvalidRequestError | SessionNotFoundError):
                logger.warning("turn of agent %s failed: %s", self.agent.name, exc.message)
            yield _failure(exc, turn, self.agent.name)
        except Exception:
            logger.exception("turn of agent %s failed", self.agent.name)
            yield _failure(AgentFrameworkError(AGENT_FAILED_MESSAGE), turn,
                           self.agent.name)

    def _answer(self, turn: Turn, agent: Agent, history: list[Message], stream: bool) -> AsyncIterator[Any]:
        """The agent's answer, through its handoff configuration when it has targets (and through its
        ``process_request`` override when a handoff reached it: handoff/override.py)."""
        if runs_through_override(turn, agent):
            return answer_through_override(self._answer, turn, agent, history, stream)
        config = agent.handoff_config
        if config is not None and config.targets:
            return self.handoffs.answer_turn(turn, agent, history, stream, self._own_answer)
        return self._own_answer(turn, agent, history, stream)

    def _own_answer(self, turn: Turn, agent: Agent, history: list[Message], stream: bool) -> AsyncIterator[Any]:
        """The agent's own loop, or the agent's strategy around it (a ``ReflectionAgent`` reflects)."""
        if isinstance(agent, TurnStrategy):
            return agent.answer_turn(turn, agent, history, stream, self._agent_loop)
        return self._agent_loop(turn, agent, history, stream)

    async def _agent_loop(self, turn: Turn, agent: Agent, history: list[Message],
                          stream: bool) -> AsyncIterator[Any]:
        """Model call, tool calls, repeat: until the model answers without tools or ``max_turns``."""
        tools = await agent.list_tools()
        if agent.handoff_config is not None:
            tools += self.handoffs.tools_for(agent)
        tool_map = {tool.name: tool for tool in tools}
        provider = agent.provider
        config = agent.llm_config
        structured = agent.structured_output
        # An answer that did not match ``output_type`` and the correction: shown to the model once, not saved.
        correction: list[Message] = []
        for _ in range(agent.max_turns):
            request = ModelRequest(
                model=config.model_name, system=agent.instructions or None,
                messages=[*history_window(history, agent.history_window), *correction],
                tools=[tool.spec() for tool in tools], temperature=config.temperature,
                max_tokens=config.max_tokens, stream=stream,
                output=structured.spec if structured is not None else None,
            )
            result: ModelResponse | None = None
            with instrumentation().chat(agent=agent, provider=provider, request=request) as span:
                try:
                    async for item in provider.stream(request):
                        if isinstance(item, ModelResponse):
                            result = item
                        else:
                            yield TextDelta(agent=agent.name, text=item.text)
                except AgentFrameworkError as exc:
                    span.record_error(exc.code)
                    raise
                if result is not None:
                    span.record_response(result)
            if result is None:
                raise AgentFrameworkError("the model returned no response", code="provider_error", status=502)
            turn.usage.add(result.usage)
            yield UsageReported(agent=agent.name, model=result.model or config.model_name,
                                input_tokens=result.usage.input_tokens, output_tokens=result.usage.output_tokens)
            text, output = result.text, None
            if structured is not None and not result.tool_calls:
                try:
                    output = structured.validate(text)
                except OutputInvalid as problem:
                    if correction:
                        raise InvalidOutputError(
                            f"Agent {agent.name} answered twice with output that does not match "
                            f"{structured.name}: {problem}") from None
                    correction = [Message(role="assistant", content=text, agent=agent.name),
                                  Message(role="user", content=structured.correction(problem))]
                    continue
                text = structured.dump_json(output)
            if result.tool_calls:  # tool calls answer the correction: it becomes part of the conversation
                history.extend(correction)
                correction = []
            history.append(Message(role="assistant", content=text, tool_calls=result.tool_calls,
                                   agent=agent.name))
            if not result.tool_calls:
                turn.answered_by = agent.name
                turn.output, turn.structured = output, structured
                turn.contributions.append({"agent": agent.name, "response": text})
                yield Final(text)
                return
            for call in result.tool_calls:
                yield ToolCallStarted(agent=agent.name, call_id=call.id, name=call.name, arguments=call.arguments)
            limit = tool_call_limit()
            allowed, refused = split_tool_calls(result.tool_calls, limit)
            outputs = [*await asyncio.gather(*(self._call_tool(turn, agent, tool_map, call) for call in allowed)),
                       *(ToolOutput(too_many_tool_calls_result(limit), is_error=True) for _ in refused)]
            while turn.pending_events:
                yield turn.pending_events.pop(0)
            for call, output in zip(result.tool_calls, outputs, strict=True):
                turn.tool_calls.append(ToolCallRecord(id=call.id, name=call.name, arguments=call.arguments,
                                                      result=output.content, is_error=output.is_error,
                                                      agent=agent.name))
                history.append(Message(role="tool", content=output.content, tool_call_id=call.id, name=call.name,
                                       is_error=output.is_error, agent=agent.name))
                yield ToolCallCompleted(agent=agent.name, call_id=call.id, name=call.name, result=output.content,
                                        is_error=output.is_error)
            if INPUT_REQUIRED in turn.metadata:  # ends the turn: the question is the answer the user sees
                question = str(turn.metadata[INPUT_REQUIRED]["question"])
                history.append(Message(role="assistant", content=question, agent=agent.name))
                turn.answered_by = agent.name
                yield Final(question)
                return
            if turn.transfer is not None:
                tool, reason = turn.transfer
                turn.transfer = None
                async for event in self.handoffs.transfer(turn, agent, tool, reason, history, stream):
                    yield event
                return
        raise MaxTurnsExceededError(
            f"Agent {agent.name} did not finish within max_turns={agent.max_turns} model calls; "
            "raise max_turns or simplify the task.")

    async def _call_tool(self, turn: Turn, agent: Agent, tools: dict[str, Tool], call: ToolCall) -> ToolOutput:
        tool = tools.get(call.name)
        if tool is None:
            return ToolOutput(f"Tool {call.name!r} is not available to agent {agent.name}. "
                              f"Available tools: {', '.join(sorted(tools)) or 'none'}.", is_error=True)
        if call.invalid_arguments is not None:
            return ToolOutput(f"Invalid arguments for tool {call.name}: not a JSON object: "
                              f"{call.invalid_arguments[:200]}", is_error=True)
        context = ToolContext(agent_name=agent.name, session_id=turn.session_id, user_id=turn.request.user_id,
                              call_id=call.id,
                              context=dict(turn.context_by_agent.get(agent.name, turn.request.context)))
        with instrumentation().execute_tool(agent=agent, tool=tool, call=call) as span:
            try:
                if isinstance(tool, HandoffTool):
                    output = await self._call_handoff_tool(turn, agent, tool, call)
                else:
                    output = await tool.invoke(call.arguments, context)
            except MissingExtraError:  # the deployment lacks an extra: fail the turn with its name
                raise
            except InputRequired as exc:  # the agent needs the user's answer: the turn ends after this call
                turn.metadata[INPUT_REQUIRED] = exc.request.to_dict()
                output = ToolOutput(f"Asked the user: {exc.request.question} (waiting for their answer)")
            except Exception as exc:  # a Tool implementation that raised instead of returning an error
                logger.exception("tool %s raised", call.name)
                output = ToolOutput(f"Tool {call.name} failed: {type(exc).__name__}", is_error=True)
            if output.is_error:
                span.record_error("tool_error")
            span.record_tool_result(output)
            return output

    async def _call_handoff_tool(self, turn: Turn, agent: Agent, tool: HandoffTool, call: ToolCall) -> ToolOutput:
        reason = call.arguments.get("reason") if isinstance(call.arguments.get("reason"), str) else None
        if isinstance(tool, AskTool):
            message = call.arguments.get("message")
            if not isinstance(message, str) or not message.strip():
                return ToolOutput(f"Invalid arguments for tool {tool.name}: message is required", is_error=True)
            return await self.handoffs.delegate(turn, agent, tool, message, f"asked by {agent.name}")
        if tool.control_return is ControlReturn.RETURN_TO_CALLER:
            return await self.handoffs.delegate(turn, agent, tool, turn.request.message, reason)
        why = self.handoffs.check_hop(turn, agent, tool.target.agent_name)
        if why is not None:
            return self.handoffs.refuse(turn, why)
        if turn.transfer is not None:
            return ToolOutput("Only one transfer per model turn; this one was ignored.", is_error=True)
        turn.transfer = (tool, reason)
        return ToolOutput(f"Transferred to {tool.target.agent_name}.")

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

    # Sessions ---------------------------------------------------------------------------------------------
    def _history_needed(self) -> int | None:
        """How many of the latest messages a turn may show a model: the widest window of any agent that can
        answer it (handoffs included); ``None`` (everything) when one of them sees the whole history."""
        windows = [agent.history_window for agent in self.agents.values()]
        return None if any(window is None for window in windows) else max(windows, default=0)

    async def _load_session(self, request: ChatRequest) -> Session | None:
        if not self.agent.enable_conversational_agent:
            return None
        if request.session_id is None:
            session_id = uuid.uuid4().hex
            # Reach the store before the model: a misconfigured store (say, a Cosmos DB container that does
            # not exist) fails the turn here, before a model call is paid for and its answer lost.
            await self.session_store.load_recent(session_id, 0)
            return Session(id=session_id, user_id=request.user_id, active_agent=self.agent.name)
        session = await self.session_store.load_recent(request.session_id, self._history_needed())
        if session is None:
            return Session(id=request.session_id, user_id=request.user_id, active_agent=self.agent.name)
        if not owned_by(session.user_id, request.user_id):
            # Someone else's session: answer as if it did not exist, so ids cannot be probed.
            raise SessionNotFoundError(f"session {request.session_id} was not found")
        return session


def _failure(exc: AgentFrameworkError, turn: Turn | None, agent_name: str) -> TurnFailed:
    response = ChatResponse(
        status="error", agent=turn.agent.name if turn else agent_name, error=exc.message, error_code=exc.code,
        session_id=turn.session_id if turn else None,
        context=dict(turn.request.context) if turn else {},
        usage=turn.usage if turn else Usage(), tool_calls=turn.tool_calls if turn else [],
        status_code=exc.status, retry_after=exc.retry_after if isinstance(exc, ProviderRateLimitError) else None,
    )
    return TurnFailed(code=exc.code, message=exc.message, status=exc.status, agent=response.agent,
                      session_id=response.session_id,
                      retry_after=exc.retry_after if isinstance(exc, ProviderRateLimitError) else None,
                      response=response)


async def collect(events: AsyncIterator[AgentEvent]) -> ChatResponse:
    """The ``ChatResponse`` a stream of turn events ends with."""
    final: ChatResponse | None = None
    async for event in events:
        if isinstance(event, TurnCompleted):
            final = event.response
        elif isinstance(event, TurnFailed):
            final = event.response or ChatResponse(
                status="error", error=event.message, error_code=event.code, agent=event.agent,
                session_id=event.session_id, status_code=event.status, retry_after=event.retry_after)
    if final is None:
        return ChatResponse(status="error", error="the turn produced no result", error_code=INTERNAL_ERROR)
    return final


__all__ = ["Runner", "collect", "normalize_request"]
