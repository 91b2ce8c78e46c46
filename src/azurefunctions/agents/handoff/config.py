"""Handoff configuration: which agents an agent may pass a conversation to, and how."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..limits import DEFAULT_MAX_HOPS


class HandoffMode(StrEnum):
    """How an agent works with its targets.

    SWARM: the model gets one transfer tool per target; the target answers the user and may hand on.
    COORDINATOR: the agent calls its targets as tools (concurrently) and writes one consolidated answer.
    SEQUENTIAL: a fixed chain; each agent's answer is the next one's input.
    CONDITIONAL: each target's ``condition(request_data)`` is evaluated before the model runs.
    """

    SWARM = "swarm"
    COORDINATOR = "coordinator"
    SEQUENTIAL = "sequential"
    CONDITIONAL = "conditional"


class HandoffStrategy(StrEnum):
    """How a target is chosen when the agent itself does not decide.

    MODEL_DECIDES: the agent's own model picks through its tools (default).
    BEST_MATCH: a routing model call picks the target from the targets' descriptions before the agent runs.
    FIRST_MATCH: the first target whose condition holds.
    ROUND_ROBIN: targets in turn.
    """

    MODEL_DECIDES = "model_decides"
    BEST_MATCH = "best_match"
    FIRST_MATCH = "first_match"
    ROUND_ROBIN = "round_robin"


class ControlReturn(StrEnum):
    """Where control goes when a target finishes.

    BUBBLE_UP: the target's answer goes to the user (default).
    RETURN_TO_CALLER: the calling agent gets the answer and continues.
    CONTINUE_CHAIN: the next agent of a sequential chain continues.
    END_CONVERSATION: the answer ends the conversation; the session closes.
    """

    BUBBLE_UP = "bubble_up"
    RETURN_TO_CALLER = "return_to_caller"
    CONTINUE_CHAIN = "continue_chain"
    END_CONVERSATION = "end_conversation"


@dataclass
class HandoffTarget:
    agent_name: str
    description: str | None = None
    condition: Callable[[dict[str, Any]], Any] | None = None
    context_keys: list[str] | None = None
    transform_input: Callable[[dict[str, Any]], Any] | None = None
    control_return: ControlReturn | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.agent_name, str) or not self.agent_name:
            raise ValueError("HandoffTarget agent_name must be a non-empty string")
        if self.condition is not None and not callable(self.condition):
            raise TypeError("HandoffTarget condition must be callable")
        if self.transform_input is not None and not callable(self.transform_input):
            raise TypeError("HandoffTarget transform_input must be callable")
        if self.control_return is not None:
            self.control_return = ControlReturn(self.control_return)


@dataclass
class HandoffConfig:
    mode: HandoffMode = HandoffMode.SWARM
    targets: list[HandoffTarget] = field(default_factory=list)
    strategy: HandoffStrategy = HandoffStrategy.MODEL_DECIDES
    max_hops: int = DEFAULT_MAX_HOPS
    enable_auto_routing: bool = False
    routing_instructions: str | None = None
    control_return: ControlReturn = ControlReturn.BUBBLE_UP
    routing_llm_config: Any = None

    def __post_init__(self) -> None:
        self.mode = HandoffMode(self.mode)
        self.strategy = HandoffStrategy(self.strategy)
        self.control_return = ControlReturn(self.control_return)
        if not isinstance(self.max_hops, int) or self.max_hops < 0:
            raise ValueError("HandoffConfig max_hops must be a non-negative integer")
        self.targets = [t if isinstance(t, HandoffTarget) else HandoffTarget(**t) for t in self.targets]

    def target(self, agent_name: str) -> HandoffTarget | None:
        return next((t for t in self.targets if t.agent_name == agent_name), None)

    def describe(self) -> dict[str, Any]:
        return {
            "mode": self.mode.value,
            "strategy": self.strategy.value,
            "max_hops": self.max_hops,
            "targets": [{"agent": t.agent_name, "description": t.description} for t in self.targets],
        }
