"""The A2A sample as shipped (its function_app.py, no queue, streams mode) against a scripted slow model,
driven by the official a2a-sdk client in both dialects and by raw JSON-RPC over HTTP.

Rules encoded here, from the spec (a2aproject/A2A ``docs/specification.md``, ``specification/a2a.proto``) and
the SDK (a2aproject/a2a-python, installed as ``a2a-sdk``):

* ``SendMessageConfiguration.return_immediately`` (1.0) / ``MessageSendConfiguration.blocking: false`` (0.3):
  the server MUST return at once with the task (spec §3.2.2); a2a-sdk maps one onto the other in
  ``a2a/compat/v0_3/conversions.py`` (``to_core_send_message_configuration``).
* ``capabilities.streaming: true`` promises SSE events as they happen; the SDK client only streams when the
  card says so (``a2a/client/base_client.py``, ``BaseClient.send_message``).
* An interrupted task (``TASK_STATE_INPUT_REQUIRED``) ends a blocking send and a stream (spec §3.2.2; 1.0 has
  no ``final`` flag), and a message naming the task continues it (spec "Multi-turn interactions";
  ``DefaultRequestHandlerV2._setup_active_task`` looks the task up by ``message.task_id``).
* The Agent Card parses as the 1.0 ``AgentCard`` with ``google.protobuf.json_format.ParseDict`` and no
  unknown fields allowed; the SDK's own ``A2ACardResolver`` reads both forms (``parse_agent_card``).

Timing bounds are behaviour: with a model that takes 5 s, an answer within 1 s can only be the task as
submitted, and a first event within 1 s can only come from a live stream.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from a2a.client import A2ACardResolver, Client, ClientConfig, ClientFactory
from a2a.types.a2a_pb2 import (
    AgentCard,
    CancelTaskRequest,
    GetTaskRequest,
    Message,
    Part,
    Role,
    SendMessageRequest,
    StreamResponse,
    SubscribeToTaskRequest,
    Task,
    TaskState,
)
from google.protobuf.json_format import ParseDict
from tests.servers.localhost import LocalHostProcess, app_env
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, Script, ScriptedToolCall

SAMPLE = Path(__file__).resolve().parents[1]
DIALECTS = ["1.0", "0.3"]
SLOW = 5.0  # seconds the scripted model takes
RPC = "/api/agents/UnitConverter/a2a"
V1 = {"A2A-Version": "1.0"}

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def sample(model: OpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHostProcess]:
    with LocalHostProcess(SAMPLE, env=app_env(tmp_path_factory.mktemp("a2a-protocol"), model)) as host:
        # The first A2A request loads the SDK (lazily, so indexing the app never pays for it); load it here,
        # so the timings below measure the protocol's behaviour, not that one-time import.
        rpc(host, "GetTask", {"id": "warm-up"}, v1=True)
        yield host


async def client_for(base_url: str, dialect: str, *, streaming: bool = False) -> Client:
    """The SDK client on the sample's card, restricted to the interface of ``dialect``."""
    async with httpx.AsyncClient(timeout=30) as http:
        card = await A2ACardResolver(http, base_url).get_agent_card()
    chosen = AgentCard()
    chosen.CopyFrom(card)
    del chosen.supported_interfaces[:]
    chosen.supported_interfaces.extend(i for i in card.supported_interfaces if i.protocol_version == dialect)
    return ClientFactory(ClientConfig(streaming=streaming)).create(chosen)


def user_message(text: str, *, task: Task | None = None, now: bool = False) -> SendMessageRequest:
    message = Message(message_id=uuid.uuid4().hex, role=Role.ROLE_USER, parts=[Part(text=text)])
    if task is not None:
        message.task_id, message.context_id = task.id, task.context_id
    request = SendMessageRequest(message=message)
    request.configuration.return_immediately = now
    return request


def rpc(host: LocalHostProcess, method: str, params: dict[str, Any], *, v1: bool) -> dict[str, Any]:
    body = {"jsonrpc": "2.0", "id": uuid.uuid4().hex, "method": method, "params": params}
    reply = httpx.post(f"{host.url}{RPC}", json=body, headers=V1 if v1 else {}, timeout=30)
    assert reply.status_code == 200
    return reply.json()  # type: ignore[no-any-return]


def v1_message(text: str, **extra: Any) -> dict[str, Any]:
    return {"messageId": uuid.uuid4().hex, "role": "ROLE_USER", "parts": [{"text": text}], **extra}


def v03_message(text: str, **extra: Any) -> dict[str, Any]:
    return {"messageId": uuid.uuid4().hex, "role": "user", "kind": "message",
            "parts": [{"kind": "text", "text": text}], **extra}


