"""Running handoffs: what each ``HandoffMode`` and ``ControlReturn`` (handoff/config.py) does inside a turn.

The engine is a turn strategy (run/strategy.py): it works on the turn's state and on the answer loops it is
given (never on a Runner), so a handoff is part of the one event stream (``handoff`` events, the target's tool
events) and of one session. Every hop is checked against ``max_hops`` and against repeating an edge (A -> B
twice in one turn is a cycle); a refused hop is reported to the model as a tool error and in the response's
``handoff_stopped``.
"""

from __future__ import annotations

import json
import logging
import weakref
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from ..errors import AgentFrameworkError
from ..events import HandoffOccurred, TextDelta
from ..handoff.config import ControlReturn, HandoffConfig, HandoffMode, HandoffStrategy, HandoffTarget
from ..handoff.tools import AskTool, HandoffTool, TransferTool
from ..messages import Message
from ..providers.base import ModelRequest
from ..tools.base import Tool, ToolOutput
from .turn import Final, FinalText, Turn

if TYPE_CHECKING:
    from ..agent import Agent
    from .strategy import AnswerLoop

logger = logging.getLogger("azurefunctions.agents.handoff")

# State an agent's handoffs keep between turns, held here rather than on the agent (the agent is configuration):
# where ROUND_ROBIN continues, and the agent that asks the routing model when it has its own ``LLMConfig``.
_round_robin: weakref.WeakKeyDictionary[Agent, int] = weakref.WeakKeyDictionary()
_routing_agents: weakref.WeakKeyDictionary[Agent, Agent] = weakref.WeakKeyDictionary()


class Route(BaseModel):
    agent: str | None = None


class HandoffRefused(AgentFrameworkError):
    status = 409
    code = "handoff_refused"


def request_data(turn: Turn, message: str | None = None) -> dict[str, Any]:
    """The dict that conditions and ``transform_input`` receive (the seed README's ``request_data``)."""
    return {"message": message if message is not None else turn.request.message,
            "context": dict(turn.request.context), "user_id": turn.request.user_id,
            "session_id": turn.session_id}


