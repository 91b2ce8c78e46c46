"""The A2A handlers called in-process (HttpCall in, HttpReply out) with a scripted model, and the task store."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from typing import Any

from a2a.server.cluster.version import TaskVersion
from a2a.server.context import ServerCallContext
from a2a.types.a2a_pb2 import ListTasksRequest, Task, TaskPushNotificationConfig, TaskState, TaskStatus
from google.protobuf.json_format import MessageToDict
from tests.a2a.stored_tasks import NamedUser, put, read, task_at
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, ScriptedToolCall

from azurefunctions.agents import Agent, AgentFunctionApp, AgentMode
from azurefunctions.agents.a2a.store import SessionPushConfigStore, SessionTaskStore
from azurefunctions.agents.http.calls import HttpCall
from azurefunctions.agents.sessions import MemorySessionStore, Session
from azurefunctions.agents.types import LLMConfig


def lookup(city: str) -> str:
    """Look up the population of a city."""
    return f"{city}: 1,000,000 people"


def make_app(**options: Any) -> AgentFunctionApp:
    agent = Agent(name="Cities", instructions="Answer with the lookup tool.", tools=[lookup],
                  llm_config=LLMConfig(provider="openai", model_name="gpt-4o-mini"))
    # routePrefix "" as in the samples' host.json: the root card is served only without a prefix.
    options.setdefault("route_prefix", "")
    return AgentFunctionApp(agents=[agent], mode=AgentMode.A2A, session_store=MemorySessionStore(),
                            create_triggers=False, **options)


async def call_rpc(app: AgentFunctionApp, method: str, params: dict[str, Any],
                   version: str | None = "1.0") -> list[dict[str, Any]]:
    assert app.a2a is not None
    spec = next(s for s in app.route_specs if s.name == "a2a_rpc")
    headers = {"content-type": "application/json", **({"a2a-version": version} if version else {})}
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    reply = await app.a2a.dispatch(spec, HttpCall(method="POST", path="/api/agents/Cities/a2a", headers=headers,
                                                  query={}, route_params={"agent_name": "Cities"}, body=body,
                                                  base_url="https://cities.example"))
    raw = (await reply.read_all()).decode()
    if reply.stream is None:
        return [json.loads(raw)]
    return [json.loads(line[len("data: "):]) for line in raw.splitlines() if line.startswith("data: ")]


def message(text: str) -> dict[str, Any]:
    return {"message": {"messageId": uuid.uuid4().hex, "role": "ROLE_USER", "parts": [{"text": text}]}}


async def test_scripted_tool_loop_streams_status_updates_and_the_answer(openai: OpenAIServer) -> None:
    openai.script.add(Reply(tool_calls=[ScriptedToolCall("lookup", {"city": "Oslo"})]),
                      Reply(text="Oslo has about a million people."))
    app = make_app()
    try:
        events = [e["result"] for e in await call_rpc(app, "SendStreamingMessage", message("How big is Oslo?"))]
    finally:
        await app.aclose()
    kinds = [next(iter(e)) for e in events]
    assert kinds[0] == "task" and kinds[-1] == "statusUpdate" and kinds[-2] == "artifactUpdate"
    assert events[-1]["statusUpdate"]["status"]["state"] == "TASK_STATE_COMPLETED"
    data = [part["data"] for e in events if "statusUpdate" in e
            for part in e["statusUpdate"]["status"].get("message", {}).get("parts", []) if "data" in part]
    assert data[0] == {"type": "tool_call", "agent": "Cities", "callId": data[0]["callId"], "name": "lookup",
                       "arguments": {"city": "Oslo"}}
    assert data[1]["type"] == "tool_result" and data[1]["result"] == "Oslo: 1,000,000 people"
    artifact = events[-2]["artifactUpdate"]["artifact"]
    assert artifact["parts"][0]["text"] == "Oslo has about a million people."
    assert artifact["metadata"]["sessionId"] == events[0]["task"]["contextId"]
    # The protocol's JSON conventions in metadata too: camelCase keys, whole numbers as integers.
    usage = artifact["metadata"]["usage"]
    assert usage == {"inputTokens": 22, "outputTokens": 14, "totalTokens": 36, "requests": 2, "reasoningTokens": 0}
    assert all(type(v) is int for v in usage.values())
    assert "handoffPath" in artifact["metadata"] and "session_id" not in artifact["metadata"]
    assert openai.script.requests[0]["model"] == "gpt-4o-mini"


async def test_a_failed_turn_fails_the_task_with_a_safe_message(openai: OpenAIServer) -> None:
    openai.script.add(Reply(status=400))
    app = make_app()
    try:
        result = (await call_rpc(app, "SendMessage", message("How big is Oslo?")))[0]["result"]["task"]
    finally:
        await app.aclose()
    assert result["status"]["state"] == "TASK_STATE_FAILED"
    text = result["status"]["message"]["parts"][0]["text"]
    assert text and "Traceback" not in text
    assert result["status"]["message"]["metadata"]["code"]


async def test_anonymous_rpc_route_has_no_security_schemes() -> None:
    app = make_app(auth_levels={"a2a": "ANONYMOUS"})
    assert app.a2a is not None
    spec = next(s for s in app.route_specs if s.name == "a2a_root_card")
    reply = await app.a2a.dispatch(spec, HttpCall(method="GET", path="/.well-known/agent-card.json", headers={},
                                                  query={}, route_params={}, base_url="https://cities.example"))
    card = json.loads(reply.body)
    assert "securitySchemes" not in card and "securityRequirements" not in card
    assert card["supportedInterfaces"][0]["url"] == "https://cities.example/api/agents/Cities/a2a"
    await app.aclose()


def test_the_a2a_sdk_loads_on_the_first_a2a_request_only() -> None:
    code = """
