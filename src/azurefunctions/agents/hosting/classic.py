"""Adapter for the classic Functions HTTP types (``func.HttpRequest`` in, ``func.HttpResponse`` out)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import azure.functions as func

from ..http.calls import HttpCall, HttpReply


def to_call(req: func.HttpRequest) -> HttpCall:
    parts = urlsplit(req.url)
    return HttpCall(
        method=req.method.upper(),
        path=parts.path,
        headers={k.lower(): v for k, v in req.headers.items()},
        query=dict(req.params),
        route_params=dict(req.route_params),
        body=req.get_body() or b"",
        base_url=f"{parts.scheme}://{parts.netloc}" if parts.netloc else "",
    )


async def to_response(reply: HttpReply) -> func.HttpResponse:
    body = await reply.read_all()
    headers = dict(reply.headers)
    return func.HttpResponse(body=body, status_code=reply.status, headers=headers,
                             mimetype=reply.media_type if body else None, charset="utf-8")


def trace_headers(context: func.Context | None) -> dict[str, str] | None:
    """The host's request span as W3C headers, so agent spans nest under the Functions request."""
    trace = getattr(context, "trace_context", None)
    # The worker's TraceContext spells them Traceparent/Tracestate; the azure-functions ABC trace_parent/...
    parent = getattr(trace, "trace_parent", None) or getattr(trace, "Traceparent", None)
    if not parent:
        return None
    headers = {"traceparent": str(parent)}
    state = getattr(trace, "trace_state", None) or getattr(trace, "Tracestate", None)
    if state:
        headers["tracestate"] = str(state)
    return headers


def make_handler(run: Callable[[HttpCall], Awaitable[HttpReply]]) -> Callable[..., Awaitable[func.HttpResponse]]:
    """A function the Python worker can call: ``req`` and the invocation ``context``, an ``HttpResponse`` back."""

    async def handler(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
        call = to_call(req)
        call.trace_headers = trace_headers(context)
        return await to_response(await run(call))

    return handler
