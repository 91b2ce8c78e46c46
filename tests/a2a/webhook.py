"""A local webhook for push-notification tests: a real HTTP server on 127.0.0.1 recording what it receives."""

from __future__ import annotations

import threading
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tests.servers.base import LocalServer


class Webhook:
    """A local webhook: records each notification (headers and JSON body); answers ``fail_first`` requests
    with 503 before it accepts any."""

    def __init__(self, fail_first: int = 0) -> None:
        self.received: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.refused = 0
        self.fail_first = fail_first
        self._lock = threading.Lock()
        self.server = LocalServer(Starlette(routes=[Route("/hook", self._hook, methods=["POST"])]))

    async def _hook(self, request: Request) -> Response:
        body = await request.json()
        with self._lock:
            if self.refused < self.fail_first:
                self.refused += 1
                return Response(status_code=503)
            self.received.append((dict(request.headers), body))
        return Response(status_code=204)

    @property
    def url(self) -> str:
        return f"{self.server.url}/hook"

    def states(self) -> list[str]:
        with self._lock:
            bodies = [body for _, body in self.received]
        return [(b.get("task") or b.get("statusUpdate") or {}).get("status", {}).get("state", "")
                for b in bodies if "task" in b or "statusUpdate" in b]
