"""Every limit that bounds what one request may cost, with its setting, its default and its error.

An agent endpoint spends money on every call, so each way a caller could make a request expensive has a limit
with a safe default: request body size, message length, model calls per turn (``max_turns``), tool calls per
model answer, handoff hops (``max_hops``), turn duration and concurrent turns per instance. ``LIMITS`` lists
them all; docs/limits.md documents the same list (a test keeps the two equal).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from . import settings
from .errors import (
    MaxTurnsExceededError,
    MessageTooLongError,
    PayloadTooLargeError,
    TooBusyError,
    TurnTimeoutError,
)

#: ``Agent(max_turns=...)`` when not given: model calls in one turn.
DEFAULT_MAX_TURNS = 10
#: ``HandoffConfig(max_hops=...)`` when not given: handoffs in one turn.
DEFAULT_MAX_HOPS = 5

T = TypeVar("T")


@dataclass(frozen=True)
class Limit:
    """One limit as the documentation states it."""

    name: str
    setting: str  # the environment setting, or the argument that sets it
    default: str
    status: int | None  # the HTTP status when it is reached (None: the turn goes on with an error result)
    code: str


LIMITS: tuple[Limit, ...] = (
    Limit("request body size", settings.MAX_BODY_BYTES.name, settings.MAX_BODY_BYTES.default or "",
          PayloadTooLargeError.status, PayloadTooLargeError.code),
    Limit("message length", settings.MAX_MESSAGE_CHARS.name, settings.MAX_MESSAGE_CHARS.default or "",
          MessageTooLongError.status, MessageTooLongError.code),
    Limit("model calls per turn", "Agent(max_turns=...)", str(DEFAULT_MAX_TURNS), MaxTurnsExceededError.status,
          MaxTurnsExceededError.code),
    Limit("tool calls per model answer", settings.MAX_TOOL_CALLS_PER_MODEL_TURN.name,
          settings.MAX_TOOL_CALLS_PER_MODEL_TURN.default or "", None, "too_many_tool_calls"),
    Limit("handoff hops per turn", "HandoffConfig(max_hops=...)", str(DEFAULT_MAX_HOPS), None,
          "handoff_refused"),
    Limit("turn duration", settings.TURN_TIMEOUT_SECONDS.name, settings.TURN_TIMEOUT_SECONDS.default or "",
          TurnTimeoutError.status, TurnTimeoutError.code),
    Limit("concurrent turns per instance", settings.MAX_CONCURRENT_TURNS.name,
          settings.MAX_CONCURRENT_TURNS.default or "", TooBusyError.status, TooBusyError.code),
)


def _positive(setting: settings.Setting) -> int:
    value = settings.get_int(setting)
    if value <= 0:
        raise ValueError(f"{setting.name} must be a positive integer, got {value}")
    return value


@dataclass(frozen=True)
class Limits:
    """The limits of one app, read once from the settings (arguments of ``AgentFunctionApp`` win)."""

    max_body_bytes: int
    max_message_chars: int
    max_tool_calls_per_model_turn: int
    turn_timeout_seconds: float
    max_concurrent_turns: int

    @classmethod
    def from_settings(cls, *, max_body_bytes: int | None = None) -> Limits:
        return cls(
            max_body_bytes=max_body_bytes or _positive(settings.MAX_BODY_BYTES),
            max_message_chars=_positive(settings.MAX_MESSAGE_CHARS),
            max_tool_calls_per_model_turn=_positive(settings.MAX_TOOL_CALLS_PER_MODEL_TURN),
            turn_timeout_seconds=float(_positive(settings.TURN_TIMEOUT_SECONDS)),
            max_concurrent_turns=_positive(settings.MAX_CONCURRENT_TURNS),
        )


def check_message(message: object, max_chars: int) -> None:
    """Raise ``MessageTooLongError`` for a message longer than ``max_chars`` characters."""
    if isinstance(message, str) and len(message) > max_chars:
        raise MessageTooLongError(
            f"The message is {len(message)} characters long; the limit is {max_chars} "
            f"({settings.MAX_MESSAGE_CHARS.name}). Send a shorter message or split it.")


def tool_call_limit() -> int:
    """The current ``AGENTS_MAX_TOOL_CALLS_PER_MODEL_TURN`` (read per model answer, so tests may change it)."""
    return _positive(settings.MAX_TOOL_CALLS_PER_MODEL_TURN)


def split_tool_calls(calls: Sequence[T], limit: int) -> tuple[list[T], list[T]]:
    """The tool calls of one model answer that may run, and those beyond ``limit`` that get an error result."""
    return list(calls[:limit]), list(calls[limit:])


def too_many_tool_calls_result(limit: int) -> str:
    """The error result a refused tool call gets, so the model can continue with fewer calls."""
    return (f"Not run: at most {limit} tool calls are run per model answer "
            f"({settings.MAX_TOOL_CALLS_PER_MODEL_TURN.name}); ask again with fewer calls.")


class TurnSlots:
    """At most ``size`` turns at once in this instance; a turn beyond that is refused at once, not queued.

    Refusing (503 with ``Retry-After``) rather than queueing keeps latency bounded and lets the platform's
    scale-out place the load on another instance.
    """

    def __init__(self, size: int) -> None:
        if size <= 0:
            raise ValueError(f"TurnSlots(size=...) must be positive, got {size}")
        self.size = size
        self._used = 0
        self._lock = threading.Lock()

    @property
    def in_use(self) -> int:
        return self._used

    def acquire(self) -> None:
        """Take a slot, or raise ``TooBusyError``."""
        with self._lock:
            if self._used >= self.size:
                raise TooBusyError(
                    f"This instance is running its limit of {self.size} turns "
                    f"({settings.MAX_CONCURRENT_TURNS.name}); retry shortly.")
            self._used += 1

    def release(self) -> None:
        with self._lock:
            self._used = max(0, self._used - 1)
