"""The one interface every model provider implements.

A provider turns a normalised ``ModelRequest`` into a stream of ``ModelDelta`` text chunks that ends with one
``ModelResponse`` (the full text, tool calls with parsed arguments, finish reason, usage). The agent loop only
ever consumes that stream, so streaming and non-streaming turns share one code path; ``request.stream`` is a
hint that lets a provider make a single non-streaming call when nobody watches the deltas.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from ..messages import Message, ToolCall, Usage


@dataclass
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class OutputSpec:
    """The typed answer a model is asked for: a JSON schema whose root is an object (see ``structured_output``).

    Each provider asks for it in its native way; the runner validates what comes back.
    """

    name: str
    schema: dict[str, Any]
    description: str = ""


@dataclass
class ModelRequest:
    model: str
    messages: list[Message]
    system: str | None = None
    tools: list[ToolSpec] = field(default_factory=list)
    temperature: float | None = None
    max_tokens: int | None = None
    stream: bool = False
    # Ask for a JSON object answer (evaluations, routing); providers that cannot enforce it ignore it.
    json_output: bool = False
    # Ask for an answer matching this schema (``Agent(output_type=...)``); every provider enforces it natively.
    output: OutputSpec | None = None


@dataclass
class ModelDelta:
    text: str


@dataclass
class ModelResponse:
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    model: str | None = None
    response_id: str | None = None


ModelStreamItem = ModelDelta | ModelResponse


class ModelProvider(ABC):
    """A configured connection to one model provider, shared by all requests of a process."""

    #: OpenTelemetry ``gen_ai.provider.name``.
    provider_name: str = "unknown"
    server_address: str | None = None

    @abstractmethod
    def stream(self, request: ModelRequest) -> AsyncIterator[ModelStreamItem]:
        """Yield text deltas, then exactly one ``ModelResponse``."""

    async def complete(self, request: ModelRequest) -> ModelResponse:
        """The final response of ``stream``; convenient where deltas do not matter."""
        final: ModelResponse | None = None
        async for item in self.stream(request):
            if isinstance(item, ModelResponse):
                final = item
        if final is None:
            from ..errors import ProviderError

            raise ProviderError(f"{self.provider_name} returned no response")
        return final

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release network resources."""


def parse_tool_arguments(call_id: str, name: str, raw: str | dict[str, Any] | None) -> ToolCall:
    """Tool-call arguments as a dict, whatever shape the SDK gave; bad JSON is kept for the error message."""
    if raw is None or raw == "":
        return ToolCall(id=call_id, name=name, arguments={})
    if isinstance(raw, dict):
        return ToolCall(id=call_id, name=name, arguments=dict(raw))
    try:
        parsed = json.loads(raw)
    except (TypeError, ValueError):
        return ToolCall(id=call_id, name=name, invalid_arguments=str(raw))
    if not isinstance(parsed, dict):
        return ToolCall(id=call_id, name=name, invalid_arguments=str(raw))
    return ToolCall(id=call_id, name=name, arguments=parsed)
