"""What the real exporters post for one tool-using turn: Azure Monitor at a local ingestion endpoint, OTLP, console.

Each case runs the turn in a fresh process (``configure_azure_monitor`` is process-global). The Azure Monitor
cases ingest with Entra ID (``APPLICATIONINSIGHTS_AUTHENTICATION_STRING``) through the local managed identity,
over HTTPS.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers.appinsights import AppInsightsSink
from tests.servers.identity import IdentityServer
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, ScriptedToolCall

from .conftest import QUIET_EXPORTER, Run, run_scenario

TRACE_ID = secrets.token_hex(16)
PARENT_ID = secrets.token_hex(8)
CLIENT_ID = "0c5d7a3e-2222-4b6f-8e1a-000000000002"


@pytest.fixture
def tls_sink() -> Iterator[AppInsightsSink]:
    with AppInsightsSink(tls=True) as server:
        yield server


def canaries() -> dict[str, str]:
    return {"key": f"sk-canary-{secrets.token_hex(10)}", "argument": f"arg-canary-{secrets.token_hex(10)}",
            "header": f"hdr-canary-{secrets.token_hex(10)}"}


def run_turn(sink: AppInsightsSink, identity: IdentityServer, tmp_path: Path, canary: dict[str, str],
             **extra: str) -> Run:
    with OpenAIServer(api_key=canary["key"]) as model:
        model.script.add(Reply(tool_calls=[ScriptedToolCall("lookup", {"query": canary["argument"]})]),
                         Reply(text="It is a cat."))
        headers = {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01", "Authorization": f"Bearer {canary['header']}",
                   "x-functions-key": canary["header"]}
        env = {
            **QUIET_EXPORTER, **identity.env,
            "APPLICATIONINSIGHTS_CONNECTION_STRING": sink.connection_string,
            "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": f"Authorization=AAD;ClientId={CLIENT_ID}",
            "REQUESTS_CA_BUNDLE": sink.ca_file or "",
            "OPENAI_API_KEY": canary["key"], "OPENAI_BASE_URL": model.base_url,
            "SCENARIO_HEADERS": json.dumps(headers), **extra,
        }
        return run_scenario("tool", env, tmp_path)


def spans(sink: AppInsightsSink) -> dict[str, list[dict[str, Any]]]:
    by_name: dict[str, list[dict[str, Any]]] = {}
    for envelope in sink.of_type("RemoteDependencyData"):
        base = envelope["data"]["baseData"]
        by_name.setdefault(base["name"], []).append(envelope)
    return by_name


def metric(sink: AppInsightsSink, name: str) -> list[dict[str, Any]]:
    return [e["data"]["baseData"] for e in sink.of_type("MetricData")
            if any(m["name"] == name for m in e["data"]["baseData"]["metrics"])]


def test_one_tool_using_turn_is_one_trace_of_genai_spans_with_metrics(
        tls_sink: AppInsightsSink, identity: IdentityServer, tmp_path: Path) -> None:
    canary = canaries()
    run = run_turn(tls_sink, identity, tmp_path, canary)
    assert run.result["response"]["status"] == "success"
    assert run.result["response"]["response"] == "It is a cat."

    found = spans(tls_sink)
    (agent,) = found["invoke_agent Helper"]
    chats = found["chat gpt-4o-mini"]
    (tool,) = found["execute_tool lookup"]
    assert len(chats) == 2  # the call that asked for the tool, and the answer
    # One trace, continuing the caller's: the incoming traceparent is the parent of invoke_agent.
    for envelope in [agent, *chats, tool]:
        assert envelope["tags"]["ai.operation.id"] == TRACE_ID
    agent_id = agent["data"]["baseData"]["id"]
    assert agent["tags"]["ai.operation.parentId"] == PARENT_ID
    assert all(e["tags"]["ai.operation.parentId"] == agent_id for e in [*chats, tool])

    props = agent["data"]["baseData"]["properties"]
    assert props["gen_ai.operation.name"] == "invoke_agent"
    assert props["gen_ai.agent.name"] == "Helper"
    assert props["gen_ai.provider.name"] == props["gen_ai.system"] == "openai"
    assert props["gen_ai.conversation.id"] == "conv-42"
    assert (props["gen_ai.usage.input_tokens"], props["gen_ai.usage.output_tokens"]) == ("22", "14")

    chat = chats[0]["data"]["baseData"]
    assert chat["type"] == "GenAI | openai" and chat["target"] == "openai"  # classified as a GenAI dependency
    props = chat["properties"]
    assert props["gen_ai.operation.name"] == "chat"
    assert props["gen_ai.request.model"] == props["gen_ai.response.model"] == "gpt-4o-mini"
    assert props["gen_ai.usage.input_tokens"] == "11" and props["gen_ai.usage.output_tokens"] == "7"
    assert "tool_calls" in props["gen_ai.response.finish_reasons"]
    assert props["gen_ai.response.id"].startswith("chatcmpl-")
    assert props["gen_ai.conversation.id"] == "conv-42"
    assert "gen_ai.input.messages" not in props and "gen_ai.output.messages" not in props

    props = tool["data"]["baseData"]["properties"]
    assert props["gen_ai.operation.name"] == "execute_tool"
    assert props["gen_ai.tool.name"] == "lookup" and props["gen_ai.tool.type"] == "function"
    assert props["gen_ai.tool.call.id"] == run.result["response"]["tool_calls"][0]["id"]
    assert "gen_ai.tool.call.arguments" not in props and "gen_ai.tool.call.result" not in props

    usage = {m["properties"]["gen_ai.token.type"]: m for m in metric(tls_sink, "gen_ai.client.token.usage")}
    assert usage["input"]["metrics"][0]["value"] == 22 and usage["input"]["metrics"][0]["count"] == 2
    assert usage["output"]["metrics"][0]["value"] == 14
    assert usage["input"]["properties"]["gen_ai.provider.name"] == "openai"
    assert usage["input"]["properties"]["gen_ai.operation.name"] == "chat"
    assert usage["input"]["properties"]["server.address"] == "127.0.0.1"
    (duration,) = metric(tls_sink, "gen_ai.client.operation.duration")
    assert duration["metrics"][0]["count"] == 2

    # Entra ID ingestion with the managed identity named in APPLICATIONINSIGHTS_AUTHENTICATION_STRING.
    assert all(h["authorization"].startswith("Bearer local-mi-") for h in tls_sink.headers)
    assert any(r.resource.startswith("https://monitor.azure.com") and r.client_id == CLIENT_ID
               for r in identity.requests)
    assert tls_sink.other_paths == []  # no live metrics, no other endpoint

    # The canaries (API key, tool argument, request headers) are nowhere.
    everything = tls_sink.raw_text() + run.stdout + run.stderr + json.dumps(run.result)
    response_without_tool_args = json.dumps({k: v for k, v in run.result["response"].items() if k != "tool_calls"})
    assert canary["key"] not in everything
    assert canary["header"] not in everything
    assert canary["argument"] not in tls_sink.raw_text() + run.stderr + response_without_tool_args
    assert tls_sink.of_type("MessageData")  # the runtime's log records were exported, and scanned above


def test_content_capture_is_opt_in_and_never_includes_keys_or_headers(
        tls_sink: AppInsightsSink, identity: IdentityServer, tmp_path: Path) -> None:
    canary = canaries()
    run = run_turn(tls_sink, identity, tmp_path, canary,
                   OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true")
    assert run.result["response"]["status"] == "success"
    found = spans(tls_sink)
    first, second = sorted(found["chat gpt-4o-mini"], key=lambda e: e["time"])
    messages = json.loads(first["data"]["baseData"]["properties"]["gen_ai.input.messages"])
    assert messages == [{"role": "user", "parts": [{"type": "text", "content": "What is in the box?"}]}]
    output = json.loads(second["data"]["baseData"]["properties"]["gen_ai.output.messages"])
    assert output[0]["parts"] == [{"type": "text", "content": "It is a cat."}]
    (tool,) = found["execute_tool lookup"]
    props = tool["data"]["baseData"]["properties"]
    assert json.loads(props["gen_ai.tool.call.arguments"]) == {"query": canary["argument"]}
    assert props["gen_ai.tool.call.result"] == f"found {len(canary['argument'])} characters"
    everything = tls_sink.raw_text() + run.stdout + run.stderr + json.dumps(run.result)
    assert canary["key"] not in everything and canary["header"] not in everything


def test_without_a_connection_string_nothing_is_configured_or_imported(tmp_path: Path) -> None:
    run = run_scenario("offline", {}, tmp_path)
    assert run.result["response"]["status"] == "success"
    assert run.result["telemetry"] == "NoopInstrumentation"
    assert run.result["modules"] == []


def test_otel_console_exporter_when_the_standard_variables_ask_for_it(tmp_path: Path) -> None:
    run = run_scenario("offline", {"OTEL_TRACES_EXPORTER": "console", "OTEL_METRICS_EXPORTER": "none",
                                   "OTEL_SERVICE_NAME": "agents-test"}, tmp_path)
    assert run.result["telemetry"] == "OTelInstrumentation"
    assert not any(m.startswith("azure.monitor") for m in run.result["modules"])
    printed = run.stdout
    for name in ('"invoke_agent Helper"', '"chat gpt-4o-mini"', '"execute_tool lookup"'):
        assert f'"name": {name}' in printed
    assert '"gen_ai.provider.name": "offline"' in printed
    assert '"service.name": "agents-test"' in printed


def test_sdk_disabled_wins(tmp_path: Path, tls_sink: AppInsightsSink) -> None:
    run = run_scenario("offline", {"OTEL_SDK_DISABLED": "true",
                                   "APPLICATIONINSIGHTS_CONNECTION_STRING": tls_sink.connection_string}, tmp_path)
    assert run.result["telemetry"] == "NoopInstrumentation" and run.result["modules"] == []


def test_otlp_exporter_when_an_otlp_endpoint_is_set(tmp_path: Path) -> None:
    from .otlp_collector import OTLPCollector

    with OTLPCollector() as collector:
        run = run_scenario("offline", {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url}, tmp_path)
    assert run.result["telemetry"] == "OTelInstrumentation"
    names = {span.name: span for span in collector.spans}
    assert {"invoke_agent Helper", "chat gpt-4o-mini", "execute_tool lookup"} <= set(names)
    root = names["invoke_agent Helper"]
    assert names["execute_tool lookup"].parent_span_id == root.span_id
    attributes = {a.key: a.value.string_value for a in names["chat gpt-4o-mini"].attributes}
    assert attributes["gen_ai.provider.name"] == "offline"
    assert {"gen_ai.client.token.usage", "gen_ai.client.operation.duration"} <= set(collector.metric_names)


def test_application_insights_without_live_metrics_goes_through_the_exporter_alone(
        tls_sink: AppInsightsSink, identity: IdentityServer, tmp_path: Path) -> None:
    run = run_turn(tls_sink, identity, tmp_path, canaries())
    assert run.result["response"]["status"] == "success"
    assert "telemetry: Azure Monitor exporter (Application Insights) with Entra ID ingestion" in run.stderr
    assert spans(tls_sink)["invoke_agent Helper"]
    assert tls_sink.other_paths == []  # no Live Metrics


def test_live_metrics_use_the_azure_monitor_distro_when_it_is_installed(
        tls_sink: AppInsightsSink, identity: IdentityServer, tmp_path: Path) -> None:
    # The distro is part of the `azure` extra the test environment installs (`monitor-live`).
    run = run_turn(tls_sink, identity, tmp_path, canaries(), AGENTS_TELEMETRY_LIVE_METRICS="true",
                   SCENARIO_LINGER_SECONDS="7")
    assert run.result["response"]["status"] == "success"
    assert "telemetry: Azure Monitor distro (Application Insights, Live Metrics)" in run.stderr
    assert spans(tls_sink)["invoke_agent Helper"]
    # Live Metrics (QuickPulse) pings the connection string's LiveEndpoint within 5 s; this sink answers 404.
    assert any("QuickPulseService.svc" in path for path in tls_sink.other_paths)


def test_logs_exporter_and_resource_variables_are_read_by_the_sdk(tmp_path: Path) -> None:
    # Variables the runtime itself never reads: the SDK's own environment configuration honours them.
    run = run_scenario("offline", {"OTEL_TRACES_EXPORTER": "console", "OTEL_METRICS_EXPORTER": "none",
                                   "OTEL_LOGS_EXPORTER": "console",
                                   "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED": "true",
                                   "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=test-env"}, tmp_path)
    assert run.result["telemetry"] == "OTelInstrumentation"
    assert '"body": "telemetry: OpenTelemetry SDK (console)"' in run.stdout  # a log record, exported
    assert '"deployment.environment": "test-env"' in run.stdout
    assert '"service.name": "azurefunctions-agents"' in run.stdout  # named by the runtime when nothing else does
