"""Telemetry seam of the agent loop: GenAI spans and metrics when configured, nothing at all otherwise.

The Runner calls ``instrumentation()`` at each step (invoke_agent, chat, execute_tool). With no exporter
configured this returns a no-op object and imports no OpenTelemetry module, so a local run and the cold start
pay nothing. The HTTP layer wraps each request in ``instrumentation().incoming(headers)`` (to continue the
caller's trace) and calls ``instrumentation().flush()`` (or ``await ...aflush()``) before the invocation returns.
"""

from __future__ import annotations

import logging
import threading

from .base import Instrumentation, NoopInstrumentation, Span

logger = logging.getLogger("azurefunctions.agents.telemetry")

_instrumentation: Instrumentation | None = None
_lock = threading.Lock()


def instrumentation() -> Instrumentation:
    """The process-wide instrumentation, chosen once from the environment."""
    global _instrumentation
    current = _instrumentation
    if current is None:
        with _lock:  # configure_azure_monitor is process-global: exactly once
            if _instrumentation is None:
                _instrumentation = _configure()
            current = _instrumentation
    return current


def set_instrumentation(value: Instrumentation | None) -> None:
    """Replace (or with ``None``, re-detect) the process-wide instrumentation."""
    global _instrumentation
    _instrumentation = value


def _configure() -> Instrumentation:
    from .setup import detect

    kind = detect()
    if kind is None:
        return NoopInstrumentation()
    try:
        from .otel import OTelInstrumentation
        from .setup import configure

        return OTelInstrumentation(configure(kind))
    except ImportError as exc:
        from ..errors import missing_extra

        extra = "monitor" if kind == "azure_monitor" else "telemetry"
        logger.warning("telemetry is off: %s", missing_extra(f"Telemetry ({kind})", extra, exc).message)
    except Exception:
        logger.exception("telemetry is off: configuring the %s exporter failed", kind)
    return NoopInstrumentation()


__all__ = ["Instrumentation", "NoopInstrumentation", "Span", "instrumentation", "set_instrumentation"]
