"""GenAI spans and metrics with the OpenTelemetry API (semantic conventions for generative AI).

Spans: ``invoke_agent {agent}`` (INTERNAL) around a turn's agent loop, ``chat {model}`` (CLIENT) around each
model call, ``execute_tool {tool}`` (INTERNAL) around each tool call, all carrying ``gen_ai.conversation.id``.
Both ``gen_ai.provider.name`` and the deprecated ``gen_ai.system`` are set: the Azure Monitor exporter classifies
GenAI dependencies by the latter. Metrics: ``gen_ai.client.token.usage`` and
``gen_ai.client.operation.duration``.

Privacy: prompts, answers, tool arguments and results are recorded only when
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``; exception messages never are (only their type),
and nothing here ever sees a key or a request header other than the W3C trace context.
"""

from __future__ import annotations

import contextvars
import json
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import metrics, propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from .. import __version__, settings
from .base import Instrumentation, Span

logger = logging.getLogger("azurefunctions.agents.telemetry")

# Semconv well-known provider names by runtime provider; gen_ai.system keeps the older spelling.
_PROVIDER_NAMES = {"openai": "openai", "azure_openai": "azure.ai.openai", "anthropic": "anthropic",
                   "google": "gcp.gemini", "ollama": "ollama", "offline": "offline"}
_SYSTEM_NAMES = {"azure.ai.openai": "az.ai.openai"}
_TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864]
_DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]
#: Metrics are exported at most this often by ``flush`` (the periodic reader exports them anyway).
METRICS_FLUSH_INTERVAL_SECONDS = 60.0


@dataclass(frozen=True)
class _Turn:
    conversation_id: str | None
    agent_name: str


_turn: contextvars.ContextVar[_Turn | None] = contextvars.ContextVar("genai_turn", default=None)


def provider_name(value: Any) -> str:
    """``gen_ai.provider.name`` for a provider object, a runtime provider id or an ``LLMProvider``."""
    name = getattr(value, "provider_name", None)
    if isinstance(name, str):
        return name
    raw = str(getattr(value, "value", value))
    return _PROVIDER_NAMES.get(raw, raw)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _message_parts(message: Any) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    if message.role == "tool":
        parts.append({"type": "tool_call_response", "id": message.tool_call_id, "response": message.content})
    elif message.content:
        parts.append({"type": "text", "content": message.content})
    for call in getattr(message, "tool_calls", None) or []:
        parts.append({"type": "tool_call", "id": call.id, "name": call.name, "arguments": call.arguments})
    return {"role": message.role, "parts": parts}


class _OTelSpan(Span):
    def __init__(self, span: Any, instrumentation: OTelInstrumentation, metric_attributes: dict[str, Any]) -> None:
        self.span = span
        self.error_type: str | None = None
        self._instrumentation = instrumentation
        self._metric_attributes = metric_attributes

    def set(self, key: str, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, str | bool | int | float):
            self.span.set_attribute(key, value)
        elif isinstance(value, list | tuple) and all(isinstance(v, str | bool | int | float) for v in value):
            self.span.set_attribute(key, list(value))
        else:  # telemetry never fails a turn: an attribute OpenTelemetry cannot carry is left out
            logger.debug("span attribute %s skipped: %s is not a primitive", key, type(value).__name__)

    def record_error(self, error_type: str) -> None:
        self.error_type = error_type
        self.span.set_attribute("error.type", error_type)
        self.span.set_status(Status(StatusCode.ERROR))

    def record_response(self, response: Any) -> None:
        usage = response.usage
        self.set("gen_ai.response.model", response.model or None)
        self.set("gen_ai.response.id", response.response_id or None)
        if response.finish_reason:
            self.set("gen_ai.response.finish_reasons", [str(response.finish_reason)])
        self.set("gen_ai.usage.input_tokens", usage.input_tokens)
        self.set("gen_ai.usage.output_tokens", usage.output_tokens)
        if response.model:
            self._metric_attributes["gen_ai.response.model"] = response.model
        tokens = self._instrumentation.token_usage
        for kind, count in (("input", usage.input_tokens), ("output", usage.output_tokens)):
            tokens.record(count, {**self._metric_attributes, "gen_ai.token.type": kind})
        if self._instrumentation.capture_content:
            parts: list[dict[str, Any]] = []
            if response.text:
                parts.append({"type": "text", "content": response.text})
            for call in response.tool_calls:
                parts.append({"type": "tool_call", "id": call.id, "name": call.name, "arguments": call.arguments})
            message = {"role": "assistant", "parts": parts, "finish_reason": response.finish_reason or "stop"}
            self.set("gen_ai.output.messages", _json([message]))

    def record_tool_result(self, output: Any) -> None:
        if self._instrumentation.capture_content:
            self.set("gen_ai.tool.call.result", output.content)

    def add_event(self, name: str, attributes: Mapping[str, Any]) -> None:
        kept = {key: value for key, value in attributes.items()
                if isinstance(value, str | bool | int | float)}
        self.span.add_event(name, kept)