import asyncio, sys, json
from azurefunctions.agents import Agent, AgentFunctionApp, AgentMode
from azurefunctions.agents.http.calls import HttpCall
from azurefunctions.agents.types import LLMConfig
app = AgentFunctionApp(agents=[Agent(name="A", llm_config=LLMConfig(provider="offline"))], mode=AgentMode.A2A,
                       route_prefix="")
functions = [f.get_function_name() for f in app.get_functions()]
before = sorted(m for m in sys.modules if m.split(".")[0] in ("a2a", "google", "sse_starlette"))
spec = next(s for s in app.route_specs if s.name == "a2a_root_card")
reply = asyncio.run(app.a2a.dispatch(spec, HttpCall("GET", "/.well-known/agent-card.json", {}, {}, {})))
print(json.dumps({"functions": functions, "before": before, "after": "a2a" in sys.modules, "status": reply.status}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert {"a2a_rpc", "a2a_agent_card", "a2a_root_card", "a2a_root_card_legacy", "health"} <= set(
        result["functions"])
    assert result["before"] == [] and result["after"] is True and result["status"] == 200


class SessionItemsOnly(MemorySessionStore):
    """A session store that offers no document store (as a custom one may not)."""

    def documents(self) -> None:  # type: ignore[override]
        return None


async def test_tasks_an_earlier_version_kept_as_session_items_stay_readable_listed_and_writable() -> None:
    sessions = MemorySessionStore()
    alice = ServerCallContext(user=NamedUser("alice"))
    task = task_at(TaskState.TASK_STATE_WORKING, 5)
    # The layout an earlier version wrote: the task as a session item's metadata, the index as another one.
    await sessions.save(Session(id=task.id, metadata={"a2a": {
        "kind": "task", "agent": "Cities", "owner": "alice", "task": MessageToDict(task), "version": 3}}))
    entry = [task.context_id, int(task.status.state), task.status.timestamp.ToNanoseconds(), "alice"]
    await sessions.save(Session(id="a2a:tasks:Cities", metadata={"a2a": {
        "kind": "task_index", "agent": "Cities", "tasks": {task.id: entry}}}))
    store = SessionTaskStore(sessions, "Cities")
    stored = await store.get(task.id, alice)
    assert stored is not None and stored.task == task and stored.version == TaskVersion(3)
    assert [t.id for t in (await store.list(ListTasksRequest(), alice)).tasks] == [task.id]
    done = Task()
    done.CopyFrom(task)
    done.status.state = TaskState.TASK_STATE_COMPLETED
    assert await store.save(done, event=None, prev=task, prev_version=stored.version, context=alice) == TaskVersion(4)
    assert await read(SessionTaskStore(sessions, "Cities"), task.id, alice) == done
    listed = (await store.list(ListTasksRequest(), alice)).tasks
    assert [(t.id, t.status.state) for t in listed] == [(task.id, TaskState.TASK_STATE_COMPLETED)]
    await store.delete(task.id, alice)
    assert await store.get(task.id, alice) is None
    assert (await store.list(ListTasksRequest(), alice)).tasks == []


async def test_store_owner_scope_index_cap_and_concurrent_writers() -> None:
    sessions = MemorySessionStore()
    alice, bob = ServerCallContext(user=NamedUser("alice")), ServerCallContext(user=NamedUser("bob"))
    # Two instances (separate processes in Azure) write one agent's index at the same time: nothing is lost.
    first, second = SessionTaskStore(sessions, "Cities"), SessionTaskStore(sessions, "Cities")
    tasks = [task_at(TaskState.TASK_STATE_COMPLETED, n) for n in range(12)]
    await asyncio.gather(*(put(first if n % 2 else second, t, alice) for n, t in enumerate(tasks)))
    listed = await first.list(ListTasksRequest(), alice)
    assert [t.id for t in listed.tasks] == [t.id for t in reversed(tasks)] and listed.total_size == 12
    assert (await first.list(ListTasksRequest(), bob)).tasks == []
    assert await first.get(tasks[0].id, bob) is None and await read(first, tasks[0].id, alice) == tasks[0]
    assert await SessionTaskStore(sessions, "Other").get(tasks[0].id, alice) is None
    # A store with documents keeps an index entry per task: none falls out of the list.
    uncapped = SessionTaskStore(sessions, "Capped", max_indexed=3)
    kept = [task_at(TaskState.TASK_STATE_WORKING, n, context_id="c2") for n in range(5)]
    for task in kept:
        await put(uncapped, task, alice)
    assert [t.id for t in (await uncapped.list(ListTasksRequest(), alice)).tasks] == [t.id for t in kept[::-1]]
    # A custom session store keeps the index in one item, capped.
    capped = SessionTaskStore(SessionItemsOnly(), "Capped", max_indexed=3)
    for task in kept:
        await put(capped, task, alice)
    assert [t.id for t in (await capped.list(ListTasksRequest(), alice)).tasks] == [t.id for t in kept[:1:-1]]
    assert await read(capped, kept[0].id, alice) == kept[0]  # out of the list, still readable
    await first.delete(tasks[0].id, alice)
    assert await first.get(tasks[0].id, alice) is None
    assert (await first.list(ListTasksRequest(), alice)).total_size == 11


async def test_push_configs_live_with_their_task_per_owner() -> None:
    sessions = MemorySessionStore()
    alice, bob = ServerCallContext(user=NamedUser("alice")), ServerCallContext(user=NamedUser("bob"))
    tasks, configs = SessionTaskStore(sessions, "Cities"), SessionPushConfigStore(sessions, "Cities")
    task = task_at(TaskState.TASK_STATE_WORKING, 1)
    await asyncio.gather(put(tasks, task, alice),
                         configs.set_info(task.id, TaskPushNotificationConfig(url="https://a.example/h"), alice),
                         configs.set_info(task.id, TaskPushNotificationConfig(id="b", url="https://b.example"), bob))
    assert await read(tasks, task.id, alice) == task  # the configs did not undo the task write, nor it them
    assert [c.id for c in await configs.get_info(task.id, alice)] == [task.id]
    assert [c.url for c in await configs.get_info(task.id, bob)] == ["https://b.example"]
    assert len(await configs.get_info_for_dispatch(task.id)) == 2
    await configs.delete_info(task.id, bob)
    assert await configs.get_info(task.id, bob) == [] and len(await configs.get_info(task.id, alice)) == 1


async def test_return_immediately_without_a_queue_answers_at_once_and_runs_in_this_process(
        openai: OpenAIServer) -> None:
    """Spec 1.0 §3.2.2 (``SendMessageConfiguration.return_immediately``): the server MUST return the task at
    once; a2a-sdk's ``DefaultRequestHandlerV2.on_message_send`` leaves the producer running ("AgentExecutor
    will continue to run in the background"), which is how a task runs when no queue is configured."""
    openai.script.add(Reply(text="Bergen is smaller.", delay=1.0))
    app = make_app()
    try:
        params = message("Is Bergen big?")
        params["configuration"] = {"returnImmediately": True}
        started = asyncio.get_running_loop().time()
        task = (await call_rpc(app, "SendMessage", params))[0]["result"]["task"]
        assert asyncio.get_running_loop().time() - started < 0.9
        assert task["status"]["state"] in ("TASK_STATE_SUBMITTED", "TASK_STATE_WORKING")
        for _ in range(100):
            got = (await call_rpc(app, "GetTask", {"id": task["id"]}))[0]["result"]
            if got["status"]["state"] == "TASK_STATE_COMPLETED":
                break
            await asyncio.sleep(0.05)
        assert got["status"]["state"] == "TASK_STATE_COMPLETED"
        assert got["artifacts"][0]["parts"][0]["text"] == "Bergen is smaller."
        # The history holds the whole exchange: the user's message and the agent's answer.
        assert [(m["role"], m["parts"][0]["text"]) for m in got["history"]
                if m["role"] == "ROLE_USER" or "Bergen" in m["parts"][0].get("text", "")] == [
            ("ROLE_USER", "Is Bergen big?"), ("ROLE_AGENT", "Bergen is smaller.")]
        legacy = await call_rpc(app, "tasks/resubscribe", {"id": task["id"]}, version=None)
        assert legacy[0]["error"]["code"] == -32004  # the task has finished: nothing left to stream
    finally:
        await app.aclose()


async def test_a_task_whose_process_stopped_renewing_it_is_reported_failed() -> None:
    """A task left ``working`` by an instance that was recycled mid-turn does not stay ``working`` for ever:
    once its lease has run out, reading it ends it ``failed`` with the reason."""
    store = MemorySessionStore()
    tasks = SessionTaskStore(store, "Cities")
    context = ServerCallContext()
    task = Task(id="t-stopped", context_id="c1", status=TaskStatus(state=TaskState.TASK_STATE_WORKING))
    await tasks.save(task, event=task, prev=None, prev_version=TaskVersion.MISSING, context=context)
    assert await tasks.renew_lease("t-stopped", 0.2, "instance-a:1")
    assert (await tasks.get("t-stopped", context)).task.status.state == TaskState.TASK_STATE_WORKING
    await asyncio.sleep(0.3)
    stopped = (await tasks.get("t-stopped", context)).task
    assert stopped.status.state == TaskState.TASK_STATE_FAILED
    assert stopped.status.message.metadata["code"] == "instance_stopped"
    assert "stopped before the task finished" in stopped.status.message.parts[0].text
    assert not await tasks.renew_lease("t-stopped", 60, "instance-a:1")  # a finished task takes no lease
