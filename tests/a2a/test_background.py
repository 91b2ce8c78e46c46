"""Non-blocking A2A tasks run as background work, followed and canceled from any instance, with push
notifications: two local host processes of one app (same SQLite store, same Azurite work queue), driven by
the official a2a-sdk client in both dialects; webhooks are a local HTTP server."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from a2a.client import A2ACardResolver, Client, ClientConfig, ClientFactory
from a2a.types.a2a_pb2 import (
    AgentCard,
    AuthenticationInfo,
    CancelTaskRequest,
    GetTaskRequest,
    Message,
    Part,
    Role,
    SendMessageRequest,
    SubscribeToTaskRequest,
    Task,
    TaskPushNotificationConfig,
    TaskState,
)
from tests.servers.localhost import LocalHostProcess

from .webhook import Webhook

DIALECTS = ["1.0", "0.3"]
SLEEPER_CARD = "/api/agents/Sleeper/.well-known/agent-card.json"


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook(fail_first=1)
    with hook.server:
        yield hook


async def card_of(base_url: str) -> AgentCard:
    async with httpx.AsyncClient(timeout=30) as http:
        return await A2ACardResolver(http, base_url).get_agent_card(relative_card_path=SLEEPER_CARD)


async def client_for(base_url: str, dialect: str, *, streaming: bool = False, polling: bool = False) -> Client:
    card = await card_of(base_url)
    chosen = AgentCard()
    chosen.CopyFrom(card)
    del chosen.supported_interfaces[:]
    chosen.supported_interfaces.extend(i for i in card.supported_interfaces if i.protocol_version == dialect)
    return ClientFactory(ClientConfig(streaming=streaming, polling=polling)).create(chosen)


def pause_request(seconds: float, config: TaskPushNotificationConfig | None = None) -> SendMessageRequest:
    request = SendMessageRequest(message=Message(message_id=uuid.uuid4().hex, role=Role.ROLE_USER,
                                                 parts=[Part(text=f"Pause for {seconds:g} seconds")]))
    if config is not None:
        request.configuration.task_push_notification_config.CopyFrom(config)
    return request


async def send_now(client: Client, request: SendMessageRequest) -> Task:
    events = [event async for event in client.send_message(request)]
    assert len(events) == 1 and events[0].HasField("task")
    return events[0].task


async def wait_state(client: Client, task_id: str, wanted: int, timeout: float = 20.0) -> Task:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = await client.get_task(GetTaskRequest(id=task_id))
        if task.status.state == wanted:
            return task
        await asyncio.sleep(0.1)
    raise AssertionError(f"task {task_id} did not reach {TaskState.Name(wanted)} within {timeout} s")


def answer(task: Task) -> str:
    return "".join(part.text for artifact in task.artifacts for part in artifact.parts)


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_non_blocking_send_returns_at_once_and_the_queue_runs_it(
        instance_a: LocalHostProcess, instance_b: LocalHostProcess, dialect: str) -> None:
    client = await client_for(instance_a.url, dialect, polling=True)
    try:
        started = time.monotonic()
        task = await send_now(client, pause_request(1.5))
        assert time.monotonic() - started < 1.5  # answered before the pause could have ended
        assert task.status.state == TaskState.TASK_STATE_SUBMITTED and not task.artifacts
        await wait_state(client, task.id, TaskState.TASK_STATE_WORKING)
        done = await wait_state(client, task.id, TaskState.TASK_STATE_COMPLETED)
        assert answer(done) == "[offline model] pause returned: paused 1.5 s"
        assert done.history[0].parts[0].text == "Pause for 1.5 seconds"
    finally:
        await client.close()
    # One background turn ran it, under the task's id, in the task's context (session).
    turn = httpx.get(f"{instance_b.url}/api/sessions/{task.context_id}/turns/{task.id}", timeout=30).json()
    assert turn["status"] == "completed" and turn["response"]["response"] == answer(done)


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_cancel_reaches_the_task_where_it_runs(instance_a: LocalHostProcess, instance_b: LocalHostProcess,
                                                     dialect: str) -> None:
    starter = await client_for(instance_a.url, dialect, polling=True)
    other = await client_for(instance_b.url, dialect)
    try:
        task = await send_now(starter, pause_request(30))
        await wait_state(other, task.id, TaskState.TASK_STATE_WORKING)
        canceled = await other.cancel_task(CancelTaskRequest(id=task.id))
        assert canceled.status.state == TaskState.TASK_STATE_CANCELED
        # The worker stops the turn: it ends well before its 30 s pause, and the task stays canceled.
        turn_url = f"{instance_a.url}/api/sessions/{task.context_id}/turns/{task.id}"
        deadline = time.monotonic() + 10
        while httpx.get(turn_url, timeout=30).json()["status"] == "running":
            assert time.monotonic() < deadline, "the worker kept running a canceled task"
            await asyncio.sleep(0.2)
        final = await starter.get_task(GetTaskRequest(id=task.id))
        assert final.status.state == TaskState.TASK_STATE_CANCELED and not final.artifacts
    finally:
        await starter.close()
        await other.close()


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_resubscribe_on_another_instance_receives_the_remaining_events(
        instance_a: LocalHostProcess, instance_b: LocalHostProcess, dialect: str) -> None:
    starter = await client_for(instance_a.url, dialect, polling=True)
    follower = await client_for(instance_b.url, dialect, streaming=True)
    try:
        task = await send_now(starter, pause_request(2))
        await wait_state(starter, task.id, TaskState.TASK_STATE_WORKING)
        events = [event async for event in follower.subscribe(SubscribeToTaskRequest(id=task.id))]
    finally:
        await starter.close()
        await follower.close()
    kinds = [event.WhichOneof("payload") for event in events]
    assert kinds[0] == "task" and events[0].task.id == task.id
    assert events[0].task.status.state == TaskState.TASK_STATE_WORKING  # the snapshot, then what followed
    assert "artifact_update" in kinds
    artifact = next(e.artifact_update.artifact for e in events if e.HasField("artifact_update"))
    assert [p.text for p in artifact.parts] == ["[offline model] pause returned: paused 2 s"]
    assert kinds[-1] == "status_update"
    assert events[-1].status_update.status.state == TaskState.TASK_STATE_COMPLETED


async def test_push_notifications_reach_the_webhook_with_token_and_authentication(
        instance_a: LocalHostProcess, webhook: Webhook) -> None:
    client = await client_for(instance_a.url, "1.0", polling=True)
    config = TaskPushNotificationConfig(id="hook", url=webhook.url, token="token-of-this-task",
                                        authentication=AuthenticationInfo(scheme="Bearer", credentials="abc123"))
    try:
        task = await send_now(client, pause_request(0.5, config))
        await wait_state(client, task.id, TaskState.TASK_STATE_COMPLETED)
    finally:
        await client.close()
    deadline = time.monotonic() + 15
    while "TASK_STATE_COMPLETED" not in webhook.states():
        assert time.monotonic() < deadline, f"no completed notification: {webhook.states()}"
        await asyncio.sleep(0.1)
    assert webhook.refused == 1  # the first POST got 503 and was retried
    for headers, body in webhook.received:
        assert headers["x-a2a-notification-token"] == "token-of-this-task"
        assert headers["authorization"] == "Bearer abc123"
        assert (body.get("task") or body.get("statusUpdate") or body.get("artifactUpdate"))
    states = webhook.states()
    assert states[-1] == "TASK_STATE_COMPLETED" and "TASK_STATE_WORKING" in states
    artifacts = [body["artifactUpdate"] for _, body in webhook.received if "artifactUpdate" in body]
    assert artifacts and artifacts[0]["taskId"] == task.id
    assert artifacts[0]["artifact"]["parts"][0]["text"] == "[offline model] pause returned: paused 0.5 s"


async def test_push_notifications_of_a_blocking_send(host: LocalHostProcess, webhook: Webhook) -> None:
    """A task run in the request notifies too, and the answer waits for nothing but the task itself."""
    client = await client_for(host.url, "0.3")
    config = TaskPushNotificationConfig(url=webhook.url, token="t-0.3")
    try:
        task = await send_now(client, pause_request(0.2, config))
    finally:
        await client.close()
    assert task.status.state == TaskState.TASK_STATE_COMPLETED
    # Set through 0.3: 0.3 bodies, the task itself (as a2a-sdk 0.3's BasePushNotificationSender posted it).
    bodies = [body for _, body in webhook.received]
    assert bodies[-1]["kind"] == "task" and bodies[-1]["status"]["state"] == "completed"
    assert {headers["x-a2a-notification-token"] for headers, _ in webhook.received} == {"t-0.3"}


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_without_a_queue_a_non_blocking_task_runs_on_and_notifies(host: LocalHostProcess, webhook: Webhook,
                                                                        dialect: str) -> None:
    """No background work: the send answers at once, the task goes on in that process, and its webhook hears
    about it to the end (deliveries after the response are not cut short)."""
    client = await client_for(host.url, dialect, polling=True)
    config = TaskPushNotificationConfig(url=webhook.url, token=f"t-{dialect}")
    try:
        started = time.monotonic()
        request = pause_request(1.5, config)
        request.configuration.return_immediately = True
        task = await send_now(client, request)
        assert time.monotonic() - started < 1.5
        assert task.status.state in (TaskState.TASK_STATE_SUBMITTED, TaskState.TASK_STATE_WORKING)
        done = await wait_state(client, task.id, TaskState.TASK_STATE_COMPLETED)
        assert done.artifacts[0].parts[0].text == "[offline model] pause returned: paused 1.5 s"
    finally:
        await client.close()
    deadline = time.monotonic() + 15
    final = "completed" if dialect == "0.3" else "TASK_STATE_COMPLETED"
    while True:
        bodies = [body for _, body in webhook.received]
        states = [b["status"]["state"] for b in bodies if "status" in b] + webhook.states()
        if final in states:
            break
        assert time.monotonic() < deadline, f"no completed notification: {states}"
        await asyncio.sleep(0.1)
