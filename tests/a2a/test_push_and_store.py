"""Push notifications (guard, retries, order), the task event log that followers on other instances read,
and a task the background worker gave up on."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from a2a.server.cluster.version import TaskVersion
from a2a.server.context import ServerCallContext
from a2a.types.a2a_pb2 import (
    Artifact,
    Part,
    Task,
    TaskArtifactUpdateEvent,
    TaskPushNotificationConfig,
    TaskState,
    TaskStatus,
    TaskStatusUpdateEvent,
)

from azurefunctions.agents import Agent, AgentFunctionApp, AgentMode
from azurefunctions.agents.a2a.push import PushSender, PushUrlRefused, check_push_url
from azurefunctions.agents.a2a.store import SessionPushConfigStore, SessionTaskStore
from azurefunctions.agents.a2a.stream import StoreEventStream
from azurefunctions.agents.a2a.work import A2A_TASKS
from azurefunctions.agents.background.records import TurnRecord
from azurefunctions.agents.http.calls import HttpCall
from azurefunctions.agents.sessions import MemorySessionStore
from azurefunctions.agents.types import LLMConfig

from .webhook import Webhook

ANYONE = ServerCallContext()


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hook", "http://[::1]/hook", "http://169.254.169.254/",
                                 "https://10.1.2.3/hook", "http://192.168.0.10/", "http://100.64.0.1/",
                                 "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/", "http://localhost:9/"])
async def test_non_public_webhooks_are_refused_by_default(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("A2A_PUSH_ALLOWED_HOSTS", raising=False)
    with pytest.raises(PushUrlRefused, match="A2A_PUSH_ALLOWED_HOSTS"):
        await check_push_url(url)


async def test_listed_hosts_public_addresses_and_bad_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("A2A_PUSH_ALLOWED_HOSTS", "127.0.0.1, LOCALHOST,[::1]")
    for url in ("http://127.0.0.1:8080/hook", "http://localhost/", "http://[::1]:9/"):
        await check_push_url(url)
    await check_push_url("https://93.184.216.34/hook")  # a public address needs no listing
    with pytest.raises(PushUrlRefused, match="private, loopback or link-local"):
        await check_push_url("http://169.254.169.254/latest")  # listing one host opens no other
    for url, reason in (("ftp://93.184.216.34/", "http or https"), ("http:///x", "no host"),
                        ("http://[bad/", "cannot be parsed")):
        with pytest.raises(PushUrlRefused, match=reason):
            await check_push_url(url)


async def call(app: AgentFunctionApp, method: str, params: dict[str, Any]) -> dict[str, Any]:
    assert app.a2a is not None
    spec = next(s for s in app.route_specs if s.name == "a2a_rpc")
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    reply = await app.a2a.dispatch(spec, HttpCall(
        method="POST", path="/api/agents/Echo/a2a", headers={"content-type": "application/json",
                                                              "a2a-version": "1.0"},
        query={}, route_params={"agent_name": "Echo"}, body=body, base_url="https://echo.example"))
    data: dict[str, Any] = json.loads(await reply.read_all())
    return data


async def test_configs_are_accepted_at_creation_and_the_guard_runs_at_delivery(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A name is not resolved when a config is set (it may not resolve yet, or resolve differently later):
    the config is stored; each delivery resolves it and refuses non-public addresses. A literal non-public
    address is refused at once, since no delivery could ever reach it."""
    monkeypatch.delenv("A2A_PUSH_ALLOWED_HOSTS", raising=False)
    app = AgentFunctionApp(agents=[Agent(name="Echo", llm_config=LLMConfig(provider="offline"))],
                           mode=AgentMode.A2A, session_store=MemorySessionStore(), create_triggers=False)
    hook = Webhook()
    try:
        with hook.server:
            sent = await call(app, "SendMessage", {"message": {"messageId": "m1", "role": "ROLE_USER",
                                                               "parts": [{"text": "hi"}]}})
            task_id = sent["result"]["task"]["id"]
            literal = await call(app, "CreateTaskPushNotificationConfig",
                                 {"taskId": task_id, "url": "http://127.0.0.1:9/hook", "token": "t"})
            assert literal["error"]["code"] == -32602
            assert "loopback" in literal["error"]["message"] and "A2A_PUSH_ALLOWED_HOSTS" in literal["error"]["message"]
            for url in ("https://hooks.not-registered-yet.invalid/a2a",  # does not resolve (yet)
                        hook.url.replace("127.0.0.1", "localhost")):  # resolves to loopback
                created = await call(app, "CreateTaskPushNotificationConfig",
                                     {"taskId": task_id, "url": url, "id": url[-12:]})
                assert created["result"]["url"] == url
            listed = await call(app, "ListTaskPushNotificationConfigs", {"taskId": task_id})
            assert len(listed["result"]["configs"]) == 2
            # Delivery: neither is reached (the hook behind "localhost" receives nothing).
            assert app.a2a is not None
            endpoint = next(iter(app.a2a._endpoints[asyncio.get_running_loop()].values()))
            for config in await endpoint.push_configs.get_info_for_dispatch(task_id):
                assert await endpoint.push.deliver(task_id, config, {"task": {}}) is False
            assert hook.received == []
    finally:
        await app.aclose()


