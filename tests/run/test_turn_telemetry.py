"""The turn span says whether a turn was resumed and which steps it replayed, and who decided which approval and
when, without the call's arguments (private in-memory OpenTelemetry providers)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from azurefunctions.agents import Agent, FunctionTool, Runner
from azurefunctions.agents.sessions import MemorySessionStore
from azurefunctions.agents.telemetry import set_instrumentation
from azurefunctions.agents.telemetry.otel import OTelInstrumentation
from azurefunctions.agents.telemetry.setup import Pipeline
from azurefunctions.agents.types import LLMConfig
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, ScriptedToolCall


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = MeterProvider()
    set_instrumentation(OTelInstrumentation(Pipeline("test", tracer_provider, meter_provider)))
    yield exporter
    set_instrumentation(None)
    tracer_provider.shutdown()
    meter_provider.shutdown()


def turn_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name.startswith("invoke_agent")]


async def test_a_resumed_turn_shows_its_replayed_steps_and_the_decision(
        script: OpenAIServer, spans: InMemorySpanExporter) -> None:
    def transfer(account: str, amount: int) -> str:
        """Move money."""
        return "moved"

    config = LLMConfig(provider="openai", model_name="gpt-4o-mini", api_key=script.api_key,
                       base_url=script.base_url, max_retries=0)
    agent = Agent(name="Bank", instructions="Move money.", llm_config=config,
                  tools=[FunctionTool(transfer, needs_approval=True)])
    runner = Runner(agent, session_store=MemorySessionStore())
    script.script.add(Reply(tool_calls=[ScriptedToolCall("transfer", {"account": "IBAN-SECRET-1", "amount": 5})]),
                      Reply(text="Moved."))
    paused = await runner.run({"message": "move 5", "session_id": "s-bank", "user_id": "ana"})
    await runner.resume("s-bank", paused.turn_id or "", [{"id": paused.approvals[0]["id"], "approved": True}],
                        user_id="ana")
    first, second = turn_spans(spans)
    assert first.attributes is not None and second.attributes is not None
    assert first.attributes["agents.turn.resumed"] is False and first.attributes["agents.turn.steps_replayed"] == 0
    assert second.attributes["agents.turn.resumed"] is True and second.attributes["agents.turn.steps_replayed"] == 1
    replayed = [e for e in second.events if e.name == "agents.step.replayed"]
    assert [(e.attributes or {}).get("type") for e in replayed] == ["model"]
    [decided] = [e for e in second.events if e.name == "agents.approval.decided"]
    attributes = dict(decided.attributes or {})
    assert attributes["approval.id"] == paused.approvals[0]["id"] and attributes["tool"] == "transfer"
    assert attributes["approved"] is True and attributes["decided_by"] == "ana" and attributes["decided_at"] > 0
    exported = repr([(s.attributes, [(e.name, e.attributes) for e in s.events]) for s in spans.get_finished_spans()])
    assert "IBAN-SECRET-1" not in exported  # arguments are not recorded (content capture is off)
