"""The advanced-features sample served by the local host, its model a local OpenAI-compatible server that
streams slowly, read with a streaming HTTP client (what ``curl -N`` shows)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.servers.localhost import LocalHostProcess
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, ScriptedToolCall

SAMPLE = Path(__file__).resolve().parents[1]
ANSWER = "It is early evening in Paris, a good time for a walk along the Seine."


@pytest.fixture(scope="module")
def sample(model: OpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHostProcess]:
    env = {"OPENAI_API_KEY": model.api_key, "OPENAI_BASE_URL": model.base_url,
           "AGENTS_SESSION_DB": str(tmp_path_factory.mktemp("af") / "sessions.sqlite3")}
    with LocalHostProcess(SAMPLE, env=env) as host:
        yield host


def sse(lines: Iterator[str]) -> Iterator[tuple[str, str, dict[str, Any], float]]:
    """(id, event, data, arrival time) for each event of a text/event-stream body."""
    fields: dict[str, str] = {}
    for line in lines:
        if not line:
            if "data" in fields:
                yield fields["id"], fields["event"], json.loads(fields["data"]), time.monotonic()
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            fields[name] = value


def test_the_agent_streams_by_default_with_its_tool_calls(sample: LocalHostProcess, model: OpenAIServer) -> None:
    model.script.clear()
    model.script.add(Reply(tool_calls=[ScriptedToolCall("local_time", {"timezone": "Europe/Paris"})]),
                     Reply(text=ANSWER, chunk_size=6, chunk_delay=0.05))
    with httpx.stream("POST", f"{sample.url}/api/agents/TravelGuide/chat", timeout=30,
                      json={"message": "What time is it in Paris?", "user_id": "ana"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = list(sse(response.iter_lines()))
    names = [name for _, name, _, _ in events]
    assert names[0] == "turn_started" and names[-1] == "done"
    assert names.index("tool_call") < names.index("tool_result") < names.index("text_delta")
    result = next(data for _, name, data, _ in events if name == "tool_result")
    assert result["name"] == "local_time" and result["result"].startswith("Europe/Paris: ")
    deltas = [(data["text"], at) for _, name, data, at in events if name == "text_delta"]
    assert "".join(text for text, _ in deltas) == ANSWER
    assert events[-1][3] - deltas[0][1] > 0.4, "the answer arrived in one block"
    assert events[-1][2]["response"]["response"] == ANSWER


def test_json_when_asked_for_and_resume_after_a_lost_connection(sample: LocalHostProcess,
                                                                model: OpenAIServer) -> None:
    model.script.clear()
    model.script.add(Reply(text="Twenty degrees Celsius is 68 °F."))
    plain = httpx.post(f"{sample.url}/api/agents/TravelGuide/chat", headers={"accept": "application/json"},
                       json={"message": "20 C in F?"}, timeout=30)
    assert plain.status_code == 200 and plain.json()["response"] == "Twenty degrees Celsius is 68 °F."

    model.script.add(Reply(text=ANSWER, chunk_size=3, chunk_delay=0.05))
    seen = []
    with httpx.stream("POST", f"{sample.url}/api/agents/TravelGuide/chat", timeout=30,
                      json={"message": "Evening plans?", "user_id": "ana"}) as response:
        for event in sse(response.iter_lines()):
            seen.append(event)
            if len(seen) == 4:
                break  # the connection drops
    session_id = seen[0][2]["session_id"]
    with httpx.stream("GET", f"{sample.url}/api/sessions/{session_id}/stream", params={"user_id": "ana"},
                      headers={"last-event-id": seen[-1][0]}, timeout=30) as response:
        rest = list(sse(response.iter_lines()))
    ids = [event_id for event_id, *_ in seen + rest]
    assert len(ids) == len(set(ids)) and rest[-1][1] == "done"
    text = "".join(data["text"] for _, name, data, _ in seen + rest if name == "text_delta")
    assert text == ANSWER
