"""Scripted model behaviour shared by every provider-faithful test server.

A test queues ``Reply`` objects; each model call takes the next one (or, when the queue is empty, a default
that calls the first offered tool once and then answers quoting the tool result, so agents with tools show a
real tool loop). Every server records the JSON requests it received, so tests can assert on what the SDK sent.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ScriptedToolCall:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    id: str | None = None


@dataclass
class Reply:
    """One model answer, or one failure, in a provider-neutral form."""

    text: str = ""
    tool_calls: list[ScriptedToolCall] = field(default_factory=list)
    input_tokens: int = 11
    output_tokens: int = 7
    delay: float = 0.0  # seconds before the response starts
    chunk_delay: float = 0.0  # seconds between streamed chunks
    chunk_size: int = 4  # characters per streamed text chunk
    status: int | None = None  # an HTTP error status instead of an answer
    retry_after: float | None = None
    retry_after_ms: float | None = None  # OpenAI's and Azure's ``retry-after-ms`` header, where a server sends it
    reasoning_tokens: int = 0  # of ``output_tokens``, reported by servers whose models reason
    malformed: bool = False  # a body the SDK cannot parse
    raw_arguments: str | None = None  # tool-call arguments sent verbatim (e.g. invalid JSON)

    def chunks(self) -> list[str]:
        size = max(1, self.chunk_size)
        return [self.text[i : i + size] for i in range(0, len(self.text), size)] or []


class Script:
    """The queue of replies and the log of requests of one test server."""

    def __init__(self) -> None:
        self._replies: deque[Reply] = deque()
        self._keyed: dict[str, deque[Reply]] = {}
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def add(self, *replies: Reply) -> Script:
        with self._lock:
            self._replies.extend(replies)
        return self

    def add_for(self, system_prefix: str, *replies: Reply) -> Script:
        """Replies only for requests whose system prompt starts with ``system_prefix`` (one agent's calls)."""
        with self._lock:
            self._keyed.setdefault(system_prefix, deque()).extend(replies)
        return self

    def clear(self) -> None:
        with self._lock:
            self._replies.clear()
            self._keyed.clear()
            self.requests.clear()
            self.headers.clear()

    def next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}"

    def record(self, body: dict[str, Any], headers: dict[str, str]) -> None:
        with self._lock:
            self.requests.append(body)
            self.headers.append(headers)

    def take(self, tools: list[str], last_tool_result: str | None, system: str | None = None) -> Reply:
        """The next reply queued for this system prompt, else the next queued one, else the default."""
        with self._lock:
            for prefix, queue in self._keyed.items():
                if system is not None and system.startswith(prefix) and queue:
                    return queue.popleft()
            if self._replies:
                return self._replies.popleft()
        if last_tool_result is not None:
            return Reply(text=f"Here is what I found: {last_tool_result}")
        if tools:
            return Reply(tool_calls=[ScriptedToolCall(name=tools[0], arguments={})])
        return Reply(text="Hello from the scripted model.")

    @property
    def calls(self) -> int:
        return len(self.requests)


def dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"))
