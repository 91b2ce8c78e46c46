"""Adapter for the classic Functions HTTP types (``func.HttpRequest`` in, ``func.HttpResponse`` out)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import azure.functions as func

from .http import HttpCall, HttpReply


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


def make_handler(run: Callable[[HttpCall], Awaitable[HttpReply]]) -> Callable[..., Awaitable[func.HttpResponse]]:
    """A function the Python worker can call: one ``req`` parameter, an ``HttpResponse`` back."""

    async def handler(req: func.HttpRequest) -> func.HttpResponse:
        return await to_response(await run(to_call(req)))

    return handler
