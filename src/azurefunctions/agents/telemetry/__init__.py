"""Telemetry seam of the agent loop: GenAI spans and metrics when configured, nothing at all otherwise.

The Runner calls ``instrumentation()`` at each step (invoke_agent, chat, execute_tool). With no exporter
configured this returns a no-op object and imports no OpenTelemetry module, so a local run and the cold start
pay nothing.
"""

from __future__ import annotations

from .base import Instrumentation, NoopInstrumentation

_instrumentation: Instrumentation | None = None


def instrumentation() -> Instrumentation:
    """The process-wide instrumentation, chosen once from the environment."""
    global _instrumentation
    if _instrumentation is None:
        _instrumentation = _configure()
    return _instrumentation


def set_instrumentation(value: Instrumentation | None) -> None:
    """Replace (or with ``None``, re-detect) the process-wide instrumentation."""
    global _instrumentation
    _instrumentation = value


def _configure() -> Instrumentation:
    return NoopInstrumentation()


__all__ = ["Instrumentation", "NoopInstrumentation", "instrumentation", "set_instrumentation"]
