"""The tools through which a model hands off: transfer (SWARM) and ask (COORDINATOR).

They are ordinary ``Tool`` objects so they reach the model like any other tool, but the Runner recognises
them: a transfer ends the current agent's loop and continues the conversation with the target; an ask runs the
target on its own and returns its answer as the tool result.
"""

from __future__ import annotations

import re
from typing import Any

from ..tools.base import Tool, ToolContext, ToolOutput
from .config import ControlReturn, HandoffTarget

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def tool_name(prefix: str, agent_name: str) -> str:
    return (prefix + _UNSAFE.sub("_", agent_name))[:64]


class HandoffTool(Tool):
    """Base of the handoff tools; ``invoke`` is never reached because the Runner intercepts them."""

    def __init__(self, target: HandoffTarget, target_description: str, control_return: ControlReturn) -> None:
        self.target = target
        self.control_return = control_return
        self._description = target_description

    async def invoke(self, arguments: dict[str, Any], context: ToolContext) -> ToolOutput:
        return ToolOutput(f"{self.name} can only run inside a Runner turn", is_error=True)


class TransferTool(HandoffTool):
    """SWARM: hand the conversation to the target."""

    def __init__(self, target: HandoffTarget, target_description: str, control_return: ControlReturn) -> None:
        super().__init__(target, target_description, control_return)
        self.name = tool_name("transfer_to_", target.agent_name)
        self.description = (f"Transfer the conversation to {target.agent_name}: {target_description}. "
                            "Use it when that agent is better suited to answer.")

    @property
    def parameters(self) -> dict[str, Any]:
        return {"type": "object", "properties": {
            "reason": {"type": "string", "description": "Why this agent should take over."}},
            "additionalProperties": False}


class AskTool(HandoffTool):
    """COORDINATOR: ask the target to do a task and get its answer back."""

    def __init__(self, target: HandoffTarget, target_description: str, control_return: ControlReturn) -> None:
        super().__init__(target, target_description, control_return)
        self.name = tool_name("ask_", target.agent_name)
        self.description = (f"Ask the specialist {target.agent_name} ({target_description}) to handle a task; "
                            "returns its answer. Several specialists can be asked at once.")

    @property
    def parameters(self) -> dict[str, Any]:
        return {"type": "object", "required": ["message"], "additionalProperties": False, "properties": {
            "message": {"type": "string", "description": "The task for the specialist, with all details it needs."}}}