# Non-blocking send, then cancel --------------------------------------------------------------------------
@pytest.mark.parametrize("dialect", DIALECTS)
async def test_sdk_client_non_blocking_send_answers_within_a_second_then_cancel_cancels(
        sample: LocalHostProcess, script: Script, dialect: str) -> None:
    script.add(Reply(text="Far too late.", delay=SLOW))
    client = await client_for(sample.url, dialect)
    try:
        started = time.monotonic()
        events = [event async for event in client.send_message(user_message("Convert 3 km", now=True))]
        assert time.monotonic() - started < 1.0
        assert len(events) == 1 and events[0].HasField("task")
        task = events[0].task
        assert task.status.state in (TaskState.TASK_STATE_SUBMITTED, TaskState.TASK_STATE_WORKING)
        canceled = await client.cancel_task(CancelTaskRequest(id=task.id))
        assert canceled.status.state == TaskState.TASK_STATE_CANCELED
        fetched = await client.get_task(GetTaskRequest(id=task.id))
        assert fetched.status.state == TaskState.TASK_STATE_CANCELED and not fetched.artifacts
    finally:
        await client.close()


def test_raw_json_rpc_non_blocking_send_then_cancel_in_both_dialects(sample: LocalHostProcess,
                                                                      script: Script) -> None:
    script.add(Reply(text="Too late.", delay=SLOW), Reply(text="Also too late.", delay=SLOW))
    started = time.monotonic()
    v1 = rpc(sample, "SendMessage", {"message": v1_message("Convert 4 km"),
                                     "configuration": {"returnImmediately": True}}, v1=True)["result"]["task"]
    assert time.monotonic() - started < 1.0
    assert v1["status"]["state"] in ("TASK_STATE_SUBMITTED", "TASK_STATE_WORKING")
    assert rpc(sample, "CancelTask", {"id": v1["id"]}, v1=True)["result"]["status"]["state"] == \
        "TASK_STATE_CANCELED"
    assert rpc(sample, "GetTask", {"id": v1["id"]}, v1=True)["result"]["status"]["state"] == "TASK_STATE_CANCELED"

    started = time.monotonic()
    v03 = rpc(sample, "message/send", {"message": v03_message("Convert 5 km"),
                                       "configuration": {"blocking": False}}, v1=False)["result"]
    assert time.monotonic() - started < 1.0
    assert v03["kind"] == "task" and v03["status"]["state"] in ("submitted", "working")
    assert rpc(sample, "tasks/cancel", {"id": v03["id"]}, v1=False)["result"]["status"]["state"] == "canceled"
    assert rpc(sample, "tasks/get", {"id": v03["id"]}, v1=False)["result"]["status"]["state"] == "canceled"


# Streaming -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dialect", DIALECTS)
async def test_sdk_client_stream_delivers_the_first_event_within_a_second(
        sample: LocalHostProcess, script: Script, dialect: str) -> None:
    script.add(Reply(text="21.5 °C is 70.7 °F.", delay=SLOW))
    client = await client_for(sample.url, dialect, streaming=True)
    events: list[tuple[float, StreamResponse]] = []
    try:
        started = time.monotonic()
        async for event in client.send_message(user_message("Convert 21.5 degrees Celsius")):
            events.append((time.monotonic() - started, event))
    finally:
        await client.close()
    first_at, first = events[0]
    assert first_at < 1.0 and first.HasField("task")
    assert first.task.status.state == TaskState.TASK_STATE_SUBMITTED
    last_at, last = events[-1]
    assert last_at >= SLOW and last.status_update.status.state == TaskState.TASK_STATE_COMPLETED
    answer = next(e.artifact_update.artifact for _, e in events if e.HasField("artifact_update"))
    assert answer.parts[0].text == "21.5 °C is 70.7 °F."


def test_raw_json_rpc_stream_is_live_in_both_dialects(sample: LocalHostProcess, script: Script) -> None:
    for method, headers, message in (("SendStreamingMessage", V1, v1_message("Convert 1 km")),
                                     ("message/stream", {}, v03_message("Convert 2 km"))):
        script.add(Reply(text="Done converting.", delay=SLOW))
        body = {"jsonrpc": "2.0", "id": 7, "method": method, "params": {"message": message}}
        started = time.monotonic()
        arrivals: list[tuple[float, dict[str, Any]]] = []
        with httpx.stream("POST", f"{sample.url}{RPC}", json=body, headers=headers, timeout=30) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            for line in response.iter_lines():
                if line.startswith("data:"):
                    arrivals.append((time.monotonic() - started, json.loads(line[5:])))
        assert arrivals[0][0] < 1.0 and arrivals[-1][0] >= SLOW, [round(t, 2) for t, _ in arrivals]
        assert all(event["id"] == 7 for _, event in arrivals)
        if method == "message/stream":
            assert arrivals[0][1]["result"]["kind"] == "task"
            assert arrivals[-1][1]["result"]["status"]["state"] == "completed" and arrivals[-1][1]["result"]["final"]
        else:
            assert "task" in arrivals[0][1]["result"]
            assert arrivals[-1][1]["result"]["statusUpdate"]["status"]["state"] == "TASK_STATE_COMPLETED"


