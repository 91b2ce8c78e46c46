"""Keys and tokens never reach a log line or a response.

Two nets. Known secret values (every ``secret=True`` setting in the environment, each agent's
``LLMConfig(api_key=...)``, and anything passed to ``register_secret``) are replaced wherever they appear. Shapes
that are secrets whatever their value (``Authorization`` and key headers, ``code=`` query parameters, JWTs,
``sk-...`` keys, storage account keys and SAS signatures) are replaced too. ``install_log_redaction`` applies both
to every log record of the process, including exception tracebacks, before any handler (console, the Functions
host, Application Insights) sees it; the HTTP layer applies the known values to every response body.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import traceback
from typing import Any

from . import settings

REDACTED = "[redacted]"
#: Shorter values are not treated as secrets: replacing them would mangle ordinary text.
MIN_SECRET_LENGTH = 8

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(authorization[\"']?\s*[:=]\s*[\"']?(?:bearer|basic)?\s*)[^\s,;\"'}]+"), r"\1" + REDACTED),
    (re.compile(r"(?i)\b((?:api[-_]?key|x-functions-key|x-ms-client-principal|client[-_]?secret|password|"
                r"accountkey|sharedaccesskey|access[-_]?token|refresh[-_]?token|secret)[\"']?\s*[:=]\s*[\"']?)"
                r"[^\s,;&\"'}]+"), r"\1" + REDACTED),
    (re.compile(r"([?&](?:code|sig|token)=)[^\s&#\"']+"), r"\1" + REDACTED),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"), REDACTED),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{20,}"), REDACTED),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{30,}"), REDACTED),
)

_known: set[str] = set()
_ordered: tuple[str, ...] = ()
_lock = threading.Lock()
_installed = False


def register_secret(value: Any) -> None:
    """Treat ``value`` as a secret from now on (strings shorter than ``MIN_SECRET_LENGTH`` are ignored)."""
    global _ordered
    if not isinstance(value, str) or len(value.strip()) < MIN_SECRET_LENGTH:
        return
    with _lock:
        if value in _known:
            return
        _known.add(value)
        _ordered = tuple(sorted(_known, key=len, reverse=True))


def register_environment_secrets(environ: os._Environ[str] | dict[str, str] | None = None) -> None:
    """Every setting the runtime declares ``secret=True`` that is set in the environment."""
    for setting in settings.all_settings():
        if setting.secret:
            register_secret(setting.get(environ))


def known_secrets() -> tuple[str, ...]:
    return _ordered


def redact_known(text: str) -> str:
    """``text`` with every known secret value replaced."""
    for value in _ordered:
        if value in text:
            text = text.replace(value, REDACTED)
    return text


def redact(text: str) -> str:
    """``text`` with known secret values and secret-shaped strings replaced."""
    text = redact_known(text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_bytes(data: bytes) -> bytes:
    """``data`` (a response body) with every known secret value replaced; other bytes are untouched."""
    for value in _ordered:
        encoded = value.encode("utf-8")
        if encoded in data:
            data = data.replace(encoded, REDACTED.encode("ascii"))
    return data


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a record whose arguments do not format: leave it to the handler's own error path
        return
    cleaned = redact(message)
    if record.exc_info and record.exc_info[1] is not None:
        formatted = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        cleaned_trace = redact(formatted)
        if cleaned_trace != formatted:  # the traceback itself carries a secret: keep only the cleaned text
            cleaned = f"{cleaned}\n{cleaned_trace}"
            record.exc_info = None
            record.exc_text = None
    if cleaned != message:
        record.msg = cleaned
        record.args = None


def install_log_redaction() -> None:
    """Redact every log record of this process from now on (idempotent).

    A record factory rather than a handler filter, so records reach no handler unredacted, whichever
    handlers the Functions host, the local host or Application Insights add, and whenever they add them.
    """
    global _installed
    register_environment_secrets()
    with _lock:
        if _installed:
            return
        _installed = True
        previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _redact_record(record)
        return record

    logging.setLogRecordFactory(factory)
