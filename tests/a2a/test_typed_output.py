"""A typed agent (``Agent(output_type=...)``) over A2A: the answer artifact holds the JSON text and a data part
with the typed object, through the A2A handlers called in-process with a scripted model."""

from __future__ import annotations

import json
import uuid
from typing import Any

from pydantic import BaseModel
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply

from azurefunctions.agents import Agent, AgentFunctionApp, AgentMode
from azurefunctions.agents.http.calls import HttpCall
from azurefunctions.agents.sessions import MemorySessionStore
from azurefunctions.agents.types import LLMConfig


class City(BaseModel):
    name: str
    population: int


async def test_typed_answer_is_a_data_part_of_the_answer_artifact(openai: OpenAIServer) -> None:
    agent = Agent(name="Cities", output_type=City, llm_config=LLMConfig(provider="openai"))
    app = AgentFunctionApp(agents=[agent], mode=AgentMode.A2A, session_store=MemorySessionStore(),
                           create_triggers=False)
    openai.script.add(Reply(text='{"name": "Oslo", "population": 709000}'))
    try:
        assert app.a2a is not None
        spec = next(s for s in app.route_specs if s.name == "a2a_rpc")
        params: dict[str, Any] = {"message": {"messageId": uuid.uuid4().hex, "role": "ROLE_USER",
                                              "parts": [{"text": "How big is Oslo?"}]}}
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": params}).encode()
        reply = await app.a2a.dispatch(spec, HttpCall(
            method="POST", path="/api/agents/Cities/a2a", query={}, route_params={"agent_name": "Cities"},
            headers={"content-type": "application/json", "a2a-version": "1.0"}, body=body,
            base_url="https://cities.example"))
        result = json.loads((await reply.read_all()).decode())["result"]
    finally:
        await app.aclose()
    task = result["task"]
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"
    parts = task["artifacts"][0]["parts"]
    assert json.loads(parts[0]["text"]) == {"name": "Oslo", "population": 709000}
    assert parts[1]["data"] == {"output": {"name": "Oslo", "population": 709000}}
    assert parts[1]["mediaType"] == "application/json"
