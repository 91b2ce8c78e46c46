"""Adapter for the HTTP-streams extension (``azurefunctions-extensions-http-fastapi``: Starlette types).

Importing the extension switches the whole app to the streams model, so this module is imported only by apps
that stream; their every route then uses these types, with identical JSON behaviour.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import azure.functions as func
from azurefunctions.extensions.http.fastapi import Request, Response, StreamingResponse

from ..http.calls import HttpCall, HttpReply
from .classic import trace_headers


async def to_call(req: Request) -> HttpCall:
    body = await req.body()
    return HttpCall(
        method=req.method.upper(),
        path=req.url.path,
        headers={k.lower(): v for k, v in req.headers.items()},
        query=dict(req.query_params),
        route_params={k: str(v) for k, v in req.path_params.items()},
        body=body,
        base_url=f"{req.url.scheme}://{req.url.netloc}",
    )


def to_response(reply: HttpReply) -> Response:
    if reply.stream is not None:
        return StreamingResponse(reply.stream, status_code=reply.status, headers=reply.headers,
                                 media_type=reply.media_type)
    return Response(content=reply.body, status_code=reply.status, headers=reply.headers,
                    media_type=reply.media_type if reply.body else None)


def make_handler(run: Callable[[HttpCall], Awaitable[HttpReply]]) -> Callable[..., Awaitable[Response]]:
    async def handler(req: Request, context: func.Context) -> Response:
        call = await to_call(req)
        call.trace_headers = trace_headers(context)
        return to_response(await run(call))

    return handler
