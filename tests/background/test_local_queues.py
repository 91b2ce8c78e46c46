"""The local host's queue triggers, for any app's queue-triggered functions: Azurite, the real SDK, and the
platform's delivery rules (delete on success, retry, poison queue, visibility kept while running)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

from azurefunctions.agents.localhost.queues import QueueOptions, QueuePoller, queue_functions, resolve_name
from tests.servers.azurite import AzuriteQueues


class Queues:
    def __init__(self, storage: AzuriteQueues) -> None:
        self.storage = storage

    async def send(self, queue: str, text: str, *, encode: bool = True) -> None:
        from azure.core.exceptions import ResourceExistsError
        from azure.storage.queue.aio import QueueClient

        async with QueueClient.from_connection_string(self.storage.connection_string, queue) as client:
            with contextlib.suppress(ResourceExistsError):
                await client.create_queue()
            await client.send_message(base64.b64encode(text.encode()).decode() if encode else text)

    async def peek(self, queue: str) -> list[str]:
        from azure.core.exceptions import ResourceNotFoundError
        from azure.storage.queue.aio import QueueClient

        async with QueueClient.from_connection_string(self.storage.connection_string, queue) as client:
            try:
                return [m.content for m in await client.peek_messages(max_messages=32)]
            except ResourceNotFoundError:
                return []

    async def count(self, queue: str) -> int:
        from azure.core.exceptions import ResourceNotFoundError
        from azure.storage.queue.aio import QueueClient

        async with QueueClient.from_connection_string(self.storage.connection_string, queue) as client:
            try:
                return int((await client.get_queue_properties()).approximate_message_count)
            except ResourceNotFoundError:
                return 0


@pytest.fixture
def queues(storage: AzuriteQueues) -> Queues:
    return Queues(storage)


@pytest.fixture
async def poller() -> AsyncIterator[Callable[..., Awaitable[QueuePoller]]]:
    started: list[QueuePoller] = []

    async def start(app: func.FunctionApp, **options: Any) -> QueuePoller:
        visibility = options.pop("visibility_seconds", 30)
        made = QueuePoller(queue_functions(list(app.get_functions())),
                           QueueOptions(max_polling_seconds=0.2, **options), visibility_seconds=visibility)
        await made.start()
        started.append(made)
        return made

    yield start
    for made in started:
        await made.stop(grace_seconds=0.5)


async def until(check: Callable[[], Any], expect: Callable[[Any], bool] = bool, timeout: float = 10.0) -> Any:
    """Poll ``check`` (plain or async) until ``expect`` holds for its value; that value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if expect(value):
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout} s")


async def test_a_queue_function_gets_a_queue_message_as_from_the_worker_and_the_message_is_deleted(
        queues: Queues, queue_name: str, poller: Callable[..., Awaitable[QueuePoller]]) -> None:
    app = func.FunctionApp()
    seen: list[func.QueueMessage] = []

    @app.queue_trigger(arg_name="item", queue_name=queue_name, connection="AzureWebJobsStorage")
    async def on_item(item: func.QueueMessage) -> None:
        seen.append(item)

    await queues.send(queue_name, '{"order": 42}')
    await poller(app)
    await until(lambda: seen)
    message = seen[0]
    assert message.get_json() == {"order": 42}
    assert message.dequeue_count == 1 and message.id and message.pop_receipt
    assert message.insertion_time is not None and message.expiration_time is not None
    await until(lambda: queues.count(queue_name), lambda n: n == 0)


