"""The interface the Runner instruments against, and its no-op implementation."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any


class Span:
    """What the Runner may record on a span while it is open."""

    def set(self, key: str, value: Any) -> None:
        """Record one attribute."""

    def record_error(self, error_type: str) -> None:
        """Mark the operation failed with ``error.type``."""


_NOOP_SPAN = Span()


class Instrumentation:
    """Span factories for the steps of a turn; each returns a context manager yielding a ``Span``."""

    enabled = False

    def invoke_agent(self, *, agent: Any, conversation_id: str | None) -> AbstractContextManager[Span]:
        return nullcontext(_NOOP_SPAN)

    def chat(self, *, agent: Any, provider: Any, request: Any) -> AbstractContextManager[Span]:
        return nullcontext(_NOOP_SPAN)

    def execute_tool(self, *, agent: Any, tool: Any, call: Any) -> AbstractContextManager[Span]:
        return nullcontext(_NOOP_SPAN)

    def flush(self) -> None:
        """Export what is buffered (called before a Functions invocation returns)."""


class NoopInstrumentation(Instrumentation):
    """Telemetry off."""
