"""The provider-neutral conversation model.

Sessions store these shapes, and each provider module translates them to and from its SDK at the edge, so a
conversation can continue on another provider and the store never holds an SDK's objects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]

# Session ids become Cosmos DB item ids, URL path segments and log fields: no / \ ? # or spaces.
SESSION_ID_PATTERN = re.compile(r"^[A-Za-z0-9_@:-][A-Za-z0-9._@:-]{0,127}$")
SESSION_ID_RULE = ("session_id must be 1-128 characters: letters, digits, '-', '_', '.', '@' or ':', "
                   "not starting with '.'")


@dataclass
class ToolCall:
    """A tool call the model asked for, with arguments already parsed from whatever the SDK gave."""

    id: str
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    # The raw argument text when it did not parse as a JSON object; the tool then gets an error.
    invalid_arguments: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "name": self.name, "arguments": self.arguments}
        if self.invalid_arguments is not None:
            data["invalid_arguments"] = self.invalid_arguments
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ToolCall:
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            arguments=dict(data.get("arguments") or {}),
            invalid_arguments=data.get("invalid_arguments"),
        )


@dataclass
class Message:
    """One entry of a conversation.

    ``agent`` names the agent that produced an assistant or tool message, so a history shared by agents that
    hand off to each other still says who said what.
    """

    role: Role
    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None
    is_error: bool = False
    agent: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            data["tool_calls"] = [call.to_dict() for call in self.tool_calls]
        if self.tool_call_id is not None:
            data["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            data["name"] = self.name
        if self.is_error:
            data["is_error"] = True
        if self.agent is not None:
            data["agent"] = self.agent
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        role = data["role"]
        if role not in ("system", "user", "assistant", "tool"):
            raise ValueError(f"unknown message role {role!r}")
        return cls(
            role=role,
            content=str(data.get("content") or ""),
            tool_calls=[ToolCall.from_dict(c) for c in data.get("tool_calls") or []],
            tool_call_id=data.get("tool_call_id"),
            name=data.get("name"),
            is_error=bool(data.get("is_error", False)),
            agent=data.get("agent"),
        )


@dataclass
class Usage:
    """Token usage, summed over the model calls of a turn."""

    input_tokens: int = 0
    output_tokens: int = 0
    requests: int = 0
    #: The part of ``output_tokens`` a reasoning model spent thinking (0 when the provider does not say).
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def add(self, other: Usage) -> None:
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.requests += other.requests
        self.reasoning_tokens += other.reasoning_tokens

    def to_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
            "requests": self.requests,
            "reasoning_tokens": self.reasoning_tokens,
        }


def history_window(messages: list[Message], limit: int | None) -> list[Message]:
    """The last ``limit`` messages a model sees, starting at a user message.

    Providers reject a tool result without its call, and some (Anthropic) a conversation that does not start
    with the user, so the window opens at the first user message inside it and may come out shorter.
    """
    if limit is None or len(messages) <= limit:
        return list(messages)
    if limit < 0:
        raise ValueError(f"limit must be zero or more, got {limit}")
    start = len(messages) - limit
    while start < len(messages) and messages[start].role != "user":
        start += 1
    return list(messages[start:])
