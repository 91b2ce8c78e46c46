"""Background turns end to end: the local host (a real process) serving HTTP and queue triggers together,
Azurite's queues, the real azure-storage-queue SDK and the scripted OpenAI server.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers.azurite import AzuriteQueues
from tests.servers.localhost import LocalHostProcess, wait_for
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply

APP = Path(__file__).parent / "apps" / "turns"
SLOW = "Slow agent"
QUICK = "Quick agent"


@pytest.fixture
def host_env(model: OpenAIServer, storage: AzuriteQueues, queue_name: str, tmp_path: Path) -> dict[str, str]:
    model.script.clear()
    return {"OPENAI_API_KEY": model.api_key, "OPENAI_BASE_URL": model.base_url,
            "AGENTS_SESSION_DB": str(tmp_path / "sessions.sqlite3"),
            "AzureWebJobsStorage": storage.connection_string, "AGENTS_WORK_QUEUE": queue_name,
            # Short leases and visibility, so a killed host's turn is taken over within seconds.
            "AGENTS_TURN_LEASE_SECONDS": "2", "AGENTS_LOCAL_QUEUE_VISIBILITY_SECONDS": "2",
            "AGENTS_LOCAL_QUEUE_POLL_SECONDS": "0.5"}


def turn_status(client: httpx.Client, location: str) -> dict[str, Any]:
    reply = client.get(location)
    assert reply.status_code == 200, reply.text
    data: dict[str, Any] = reply.json()
    return data


def submit(client: httpx.Client, agent: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = client.post(f"/api/agents/{agent}/chat", json={**body, "async": True})
    assert reply.status_code == 202, reply.text
    data: dict[str, Any] = reply.json()
    assert reply.headers["location"] == data["location"]
    return data


def queue_messages(storage: AzuriteQueues, queue: str) -> int:
    async def count() -> int:
        from azure.storage.queue.aio import QueueClient

        async with QueueClient.from_connection_string(storage.connection_string, queue) as client:
            properties = await client.get_queue_properties()
            return int(properties.approximate_message_count)

    return asyncio.run(count())


def send_raw(storage: AzuriteQueues, queue: str, text: str) -> None:
    async def send() -> None:
        from azure.storage.queue.aio import QueueClient

        async with QueueClient.from_connection_string(storage.connection_string, queue) as client:
            await client.send_message(base64.b64encode(text.encode()).decode())

    asyncio.run(send())


def test_a_turn_longer_than_the_client_timeout_completes_in_the_background(
        model: OpenAIServer, host_env: dict[str, str]) -> None:
    model.script.add_for(SLOW, Reply(text="Too slow for you.", delay=2.5),
                         Reply(text="The long answer, at last.", delay=2.5))
    with LocalHostProcess(APP, env=host_env) as host, httpx.Client(base_url=host.url, timeout=1.0) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.post("/api/agents/Slow/chat", json={"message": "First, synchronously", "session_id": "s-sync"})

        started = time.monotonic()
        accepted = submit(client, "Slow", {"message": "Think hard", "user_id": "ana"})
        assert time.monotonic() - started < 1.0
        assert accepted["status"] == "queued" and accepted["agent"] == "Slow"
        location = f"{accepted['location']}?user_id=ana"
        assert location.startswith(f"/api/sessions/{accepted['session_id']}/turns/{accepted['turn_id']}")

        running = wait_for(lambda: (s := turn_status(client, location))["status"] == "running" and s)
        assert running["attempts"] == 1 and "response" not in running
        done = wait_for(lambda: (s := turn_status(client, location))["status"] not in ("queued", "running") and s)
        assert done["status"] == "completed", done
        assert done["response"]["response"] == "The long answer, at last."
        assert done["response"]["session_id"] == accepted["session_id"]

        session = client.get(f"/api/sessions/{accepted['session_id']}", params={"user_id": "ana"}).json()
        assert [(m["role"], m["content"]) for m in session["messages"]] == [
            ("user", "Think hard"), ("assistant", "The long answer, at last.")]
        # The turn's events were kept like a streamed turn's: the resume route replays them.
        replay = client.get(f"/api/sessions/{accepted['session_id']}/stream", params={"user_id": "ana"})
        assert replay.status_code == 200 and replay.headers["content-type"].startswith("text/event-stream")
        assert "event: turn_started" in replay.text and "event: done" in replay.text
        assert "The long answer, at last." in replay.text
        # Someone else neither sees nor cancels the turn.
        assert client.get(accepted["location"], params={"user_id": "bob"}).status_code == 404
        assert client.delete(accepted["location"], params={"user_id": "bob"}).status_code == 404


def test_the_same_message_delivered_twice_runs_the_turn_once(
        model: OpenAIServer, host_env: dict[str, str], storage: AzuriteQueues, queue_name: str) -> None:
    model.script.add_for(QUICK, Reply(text="Once only.", delay=1.0), Reply(text="A second run!"))
    with LocalHostProcess(APP, env=host_env) as host, httpx.Client(base_url=host.url, timeout=5.0) as client:
        accepted = submit(client, "Quick", {"message": "Hi", "session_id": "dup-1"})
        message = json.dumps({"session_id": "dup-1", "turn_id": accepted["turn_id"], "agent": "Quick"})
        send_raw(storage, queue_name, message)  # a second delivery while the turn runs
        done = wait_for(lambda: (s := turn_status(client, accepted["location"]))["status"] == "completed" and s)
        send_raw(storage, queue_name, message)  # and a third after it finished
        wait_for(lambda: queue_messages(storage, queue_name) == 0)
        time.sleep(0.5)
        assert done["response"]["response"] == "Once only."
        assert len([r for r in model.script.requests if r["messages"][0]["content"].startswith(QUICK)]) == 1
        session = client.get("/api/sessions/dup-1").json()
        assert [m["role"] for m in session["messages"]] == ["user", "assistant"]
        assert turn_status(client, accepted["location"])["attempts"] == 1


def test_a_poison_message_ends_the_turn_failed(host_env: dict[str, str], storage: AzuriteQueues,
                                               queue_name: str) -> None:
    with LocalHostProcess(APP, env=host_env) as host, httpx.Client(base_url=host.url, timeout=5.0) as client:
        accepted = submit(client, "Quick", {"message": "Hi", "session_id": "unreadable-1"})
        done = wait_for(lambda: (s := turn_status(client, accepted["location"]))["status"] == "failed" and s,
                        timeout=30)
        assert done["error"]["code"] == "turn_undeliverable"
        assert f"{queue_name}-poison" in done["error"]["message"]
        assert "the session store is unavailable" in host.output  # the cause, in the log
        assert host.output.count("queue function agent_turns failed") == 3  # host.json maxDequeueCount
        wait_for(lambda: queue_messages(storage, f"{queue_name}-poison") == 0)  # the poison trigger took it


def test_a_turn_queued_when_the_host_dies_completes_after_a_restart(
        model: OpenAIServer, host_env: dict[str, str]) -> None:
    # The first host dies while the slow turn runs and the quick one waits in the queue (batchSize 1).
    model.script.add_for(SLOW, Reply(text="Never delivered.", delay=30), Reply(text="Slow, but done."))
    model.script.add_for(QUICK, Reply(text="Quick, and done."))
    first = LocalHostProcess(APP, env=host_env).start()
    try:
        with httpx.Client(base_url=first.url, timeout=5.0) as client:
            slow = submit(client, "Slow", {"message": "Long one", "session_id": "kill-slow"})
            wait_for(lambda: turn_status(client, slow["location"])["status"] == "running")
            quick = submit(client, "Quick", {"message": "Short one", "session_id": "kill-quick"})
            time.sleep(0.5)
            assert turn_status(client, quick["location"])["status"] == "queued"
    finally:
        assert first.process is not None
        first.process.kill()  # no graceful shutdown: the queue and the store keep the work
        first.process.wait(timeout=10)
        first.stop()
    with LocalHostProcess(APP, env=host_env) as second, httpx.Client(base_url=second.url, timeout=5.0) as client:
        for turn, answer in ((quick, "Quick, and done."), (slow, "Slow, but done.")):
            done = wait_for(lambda t=turn: (s := turn_status(client, t["location"]))["status"]  # type: ignore[misc]
                            not in ("queued", "running") and s, timeout=30)
            assert done["status"] == "completed", done
            assert done["response"]["response"] == answer
            session = client.get(f"/api/sessions/{turn['session_id']}").json()
            assert [m["role"] for m in session["messages"]] == ["user", "assistant"]
        assert turn_status(client, slow["location"])["attempts"] == 2
        assert turn_status(client, quick["location"])["attempts"] == 1
