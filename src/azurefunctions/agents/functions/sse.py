"""Server-Sent Events encoding of the Runner's events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from ..events import AgentEvent


def encode_event(event_id: str, event: AgentEvent) -> bytes:
    data = json.dumps(event.to_dict(), ensure_ascii=False, default=str)
    return f"id: {event_id}\nevent: {event.type}\ndata: {data}\n\n".encode()


async def encode_stream(events: AsyncIterator[AgentEvent], prefix: str = "") -> AsyncIterator[bytes]:
    """Each event with an ``id:`` (``prefix`` + sequence number), an ``event:`` name and JSON ``data:``."""
    sequence = 0
    async for event in events:
        sequence += 1
        yield encode_event(f"{prefix}{sequence}", event)