# Multi-turn through input-required -----------------------------------------------------------------------
def ask(question: str) -> Reply:
    return Reply(tool_calls=[ScriptedToolCall("ask_user", {"question": question})])


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_sdk_client_multi_turn_task_through_input_required(
        sample: LocalHostProcess, script: Script, dialect: str) -> None:
    script.add(ask("Which temperature, in degrees Celsius?"),
               Reply(tool_calls=[ScriptedToolCall("celsius_to_fahrenheit", {"celsius": 21.5})]),
               Reply(text="21.5 °C is 70.7 °F."))
    client = await client_for(sample.url, dialect)
    try:
        first = [e async for e in client.send_message(user_message("Convert a temperature for me"))]
        waiting = first[-1].task
        assert waiting.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
        assert waiting.status.message.role == Role.ROLE_AGENT
        assert waiting.status.message.parts[0].text == "Which temperature, in degrees Celsius?"
        got = await client.get_task(GetTaskRequest(id=waiting.id))
        assert got.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
        if dialect == "1.0":  # resubscribing while it waits: the task as it is, and the stream ends
            streaming = await client_for(sample.url, dialect, streaming=True)
            try:
                followed = [e async for e in streaming.subscribe(SubscribeToTaskRequest(id=waiting.id))]
            finally:
                await streaming.close()
            assert followed[0].task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED

        second = [e async for e in client.send_message(user_message("21.5", task=waiting))]
        done = second[-1].task
        assert (done.id, done.context_id) == (waiting.id, waiting.context_id)  # the same task continued
        assert done.status.state == TaskState.TASK_STATE_COMPLETED
        assert done.artifacts[-1].parts[0].text == "21.5 °C is 70.7 °F."
        history = await client.get_task(GetTaskRequest(id=waiting.id))
        assert len({m.message_id for m in history.history}) == len(history.history)  # each message once
        exchange = [(m.role, m.parts[0].text) for m in history.history
                    if m.parts and m.parts[0].text and not m.parts[0].text.startswith(("Calling", "Tool "))]
        assert exchange == [(Role.ROLE_USER, "Convert a temperature for me"),
                            (Role.ROLE_AGENT, "Which temperature, in degrees Celsius?"),
                            (Role.ROLE_USER, "21.5"), (Role.ROLE_AGENT, "21.5 °C is 70.7 °F.")]
    finally:
        await client.close()
    # The model saw the question and the answer: one conversation, continued.
    last = script.requests[-1]["messages"]
    assert {"role": "assistant", "content": "Which temperature, in degrees Celsius?"} in [
        {k: m.get(k) for k in ("role", "content")} for m in last]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_raw_json_rpc_multi_turn_task_through_input_required(sample: LocalHostProcess, script: Script,
                                                              dialect: str) -> None:
    script.add(ask("How many kilometres?"),
               Reply(tool_calls=[ScriptedToolCall("kilometres_to_miles", {"kilometres": 10})]),
               Reply(text="10 km is 6.21 miles."))
    v1 = dialect == "1.0"
    method, message = ("SendMessage", v1_message) if v1 else ("message/send", v03_message)

    def result(reply: dict[str, Any]) -> dict[str, Any]:
        return reply["result"]["task"] if v1 else reply["result"]  # type: ignore[no-any-return]

    waiting = result(rpc(sample, method, {"message": message("Convert a distance")}, v1=v1))
    assert waiting["status"]["state"] == ("TASK_STATE_INPUT_REQUIRED" if v1 else "input-required")
    assert waiting["status"]["message"]["parts"][0]["text"] == "How many kilometres?"
    assert waiting["status"]["message"]["metadata"]["inputRequired"]["reason"] == "clarification"
    done = result(rpc(sample, method, {"message": message("10", taskId=waiting["id"],
                                                          contextId=waiting["contextId"])}, v1=v1))
    assert done["id"] == waiting["id"]
    assert done["status"]["state"] == ("TASK_STATE_COMPLETED" if v1 else "completed")
    assert done["artifacts"][-1]["parts"][0]["text"] == "10 km is 6.21 miles."
    metadata = done["artifacts"][-1]["metadata"]
    assert metadata["sessionId"] == waiting["contextId"] and metadata["agent"] == "UnitConverter"
    assert metadata["usage"]["totalTokens"] > 0 and all(type(v) is int for v in metadata["usage"].values())
    # A message to the finished task is refused (spec: terminal tasks take no more messages): -32004.
    again = rpc(sample, method, {"message": message("And 20?", taskId=waiting["id"],
                                                    contextId=waiting["contextId"])}, v1=v1)
    assert again["error"]["code"] == -32004


