"""The A2A sample in the local host, driven by the a2a-sdk client (offline model, deterministic answers)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.types.a2a_pb2 import GetTaskRequest, Message, Part, Role, SendMessageRequest, TaskState
from tests.servers.localhost import LocalHostProcess

SAMPLE = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHostProcess]:
    env = {"AGENTS_SESSION_DB": str(tmp_path_factory.mktemp("a2a-sample") / "sessions.sqlite3"),
           "OPENAI_API_KEY": "", "AZURE_OPENAI_ENDPOINT": "", "AGENT_PROVIDER": ""}
    with LocalHostProcess(SAMPLE, env=env) as host:
        yield host


def ask(text: str) -> SendMessageRequest:
    return SendMessageRequest(message=Message(message_id=uuid.uuid4().hex, role=Role.ROLE_USER,
                                              parts=[Part(text=text)]))


async def test_readme_client_streams_a_conversion(sample: LocalHostProcess) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        card = await A2ACardResolver(http, sample.url).get_agent_card()
    assert card.name == "UnitConverter"
    assert [s.name for s in card.skills] == ["UnitConverter", "celsius_to_fahrenheit", "kilometres_to_miles",
                                             "ask_user"]
    assert card.capabilities.streaming is True
    client = ClientFactory(ClientConfig(streaming=True)).create(card)
    try:
        events = [event async for event in client.send_message(ask("Convert 42 km to miles"))]
        final = events[-1].status_update
        assert final.status.state == TaskState.TASK_STATE_COMPLETED
        artifact = next(e.artifact_update.artifact for e in events if e.HasField("artifact_update"))
        assert artifact.parts[0].text == "[offline model] kilometres_to_miles returned: 42 km is 26.10 miles"
        task = await client.get_task(GetTaskRequest(id=final.task_id))
        assert task.status.state == TaskState.TASK_STATE_COMPLETED and task.artifacts[0].parts[0].text == \
            artifact.parts[0].text
    finally:
        await client.close()


def test_readme_curl_and_the_glossary_agent(sample: LocalHostProcess) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": {
        "messageId": "m1", "role": "ROLE_USER", "parts": [{"text": "Convert 21.5 degrees Celsius to Fahrenheit"}]}}}
    task = httpx.post(f"{sample.url}/api/agents/UnitConverter/a2a", json=body, headers={"A2A-Version": "1.0"},
                      timeout=30).json()["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"
    assert task["artifacts"][0]["parts"][0]["text"].endswith("21.5 °C is 70.7 °F")
    legacy = {"jsonrpc": "2.0", "id": 2, "method": "message/send", "params": {"message": {
        "messageId": "m2", "role": "user", "kind": "message",
        "parts": [{"kind": "text", "text": "Define the A2A term artifact"}]}}}
    result = httpx.post(f"{sample.url}/api/agents/Glossary/a2a", json=legacy, timeout=30).json()["result"]
    assert result["status"]["state"] == "completed"
    assert "artifact: An output of a task" in result["artifacts"][0]["parts"][0]["text"]
    assert [a["name"] for a in httpx.get(f"{sample.url}/api/agents").json()["agents"]] == ["UnitConverter",
                                                                                           "Glossary"]
    glossary_card = httpx.get(f"{sample.url}/api/agents/Glossary/.well-known/agent-card.json").json()
    assert glossary_card["supportedInterfaces"][0]["url"] == f"{sample.url}/api/agents/Glossary/a2a"
