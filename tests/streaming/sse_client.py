"""A streaming SSE client for tests: reads events off a live ``httpx`` response as they arrive, with times."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class Received:
    id: str | None
    event: str
    data: dict[str, Any]
    at: float  # time.monotonic() when the event's last line arrived

    @property
    def text(self) -> str:
        return str(self.data.get("text", ""))


def events(response: httpx.Response) -> Iterator[Received]:
    """Parse ``text/event-stream`` line by line (comments skipped); each event is yielded once it is complete."""
    assert response.headers["content-type"].startswith("text/event-stream"), response.headers
    fields: dict[str, str] = {}
    data: list[str] = []
    for line in response.iter_lines():
        if line == "":
            if data:
                payload = json.loads("\n".join(data))
                yield Received(fields.get("id"), fields.get("event", "message"), payload, time.monotonic())
            fields, data = {}, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        else:
            fields[name] = value


def stream_chat(client: httpx.Client, url: str, body: dict[str, Any],
                headers: dict[str, str] | None = None) -> list[Received]:
    """POST a chat and read its whole event stream."""
    with client.stream("POST", url, json=body, headers={"accept": "text/event-stream", **(headers or {})},
                       timeout=30) as response:
        assert response.status_code == 200, response.read()
        return list(events(response))
