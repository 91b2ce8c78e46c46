"""An OTLP/HTTP collector on 127.0.0.1: ``POST /v1/traces`` and ``/v1/metrics`` (protobuf), kept for assertions."""

from __future__ import annotations

import gzip
import threading
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.servers.base import LocalServer, read_body


class OTLPCollector:
    def __init__(self) -> None:
        self.spans: list[Any] = []
        self.metric_names: list[str] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await self._handle(scope, receive, send)

        self._server = LocalServer(app)
        self.url = self._server.url

    def __enter__(self) -> OTLPCollector:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()

    async def _handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        if headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        status = 200
        with self._lock:
            self.headers.append(headers)
            if scope["path"] == "/v1/traces":
                request = ExportTraceServiceRequest.FromString(body)
                self.spans.extend(span for rs in request.resource_spans for ss in rs.scope_spans
                                  for span in ss.spans)
            elif scope["path"] == "/v1/metrics":
                metrics = ExportMetricsServiceRequest.FromString(body)
                self.metric_names.extend(m.name for rm in metrics.resource_metrics for sm in rm.scope_metrics
                                         for m in sm.metrics)
            else:
                status = 404
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/x-protobuf"), (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})
