"""Serves a loaded Function App's HTTP triggers, calling each handler the way the Python worker does.

Classic functions get a ``func.HttpRequest`` and return a ``func.HttpResponse``; HTTP-streams functions get a
Starlette request and return a Starlette response, streamed as it is produced. Function keys are checked only
with ``--enable-auth``, as Core Tools does.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import logging
import secrets
import time
import typing
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import azure.functions as func
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import AgentFrameworkError, NotFoundError
from ..playground import LOCAL_PATH
from .context import context_for, wants_context
from .loader import LoadedApp
from .routing import HttpFunction, template_regex

logger = logging.getLogger("azurefunctions.agents.localhost")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def http_functions(loaded: LoadedApp) -> list[HttpFunction]:
    app_level = getattr(loaded.app, "auth_level", None)
    result = []
    for function in loaded.functions:
        trigger = function.get_trigger()
        if type(trigger).__name__ != "HttpTrigger":
            continue
        route = trigger.route if trigger.route is not None else function.get_function_name()
        prefix = f"/{loaded.route_prefix}" if loaded.route_prefix else ""
        path = f"{prefix}/{route.strip('/')}" if route.strip("/") else prefix or "/"
        level = trigger.auth_level or app_level or func.AuthLevel.FUNCTION
        methods = {str(getattr(m, "value", m)).upper() for m in (trigger.methods or [])}
        user_function = function.get_user_function()
        result.append(HttpFunction(
            name=function.get_function_name(), path=path, regex=template_regex(path), methods=methods,
            auth_level=str(getattr(level, "name", level)).upper(), function=user_function,
            streams=_takes_starlette_request(user_function),
        ))
    # The platform's order: the host sorts functions by name, ignoring case (azure-functions-host,
    # FunctionMetadataManager.GetFunctionMetadata: OrderBy(Name, OrdinalIgnoreCase)), registers their routes in
    # that order and takes the first route that matches (WebJobsRouteBuilder.Build: a RouteCollection).
    result.sort(key=lambda f: f.name.upper())
    return result


def _takes_starlette_request(function: Any) -> bool:
    try:
        hints = typing.get_type_hints(function)
    except Exception:
        hints = {}
    return any(isinstance(h, type) and issubclass(h, Request) for name, h in hints.items() if name != "return")


class LocalHost:
    """The ASGI application of the local host."""

    def __init__(self, functions: list[HttpFunction], *, enable_auth: bool = False,
                 function_key: str | None = None, master_key: str | None = None) -> None:
        self.functions = functions
        self.enable_auth = enable_auth
        self.function_key = function_key or secrets.token_urlsafe(24)
        self.master_key = master_key or secrets.token_urlsafe(24)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        request = Request(scope, receive)
        response = await self._handle(request, scope, receive)
        status = response.status_code
        await response(scope, receive, send)
        logger.info("%s %s %s %.1f ms", request.method, request.url.path, status,
                    (time.perf_counter() - started) * 1000)

    async def _handle(self, request: Request, scope: Scope, receive: Receive) -> Response:
        for function in self.functions:
            params = function.match(request.url.path, request.method)
            if params is None:
                continue
            denied = self._check_key(function, request)
            if denied is not None:
                return denied
            try:
                if function.streams:
                    return await self._call_streams(function, scope, receive, params)
                return await self._call_classic(function, request, params)
            except Exception:
                logger.exception("function %s failed", function.name)
                return JSONResponse({"error": {"code": AgentFrameworkError.code,
                                               "message": "The function failed; see the host's log."}}, 500)
        if request.method in ("GET", "HEAD") and request.url.path.rstrip("/") == LOCAL_PATH:
            return self._playground()
        return JSONResponse({"error": {"code": NotFoundError.code,
                                       "message": f"No function serves {request.url.path}."}}, 404)

    def _playground(self) -> Response:
        """The playground page (docs/playground.md), told where this host serves the app's agents routes."""
        from ..http.routes import STANDARD_ROUTES
        from ..playground import HTML_TYPE, render_page

        listing = next(spec.name for spec in STANDARD_ROUTES if spec.handler == "list_agents")
        path = next((f.path for f in self.functions if f.name == listing), "/api/agents")
        body, headers = render_page(path.rsplit("/", 1)[0])
        return Response(content=body, headers=headers, media_type=HTML_TYPE)

    def _check_key(self, function: HttpFunction, request: Request) -> Response | None:
        if not self.enable_auth or function.auth_level == "ANONYMOUS":
            return None
        key = request.headers.get("x-functions-key") or request.query_params.get("code") or ""
        accepted = [self.master_key] if function.auth_level == "ADMIN" else [self.function_key, self.master_key]
        if any(hmac.compare_digest(key.encode(), k.encode()) for k in accepted):
            return None
        return JSONResponse({"error": {"code": "unauthorized", "message":
                                       "A function key is required: send it in the x-functions-key header "
                                       "or the code query parameter."}}, 401)

    async def _call_classic(self, function: HttpFunction, request: Request, params: dict[str, str]) -> Response:
        body = await request.body()
        query = {k: v for k, v in request.query_params.items()}
        req = func.HttpRequest(method=request.method, url=str(request.url), headers=dict(request.headers),
                               params=query, route_params=params, body=body)
        kwargs: dict[str, Any] = {}
        if wants_context(function.function):
            kwargs["context"] = context_for(function.name, request.headers)
        if inspect.iscoroutinefunction(function.function):
            result = await function.function(req, **kwargs)
        else:
            result = await asyncio.to_thread(function.function, req, **kwargs)
        if isinstance(result, func.HttpResponse):
            headers = {k: v for k, v in result.headers.items() if k.lower() != "content-length"}
            return Response(content=result.get_body(), status_code=result.status_code, headers=headers,
                            media_type=result.mimetype)
        if isinstance(result, str | bytes):
            return Response(content=result, status_code=200)
        return Response(status_code=204)

    async def _call_streams(self, function: HttpFunction, scope: Scope, receive: Receive,
                            params: dict[str, str]) -> Response:
        scoped = dict(scope)
        scoped["path_params"] = params
        request = Request(scoped, receive)
        kwargs: dict[str, Any] = {}
        if wants_context(function.function):
            kwargs["context"] = context_for(function.name, request.headers)
        result = function.function(request, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        if not isinstance(result, Response):
            return Response(content=str(result))
        return result