async def test_a_delivery_connects_to_the_address_it_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """DNS rebinding: a name that resolves to a public address for the check and to a private one for the
    connection. The delivery connects to the checked address itself (Host header and TLS name kept)."""
    from azurefunctions.agents.a2a.push import check_push_url, pinned

    monkeypatch.delenv("A2A_PUSH_ALLOWED_HOSTS", raising=False)
    loop = asyncio.get_running_loop()
    answers = iter(["93.184.216.34", "127.0.0.1"])

    async def rebinding(host: str, port: int, **kwargs: Any) -> list[Any]:
        return [(2, 1, 6, "", (next(answers), port))]

    monkeypatch.setattr(loop, "getaddrinfo", rebinding)
    address = await check_push_url("https://hooks.example.com:8443/a2a?x=1")
    assert address == "93.184.216.34"
    url, headers, extensions = pinned("https://hooks.example.com:8443/a2a?x=1", address)
    assert url == "https://93.184.216.34:8443/a2a?x=1"
    assert headers == {"Host": "hooks.example.com:8443"} and extensions == {"sni_hostname": "hooks.example.com"}
    assert pinned("http://listed.example/h", None) == ("http://listed.example/h", {}, {})


async def test_a_listed_host_name_is_reached_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("A2A_PUSH_ALLOWED_HOSTS", "localhost")
    configs = SessionPushConfigStore(MemorySessionStore(), "Echo")
    hook = Webhook()
    with hook.server:
        await configs.set_info("t1", TaskPushNotificationConfig(id="h", url=hook.url.replace("127.0.0.1",
                                                                                              "localhost")), ANYONE)
        sender = PushSender(configs)
        config = (await configs.get_info_for_dispatch("t1"))[0]
        assert await sender.deliver("t1", config, {"task": {"id": "t1"}}) is True
        await sender.aclose()
    assert hook.received[0][1] == {"task": {"id": "t1"}}


