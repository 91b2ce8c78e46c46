"""The same streamed, tool-using turn on every provider, over real HTTP: the app's streams-mode handlers served
by the local host's ASGI app, each provider's real SDK talking to its local server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from azurefunctions.agents import Agent, AgentFunctionApp
from azurefunctions.agents.localhost.loader import LoadedApp
from azurefunctions.agents.localhost.server import LocalHost, http_functions
from azurefunctions.agents.sessions import MemorySessionStore
from tests.providers.conftest import ProviderCase
from tests.servers.base import LocalServer
from tests.servers.scripted import Reply, ScriptedToolCall

from .sse_client import events

ANSWER = "Order A1 shipped yesterday; expect it on Friday."


def lookup(code: str) -> str:
    """Look up an order by its code."""
    return f"order {code} shipped"


class _Served:
    """The local host's ASGI app, remembering the event loop it runs on (the server's thread) so the app's
    model clients can be closed there."""

    def __init__(self, host: LocalHost) -> None:
        self.host = host
        self.loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.loop = asyncio.get_running_loop()
        await self.host(scope, receive, send)


@pytest.fixture
def served(provider_case: ProviderCase) -> Iterator[tuple[str, ProviderCase]]:
    agent = Agent(name="Orders", instructions="You track orders.", tools=[lookup], llm_config=provider_case.config,
                  streaming=True)
    app = AgentFunctionApp(agents=[agent], session_store=MemorySessionStore(), http_auth_level="anonymous")
    loaded = LoadedApp(directory=Path("."), app=app, functions=list(app.get_functions()), route_prefix=app.route_prefix,
                       loaded_settings=[])
    functions = http_functions(loaded)
    assert all(f.streams for f in functions)
    asgi = _Served(LocalHost(functions))
    with LocalServer(asgi) as server:
        yield server.url, provider_case
        if asgi.loop is not None:
            asyncio.run_coroutine_threadsafe(app.aclose(), asgi.loop).result(10)


def test_streamed_tool_turn_on_every_provider(served: tuple[str, ProviderCase]) -> None:
    url, case = served
    case.script.add(Reply(tool_calls=[ScriptedToolCall("lookup", {"code": "A1"})]),
                    Reply(text=ANSWER, chunk_size=5, chunk_delay=0.01))
    with httpx.Client(timeout=30) as client, client.stream(
            "POST", f"{url}/api/agents/Orders/chat", json={"message": "Where is order A1?", "user_id": "pat"},
    ) as response:
        assert response.status_code == 200
        received = list(events(response))
    names = [e.event for e in received]
    assert names[0] == "turn_started" and names[-1] == "done", names
    calls = [e.data for e in received if e.event == "tool_call"]
    results = [e.data for e in received if e.event == "tool_result"]
    assert [(c["name"], c["arguments"]) for c in calls] == [("lookup", {"code": "A1"})]
    assert [r["result"] for r in results] == ["order A1 shipped"]
    assert names.index("tool_call") < names.index("tool_result") < names.index("text_delta")
    deltas = [e.data["text"] for e in received if e.event == "text_delta"]
    assert len(deltas) > 3, f"{case.name}: the answer was not streamed in pieces"
    assert "".join(deltas) == ANSWER
    done = received[-1].data["response"]
    assert done["response"] == ANSWER and done["status"] == "success"
    assert [c["name"] for c in done["tool_calls"]] == ["lookup"] and done["usage"]["requests"] == 2
    assert len(case.script.requests) == 2
    # The second model call carried the tool result back, in this provider's own wire format.
    assert ("tool", "result", "order A1 shipped") in case.normalise(case.script.requests[1])
