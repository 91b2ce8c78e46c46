"""A task's events for subscribers on any instance: replayed from the task item, then followed by polling it.

The SDK's request handler streams a task running on *this* instance straight from memory. For a task running
elsewhere (another instance, the queue-triggered worker) it sends the task as stored and then the events
newer than that snapshot from a ``TaskEventStream``. Here that stream is the task item itself: every task
write keeps the event that caused it with the version it produced (``store.py``), so publishing is free and
subscribing is reading the item every ``poll_seconds`` for versions after the last one seen.

A subscriber that fell behind the events the item keeps gets the task itself (a full snapshot) in their
place. Following ends when the task ends (or waits for input), when the task disappears, or after
``follow_seconds``, whichever comes first; the client can subscribe again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator

from a2a.server.cluster.event_stream import TaskEventStream, VersionedEvent
from a2a.server.cluster.version import TaskVersion
from a2a.server.events.event_queue import Event
from a2a.types.a2a_pb2 import Message, StreamResponse, Task, TaskStatusUpdateEvent

from .store import INTERRUPTED, TERMINAL, SessionTaskStore

#: Seconds between two reads of a followed task.
POLL_SECONDS = 0.25
#: Longest one subscription follows a task (the platform cuts HTTP responses at 230 s).
FOLLOW_SECONDS = 220.0


class StoreEventStream(TaskEventStream):
    """Events of ``store``'s tasks, from the task items."""

    def __init__(self, store: SessionTaskStore, *, poll_seconds: float = POLL_SECONDS,
                 follow_seconds: float = FOLLOW_SECONDS) -> None:
        if poll_seconds <= 0 or follow_seconds <= 0:
            raise ValueError("poll_seconds and follow_seconds must be positive")
        self.store = store
        self.poll_seconds = poll_seconds
        self.follow_seconds = follow_seconds

    async def publish(self, task_id: str, event: VersionedEvent) -> None:
        """Nothing to do: the task write that produced ``event`` stored it with the task."""
        del task_id, event

    async def subscribe(self, task_id: str, *, after: TaskVersion) -> AsyncGenerator[VersionedEvent, None]:
        seen = int(after._value or 0)
        deadline = time.monotonic() + self.follow_seconds
        while True:
            events, task, version, dropped = await self.store.events_after(task_id, seen)
            if task is None:
                return
            if dropped > seen:
                # The item no longer keeps every event since ``seen``: send the task as it is now instead.
                yield VersionedEvent(event=task, version=TaskVersion(version))
                seen = version
                if _ends(task):
                    return
                continue
            for number, response in events:
                event = _event(response)
                yield VersionedEvent(event=event, version=TaskVersion(number))
                seen = number
                if _ends(event):
                    return
            if task.status.state in TERMINAL and version <= seen:
                return  # ended by a write that logged no event
            if time.monotonic() >= deadline:
                return
            await asyncio.sleep(self.poll_seconds)

    async def destroy(self, task_id: str) -> None:
        """Nothing to release: events go with their task item."""
        del task_id


def _event(response: StreamResponse) -> Event:
    which = response.WhichOneof("payload")
    if which == "task":
        return response.task
    if which == "message":
        return response.message
    if which == "status_update":
        return response.status_update
    if which == "artifact_update":
        return response.artifact_update
    raise ValueError(f"a stored event has no payload: {which!r}")


def _ends(event: object) -> bool:
    if isinstance(event, Message):
        return True
    if isinstance(event, Task | TaskStatusUpdateEvent):
        return event.status.state in TERMINAL or event.status.state in INTERRUPTED
    return False