async def test_a_synchronous_function_with_a_context_runs_too_and_settings_name_the_queue(
        queues: Queues, queue_name: str, poller: Callable[..., Awaitable[QueuePoller]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERS_QUEUE", queue_name)
    app = func.FunctionApp()
    seen: list[str] = []

    @app.queue_trigger(arg_name="msg", queue_name="%ORDERS_QUEUE%", connection="AzureWebJobsStorage")
    def on_order(msg: func.QueueMessage, context: func.Context) -> None:
        seen.append(f"{msg.get_body().decode()} ({context.function_name}, {bool(context.invocation_id)})")

    await queues.send(queue_name, "plain text")
    await poller(app)
    await until(lambda: seen == ["plain text (on_order, True)"])


async def test_a_failing_message_is_retried_then_moved_to_the_poison_queue(
        queues: Queues, queue_name: str, poller: Callable[..., Awaitable[QueuePoller]]) -> None:
    app = func.FunctionApp()
    counts: list[int] = []

    @app.queue_trigger(arg_name="msg", queue_name=queue_name, connection="AzureWebJobsStorage")
    async def always_fails(msg: func.QueueMessage) -> None:
        counts.append(msg.dequeue_count)
        raise RuntimeError("cannot handle this one")

    await queues.send(queue_name, "bad order")
    await poller(app, max_dequeue_count=3)
    poisoned = await until(lambda: queues.peek(f"{queue_name}-poison"))
    assert counts == [1, 2, 3]
    assert [base64.b64decode(p).decode() for p in poisoned] == ["bad order"]  # content unchanged
    assert await queues.count(queue_name) == 0


async def test_a_message_that_is_not_base64_fails_like_the_host_and_none_encoding_takes_raw_text(
        queues: Queues, queue_name: str, poller: Callable[..., Awaitable[QueuePoller]]) -> None:
    app = func.FunctionApp()
    seen: list[bytes] = []

    @app.queue_trigger(arg_name="msg", queue_name=queue_name, connection="AzureWebJobsStorage")
    async def handler(msg: func.QueueMessage) -> None:
        seen.append(msg.get_body())

    await queues.send(queue_name, "not base64 at all!", encode=False)
    await poller(app, max_dequeue_count=1)
    assert await until(lambda: queues.peek(f"{queue_name}-poison")) == ["not base64 at all!"]
    assert seen == []

    raw_app = func.FunctionApp()

    @raw_app.queue_trigger(arg_name="msg", queue_name=queue_name, connection="AzureWebJobsStorage")
    async def raw(msg: func.QueueMessage) -> None:
        seen.append(msg.get_body())

    await queues.send(queue_name, "raw text", encode=False)
    await poller(raw_app, base64=False)
    await until(lambda: seen == [b"raw text"])


async def test_a_long_function_keeps_its_message_invisible(
        queues: Queues, queue_name: str, poller: Callable[..., Awaitable[QueuePoller]]) -> None:
    app = func.FunctionApp()
    calls: list[int] = []

    @app.queue_trigger(arg_name="msg", queue_name=queue_name, connection="AzureWebJobsStorage")
    async def slow(msg: func.QueueMessage) -> None:
        calls.append(msg.dequeue_count)
        await asyncio.sleep(3.0)  # three visibility timeouts

    await queues.send(queue_name, "long job")
    await poller(app, visibility_seconds=1)
    await until(lambda: queues.count(queue_name), lambda n: n == 0, timeout=10)
    assert calls == [1]


async def test_stopping_returns_unfinished_messages_to_the_queue_at_once(
        queues: Queues, queue_name: str, poller: Callable[..., Awaitable[QueuePoller]]) -> None:
    app = func.FunctionApp()
    started = asyncio.Event()

    @app.queue_trigger(arg_name="msg", queue_name=queue_name, connection="AzureWebJobsStorage")
    async def never_ends(msg: func.QueueMessage) -> None:
        started.set()
        await asyncio.sleep(60)

    await queues.send(queue_name, "unfinished")
    running = await poller(app, visibility_seconds=600)
    await asyncio.wait_for(started.wait(), 10)
    await running.stop(grace_seconds=0.1)
    assert [base64.b64decode(p).decode() for p in await queues.peek(queue_name)] == ["unfinished"]


async def test_a_missing_connection_is_reported_and_other_functions_still_run(
        queues: Queues, queue_name: str, poller: Callable[..., Awaitable[QueuePoller]],
        caplog: pytest.LogCaptureFixture) -> None:
    app = func.FunctionApp()
    seen: list[str] = []

    @app.queue_trigger(arg_name="msg", queue_name="elsewhere", connection="OtherStorage")
    async def unconfigured(msg: func.QueueMessage) -> None:
        seen.append("unexpected")

    @app.queue_trigger(arg_name="msg", queue_name=queue_name, connection="AzureWebJobsStorage")
    async def configured(msg: func.QueueMessage) -> None:
        seen.append(msg.get_body().decode())

    with caplog.at_level(logging.ERROR, logger="azurefunctions.agents.localhost.queues"):
        await queues.send(queue_name, "fine")
        await poller(app)
        await until(lambda: seen == ["fine"])
    assert "unconfigured will not run" in caplog.text and "OtherStorage__queueServiceUri" in caplog.text


def test_host_json_queue_settings(tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text(json.dumps({"version": "2.0", "extensions": {"queues": {
        "batchSize": 4, "maxDequeueCount": 2, "visibilityTimeout": "00:00:05", "maxPollingInterval": 500,
        "messageEncoding": "none"}}}))
    options = QueueOptions.from_host_json(tmp_path)
    assert (options.batch_size, options.new_batch_threshold, options.max_dequeue_count) == (4, 2, 2)
    assert options.retry_visibility_seconds == 5 and options.max_polling_seconds == 0.5 and not options.base64
    defaults = QueueOptions.from_host_json(tmp_path / "missing")
    assert (defaults.batch_size, defaults.max_dequeue_count, defaults.base64) == (16, 5, True)


def test_an_unset_setting_in_a_queue_name_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_SET_QUEUE", raising=False)
    with pytest.raises(SystemExit, match="NOT_SET_QUEUE"):
        resolve_name("%NOT_SET_QUEUE%")
