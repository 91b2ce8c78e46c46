"""The registered functions of a streaming app as the Python worker checks and calls them in the HTTP-streams
model (Core Tools cannot run here, so this is the worker's contract, step by step).

The worker (azure_functions_worker: ``http_v2.py``, ``functions.py``, ``bindings/meta.py``) enables HTTP streams
when ``PYTHON_ENABLE_INIT_INDEXING`` is on and ``HttpV2FeatureChecker.http_v2_enabled()`` (a web extension was
imported); it then requires, for every HTTP function: parameters that match the bindings, the trigger
parameter's annotation accepted by ``RequestTrackerMeta.check_type`` and the return annotation by
``ResponseTrackerMeta.check_type`` (read with ``typing.get_type_hints``). It calls the function with the
request its FastAPI catch-all route received, after copying the invocation's route parameters into
``request.path_params`` with the extension's synchronizer, and sends the returned response as ASGI.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import subprocess
import sys
import typing
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest

from azurefunctions.agents import Agent, AgentFunctionApp
from azurefunctions.agents.localhost.context import LocalContext
from azurefunctions.agents.sessions import MemorySessionStore
from azurefunctions.agents.types import LLMConfig

ROOT = Path(__file__).resolve().parents[2]


def streaming_app(**kwargs: Any) -> AgentFunctionApp:
    echo = Agent(name="Echo", instructions="Echo.", llm_config=LLMConfig(provider="offline"), streaming=True)
    return AgentFunctionApp(agents=[echo], session_store=MemorySessionStore(), **kwargs)


def test_every_trigger_is_valid_for_the_http_streams_worker() -> None:
    ext_base = pytest.importorskip("azurefunctions.extensions.base")
    functions = streaming_app().get_functions()
    assert ext_base.HttpV2FeatureChecker.http_v2_enabled()
    assert ext_base.RequestTrackerMeta.get_request_type() is not None
    assert {f.get_function_name() for f in functions} >= {"agents_chat", "sessions_stream", "health"}
    for function in functions:
        user = function.get_user_function()
        bindings = json.loads(function.get_function_json())["bindings"]
        trigger = next(b for b in bindings if b["type"] == "httpTrigger")
        output = next(b for b in bindings if b["name"] == "$return")
        assert output["type"] == "http" and output["direction"] == "OUT"
        params = set(inspect.signature(user).parameters) - {"context"}  # the worker passes context by name
        assert params == {b["name"] for b in bindings if b["name"] != "$return"} == {trigger["name"]}
        hints = typing.get_type_hints(user)
        assert hints["context"].__name__ == "Context"  # the worker refuses any other annotation
        assert ext_base.RequestTrackerMeta.check_type(hints[trigger["name"]]), function.get_function_name()
        assert ext_base.ResponseTrackerMeta.check_type(hints["return"]), function.get_function_name()
        assert inspect.iscoroutinefunction(user)


async def call_like_the_worker(function: Any, method: str, path: str, route_params: dict[str, str],
                               body: bytes = b"", headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The request as the worker's FastAPI route sees it, route params synced, the response run as ASGI."""
    from azurefunctions.extensions.base import RequestTrackerMeta
    from starlette.requests import Request

    raw_headers = [(k.encode(), v.encode()) for k, v in {"host": "app.azurewebsites.net",
                                                          "content-type": "application/json",
                                                          **(headers or {})}.items()]
    scope: dict[str, Any] = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"},
                             "http_version": "1.1", "method": method, "scheme": "https", "path": path,
                             "raw_path": path.encode(), "query_string": b"", "headers": raw_headers,
                             "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5000), "root_path": "",
                             "path_params": {"path": path.lstrip("/")}}
    delivered = False
    forever = asyncio.Event()

    async def receive() -> MutableMapping[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await forever.wait()  # as a real server does: nothing more until the client goes away
        return {"type": "http.disconnect"}

    sent: list[dict[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    request = Request(scope, receive)
    RequestTrackerMeta.get_synchronizer().sync_route_params(request, route_params)
    context = LocalContext(function.get_function_name(), ".",
                           traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    response = await function.get_user_function()(request, context)
    await asyncio.wait_for(response(scope, receive, send), 10)
    return sent


async def test_streaming_and_json_answers_through_the_worker_contract() -> None:
    pytest.importorskip("azurefunctions.extensions.http.fastapi")
    functions = {f.get_function_name(): f for f in streaming_app().get_functions()}
    chat = functions["agents_chat"]
    sent = await call_like_the_worker(chat, "POST", "/api/agents/Echo/chat", {"agent_name": "Echo"},
                                      json.dumps({"message": "hello there", "user_id": "u"}).encode())
    start = sent[0]
    assert start["type"] == "http.response.start" and start["status"] == 200
    assert dict(start["headers"])[b"content-type"].startswith(b"text/event-stream")
    chunks = [m["body"] for m in sent[1:] if m.get("body")]
    assert len(chunks) > 2, "the events were sent as one block"
    text = b"".join(chunks).decode()
    assert text.startswith("id: ") and "event: turn_started" in text and "event: done" in text
    assert sent[-1]["more_body"] is False

    sent = await call_like_the_worker(chat, "POST", "/api/agents/Echo/chat", {"agent_name": "Echo"},
                                      json.dumps({"message": "hi"}).encode(), {"accept": "application/json"})
    assert sent[0]["status"] == 200
    body = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    assert body["response"].startswith("[offline model]") and body["agent"] == "Echo"

    sent = await call_like_the_worker(functions["agents_info"], "GET", "/api/agents/Nobody/info",
                                      {"agent_name": "Nobody"})
    assert sent[0]["status"] == 404
    assert json.loads(sent[1]["body"])["error"]["code"] == "agent_not_found"


def test_classic_apps_never_import_fastapi_and_streaming_apps_switch_the_whole_app() -> None:
    code = """
import sys
from azurefunctions.agents import Agent, AgentFunctionApp
from azurefunctions.agents.types import LLMConfig
agent = Agent(name="A", llm_config=LLMConfig(provider="offline"))
app = AgentFunctionApp(agents=[agent])
app.get_functions()
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("fastapi", "starlette", "uvicorn")
                or m.startswith("azurefunctions.extensions"))
print("classic", loaded)
streaming = AgentFunctionApp(agents=[Agent(name="B", llm_config=LLMConfig(provider="offline"), streaming=True)])
from azurefunctions.extensions.base import HttpV2FeatureChecker
print("streams", HttpV2FeatureChecker.http_v2_enabled())
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert "classic []" in result.stdout and "streams True" in result.stdout
