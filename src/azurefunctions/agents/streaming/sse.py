"""Server-Sent Events wire format of the Runner's events.

Every event is ``id: <turn key>-<n>``, ``event: <type>`` and one ``data:`` line of JSON whose ``type`` equals
the event name (the schema is in docs/streaming.md). Comment lines (``: keep-alive``) keep idle connections
open through proxies while a tool or the model is slow; clients ignore them.
"""

from __future__ import annotations

import json

from ..events import AgentEvent
from ..sessions.events import StreamEvent

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
KEEP_ALIVE = b": keep-alive\n\n"


def to_stream_event(event_id: str, event: AgentEvent) -> StreamEvent:
    """The event as it is sent and kept: its id, its name and its JSON data on one line."""
    data = json.dumps(event.to_dict(), ensure_ascii=False, default=str, separators=(",", ":"))
    return StreamEvent(id=event_id, event=event.type, data=data)


def encode(event: StreamEvent) -> bytes:
    return f"id: {event.id}\nevent: {event.event}\ndata: {event.data}\n\n".encode()


def encode_event(event_id: str, event: AgentEvent) -> bytes:
    return encode(to_stream_event(event_id, event))
