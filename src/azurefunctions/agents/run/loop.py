"""How an agent answers within a turn: the model/tool loop, and the strategies around it.

``AgentLoop.answer`` is the full answer of any agent in a turn: through a handoff target's
``process_request`` override (run/overrides.py), through the ``HandoffEngine`` (run/handoffs.py) when the
agent has targets, through the agent's own ``TurnStrategy`` (a ``ReflectionAgent`` reflects), or the plain
model/tool loop (``agent_loop``): model call, tool calls, repeat. Each yields the turn's events and ends with
one ``Final``; the turn around it (session, first and last events) is run/execute.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import (
    AgentFrameworkError,
    ConfigurationError,
    InvalidOutputError,
    MaxTurnsExceededError,
    MissingExtraError,
)
from ..events import TextDelta, ToolCallCompleted, ToolCallStarted, UsageReported
from ..handoff.config import ControlReturn
from ..handoff.tools import AskTool, HandoffTool
from ..interrupts import METADATA_KEY as INPUT_REQUIRED
from ..interrupts import InputRequired
from ..limits import split_tool_calls, too_many_tool_calls_result, tool_call_limit
from ..messages import Message, ToolCall, history_window
from ..providers.base import ModelRequest, ModelResponse
from ..structured_output import OutputInvalid
from ..telemetry import instrumentation
from ..tools.base import Tool, ToolContext, ToolOutput, approval_needed
from ..types import ToolCallRecord
from .handoffs import HandoffEngine
from .journal import idempotency_key, journal_partition
from .overrides import answer_through_override, runs_through_override
from .replay import AwaitingApproval, TurnClosing, TurnPaused, TurnReplay, model_step, recorded_response
from .strategy import TurnStrategy
from .turn import Final, Turn

if TYPE_CHECKING:
    from ..agent import Agent

logger = logging.getLogger("azurefunctions.agents")


class AgentLoop:
    """The answer loops of one turn's agents; ``agents`` is the registry handoff targets are found in."""

    def __init__(self, agents: Mapping[str, Agent]) -> None:
        self.agents = agents
        self._handoffs: HandoffEngine | None = None

    @property
    def handoffs(self) -> HandoffEngine:
        if self._handoffs is None:
            self._handoffs = HandoffEngine(self.agents, self.answer)
        return self._handoffs

    def answer(self, turn: Turn, agent: Agent, history: list[Message], stream: bool) -> AsyncIterator[Any]:
        """The agent's answer, through its handoff configuration when it has targets (and through its
        ``process_request`` override when a handoff reached it: run/overrides.py)."""
        if runs_through_override(turn, agent):
            return answer_through_override(self.answer, turn, agent, history, stream)
        config = agent.handoff_config
        if config is not None and config.targets:
            return self.handoffs.answer_turn(turn, agent, history, stream, self.own_answer)
        return self.own_answer(turn, agent, history, stream)

    def own_answer(self, turn: Turn, agent: Agent, history: list[Message], stream: bool) -> AsyncIterator[Any]:
        """The agent's own loop, or the agent's strategy around it (a ``ReflectionAgent`` reflects)."""
        if isinstance(agent, TurnStrategy):
            return agent.answer_turn(turn, agent, history, stream, self.agent_loop)
        return self.agent_loop(turn, agent, history, stream)

    async def agent_loop(self, turn: Turn, agent: Agent, history: list[Message],
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
            replay: TurnReplay | None = turn.replay
            model_key = replay.next_model_key(agent.name) if replay is not None else ""
            recorded = replay.recorded(model_key) if replay is not None else None
            if recorded is not None:  # answered before this turn was interrupted: not asked again
                result = recorded_response(recorded)
                if result.text:
                    yield TextDelta(agent=agent.name, text=result.text)
            elif replay is not None and replay.closing:
                raise TurnClosing
            else:
                if replay is not None:
                    replay.checkpoint()
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
                if result is not None and replay is not None:  # kept before it is acted on
                    await replay.record("model", model_step(model_key, agent.name, result))
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
            # Every call settles (and is recorded) before a pause or a failure of one of them ends the turn.
            settled = await asyncio.gather(*(self.call_tool(turn, agent, tool_map, call, model_key)
                                             for call in allowed), return_exceptions=True)
            for done in settled:
                if isinstance(done, BaseException):
                    raise done
            outputs = [*(done for done in settled if isinstance(done, ToolOutput)),
                       *(ToolOutput(too_many_tool_calls_result(limit), is_error=True) for _ in refused)]
            while turn.pending_events:
                yield turn.pending_events.pop(0)
            waiting = any(isinstance(output, AwaitingApproval) for output in outputs)
            for call, output in zip(result.tool_calls, outputs, strict=True):
                if isinstance(output, AwaitingApproval):
                    continue  # not run: it waits for a person (the others ran and are recorded)
                turn.tool_calls.append(ToolCallRecord(id=call.id, name=call.name, arguments=call.arguments,
                                                      result=output.content, is_error=output.is_error,
                                                      agent=agent.name))
                history.append(Message(role="tool", content=output.content, tool_call_id=call.id, name=call.name,
                                       is_error=output.is_error, agent=agent.name))
                yield ToolCallCompleted(agent=agent.name, call_id=call.id, name=call.name, result=output.content,
                                        is_error=output.is_error)
            if waiting:
                raise TurnPaused
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

    async def call_tool(self, turn: Turn, agent: Agent, tools: dict[str, Tool], call: ToolCall,
                        model_key: str = "") -> ToolOutput:
        """One tool call; in a journaled turn through ``TurnReplay.call`` (replayed, approved, or run once)."""
        tool = tools.get(call.name)
        replay: TurnReplay | None = turn.replay
        if tool is None and replay is not None:
            # It ran before the agent's definition changed: what it did stands (docs/crash-safety.md).
            recorded = replay.recorded_result(replay.tool_key(model_key, call.id))
            if recorded is not None:
                return recorded
        if tool is None:
            return ToolOutput(f"Tool {call.name!r} is not available to agent {agent.name}. "
                              f"Available tools: {', '.join(sorted(tools)) or 'none'}.", is_error=True)
        if call.invalid_arguments is not None:
            return ToolOutput(f"Invalid arguments for tool {call.name}: not a JSON object: "
                              f"{call.invalid_arguments[:200]}", is_error=True)
        context = ToolContext(agent_name=agent.name, session_id=turn.session_id, user_id=turn.request.user_id,
                              call_id=call.id,
                              context=dict(turn.context_by_agent.get(agent.name, turn.request.context)),
                              turn_id=turn.turn_id,
                              idempotency_key=idempotency_key(journal_partition(turn.session_id, turn.turn_id),
                                                              turn.turn_id, agent.name, call.id))
        if replay is None or isinstance(tool, HandoffTool):
            # Handoff tools are not recorded: they run again on replay and their target's calls replay.
            if replay is None and not isinstance(tool, HandoffTool) and tool.needs_approval is not False \
                    and await approval_needed(tool, call.arguments, context):
                raise ConfigurationError(
                    f"Tool {tool.name} of agent {agent.name} needs a person's approval, and this app's session "
                    "store keeps no turn state to wait for it: use the memory, SQLite or Cosmos DB store.")
            return (await self.run_tool(turn, agent, tool, call, context))[0]
        return await replay.call(tool, call, context, replay.tool_key(model_key, call.id),
                                 lambda: self.run_tool(turn, agent, tool, call, context))

    async def run_tool(self, turn: Turn, agent: Agent, tool: Tool, call: ToolCall,
                       context: ToolContext) -> tuple[ToolOutput, bool]:
        """Run the tool; the output and whether it is a result to record (not a question to the user, which is
        asked again when the turn replays)."""
        keep = True
        with instrumentation().execute_tool(agent=agent, tool=tool, call=call) as span:
            try:
                if isinstance(tool, HandoffTool):
                    output = await self.call_handoff_tool(turn, agent, tool, call)
                else:
                    output = await tool.invoke(call.arguments, context)
            except MissingExtraError:  # the deployment lacks an extra: fail the turn with its name
                raise
            except InputRequired as exc:  # the agent needs the user's answer: the turn ends after this call
                turn.metadata[INPUT_REQUIRED] = exc.request.to_dict()
                output = ToolOutput(f"Asked the user: {exc.request.question} (waiting for their answer)")
                keep = False
            except Exception as exc:  # a Tool implementation that raised instead of returning an error
                logger.exception("tool %s raised", call.name)
                output = ToolOutput(f"Tool {call.name} failed: {type(exc).__name__}", is_error=True)
            if output.is_error:
                span.record_error("tool_error")
            span.record_tool_result(output)
            return output, keep

    async def call_handoff_tool(self, turn: Turn, agent: Agent, tool: HandoffTool, call: ToolCall) -> ToolOutput:
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


__all__ = ["AgentLoop"]
