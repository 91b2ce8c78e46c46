"""The interface the Runner instruments against, and its no-op implementation.

Everything here is free when telemetry is off: the no-op methods return shared null context managers and import
nothing. The OpenTelemetry implementation (``otel.py``) is loaded only when an exporter is configured.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any


class Span:
    """What the Runner may record on a span while it is open."""

    def set(self, key: str, value: Any) -> None:
        """Record one attribute (a string, number, boolean or a list of them)."""

    def record_error(self, error_type: str) -> None:
        """Mark the operation failed with ``error.type``."""

    def record_response(self, response: Any) -> None:
        """A model call's ``ModelResponse``: response model and id, finish reason, token usage (and, when
        content capture is on, the output messages)."""

    def record_tool_result(self, output: Any) -> None:
        """A tool call's ``ToolOutput`` (its content only when content capture is on)."""

    def add_event(self, name: str, attributes: Mapping[str, Any]) -> None:
        """A span event (a replayed step, a decision): primitive attributes only, never tool arguments."""


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

    def incoming(self, headers: Mapping[str, str]) -> AbstractContextManager[None]:
        """Wrap one request: continue the caller's trace (W3C ``traceparent``/``tracestate`` in ``headers``)
        unless a span is already current (a host or HTTP instrumentation made one), and on leaving restore the
        trace context as it was (a response stream abandoned mid-turn leaves nothing behind)."""
        return nullcontext()

    def flush(self, timeout_seconds: float = 10.0) -> None:
        """Export what is buffered (called before a Functions invocation returns)."""

    async def aflush(self, timeout_seconds: float = 10.0) -> None:
        """``flush`` without holding the event loop: the export runs in a worker thread."""


class NoopInstrumentation(Instrumentation):
    """Telemetry off."""