async def test_deliveries_retry_keep_their_order_and_never_hold_the_task(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("A2A_PUSH_ALLOWED_HOSTS", "127.0.0.1")
    configs = SessionPushConfigStore(MemorySessionStore(), "Echo")
    hook = Webhook(fail_first=2)
    with hook.server:
        await configs.set_info("t1", TaskPushNotificationConfig(id="h", url=hook.url, token="tok"), ANYONE)
        sender = PushSender(configs, retry_delays=(0.05, 0.05, 0.05))
        states = [TaskState.TASK_STATE_WORKING, TaskState.TASK_STATE_WORKING, TaskState.TASK_STATE_COMPLETED]
        loop = asyncio.get_running_loop()
        started = loop.time()
        for state in states:
            await sender.send_notification("t1", TaskStatusUpdateEvent(task_id="t1", context_id="c",
                                                                       status=TaskStatus(state=state)))
        assert loop.time() - started < 0.05  # queued, not sent inline
        assert sender.outbox.pending == 3
        await sender.aclose()
    assert hook.refused == 2 and hook.states() == ["TASK_STATE_WORKING", "TASK_STATE_WORKING",
                                                   "TASK_STATE_COMPLETED"]


async def test_a_webhook_that_refuses_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("A2A_PUSH_ALLOWED_HOSTS", "127.0.0.1")
    configs = SessionPushConfigStore(MemorySessionStore(), "Echo")
    hook = Webhook()
    with hook.server:
        gone = TaskPushNotificationConfig(id="gone", url=hook.url.replace("/hook", "/nothing-here"))
        await configs.set_info("t1", gone, ANYONE)
        sender = PushSender(configs, retry_delays=(5.0,))
        config = (await configs.get_info_for_dispatch("t1"))[0]
        assert await sender.deliver("t1", config, {"task": {}}) is False  # a 404 at once, no 5 s retry
        await sender.aclose()


def _status(task_id: str, state: int) -> TaskStatusUpdateEvent:
    return TaskStatusUpdateEvent(task_id=task_id, context_id="ctx", status=TaskStatus(state=state))


async def test_followers_replay_then_follow_and_get_a_snapshot_when_too_far_behind() -> None:
    store = SessionTaskStore(MemorySessionStore(), "Echo", max_events=3)
    task = Task(id=uuid.uuid4().hex, context_id="ctx", status=TaskStatus(state=TaskState.TASK_STATE_SUBMITTED))
    version = await store.save(task, event=task, prev=None, prev_version=TaskVersion.MISSING, context=ANYONE)
    working = Task()
    working.CopyFrom(task)
    working.status.state = TaskState.TASK_STATE_WORKING
    version = await store.save(working, event=_status(task.id, TaskState.TASK_STATE_WORKING), prev=task,
                               prev_version=version, context=ANYONE)
    stream = StoreEventStream(store, poll_seconds=0.02)

    async def finish() -> None:
        await asyncio.sleep(0.1)
        nonlocal version
        artifact = TaskArtifactUpdateEvent(task_id=task.id, context_id="ctx",
                                           artifact=Artifact(artifact_id="a", parts=[Part(text="done")]))
        done = Task()
        done.CopyFrom(working)
        done.artifacts.append(artifact.artifact)
        version = await store.save(done, event=artifact, prev=working, prev_version=version, context=ANYONE)
        done.status.state = TaskState.TASK_STATE_COMPLETED
        version = await store.save(done, event=_status(task.id, TaskState.TASK_STATE_COMPLETED), prev=done,
                                   prev_version=version, context=ANYONE)

    finishing = asyncio.create_task(finish())
    followed = [item async for item in stream.subscribe(task.id, after=TaskVersion(1))]
    await finishing
    assert [type(i.event).__name__ for i in followed] == ["TaskStatusUpdateEvent", "TaskArtifactUpdateEvent",
                                                           "TaskStatusUpdateEvent"]
    assert [i.version for i in followed] == [TaskVersion(2), TaskVersion(3), TaskVersion(4)]
    # A follower behind the kept events (3 of 4) gets the task as it is now, which ends it.
    late = [item async for item in stream.subscribe(task.id, after=TaskVersion(0))]
    assert len(late) == 1 and isinstance(late[0].event, Task)
    assert late[0].event.status.state == TaskState.TASK_STATE_COMPLETED


async def test_a_stale_write_fails_but_cancel_wins() -> None:
    from a2a.server.cluster.task_store import ConcurrentTaskModificationError

    store = SessionTaskStore(MemorySessionStore(), "Echo")
    task = Task(id="t-stale", context_id="ctx", status=TaskStatus(state=TaskState.TASK_STATE_WORKING))
    first = await store.save(task, event=None, prev=None, prev_version=TaskVersion.MISSING, context=ANYONE)
    await store.save(task, event=None, prev=task, prev_version=first, context=ANYONE)
    with pytest.raises(ConcurrentTaskModificationError):
        await store.save(task, event=None, prev=task, prev_version=first, context=ANYONE)
    canceled = Task()
    canceled.CopyFrom(task)
    canceled.status.state = TaskState.TASK_STATE_CANCELED
    await store.save(canceled, event=None, prev=task, prev_version=first, context=ANYONE)  # any version
    with pytest.raises(ConcurrentTaskModificationError):  # but never over a finished task
        await store.save(canceled, event=None, prev=task, prev_version=first, context=ANYONE)


async def test_a_task_the_worker_gave_up_on_ends_failed() -> None:
    sessions = MemorySessionStore()
    store = SessionTaskStore(sessions, "Echo")
    task = Task(id="t-given-up", context_id="ctx", status=TaskStatus(state=TaskState.TASK_STATE_WORKING))
    await store.save(task, event=None, prev=None, prev_version=TaskVersion.MISSING, context=ANYONE)
    record = TurnRecord(session_id="ctx", agent="Echo", request={"message": "hi"}, turn_id=task.id, kind="a2a",
                        data={"task_id": task.id, "owner": ""})
    await A2A_TASKS.abandoned(record, sessions, {"code": "turn_interrupted", "message": "It kept stopping."})
    stored = await store.get(task.id, ANYONE)
    assert stored is not None and stored.task.status.state == TaskState.TASK_STATE_FAILED
    assert stored.task.status.message.parts[0].text == "It kept stopping."
    events, _, _, _ = await store.events_after(task.id, 0)
    assert events[-1][1].status_update.status.state == TaskState.TASK_STATE_FAILED
