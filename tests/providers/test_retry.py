"""The shared retry policy: what is retried, how long it waits, and when it gives up."""

from __future__ import annotations

import email.utils
import time
from collections.abc import AsyncIterator

import pytest

from azurefunctions.agents.errors import (
    ProviderAuthenticationError,
    ProviderError,
    ProviderRateLimitError,
    ProviderTimeoutError,
)
from azurefunctions.agents.providers.retry import (
    ProviderUnavailableError,
    RetryPolicy,
    call_with_retries,
    clean_detail,
    parse_retry_after,
    status_error,
)


class Flaky:
    """An attempt factory that fails with the given errors first, then yields ``items``."""

    def __init__(self, errors: list[Exception], items: list[str], fail_after_items: Exception | None = None):
        self.errors = list(errors)
        self.items = items
        self.fail_after_items = fail_after_items
        self.attempts = 0

    def __call__(self) -> AsyncIterator[str]:
        return self._run()

    async def _run(self) -> AsyncIterator[str]:
        self.attempts += 1
        if self.errors:
            raise self.errors.pop(0)
        for item in self.items:
            yield item
        if self.fail_after_items is not None:
            raise self.fail_after_items


async def drain(policy: RetryPolicy, attempt: Flaky) -> list[str]:
    return [item async for item in call_with_retries(policy, attempt)]


FAST = RetryPolicy(max_retries=3, base_delay=0.01, max_delay=1, max_total_wait=2)


@pytest.mark.parametrize("error", [
    ProviderRateLimitError("429", retry_after=0.01),
    ProviderRateLimitError("429 without hint"),
    ProviderUnavailableError("503"),
])
async def test_retryable_errors_are_retried(error: Exception) -> None:
    attempt = Flaky([error, error], ["ok"])
    assert await drain(FAST, attempt) == ["ok"]
    assert attempt.attempts == 3


@pytest.mark.parametrize("error", [
    ProviderError("500"), ProviderTimeoutError("slow"), ProviderAuthenticationError("401"), ValueError("bug"),
])
async def test_other_errors_are_not_retried(error: Exception) -> None:
    attempt = Flaky([error], ["ok"])
    with pytest.raises(type(error)):
        await drain(FAST, attempt)
    assert attempt.attempts == 1


async def test_retries_are_bounded_by_max_retries() -> None:
    attempt = Flaky([ProviderRateLimitError("429", retry_after=0)] * 10, ["ok"])
    with pytest.raises(ProviderRateLimitError):
        await drain(RetryPolicy(max_retries=2, base_delay=0), attempt)
    assert attempt.attempts == 3


async def test_zero_retries_means_one_attempt() -> None:
    attempt = Flaky([ProviderUnavailableError("503")], ["ok"])
    with pytest.raises(ProviderUnavailableError):
        await drain(RetryPolicy(max_retries=0), attempt)
    assert attempt.attempts == 1


async def test_total_wait_is_bounded() -> None:
    policy = RetryPolicy(max_retries=10, base_delay=0.01, max_delay=1, max_total_wait=0.25)
    attempt = Flaky([ProviderRateLimitError("429", retry_after=0.1)] * 10, ["ok"])
    started = time.monotonic()
    with pytest.raises(ProviderRateLimitError):
        await drain(policy, attempt)
    assert time.monotonic() - started < 0.6
    assert attempt.attempts == 3  # waits of 0.1 + 0.1; a third would pass 0.25


async def test_a_stream_that_already_produced_is_not_retried() -> None:
    attempt = Flaky([], ["partial"], fail_after_items=ProviderRateLimitError("429", retry_after=0))
    seen: list[str] = []
    with pytest.raises(ProviderRateLimitError):
        async for item in call_with_retries(FAST, attempt):
            seen.append(item)
    assert seen == ["partial"]
    assert attempt.attempts == 1


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=3)
    assert 0.25 <= policy.backoff(1) <= 0.5
    assert 1.0 <= policy.backoff(3) <= 2.0
    assert 1.5 <= policy.backoff(10) <= 3


def test_policy_rejects_negative_values() -> None:
    with pytest.raises(ValueError, match="max_retries"):
        RetryPolicy(max_retries=-1)
    with pytest.raises(ValueError, match="delays"):
        RetryPolicy(base_delay=-1)


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after({"Retry-After": "7"}) == 7
    assert parse_retry_after({"retry-after": "0.25"}) == 0.25
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (parse_retry_after({"retry-after": future}) or 0) <= 31
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None
    assert parse_retry_after(None) is None
    assert parse_retry_after({"retry-after": "-3"}) == 0


def test_status_errors_map_to_the_runtime_errors() -> None:
    limited = status_error("anthropic", 429, "slow down", 2.0)
    assert isinstance(limited, ProviderRateLimitError) and limited.retry_after == 2.0 and limited.status == 429
    assert "retry after 2 s" in limited.message
    assert isinstance(status_error("gemini", 503, None, None), ProviderUnavailableError)
    assert status_error("gemini", 503, None, None).status == 502
    refused = status_error("anthropic", 401, "bad key sk-secret", None, key_setting="ANTHROPIC_API_KEY",
                           secret="sk-secret")
    assert isinstance(refused, ProviderAuthenticationError)
    assert "ANTHROPIC_API_KEY" in refused.message and "sk-secret" not in refused.message
    other = status_error("ollama", 400, "bad\nrequest   body", None)
    assert type(other) is ProviderError and other.message.endswith("bad request body")


def test_clean_detail_bounds_and_masks() -> None:
    assert clean_detail(None) is None
    text = clean_detail("x" * 1000 + " key123", secret="key123")
    assert text is not None and len(text) == 300 and "key123" not in text