class OTelInstrumentation(Instrumentation):
    """GenAI spans and metrics on the global (or given) OpenTelemetry providers."""

    enabled = True

    def __init__(self, pipeline: Any = None, *, capture_content: bool | None = None) -> None:
        self.pipeline = pipeline
        tracer_provider = getattr(pipeline, "tracer_provider", None)
        meter_provider = getattr(pipeline, "meter_provider", None)
        schema = "https://opentelemetry.io/schemas/1.37.0"
        self._tracer = trace.get_tracer("azurefunctions.agents", __version__, tracer_provider, schema_url=schema)
        meter = metrics.get_meter("azurefunctions.agents", __version__, meter_provider, schema_url=schema)
        self.token_usage = meter.create_histogram(
            "gen_ai.client.token.usage", unit="{token}", description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=_TOKEN_BUCKETS)
        self.operation_duration = meter.create_histogram(
            "gen_ai.client.operation.duration", unit="s", description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS)
        if capture_content is None:
            capture_content = (settings.CAPTURE_MESSAGE_CONTENT.get() or "").lower() == "true"
        self.capture_content = capture_content
        self._lock = threading.Lock()
        self._ended = 0
        self._flushed = 0
        self._metrics_flushed_at = float("-inf")

    # Spans -------------------------------------------------------------------------------------------------
    @contextmanager
    def invoke_agent(self, *, agent: Any, conversation_id: str | None) -> Iterator[Span]:
        config = agent.llm_config
        provider = provider_name(config.provider)
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.provider.name": provider,
            "gen_ai.system": _SYSTEM_NAMES.get(provider, provider),
            "gen_ai.agent.name": agent.name,
        }
        if getattr(agent, "description", None):
            attributes["gen_ai.agent.description"] = agent.description
        if config.model_name:
            attributes["gen_ai.request.model"] = config.model_name
        if conversation_id:
            attributes["gen_ai.conversation.id"] = conversation_id
        if self.capture_content and getattr(agent, "instructions", None):
            attributes["gen_ai.system_instructions"] = _json([{"type": "text", "content": agent.instructions}])
        token = _turn.set(_Turn(conversation_id, agent.name))
        try:
            with self._span(f"invoke_agent {agent.name}", SpanKind.INTERNAL, attributes) as span:
                yield span
        finally:
            _reset(_turn, token)

    @contextmanager
    def chat(self, *, agent: Any, provider: Any, request: Any) -> Iterator[Span]:
        name = provider_name(provider)
        model = request.model or agent.llm_config.model_name
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": name,
            "gen_ai.system": _SYSTEM_NAMES.get(name, name),
            "gen_ai.output.type": "text",
        }
        if model:
            attributes["gen_ai.request.model"] = model
        if request.temperature is not None:
            attributes["gen_ai.request.temperature"] = request.temperature
        if request.max_tokens is not None:
            attributes["gen_ai.request.max_tokens"] = request.max_tokens
        attributes["gen_ai.request.stream"] = bool(request.stream)
        server_address = getattr(provider, "server_address", None)
        if server_address:
            attributes["server.address"] = server_address
        turn = _turn.get()
        if turn is not None and turn.conversation_id:
            attributes["gen_ai.conversation.id"] = turn.conversation_id
        if self.capture_content:
            if request.system:
                attributes["gen_ai.system_instructions"] = _json([{"type": "text", "content": request.system}])
            attributes["gen_ai.input.messages"] = _json([_message_parts(m) for m in request.messages])
            if request.tools:
                attributes["gen_ai.tool.definitions"] = _json(
                    [{"type": "function", "name": t.name, "description": t.description} for t in request.tools])
        metric_attributes: dict[str, Any] = {key: attributes[key] for key in
                             ("gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model",
                              "server.address") if key in attributes}
        started = time.perf_counter()
        span_name = f"chat {model}" if model else "chat"
        with self._span(span_name, SpanKind.CLIENT, attributes, metric_attributes) as span:
            try:
                yield span
            finally:
                if span.error_type:
                    metric_attributes["error.type"] = span.error_type
                self.operation_duration.record(time.perf_counter() - started, metric_attributes)

    @contextmanager
    def execute_tool(self, *, agent: Any, tool: Any, call: Any) -> Iterator[Span]:
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": tool.name,
            "gen_ai.tool.call.id": call.id,
            "gen_ai.tool.type": "extension" if type(tool).__module__.startswith("azurefunctions.agents.mcp")
            else "function",
        }
        if getattr(tool, "description", None):
            attributes["gen_ai.tool.description"] = tool.description
        turn = _turn.get()
        if turn is not None and turn.conversation_id:
            attributes["gen_ai.conversation.id"] = turn.conversation_id
        if self.capture_content:
            attributes["gen_ai.tool.call.arguments"] = _json(call.arguments)
        with self._span(f"execute_tool {tool.name}", SpanKind.INTERNAL, attributes) as span:
            yield span

    @contextmanager
    def _span(self, name: str, kind: SpanKind, attributes: dict[str, Any],
              metric_attributes: dict[str, Any] | None = None) -> Iterator[_OTelSpan]:
        span = self._tracer.start_span(name, kind=kind, attributes=attributes)
        wrapped = _OTelSpan(span, self, metric_attributes if metric_attributes is not None else {})
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            yield wrapped
        except BaseException as exc:
            # The type only: an exception's message may quote prompts, arguments or a provider's answer.
            if wrapped.error_type is None:
                wrapped.record_error("cancelled" if isinstance(exc, GeneratorExit) or
                                     type(exc).__name__ == "CancelledError" else type(exc).__qualname__)
            raise
        finally:
            _reset(None, token)
            span.end()
            with self._lock:
                self._ended += 1

    # Trace context and export ------------------------------------------------------------------------------
    @contextmanager
    def incoming(self, headers: Mapping[str, str]) -> Iterator[None]:
        # Always attach (the caller's trace, or the current context unchanged) so that leaving restores the
        # context as it was: a stream abandoned mid-turn cannot leave its spans current after the request.
        current = otel_context.get_current()
        carrier = {key.lower(): value for key, value in headers.items()
                   if key.lower() in ("traceparent", "tracestate", "baggage")}
        if "traceparent" in carrier and not trace.get_current_span(current).get_span_context().is_valid:
            current = propagate.extract(carrier, context=current)
        token = otel_context.attach(current)
        try:
            yield
        finally:
            _reset(None, token)

    def flush(self, timeout_seconds: float = 10.0) -> None:
        with self._lock:
            if self._ended == self._flushed:
                return  # nothing ended since the last flush: no export on this invocation's path
            self._flushed = self._ended
            now = time.monotonic()
            metrics_due = now - self._metrics_flushed_at >= METRICS_FLUSH_INTERVAL_SECONDS
            if metrics_due:
                self._metrics_flushed_at = now
        timeout_millis = int(timeout_seconds * 1000)
        providers = [getattr(self.pipeline, "tracer_provider", None) or trace.get_tracer_provider(),
                     getattr(self.pipeline, "logger_provider", None)]
        if metrics_due:
            providers.append(getattr(self.pipeline, "meter_provider", None) or metrics.get_meter_provider())
        for provider in providers:
            force_flush = getattr(provider, "force_flush", None)
            if force_flush is not None:
                force_flush(timeout_millis)

    async def aflush(self, timeout_seconds: float = 10.0) -> None:
        import asyncio

        await asyncio.to_thread(self.flush, timeout_seconds)


def _reset(var: contextvars.ContextVar[Any] | None, token: Any) -> None:
    """Undo a context change. A generator closed from another context (garbage collection of an abandoned
    stream) cannot, and need not: that context ends with it."""
    try:
        if var is None:
            token.var.reset(token)  # the contextvars token returned by opentelemetry.context.attach
        else:
            var.reset(token)
    except (ValueError, RuntimeError):
        pass
