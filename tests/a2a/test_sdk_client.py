"""The A2A endpoint driven by the official a2a-sdk client over real HTTP, in both dialects (1.0 and 0.3)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from a2a.client import A2ACardResolver, Client, ClientConfig, ClientFactory
from a2a.types.a2a_pb2 import (
    AgentCard,
    CancelTaskRequest,
    DeleteTaskPushNotificationConfigRequest,
    GetTaskPushNotificationConfigRequest,
    GetTaskRequest,
    ListTaskPushNotificationConfigsRequest,
    ListTasksRequest,
    Message,
    Part,
    Role,
    SendMessageRequest,
    StreamResponse,
    Task,
    TaskPushNotificationConfig,
    TaskState,
)
from a2a.utils.errors import TaskNotCancelableError, TaskNotFoundError
from tests.servers.localhost import LocalHostProcess

DIALECTS = ["1.0", "0.3"]
CONVERTER_CARD = "/api/agents/Converter/.well-known/agent-card.json"


async def resolve(base_url: str, path: str | None = None) -> AgentCard:
    async with httpx.AsyncClient(timeout=30) as http:
        return await A2ACardResolver(http, base_url).get_agent_card(relative_card_path=path)


def client_for(card: AgentCard, dialect: str, *, streaming: bool) -> Client:
    """An SDK client speaking ``dialect``: the card's interface of that version picks the SDK's transport."""
    chosen = AgentCard()
    chosen.CopyFrom(card)
    del chosen.supported_interfaces[:]
    chosen.supported_interfaces.extend(i for i in card.supported_interfaces if i.protocol_version == dialect)
    assert len(chosen.supported_interfaces) == 1
    client = ClientFactory(ClientConfig(streaming=streaming)).create(chosen)
    transport = type(client._transport).__name__  # type: ignore[attr-defined]
    assert transport == ("CompatJsonRpcTransport" if dialect == "0.3" else "JsonRpcTransport")
    return client


def user_message(text: str, context_id: str | None = None) -> SendMessageRequest:
    message = Message(message_id=uuid.uuid4().hex, role=Role.ROLE_USER, parts=[Part(text=text)])
    if context_id:
        message.context_id = context_id
    return SendMessageRequest(message=message)


async def send(client: Client, text: str, context_id: str | None = None) -> list[StreamResponse]:
    return [event async for event in client.send_message(user_message(text, context_id))]


def answer(task: Task) -> str:
    return "".join(part.text for artifact in task.artifacts for part in artifact.parts)


async def test_cards_from_the_root_and_the_agent_path(host: LocalHostProcess) -> None:
    root = await resolve(host.url)
    legacy = await resolve(host.url, "/.well-known/agent.json")  # the 0.3 card, read by the SDK's compat parser
    converter = await resolve(host.url, CONVERTER_CARD)
    echo = await resolve(host.url, "/api/agents/Echo/.well-known/agent-card.json")
    assert root == converter  # the root cards are the default (first) agent's
    assert (legacy.name, legacy.skills, legacy.security_schemes) == (
        converter.name, converter.skills, converter.security_schemes)
    assert [(i.url, i.protocol_version) for i in legacy.supported_interfaces] == [
        (f"{host.url}/api/agents/Converter/a2a", "0.3")]
    assert (converter.name, converter.version) == ("Converter", "2.1.0")
    assert converter.description == "Converts temperatures from Celsius to Fahrenheit."
    assert [s.name for s in converter.skills] == ["Converter", "celsius_to_fahrenheit"]
    assert echo.name == "Echo" and [s.name for s in echo.skills] == ["Echo"]
    rpc = f"{host.url}/api/agents/Converter/a2a"
    assert {(i.url, i.protocol_binding, i.protocol_version) for i in converter.supported_interfaces} == {
        (rpc, "JSONRPC", "1.0"), (rpc, "JSONRPC", "0.3")}
    assert converter.capabilities.streaming is False  # this app was built with streaming=False
    assert converter.capabilities.push_notifications is True
    assert set(converter.security_schemes) == {"functionKey", "functionKeyQuery"}
    assert converter.security_schemes["functionKey"].api_key_security_scheme.name == "x-functions-key"


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_blocking_send_get_and_errors(host: LocalHostProcess, dialect: str) -> None:
    card = await resolve(host.url, CONVERTER_CARD)
    client = client_for(card, dialect, streaming=False)
    try:
        events = await send(client, "Convert 21.5 degrees celsius to fahrenheit")
        assert len(events) == 1 and events[0].HasField("task")
        task = events[0].task
        assert task.status.state == TaskState.TASK_STATE_COMPLETED
        assert answer(task) == "[offline model] celsius_to_fahrenheit returned: 21.5 C is 70.7 F"
        fetched = await client.get_task(GetTaskRequest(id=task.id))
        assert fetched.id == task.id and fetched.context_id == task.context_id
        assert fetched.status.state == TaskState.TASK_STATE_COMPLETED and answer(fetched) == answer(task)
        with pytest.raises(TaskNotCancelableError):
            await client.cancel_task(CancelTaskRequest(id=task.id))
        with pytest.raises(TaskNotFoundError):
            await client.get_task(GetTaskRequest(id=str(uuid.uuid4())))
    finally:
        await client.close()


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("streams", [False, True], ids=["classic", "http-streams"])
async def test_stream_events_in_order(host: LocalHostProcess, streaming_host: LocalHostProcess, dialect: str,
                                      streams: bool) -> None:
    base = streaming_host.url if streams else host.url
    card = await resolve(base, CONVERTER_CARD)
    assert card.capabilities.streaming is streams  # the card says whether responses stream
    client = client_for(card, dialect, streaming=True)
    try:
        events = await send(client, "Convert 100 degrees celsius to fahrenheit")
    finally:
        await client.close()
    if not streams:
        # The SDK client streams only from an agent whose card says it streams (a2a/client/base_client.py,
        # BaseClient.send_message: ``not self._card.capabilities.streaming``): one blocking answer here.
        assert len(events) == 1 and events[0].task.status.state == TaskState.TASK_STATE_COMPLETED
        return
    kinds = [event.WhichOneof("payload") for event in events]
    assert kinds[0] == "task" and events[0].task.status.state == TaskState.TASK_STATE_SUBMITTED
    states = [e.status_update.status.state for e in events if e.HasField("status_update")]
    assert states[0] == TaskState.TASK_STATE_WORKING
    assert states[-1] == TaskState.TASK_STATE_COMPLETED and kinds[-1] == "status_update"
    assert set(states[:-1]) == {TaskState.TASK_STATE_WORKING}
    # The tool call and its result are working updates, before the answer artifact.
    notes = [[p.text for p in e.status_update.status.message.parts if p.text]
             for e in events if e.HasField("status_update") and e.status_update.status.HasField("message")]
    assert ["Calling tool celsius_to_fahrenheit."] in notes and ["Tool celsius_to_fahrenheit returned."] in notes
    artifacts = [i for i, kind in enumerate(kinds) if kind == "artifact_update"]
    assert len(artifacts) == 1 and artifacts[0] == len(events) - 2
    artifact = events[artifacts[0]].artifact_update.artifact
    assert [p.text for p in artifact.parts] == ["[offline model] celsius_to_fahrenheit returned: 100 C is 212.0 F"]
    task_id = events[0].task.id
    assert {getattr(e, kind).task_id if kind != "task" else e.task.id for e, kind in zip(events, kinds, strict=True)} \
        == {task_id}


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_push_notification_configs_are_stored(host: LocalHostProcess, dialect: str) -> None:
    client = client_for(await resolve(host.url, CONVERTER_CARD), dialect, streaming=False)
    try:
        task = (await send(client, "Convert 3 degrees celsius to fahrenheit"))[0].task
        created = await client.create_task_push_notification_config(TaskPushNotificationConfig(
            task_id=task.id, id="hook-1", url="http://127.0.0.1:9/hook", token="t-1"))
        assert (created.task_id, created.id, created.url) == (task.id, "hook-1", "http://127.0.0.1:9/hook")
        await client.create_task_push_notification_config(TaskPushNotificationConfig(
            task_id=task.id, id="hook-2", url="http://127.0.0.1:9/other"))
        got = await client.get_task_push_notification_config(
            GetTaskPushNotificationConfigRequest(task_id=task.id, id="hook-1"))
        assert got.url == "http://127.0.0.1:9/hook" and got.token == "t-1"
        listed = await client.list_task_push_notification_configs(
            ListTaskPushNotificationConfigsRequest(task_id=task.id))
        assert sorted(c.id for c in listed.configs) == ["hook-1", "hook-2"]
        await client.delete_task_push_notification_config(
            DeleteTaskPushNotificationConfigRequest(task_id=task.id, id="hook-1"))
        listed = await client.list_task_push_notification_configs(
            ListTaskPushNotificationConfigsRequest(task_id=task.id))
        assert [c.id for c in listed.configs] == ["hook-2"]
        with pytest.raises(TaskNotFoundError):
            await client.list_task_push_notification_configs(
                ListTaskPushNotificationConfigsRequest(task_id=str(uuid.uuid4())))
    finally:
        await client.close()


async def test_list_tasks_of_a_context_across_dialects(host: LocalHostProcess) -> None:
    """Tasks sent in one context (0.3 and 1.0 clients alike) are listed newest first; the context is the
    session, whose history holds both turns."""
    card = await resolve(host.url, CONVERTER_CARD)
    old, new = client_for(card, "0.3", streaming=False), client_for(card, "1.0", streaming=False)
    try:
        first = (await send(old, "Convert 1 degrees celsius to fahrenheit"))[0].task
        second = (await send(new, "Convert 2 degrees celsius to fahrenheit", first.context_id))[0].task
        assert second.context_id == first.context_id and second.id != first.id
        listed = await new.list_tasks(ListTasksRequest(context_id=first.context_id, include_artifacts=True))
        assert [t.id for t in listed.tasks] == [second.id, first.id]
        assert listed.total_size == 2 and answer(listed.tasks[1]) == answer(first)
        paged = await new.list_tasks(ListTasksRequest(context_id=first.context_id, page_size=1))
        assert [t.id for t in paged.tasks] == [second.id] and paged.next_page_token
        rest = await new.list_tasks(ListTasksRequest(context_id=first.context_id, page_size=1,
                                                     page_token=paged.next_page_token))
        assert [t.id for t in rest.tasks] == [first.id] and not rest.next_page_token
        completed = await new.list_tasks(ListTasksRequest(status=TaskState.TASK_STATE_COMPLETED))
        assert {first.id, second.id} <= {t.id for t in completed.tasks}
        assert not (await new.list_tasks(ListTasksRequest(status=TaskState.TASK_STATE_FAILED))).tasks
    finally:
        await old.close()
        await new.close()
    session = httpx.get(f"{host.url}/api/sessions/{first.context_id}", timeout=30).json()
    users = [m["content"] for m in session["messages"] if m["role"] == "user"]
    assert users == ["Convert 1 degrees celsius to fahrenheit", "Convert 2 degrees celsius to fahrenheit"]
    assert session["active_agent"] == "Converter"
