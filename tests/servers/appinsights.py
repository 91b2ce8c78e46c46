"""An Application Insights ingestion endpoint on 127.0.0.1 that keeps what the real exporter posts.

``POST /v2.1/track`` takes a JSON array of envelopes (gzip-encoded or not) and answers
``{"itemsReceived": n, "itemsAccepted": n, "errors": []}``, as the service does. ``connection_string`` points
the Azure Monitor exporter here, over HTTPS with ``tls=True`` (which Entra ID ingestion requires). The
instrumentation key is made per server, never written as a literal.
"""

from __future__ import annotations

import gzip
import json
import tempfile
import threading
import uuid
from typing import Any

from .base import LocalServer, read_body, respond_json
from .keyvault import make_certificate


class AppInsightsSink:
    """``AppInsightsSink().start()``; ``envelopes`` and ``requests`` (headers and raw body) for assertions."""

    def __init__(self, *, tls: bool = False) -> None:
        self.instrumentation_key = str(uuid.uuid4())
        self.envelopes: list[dict[str, Any]] = []
        self.bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        self.other_paths: list[str] = []
        self._lock = threading.Lock()

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await self._handle(scope, receive, send)

        # Entra ID ingestion (a bearer token) needs HTTPS: then ``ca_file`` is the certificate to trust.
        self._dir = tempfile.TemporaryDirectory(prefix="ai-") if tls else None
        self.ca_file: str | None = None
        key_file: str | None = None
        if self._dir is not None:
            self.ca_file, key_file = make_certificate(self._dir.name)
        self._server = LocalServer(app, ssl_certfile=self.ca_file, ssl_keyfile=key_file)
        self.url = self._server.url

    @property
    def connection_string(self) -> str:
        return (f"InstrumentationKey={self.instrumentation_key};IngestionEndpoint={self.url}/;"
                f"LiveEndpoint={self.url}/")

    def start(self) -> AppInsightsSink:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
        if self._dir is not None:
            self._dir.cleanup()

    def __enter__(self) -> AppInsightsSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def of_type(self, base_type: str) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self.envelopes if e.get("data", {}).get("baseType") == base_type]

    def raw_text(self) -> str:
        """Everything received, decoded, for "this value appears nowhere" assertions."""
        with self._lock:
            return "\n".join(b.decode("utf-8", "replace") for b in self.bodies) + json.dumps(self.headers)

    async def _handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        path = "/" + "/".join(part for part in scope["path"].split("/") if part)  # the service tolerates "//"
        if scope["method"] != "POST" or path != "/v2.1/track":
            with self._lock:
                self.other_paths.append(f"{scope['method']} {scope['path']}")
            await respond_json(send, 404, {"error": "not found"})
            return
        if headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        try:
            items = json.loads(body)
        except ValueError:
            await respond_json(send, 400, {"itemsReceived": 0, "itemsAccepted": 0,
                                       "errors": [{"index": 0, "statusCode": 400, "message": "bad json"}]})
            return
        if isinstance(items, dict):
            items = [items]
        with self._lock:
            self.bodies.append(body)
            self.headers.append(headers)
            self.envelopes.extend(items)
        await respond_json(send, 200, {"itemsReceived": len(items), "itemsAccepted": len(items), "errors": []})
