"""Each HTTP invocation inside the caller's trace, with telemetry flushed before the invocation ends.

The Functions host may freeze the process as soon as the handler returns, so spans are exported then (only
when a span ended during the request, so health checks cost nothing). A streamed reply flushes when its stream
ends, not when the handler returns.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

from ..telemetry import instrumentation
from .calls import HttpCall, HttpReply


async def traced(call: HttpCall, dispatch: Callable[[HttpCall], Awaitable[HttpReply]]) -> HttpReply:
    telemetry = instrumentation()
    headers = call.trace_headers or call.headers
    with telemetry.incoming(headers):
        reply = await dispatch(call)
    if reply.stream is None:
        await telemetry.aflush()
    else:
        reply.stream = _flushed(reply.stream, headers)
    return reply


async def _flushed(stream: AsyncIterator[bytes], headers: Mapping[str, str]) -> AsyncIterator[bytes]:
    telemetry = instrumentation()
    try:
        with telemetry.incoming(headers):
            async for chunk in stream:
                yield chunk
    finally:
        await telemetry.aflush()
