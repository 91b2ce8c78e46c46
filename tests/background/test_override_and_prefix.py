"""A background turn goes through the agent's ``process_request`` override, and its URLs follow the project's
``routePrefix`` (here ``v1``): the local host (a real process) serving HTTP and queue triggers, Azurite's
queues, the real azure-storage-queue SDK and the scripted OpenAI server."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.servers.azurite import AzuriteQueues
from tests.servers.localhost import LocalHostProcess, app_env, wait_for
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply

from .test_local_host_turns import turn_status

APP = """
from azurefunctions.agents import Agent, AgentFunctionApp
from azurefunctions.agents.types import LLMConfig, LLMProvider


class CustomAgent(Agent):
    async def process_request(self, request_data):
        request_data["message"] = request_data["message"].upper()
        result = await super().process_request(request_data)
        result.response = result.response + " [reviewed]"
        return result


agent = CustomAgent(name="Desk", instructions="You answer.",
                    llm_config=LLMConfig(provider=LLMProvider.OPENAI, model_name="gpt-4o-mini"))
app = AgentFunctionApp(agents=[agent], background=True)
"""


def test_a_background_turn_runs_the_override_and_links_under_the_prefix(
        tmp_path: Path, storage: AzuriteQueues, queue_name: str) -> None:
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "function_app.py").write_text(APP, encoding="utf-8")
    (folder / "host.json").write_text(json.dumps({"version": "2.0", "extensions": {"http": {"routePrefix": "v1"}}}))
    with OpenAIServer() as model:
        model.script.add(Reply(text="Done."))
        env = {**app_env(tmp_path, model), "AzureWebJobsStorage": storage.connection_string,
               "AGENTS_WORK_QUEUE": queue_name, "AGENTS_LOCAL_QUEUE_POLL_SECONDS": "0.5"}
        with LocalHostProcess(folder, env=env, health_path="/v1/health") as host, \
                httpx.Client(base_url=host.url, timeout=30, trust_env=False) as client:
            reply = client.post("/v1/agents/Desk/chat", json={"message": "do it", "async": True, "user_id": "ana"})
            assert reply.status_code == 202, reply.text
            accepted = reply.json()
            location = accepted["location"]
            assert location == f"/v1/sessions/{accepted['session_id']}/turns/{accepted['turn_id']}"
            assert reply.headers["location"] == location
            assert accepted["stream"] == f"/v1/sessions/{accepted['session_id']}/stream"
            done = wait_for(lambda: (s := turn_status(client, f"{location}?user_id=ana"))["status"]
                            not in ("queued", "running") and s)
        assert done["status"] == "completed", done
        assert done["response"]["response"] == "Done. [reviewed]"
        assert [m["content"] for m in model.script.requests[-1]["messages"] if m["role"] == "user"] == ["DO IT"]
