"""The queue-trigger sample on the local host, fed through Azurite's queues with the real SDK, answered by the
labelled offline model."""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from tests.servers.azurite import AzuriteQueues
from tests.servers.localhost import LocalHostProcess

SAMPLE = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def azurite() -> Iterator[AzuriteQueues]:
    reason = AzuriteQueues.available()
    if reason is not None:
        pytest.skip(reason)
    with AzuriteQueues() as server:
        yield server


@pytest.fixture(scope="module")
def host(azurite: AzuriteQueues, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHostProcess]:
    env = {"AzureWebJobsStorage": azurite.connection_string, "AGENT_PROVIDER": "offline",
           "AGENTS_SESSION_DB": str(tmp_path_factory.mktemp("tickets") / "sessions.sqlite3"),
           "AGENTS_LOCAL_QUEUE_POLL_SECONDS": "0.5"}
    with LocalHostProcess(SAMPLE, env=env) as process:
        yield process


@pytest.fixture
def sender(azurite: AzuriteQueues, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    spec = importlib.util.spec_from_file_location("queue_sample_send_ticket", SAMPLE / "send_ticket.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def wait_for(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout} s")


def queue_peek(azurite: AzuriteQueues, queue: str) -> list[str]:
    async def peek() -> list[str]:
        from azure.core.exceptions import ResourceNotFoundError
        from azure.storage.queue.aio import QueueClient

        async with QueueClient.from_connection_string(azurite.connection_string, queue) as client:
            try:
                return [base64.b64decode(m.content).decode() for m in await client.peek_messages(max_messages=32)]
            except ResourceNotFoundError:
                return []

    return asyncio.run(peek())


def triaged(host: LocalHostProcess, ticket_id: str) -> dict[str, Any] | None:
    reply = httpx.get(f"{host.url}/api/tickets/{ticket_id}")
    return reply.json() if reply.status_code == 200 else None


def test_a_queued_ticket_is_triaged_by_the_agent(host: LocalHostProcess, sender: ModuleType) -> None:
    missing = httpx.get(f"{host.url}/api/tickets/t-unknown")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "ticket_not_found"
    ticket_id = asyncio.run(sender.send_ticket("Where is order 1042? It has not arrived.", customer="ana"))
    result = wait_for(lambda: triaged(host, ticket_id))
    assert result["status"] == "triaged"
    assert result["triage"] == ("[offline model] lookup_order returned: Order 1042 is shipped (parcel post, "
                                "tracking PX-1042), in 2 days.")
    # The framework's own routes are not registered (create_triggers=False): this app's functions are its API.
    assert httpx.post(f"{host.url}/api/agents/Triage/chat", json={"message": "hi"}).status_code == 404


def test_a_ticket_delivered_twice_is_triaged_once(host: LocalHostProcess, sender: ModuleType,
                                                   azurite: AzuriteQueues) -> None:
    asyncio.run(sender.send_ticket("Order 1043 is late", ticket_id="t-twice"))
    first = wait_for(lambda: triaged(host, "t-twice"))
    asyncio.run(sender.send_ticket("Order 1043 is late", ticket_id="t-twice"))
    wait_for(lambda: "ticket t-twice was triaged already" in host.output)
    again = triaged(host, "t-twice")
    assert again == first and first["messages"] == 4  # question, tool call, tool result, answer


def test_a_ticket_that_cannot_be_read_ends_on_the_poison_queue(host: LocalHostProcess, sender: ModuleType,
                                                              azurite: AzuriteQueues) -> None:
    async def send_bad() -> None:
        from azure.storage.queue.aio import QueueClient

        async with QueueClient.from_connection_string(azurite.connection_string, "support-tickets") as client:
            await client.send_message(base64.b64encode(b'{"text": "no ticket id"}').decode())

    asyncio.run(send_bad())
    poisoned = wait_for(lambda: queue_peek(azurite, "support-tickets-poison"))
    assert poisoned == ['{"text": "no ticket id"}']
    assert "needs ticket_id and text strings" in host.output  # why, in the log
    assert host.output.count("queue function triage_ticket failed on message") == 3  # host.json maxDequeueCount


def test_send_ticket_says_what_to_set_without_a_connection(sender: ModuleType,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AzureWebJobsStorage")
    with pytest.raises(ValueError, match="UseDevelopmentStorage=true"):
        asyncio.run(sender.send_ticket("hello"))
