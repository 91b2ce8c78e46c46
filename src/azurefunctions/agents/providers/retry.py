"""Bounded retries with backoff for model calls, honouring ``Retry-After``.

The Anthropic, Gemini and Ollama providers retry here and switch their SDK's own retries off, so that one
policy holds everywhere and attempts are never multiplied: at most ``LLMConfig.max_retries`` retries, only
for answers that say "try again" (429, 503 and Anthropic's 529 "overloaded"), each wait capped, and all waits
of one call together capped. A ``Retry-After`` longer than what is left of that budget is not slept through:
the error goes to the caller at once, carrying ``retry_after``, so a client sees 429 with ``Retry-After``
instead of a request that hangs.

A stream is retried only while it has produced nothing; once text has reached the caller, a failure surfaces.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from ..errors import ProviderAuthenticationError, ProviderError, ProviderRateLimitError

T = TypeVar("T")

#: HTTP statuses that mean "the same request may succeed later".
RETRYABLE_STATUSES = frozenset({429, 503, 529})


class ProviderUnavailableError(ProviderError):
    """The provider is overloaded or briefly unavailable (503, 529); retried, then surfaced as a 502."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long one model call may be retried."""

    max_retries: int = 2
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_total_wait: float = 30.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_total_wait < 0:
            raise ValueError("retry delays must be >= 0")

    def backoff(self, retry_number: int) -> float:
        """Exponential backoff with full jitter for the ``retry_number``-th retry (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (retry_number - 1)))
        return random.uniform(ceiling / 2, ceiling)


def is_retryable(error: BaseException) -> bool:
    return isinstance(error, ProviderRateLimitError | ProviderUnavailableError)


def _retry_after_of(error: BaseException) -> float | None:
    value = getattr(error, "retry_after", None)
    return float(value) if isinstance(value, int | float) else None


def _delay_for(policy: RetryPolicy, error: BaseException, retry_number: int, waited: float) -> float | None:
    """Seconds to wait before the next attempt, or None when the error must surface now."""
    if retry_number > policy.max_retries:
        return None
    hinted = _retry_after_of(error)
    delay = hinted if hinted is not None and hinted >= 0 else policy.backoff(retry_number)
    if delay > policy.max_delay or waited + delay > policy.max_total_wait:
        return None
    return delay


async def call_with_retries(policy: RetryPolicy, attempt: Callable[[], AsyncIterator[T]]) -> AsyncIterator[T]:
    """Run ``attempt()`` (a fresh stream each time) and yield its items, retrying retryable failures.

    ``attempt`` must raise the runtime's provider errors (already translated from the SDK's), so that the
    decision to retry does not depend on which SDK is underneath.
    """
    retry_number = 0
    waited = 0.0
    while True:
        produced = False
        try:
            async for item in attempt():
                produced = True
                yield item
            return
        except (ProviderRateLimitError, ProviderUnavailableError) as exc:
            if produced:
                raise
            retry_number += 1
            delay = _delay_for(policy, exc, retry_number, waited)
            if delay is None:
                raise
            started = time.monotonic()
            await asyncio.sleep(delay)
            waited += time.monotonic() - started


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date), else None."""
    if not headers:
        return None
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    raw_ms = lowered.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000)
        except ValueError:
            pass
    raw = lowered.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def status_error(provider: str, status: int, detail: str | None, retry_after: float | None, *,
                 key_setting: str | None = None, secret: str | None = None) -> ProviderError:
    """The runtime error for an HTTP error status.

    ``detail`` is the provider's own message, shortened and with ``secret`` (the key in use) masked, should a
    provider ever echo it; ``key_setting`` names the variable to fix when the key is refused.
    """
    detail = clean_detail(detail, secret)
    suffix = f": {detail}" if detail else ""
    if status in (401, 403):
        where = f"; check {key_setting} or LLMConfig.api_key" if key_setting else ""
        return ProviderAuthenticationError(
            f"{provider} refused the credentials (HTTP {status}){where}{suffix}")
    if status == 429:
        hint = f"; retry after {retry_after:g} s" if retry_after is not None else ""
        return ProviderRateLimitError(f"{provider} rate limit reached (HTTP 429){hint}{suffix}",
                                      retry_after=retry_after)
    if status in (503, 529):
        return ProviderUnavailableError(f"{provider} is overloaded or unavailable (HTTP {status}){suffix}",
                                        retry_after=retry_after)
    return ProviderError(f"{provider} request failed (HTTP {status}){suffix}")


def clean_detail(detail: str | None, secret: str | None = None, limit: int = 300) -> str | None:
    """A provider message fit for a client: one line, bounded, never containing the key."""
    if not detail:
        return None
    text = " ".join(str(detail).split())
    if secret:
        text = text.replace(secret, "***")
    return text if len(text) <= limit else text[: limit - 1] + "…"
