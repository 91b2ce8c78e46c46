"""The local host's queue triggers: poll each queue-triggered function's Storage queue and call the function
the way the Functions host and Python worker do.

For every function whose trigger is a queue trigger (any app's, not only the runtime's), the poller reads
``queue_name`` (``%SETTING%`` resolved from the environment) and the ``connection`` name (``AzureWebJobsStorage``
by default; resolved like the host, see ``background/queues.py``: Azurite with ``UseDevelopmentStorage=true``
or a connection string locally). It follows the host's queue semantics, with ``host.json``
``extensions.queues`` settings:

* receives up to ``batchSize`` (16) messages and fetches more once no more than ``newBatchThreshold``
  (``batchSize``/2) are still running; an idle queue is polled with a growing pause up to
  ``maxPollingInterval`` (2 seconds locally, as Core Tools' development settings);
* a received message stays invisible while its function runs (renewed at half the visibility timeout);
* the function gets a ``func.QueueMessage`` with ``id``, body, ``dequeue_count``, times and ``pop_receipt``;
  bodies are base64-decoded unless ``messageEncoding`` is ``none``;
* success deletes the message; a failure makes it visible again after ``visibilityTimeout`` (0), and the
  failure of its ``maxDequeueCount``-th (5) delivery moves it to ``<queue>-poison``, as the platform does.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import inspect
import json
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import settings
from ..background.queues import QueueService, poison_queue_name, resolve_connection

logger = logging.getLogger("azurefunctions.agents.localhost.queues")

_SETTING_REFERENCE = re.compile(r"%([^%]+)%")


@dataclass
class QueueFunction:
    name: str
    queue_name: str
    connection: str
    arg_name: str
    function: Callable[..., Any]


@dataclass
class QueueOptions:
    """``host.json`` ``extensions.queues``, with the platform's defaults."""

    batch_size: int = 16
    new_batch_threshold: int = 8
    max_dequeue_count: int = 5
    retry_visibility_seconds: float = 0.0  # ``visibilityTimeout``: the pause before a failed message returns
    max_polling_seconds: float = 2.0
    base64: bool = True

    @classmethod
    def from_host_json(cls, directory: Path, *, max_polling_seconds: float = 2.0) -> QueueOptions:
        host_file = directory / "host.json"
        queues: dict[str, Any] = {}
        if host_file.is_file():
            try:
                host = json.loads(host_file.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise SystemExit(f"{host_file} is not valid JSON: {exc}") from None
            queues = ((host.get("extensions") or {}).get("queues") or {})
        batch_size = max(1, min(32, int(queues.get("batchSize", 16))))
        polling = max_polling_seconds
        if "maxPollingInterval" in queues:
            polling = min(polling, _seconds(queues["maxPollingInterval"], "maxPollingInterval"))
        return cls(
            batch_size=batch_size,
            new_batch_threshold=max(0, int(queues.get("newBatchThreshold", batch_size // 2))),
            max_dequeue_count=max(1, int(queues.get("maxDequeueCount", 5))),
            retry_visibility_seconds=_seconds(queues.get("visibilityTimeout", 0), "visibilityTimeout"),
            max_polling_seconds=max(0.1, polling),
            base64=str(queues.get("messageEncoding", "base64")).lower() != "none",
        )


def _seconds(value: Any, name: str) -> float:
    """A host.json duration: a number of milliseconds (as the host reads plain numbers) or ``hh:mm:ss``."""
    if isinstance(value, int | float):
        return float(value) / 1000.0
    text = str(value).strip()
    parts = text.split(":")
    try:
        if len(parts) == 3:
            return int(parts[0]) * 3600 + int(parts[1]) * 60 + float(parts[2])
        return float(text) / 1000.0
    except ValueError:
        raise SystemExit(f"host.json extensions.queues.{name} must be hh:mm:ss, got {value!r}") from None


def resolve_name(value: str) -> str:
    """``%SETTING%`` references replaced by their values, as the host resolves binding expressions."""

    def lookup(match: re.Match[str]) -> str:
        setting = match.group(1)
        if setting not in os.environ:
            raise SystemExit(f"queue name {value!r} refers to the setting {setting}, which is not set")
        return os.environ[setting]

    return _SETTING_REFERENCE.sub(lookup, value)


def queue_functions(functions: list[Any]) -> list[QueueFunction]:
    """The queue-triggered functions among an app's ``get_functions()``."""
    result = []
    for function in functions:
        trigger = function.get_trigger()
        if type(trigger).__name__ != "QueueTrigger":
            continue
        result.append(QueueFunction(name=function.get_function_name(), queue_name=resolve_name(trigger.queue_name),
                                    connection=trigger.connection or "AzureWebJobsStorage", arg_name=trigger.name,
                                    function=function.get_user_function()))
    return result


def _queue_message(message: Any, body: bytes) -> Any:
    from azure.functions.queue import QueueMessage

    return QueueMessage(id=message.id, body=body, dequeue_count=message.dequeue_count,  # type: ignore[no-untyped-call]
                        expiration_time=message.expires_on, insertion_time=message.inserted_on,
                        time_next_visible=message.next_visible_on, pop_receipt=message.pop_receipt)


class QueuePoller:
    """Polls the queues of ``functions`` in the running event loop until ``stop()``."""

    def __init__(self, functions: list[QueueFunction], options: QueueOptions | None = None, *,
                 visibility_seconds: float | None = None) -> None:
        self.functions = functions
        self.options = options or QueueOptions()
        visibility = visibility_seconds if visibility_seconds is not None else float(
            settings.get_int(settings.LOCAL_QUEUE_VISIBILITY_SECONDS))
        self.visibility_seconds = max(1, int(visibility))
        self._services: dict[str, QueueService] = {}
        self._loops: list[asyncio.Task[None]] = []
        self._running: set[asyncio.Task[None]] = set()

    @classmethod
    def for_app(cls, directory: Path, functions: list[Any]) -> QueuePoller | None:
        """A poller for the app's queue triggers, or ``None`` when it has none."""
        found = queue_functions(functions)
        if not found:
            return None
        polling = float(settings.LOCAL_QUEUE_POLL_SECONDS.get() or 2)
        return cls(found, QueueOptions.from_host_json(directory, max_polling_seconds=polling))

    async def start(self) -> None:
        for function in self.functions:
            try:
                connection = resolve_connection(function.connection)
            except Exception as exc:
                logger.error("queue function %s will not run: %s", function.name, exc)
                continue
            service = self._services.get(function.connection)
            if service is None:
                service = self._services[function.connection] = QueueService(connection)
            self._loops.append(asyncio.create_task(self._poll(function, service), name=f"queue-{function.name}"))

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Stop polling; functions still running get ``grace_seconds`` to finish, then are cancelled (their
        messages are made visible again at once, so the next start picks them up)."""
        for loop in self._loops:
            loop.cancel()
        for loop in self._loops:
            with contextlib.suppress(BaseException):
                await loop
        self._loops.clear()
        if self._running:
            await asyncio.wait(set(self._running), timeout=grace_seconds)
        for task in list(self._running):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        for service in self._services.values():
            await service.aclose()
        self._services.clear()

    async def _poll(self, function: QueueFunction, service: QueueService) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        queue = service.queue(function.queue_name, base64=False)
        poison = service.queue(poison_queue_name(function.queue_name), base64=False)
        options = self.options
        pause = 0.1
        mine: set[asyncio.Task[None]] = set()
        reported = False
        while True:
            if len(mine) > options.new_batch_threshold:
                await asyncio.wait(set(mine), return_when=asyncio.FIRST_COMPLETED)
                continue
            try:
                messages = [m async for m in queue.receive_messages(
                    messages_per_page=options.batch_size, max_messages=options.batch_size,
                    visibility_timeout=self.visibility_seconds)]
                reported = False
            except ResourceNotFoundError:
                messages = []  # the queue does not exist yet: nothing to do until someone sends
            except Exception as exc:
                if not reported:
                    logger.warning("cannot read queue %s for %s (%s); retrying", function.queue_name,
                                   function.name, exc)
                    reported = True
                messages = []
            for message in messages:
                task = asyncio.create_task(self._process(function, queue, poison, message))
                mine.add(task)
                self._running.add(task)
                task.add_done_callback(mine.discard)
                task.add_done_callback(self._running.discard)
            if messages:
                pause = 0.1
                continue
            await asyncio.sleep(pause)
            pause = min(pause * 2, options.max_polling_seconds)

    async def _process(self, function: QueueFunction, queue: Any, poison: Any, message: Any) -> None:
        options = self.options
        count = message.dequeue_count or 1
        if count > options.max_dequeue_count:
            await self._to_poison(function, queue, poison, message)
            return
        receipt = [message.pop_receipt]
        renewer = asyncio.create_task(self._keep_invisible(queue, message, receipt))
        try:
            try:
                body = self._body(message.content)
                result = await self._call(function, _queue_message(message, body))
            finally:
                renewer.cancel()
                with contextlib.suppress(BaseException):
                    await renewer
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):  # shutting down: let the next start have it at once
                await queue.update_message(message.id, receipt[0], visibility_timeout=0)
            raise
        except Exception:
            logger.exception("queue function %s failed on message %s (delivery %d of %d)", function.name,
                             message.id, count, options.max_dequeue_count)
            if count >= options.max_dequeue_count:
                message.pop_receipt = receipt[0]
                await self._to_poison(function, queue, poison, message)
            else:
                with contextlib.suppress(Exception):
                    await queue.update_message(message.id, receipt[0],
                                               visibility_timeout=int(options.retry_visibility_seconds))
            return
        logger.info("queue function %s processed message %s%s", function.name, message.id,
                    "" if result is None else f" (returned {type(result).__name__})")
        with contextlib.suppress(Exception):
            await queue.delete_message(message.id, receipt[0])

    def _body(self, content: Any) -> bytes:
        raw = content.encode("utf-8") if isinstance(content, str) else bytes(content or b"")
        if not self.options.base64:
            return raw
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("the message is not base64 (host.json messageEncoding is base64)") from None

    async def _keep_invisible(self, queue: Any, message: Any, receipt: list[str]) -> None:
        while True:
            await asyncio.sleep(self.visibility_seconds / 2)
            try:
                updated = await queue.update_message(message.id, receipt[0],
                                                     visibility_timeout=self.visibility_seconds)
                receipt[0] = updated.pop_receipt
            except Exception as exc:
                logger.warning("could not keep message %s invisible: %s", message.id, exc)

    @staticmethod
    async def _call(function: QueueFunction, msg: Any) -> Any:
        from .context import context_for, wants_context

        kwargs: dict[str, Any] = {function.arg_name: msg}
        if wants_context(function.function):
            kwargs["context"] = context_for(function.name, {})
        if inspect.iscoroutinefunction(function.function):
            return await function.function(**kwargs)
        return await asyncio.to_thread(function.function, **kwargs)

    @staticmethod
    async def _to_poison(function: QueueFunction, queue: Any, poison: Any, message: Any) -> None:
        """Move the message, content unchanged, to ``<queue>-poison`` (created when missing)."""
        from ..background.queues import send_message

        await send_message(poison, message.content)
        with contextlib.suppress(Exception):
            await queue.delete_message(message.id, message.pop_receipt)
        logger.error("message %s of queue %s moved to %s after %d deliveries", message.id, function.queue_name,
                     poison_queue_name(function.queue_name), message.dequeue_count or 0)