def test_the_reply_to_a_waiting_task_may_reach_another_instance(model: OpenAIServer, script: Script,
                                                                 tmp_path: Path) -> None:
    """Scaled out, the reply may land on an instance that never saw the task: it continues it from the store."""
    script.add(ask("Which temperature?"),
               Reply(tool_calls=[ScriptedToolCall("celsius_to_fahrenheit", {"celsius": 30})]),
               Reply(text="30 °C is 86.0 °F."))
    env = app_env(tmp_path, model)
    with LocalHostProcess(SAMPLE, env=env) as first, LocalHostProcess(SAMPLE, env=env) as second:
        waiting = rpc(first, "SendMessage", {"message": v1_message("Convert a temperature")}, v1=True)["result"]["task"]
        assert waiting["status"]["state"] == "TASK_STATE_INPUT_REQUIRED"
        done = rpc(second, "SendMessage", {"message": v1_message("30", taskId=waiting["id"],
                                                                 contextId=waiting["contextId"])},
                   v1=True)["result"]["task"]
        assert done["id"] == waiting["id"] and done["status"]["state"] == "TASK_STATE_COMPLETED"
        assert done["artifacts"][-1]["parts"][0]["text"] == "30 °C is 86.0 °F."
        got = rpc(first, "GetTask", {"id": waiting["id"]}, v1=True)["result"]
        assert got["status"]["state"] == "TASK_STATE_COMPLETED"


def test_the_chat_route_of_the_a2a_app_streams_live(sample: LocalHostProcess, script: Script) -> None:
    script.add(Reply(text="Done.", delay=SLOW))
    started = time.monotonic()
    arrivals: list[float] = []
    with httpx.stream("POST", f"{sample.url}/api/agents/UnitConverter/chat", timeout=30,
                      json={"message": "Convert 3 km", "stream": True}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data:"):
                arrivals.append(time.monotonic() - started)
    assert arrivals[0] < 1.0 and arrivals[-1] >= SLOW


def test_a_task_whose_instance_stopped_is_reported_failed(model: OpenAIServer, script: Script,
                                                          tmp_path: Path) -> None:
    """No queue: a non-blocking task runs in the instance that answered. Kill that instance mid-task (as a
    scale-in or recycle would): once its lease has run out, another instance reports the task failed."""
    script.add(Reply(text="Never delivered.", delay=30))
    env = {**app_env(tmp_path, model), "A2A_TASK_LEASE_SECONDS": "1"}
    with LocalHostProcess(SAMPLE, env=env) as first:
        task = rpc(first, "SendMessage", {"message": v1_message("Convert 6 km"),
                                          "configuration": {"returnImmediately": True}}, v1=True)["result"]["task"]
        time.sleep(0.5)  # the turn is under way: its lease has been taken
        assert first.process is not None
        first.process.kill()
        first.process.wait(timeout=10)
    time.sleep(1.5)
    with LocalHostProcess(SAMPLE, env=env) as second:
        got = rpc(second, "GetTask", {"id": task["id"]}, v1=True)["result"]
    assert got["status"]["state"] == "TASK_STATE_FAILED"
    assert got["status"]["message"]["metadata"]["code"] == "instance_stopped"
    assert "stopped before the task finished" in got["status"]["message"]["parts"][0]["text"]


# The card ------------------------------------------------------------------------------------------------
def test_card_parses_strictly_as_an_a2a_1_0_agent_card(sample: LocalHostProcess) -> None:
    for path in ("/.well-known/agent-card.json", "/api/agents/UnitConverter/.well-known/agent-card.json"):
        data = httpx.get(f"{sample.url}{path}", timeout=30).json()
        card = ParseDict(data, AgentCard())  # no ignore_unknown_fields: any 0.3 field fails here
        assert card.name == "UnitConverter" and card.capabilities.streaming
        assert {(i.protocol_binding, i.protocol_version) for i in card.supported_interfaces} == {
            ("JSONRPC", "1.0"), ("JSONRPC", "0.3")}
    # 0.3 clients find the 0.3 card (url, preferredTransport, protocolVersion) at the 0.3 paths, or by asking.
    for path, headers in (("/.well-known/agent.json", {}), ("/.well-known/agent-card.json", {"A2A-Version": "0.3"})):
        legacy = httpx.get(f"{sample.url}{path}", headers=headers, timeout=30).json()
        assert legacy["url"] == f"{sample.url}{RPC}" and legacy["preferredTransport"] == "JSONRPC"
        assert legacy["protocolVersion"].startswith("0.3") and "supportedInterfaces" not in legacy
