"""What the agent loop needs of a tool: a name, a JSON schema, and an async ``invoke``.

Python functions, MCP server tools, remote A2A agents and handoff targets are all tools of this shape, so the
loop runs them the same way (concurrently, errors returned to the model).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from ..providers.base import ToolSpec


@dataclass
class ToolContext:
    """What a tool invocation may know about the turn it runs in."""

    agent_name: str
    session_id: str | None = None
    user_id: str | None = None
    call_id: str | None = None
    context: dict[str, Any] = field(default_factory=dict)


@dataclass
class ToolOutput:
    """A tool's result as the model will read it. ``is_error`` results are shown to the model as errors."""

    content: str
    is_error: bool = False
    structured: Any = None


class ToolError(Exception):
    """Raised by a tool to report a failure to the model with exactly this message."""


class Tool(ABC):
    name: str
    description: str

    @property
    @abstractmethod
    def parameters(self) -> dict[str, Any]:
        """JSON schema of the arguments object."""

    def spec(self) -> ToolSpec:
        return ToolSpec(name=self.name, description=self.description, parameters=self.parameters)

    @abstractmethod
    async def invoke(self, arguments: dict[str, Any], context: ToolContext) -> ToolOutput:
        """Run the tool. Failures the model should see come back as ``ToolOutput(is_error=True)``."""
