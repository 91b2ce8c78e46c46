"""The invocation ``context`` the Functions worker passes to functions that ask for it."""

from __future__ import annotations

import os
import secrets
import threading
import uuid
from typing import Any

import azure.functions as func
from azure.functions._abc import RetryContext, TraceContext


class LocalTraceContext(TraceContext):
    """A fresh W3C trace per invocation, or the caller's ``traceparent`` when the request carried one."""

    def __init__(self, traceparent: str | None, tracestate: str | None) -> None:
        self._parent = traceparent or f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"
        self._state = tracestate or ""

    @property
    def trace_parent(self) -> str:
        return self._parent

    @property
    def trace_state(self) -> str:
        return self._state

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class LocalRetryContext(RetryContext):
    @property
    def retry_count(self) -> int:
        return 0

    @property
    def max_retry_count(self) -> int:
        return 0

    @property
    def exception(self) -> Any:
        return None


class LocalContext(func.Context):
    def __init__(self, function_name: str, function_directory: str, *, traceparent: str | None = None,
                 tracestate: str | None = None) -> None:
        self._name = function_name
        self._directory = function_directory
        self._invocation_id = str(uuid.uuid4())
        self._trace = LocalTraceContext(traceparent, tracestate)
        self._local = threading.local()

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> Any:
        return self._local

    @property
    def function_name(self) -> str:
        return self._name

    @property
    def function_directory(self) -> str:
        return self._directory

    @property
    def trace_context(self) -> TraceContext:
        return self._trace

    @property
    def retry_context(self) -> RetryContext:
        return LocalRetryContext()


def wants_context(function: Any) -> bool:
    import inspect

    try:
        return "context" in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


def context_for(function_name: str, headers: Any) -> LocalContext:
    return LocalContext(function_name, os.getcwd(), traceparent=headers.get("traceparent"),
                        tracestate=headers.get("tracestate"))
