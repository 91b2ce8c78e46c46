"""GenAI spans and metrics from the Runner, on private in-memory OpenTelemetry providers (no global set-up)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from azurefunctions.agents import Agent, Runner
from azurefunctions.agents.telemetry import instrumentation, set_instrumentation
from azurefunctions.agents.telemetry.otel import OTelInstrumentation
from azurefunctions.agents.telemetry.setup import Pipeline
from azurefunctions.agents.types import LLMConfig
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, ScriptedToolCall


class Recorder:
    def __init__(self, capture_content: bool = False) -> None:
        self.spans = InMemorySpanExporter()
        self.metrics = InMemoryMetricReader()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.meter_provider = MeterProvider(metric_readers=[self.metrics])
        self.instrumentation = OTelInstrumentation(
            Pipeline("test", self.tracer_provider, self.meter_provider), capture_content=capture_content)

    def named(self, prefix: str) -> list[ReadableSpan]:
        return [s for s in self.spans.get_finished_spans() if s.name.startswith(prefix)]

    def metric_points(self, name: str) -> list[Any]:
        data = self.metrics.get_metrics_data()
        return [point for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
                if m.name == name for point in m.data.data_points]


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    rec = Recorder()
    set_instrumentation(rec.instrumentation)
    yield rec
    set_instrumentation(None)
    rec.tracer_provider.shutdown()
    rec.meter_provider.shutdown()


def lookup(query: str) -> str:
    """Look something up."""
    return f"found {query}"


def make_agent(server: OpenAIServer, **kwargs: Any) -> Agent:
    config = LLMConfig(provider="openai", model_name="gpt-4o-mini", api_key=server.api_key,
                       base_url=server.base_url, max_retries=0)
    return Agent(name="Helper", instructions="Be brief.", tools=[lookup], llm_config=config, **kwargs)


async def test_spans_kinds_parents_and_metrics_of_a_tool_turn(recorder: Recorder, openai: OpenAIServer) -> None:
    openai.script.add(Reply(tool_calls=[ScriptedToolCall("lookup", {"query": "a"}),
                                        ScriptedToolCall("lookup", {"query": "b"})]),
                      Reply(text="done"))
    agent = make_agent(openai)
    response = await Runner(agent).run({"message": "hi", "session_id": "s-1"})
    await agent.aclose()
    assert response.status == "success"
    (root,) = recorder.named("invoke_agent")
    chats = recorder.named("chat ")
    tools = recorder.named("execute_tool ")
    assert root.kind is SpanKind.INTERNAL and root.parent is None
    assert [c.kind for c in chats] == [SpanKind.CLIENT] * 2
    assert [t.kind for t in tools] == [SpanKind.INTERNAL] * 2
    # Tool calls run concurrently in their own tasks; each is still a child of the agent's span.
    for span in [*chats, *tools]:
        assert span.parent is not None and span.parent.span_id == root.context.span_id
        assert span.attributes is not None and span.attributes["gen_ai.conversation.id"] == "s-1"
    assert sorted(t.attributes["gen_ai.tool.call.id"] for t in tools if t.attributes) == sorted(
        c.id for c in response.tool_calls)
    durations = recorder.metric_points("gen_ai.client.operation.duration")
    assert sum(p.count for p in durations) == 2
    tokens = {p.attributes["gen_ai.token.type"]: p for p in recorder.metric_points("gen_ai.client.token.usage")}
    assert tokens["input"].sum == 22 and tokens["output"].sum == 14
    assert list(tokens["input"].explicit_bounds[:3]) == [1, 4, 16]


async def test_provider_failure_sets_error_type_on_chat_and_agent_spans(recorder: Recorder,
                                                                        openai: OpenAIServer) -> None:
    openai.script.add(Reply(status=500))
    agent = make_agent(openai)
    response = await Runner(agent).run("hi")
    await agent.aclose()
    assert response.status == "error"
    (chat,) = recorder.named("chat ")
    (root,) = recorder.named("invoke_agent")
    for span in (chat, root):
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes is not None and span.attributes["error.type"] == response.error_code
        assert span.status.description is None  # no message text: it could quote content
    (duration,) = recorder.metric_points("gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == response.error_code


async def test_failed_tool_is_marked_and_content_stays_out_by_default(recorder: Recorder,
                                                                      openai: OpenAIServer) -> None:
    def explode(query: str) -> str:
        """Always fails."""
        raise RuntimeError(f"boom {query}")

    openai.script.add(Reply(tool_calls=[ScriptedToolCall("explode", {"query": "private words"})]),
                      Reply(text="sorry"))
    agent = Agent(name="Helper", tools=[explode], llm_config=make_agent(openai).llm_config)
    assert (await Runner(agent).run("hi")).status == "success"
    await agent.aclose()
    (tool,) = recorder.named("execute_tool explode")
    assert tool.attributes is not None and tool.attributes["error.type"] == "tool_error"
    text = repr([dict(s.attributes or {}) for s in recorder.spans.get_finished_spans()])
    assert "private words" not in text and "boom" not in text


async def test_abandoned_stream_ends_its_spans_as_cancelled(recorder: Recorder, openai: OpenAIServer) -> None:
    openai.script.add(Reply(text="a long answer " * 20, chunk_delay=0.01))
    agent = make_agent(openai, streaming=True)
    with recorder.instrumentation.incoming({}):  # what the HTTP layer wraps each request in
        stream = Runner(agent).run_stream("hi")
        async for event in stream:
            if type(event).__name__ == "TextDelta":
                break
        await stream.aclose()  # type: ignore[attr-defined]
    assert trace.get_current_span() is trace.INVALID_SPAN  # the request left no span current
    # The inner event generator is finalised by the loop (another task, another context) once collected.
    for _ in range(50):
        gc.collect()
        await asyncio.sleep(0.01)
        if recorder.named("invoke_agent"):
            break
    await agent.aclose()
    (root,) = recorder.named("invoke_agent")
    assert root.attributes is not None and root.attributes["error.type"] == "cancelled"
    assert trace.get_current_span() is trace.INVALID_SPAN


async def test_incoming_trace_context_is_continued_only_without_a_current_span(recorder: Recorder) -> None:
    inst = instrumentation()
    carrier = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
               "Authorization": "Bearer secret"}
    with inst.incoming(carrier):
        current = trace.get_current_span().get_span_context()
        assert format(current.trace_id, "032x") == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert not trace.get_current_span().get_span_context().is_valid
    tracer = recorder.tracer_provider.get_tracer("host")
    with tracer.start_as_current_span("host request") as host, inst.incoming(carrier):
        assert trace.get_current_span() is host
    with inst.incoming({"authorization": "Bearer secret"}):
        assert not trace.get_current_span().get_span_context().is_valid


async def test_flush_exports_only_when_spans_ended_since_the_last_one(recorder: Recorder,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(recorder.tracer_provider, "force_flush", lambda timeout=0: calls.append("traces"))
    monkeypatch.setattr(recorder.meter_provider, "force_flush", lambda timeout=0: calls.append("metrics"))
    inst = recorder.instrumentation
    inst.flush()
    assert calls == []
    agent = Agent(name="Off", llm_config=LLMConfig(provider="offline"))
    await Runner(agent).run("hi")
    await inst.aflush()
    assert calls == ["traces", "metrics"]
    await Runner(agent).run("hi")
    inst.flush()  # metrics were exported moments ago: traces only
    assert calls == ["traces", "metrics", "traces"]
    await asyncio.sleep(0)