class HandoffEngine:
    """The turn strategy of an agent with handoff targets.

    ``agents`` is the registry targets are found in; ``answer`` is the full answer loop of any agent (its own
    handoffs, strategy and ``process_request`` override included), used to let a target answer.
    """

    def __init__(self, agents: Mapping[str, Agent], answer: AnswerLoop) -> None:
        self.agents = agents
        self.answer = answer

    # Configuration --------------------------------------------------------------------------------------
    def target_agent(self, name: str) -> Agent:
        agent = self.agents.get(name)
        if agent is None:
            raise HandoffRefused(f"Agent {name!r} is not available for handoffs here; serve it in the same "
                                 "AgentFunctionApp (or pass Runner(agents=...)).")
        return agent

    def tools_for(self, agent: Agent) -> list[Tool]:
        """Transfer tools (SWARM) or ask tools (COORDINATOR) for an agent's targets."""
        config: HandoffConfig | None = agent.handoff_config
        if config is None or config.mode not in (HandoffMode.SWARM, HandoffMode.COORDINATOR):
            return []
        tools: list[Tool] = []
        for target in config.targets:
            known = self.agents.get(target.agent_name)
            description = target.description or (known.description if known else target.agent_name)
            control = target.control_return or config.control_return
            if config.mode is HandoffMode.SWARM:
                tools.append(TransferTool(target, description, control))
            else:
                tools.append(AskTool(target, description, control))
        return tools

    # Hops ------------------------------------------------------------------------------------------------
    def check_hop(self, turn: Turn, source: Agent, target_name: str) -> str | None:
        """Why the hop may not happen, or ``None`` when it may."""
        config: HandoffConfig | None = source.handoff_config
        max_hops = config.max_hops if config is not None else 0
        hops = len(turn.handoff_path) - 1
        if hops >= max_hops:
            return f"max_hops={max_hops} reached after {' -> '.join(turn.handoff_path)}"
        edge = (source.name, target_name)
        if edge in turn.handoff_edges:
            return f"cycle detected: {source.name} -> {target_name} again"
        if config is not None and config.target(target_name) is None:
            return f"{target_name} is not a handoff target of {source.name}"
        return None

    def record_hop(self, turn: Turn, source: Agent, target: str, reason: str | None) -> HandoffOccurred:
        turn.handoff_path.append(target)
        turn.handoff_edges.add((source.name, target))
        return HandoffOccurred(from_agent=source.name, to_agent=target, reason=reason)

    def refuse(self, turn: Turn, why: str) -> ToolOutput:
        turn.metadata["handoff_stopped"] = why
        return ToolOutput(f"Handoff refused: {why}. Answer the user yourself.", is_error=True)

    # Entry: the agent's answer, with pre-model routing and sequential chains ----------------------------
    async def answer_turn(self, turn: Turn, agent: Agent, history: list[Message], stream: bool,
                          loop: AnswerLoop) -> AsyncIterator[Any]:
        """``agent``'s answer: routed to a target before the model, a SEQUENTIAL chain, or ``loop`` (its own
        answer, where the model may call the transfer and ask tools)."""
        config = agent.handoff_config
        assert config is not None, "answer_turn is only used for agents with a handoff configuration"
        routed = await self._route_before_model(turn, agent, config)
        if routed is not None:
            target, reason = routed
            why = self.check_hop(turn, agent, target.agent_name)
            if why is None:
                yield self.record_hop(turn, agent, target.agent_name, reason)
                target_agent = self.target_agent(target.agent_name)
                self._narrow_context(turn, target)
                transformed = self._transformed_input(turn, target, turn.request.message)
                if transformed is not None:
                    history.append(Message(role="user", content=transformed))
                async for event in self.answer(turn, target_agent, history, stream):
                    yield event
                return
            turn.metadata["handoff_stopped"] = why
        if config.mode is HandoffMode.SEQUENTIAL:
            async for event in self._sequence(turn, agent, config, history, stream, loop):
                yield event
            return
        async for event in loop(turn, agent, history, stream):
            yield event

    async def _route_before_model(self, turn: Turn, agent: Agent,
                                  config: HandoffConfig) -> tuple[HandoffTarget, str] | None:
        data = request_data(turn)
        if config.mode is HandoffMode.CONDITIONAL or config.strategy is HandoffStrategy.FIRST_MATCH:
            for target in config.targets:
                if target.condition is not None and _truthy(target.condition, data, target):
                    return target, f"condition of {target.agent_name} matched"
        if config.strategy is HandoffStrategy.BEST_MATCH or config.enable_auto_routing:
            chosen = await self._best_match(turn, agent, config)
            if chosen is not None:
                return chosen, "best match chosen by the routing model"
        if config.strategy is HandoffStrategy.ROUND_ROBIN and config.mode is not HandoffMode.SEQUENTIAL:
            taken = _round_robin.get(agent, 0)
            target = config.targets[taken % len(config.targets)]
            _round_robin[agent] = taken + 1
            return target, "round robin"
        return None

    async def _best_match(self, turn: Turn, agent: Agent, config: HandoffConfig) -> HandoffTarget | None:
        options = []
        for target in config.targets:
            known = self.agents.get(target.agent_name)
            options.append(f"- {target.agent_name}: {target.description or (known.description if known else '')}")
        instructions = (
            (config.routing_instructions or "Choose the agent best suited for the user's request.")
            + "\nAgents:\n" + "\n".join(options)
            + f'\nReply with only a JSON object: {{"agent": "<name>"}}, or {{"agent": null}} if {agent.name} '
            "should answer itself."
        )
        routing_agent = agent if config.routing_llm_config is None else _routing_agent(agent, config)
        request = ModelRequest(model=routing_agent.llm_config.model_name, system=instructions, json_output=True,
                               messages=[Message(role="user", content=turn.request.message)], temperature=0.0)
        response = await routing_agent.provider.complete(request)
        turn.usage.add(response.usage)
        try:
            choice = Route.model_validate(json.loads(_json_object(response.text))).agent
        except (ValueError, ValidationError):
            logger.warning("routing reply of %s was not valid JSON; %s answers itself", agent.name, agent.name)
            return None
        return config.target(choice) if choice else None

    async def _sequence(self, turn: Turn, agent: Agent, config: HandoffConfig, history: list[Message],
                        stream: bool, loop: AnswerLoop) -> AsyncIterator[Any]:
        """SEQUENTIAL: the agent answers, then each target in order works on the previous answer."""
        own = FinalText(loop(turn, agent, history, stream))
        async for event in own:
            yield event
        text = own.text
        previous = agent
        for target in config.targets:
            why = self.check_hop(turn, previous, target.agent_name) if previous is agent else None
            if why is None and len(turn.handoff_path) - 1 >= config.max_hops:
                why = f"max_hops={config.max_hops} reached after {' -> '.join(turn.handoff_path)}"
            if why is not None:
                turn.metadata["handoff_stopped"] = why
                break
            yield self.record_hop(turn, previous, target.agent_name, "sequential chain")
            target_agent = self.target_agent(target.agent_name)
            self._narrow_context(turn, target)
            step_input = self._transformed_input(turn, target, text) or text
            step = FinalText(self._run_isolated(turn, target_agent, step_input, stream))
            async for event in step:
                yield event
            text = step.text
            previous = target_agent
        history.append(Message(role="assistant", content=text, agent=previous.name))
        yield Final(text)

    # Model-initiated handoffs -------------------------------------------------------------------------
    async def transfer(self, turn: Turn, agent: Agent, tool: TransferTool, reason: str | None,
                       history: list[Message], stream: bool) -> AsyncIterator[Any]:
        """SWARM with BUBBLE_UP or END_CONVERSATION: the target continues the conversation and answers."""
        yield self.record_hop(turn, agent, tool.target.agent_name, reason)
        target_agent = self.target_agent(tool.target.agent_name)
        self._narrow_context(turn, tool.target)
        transformed = self._transformed_input(turn, tool.target, turn.request.message)
        if transformed is not None:
            history.append(Message(role="user", content=transformed))
        if tool.control_return is ControlReturn.END_CONVERSATION:
            turn.metadata["conversation_ended"] = True
        async for event in self.answer(turn, target_agent, history, stream):
            yield event

    async def delegate(self, turn: Turn, agent: Agent, tool: HandoffTool, message: str,
                       reason: str | None) -> ToolOutput:
        """COORDINATOR asks and RETURN_TO_CALLER transfers: run the target alone, return its answer."""
        why = self.check_hop(turn, agent, tool.target.agent_name)
        if why is not None:
            return self.refuse(turn, why)
        # The target's events are yielded by the caller's loop after its tool calls; they are collected here
        # first because the target's own loop drains ``turn.pending_events`` too.
        events: list[Any] = [self.record_hop(turn, agent, tool.target.agent_name, reason)]
        target_agent = self.target_agent(tool.target.agent_name)
        self._narrow_context(turn, tool.target)
        step_input = self._transformed_input(turn, tool.target, message) or message
        answer = FinalText(self._run_isolated(turn, target_agent, step_input, stream=False))
        events.extend([event async for event in answer if not isinstance(event, TextDelta)])
        text = answer.text
        turn.pending_events.extend(events)
        return ToolOutput(text or f"{target_agent.name} gave no answer.")

    async def _run_isolated(self, turn: Turn, target: Agent, message: str, stream: bool) -> AsyncIterator[Any]:
        """The target's answer to ``message`` with a fresh history (its own tools and handoffs apply)."""
        own_history = [Message(role="user", content=message)]
        async for event in self.answer(turn, target, own_history, stream):
            yield event

    # Target input ---------------------------------------------------------------------------------------
    def _narrow_context(self, turn: Turn, target: HandoffTarget) -> None:
        if target.context_keys is not None:
            source = turn.request.context
            turn.context_by_agent[target.agent_name] = {k: source[k] for k in target.context_keys if k in source}

    def _transformed_input(self, turn: Turn, target: HandoffTarget, message: str) -> str | None:
        if target.transform_input is None:
            return None
        result = target.transform_input(request_data(turn, message))
        if isinstance(result, dict):
            return str(result.get("message") or json.dumps(result, default=str))
        return None if result is None else str(result)


def _truthy(condition: Any, data: dict[str, Any], target: HandoffTarget) -> bool:
    try:
        return bool(condition(data))
    except Exception:
        logger.exception("handoff condition for %s raised; treated as false", target.agent_name)
        return False


def _json_object(text: str) -> str:
    start, end = text.find("{"), text.rfind("}")
    return text[start:end + 1] if start != -1 and end > start else text


def _routing_agent(agent: Agent, config: HandoffConfig) -> Agent:
    cached = _routing_agents.get(agent)
    if cached is None:
        cached = agent.derive("router", llm_config=config.routing_llm_config)
        _routing_agents[agent] = cached
    return cached


__all__ = ["HandoffEngine", "HandoffRefused", "request_data"]
