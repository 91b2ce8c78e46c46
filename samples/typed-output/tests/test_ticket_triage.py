"""TicketTriage served by the local host: a typed answer over HTTP, in the SSE final event, in the info route
and the OpenAPI description; an answer that never validates fails clearly; the Python API returns it typed."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate
from tests.servers.localhost import LocalHostProcess
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, Script

SAMPLE = Path(__file__).resolve().parents[1]
TRIAGE = {"category": "billing", "priority": 1, "summary": "The customer was charged twice for March.",
          "needs_human": True}
TICKET = "I was charged twice for March and nobody answers my emails!"


@pytest.fixture(scope="module")
def triage(model: OpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHostProcess]:
    env = {"OPENAI_API_KEY": model.api_key, "OPENAI_BASE_URL": model.base_url,
           "AGENTS_SESSION_DB": str(tmp_path_factory.mktemp("triage") / "s.sqlite3")}
    with LocalHostProcess(SAMPLE, env=env) as host:
        yield host


def chat(host: LocalHostProcess, **body: Any) -> httpx.Response:
    return httpx.post(f"{host.url}/api/agents/TicketTriage/chat", json={"message": TICKET, **body}, timeout=30)


def test_the_reply_carries_the_typed_triage(triage: LocalHostProcess, script: Script) -> None:
    script.add(Reply(text=json.dumps(TRIAGE)))
    response = chat(triage)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["output"] == TRIAGE
    assert json.loads(body["response"]) == TRIAGE
    sent = script.requests[0]["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["name"] == "Triage"
    assert sent["json_schema"]["strict"] is True
    assert sent["json_schema"]["schema"]["properties"]["category"]["enum"] == [
        "billing", "bug", "account", "feature_request", "other"]


def test_the_sse_final_event_carries_the_typed_triage(triage: LocalHostProcess, script: Script) -> None:
    script.add(Reply(text=json.dumps(TRIAGE), chunk_size=10))
    events: list[tuple[str, dict[str, Any]]] = []
    with httpx.stream("POST", f"{triage.url}/api/agents/TicketTriage/chat", timeout=30,
                      json={"message": TICKET, "stream": True}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        for line in response.iter_lines():
            if not line:
                if "data" in fields:
                    events.append((fields.get("event", ""), json.loads(fields["data"])))
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(": ")
                fields[name] = value
    name, data = events[-1]
    assert name == "done"
    assert data["response"]["output"] == TRIAGE
    deltas = "".join(d["text"] for n, d in events if n == "text_delta")
    assert json.loads(deltas) == TRIAGE


def test_an_answer_that_never_matches_fails_with_invalid_output(triage: LocalHostProcess,
                                                                script: Script) -> None:
    script.add(Reply(text=json.dumps({**TRIAGE, "priority": 7})),
               Reply(text=json.dumps({**TRIAGE, "category": "refund"})))
    response = chat(triage)
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "invalid_output"
    assert "Triage" in error["message"] and "category" in error["message"]
    retry = script.requests[1]["messages"]
    assert retry[-1]["role"] == "user" and "priority" in retry[-1]["content"]


def test_info_and_openapi_show_the_output_schema(triage: LocalHostProcess) -> None:
    info = httpx.get(f"{triage.url}/api/agents/TicketTriage/info").json()
    assert set(info["output_schema"]["properties"]) == {"category", "priority", "summary", "needs_human"}
    document = httpx.get(f"{triage.url}/api/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert schemas["ChatResponse"]["properties"]["output"]["anyOf"][0] == {
        "$ref": "#/components/schemas/Output_TicketTriage"}
    assert schemas["Output_TicketTriage"]["required"] == ["category", "priority", "summary", "needs_human"]
    validate(document)  # a valid OpenAPI 3.1 document, every $ref resolving


def test_offline_the_labelled_model_answers_with_a_valid_example(tmp_path: Path) -> None:
    env = {"AGENTS_SESSION_DB": str(tmp_path / "s.sqlite3")}
    with LocalHostProcess(SAMPLE, env=env) as host:
        body = chat(host).json()
    assert body["output"]["summary"].startswith("[offline model]")
    assert body["output"]["category"] == "billing" and 1 <= body["output"]["priority"] <= 4


async def test_the_python_api_returns_a_triage_instance(model: OpenAIServer, script: Script,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", model.api_key)
    monkeypatch.setenv("OPENAI_BASE_URL", model.base_url)
    monkeypatch.syspath_prepend(str(SAMPLE))
    spec = importlib.util.spec_from_file_location("typed_output_app", SAMPLE / "function_app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "typed_output_app", module)
    spec.loader.exec_module(module)
    from azurefunctions.agents import Runner

    script.add(Reply(text=json.dumps(TRIAGE)))
    response = await Runner(module.triage_agent).run(TICKET)
    await module.triage_agent.aclose()
    assert isinstance(response.output, module.Triage)
    assert response.output.priority == 1 and response.output.needs_human is True
