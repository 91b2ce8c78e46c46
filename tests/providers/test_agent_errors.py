"""Provider failures reach the caller of an agent as a clear ``ChatResponse`` error, never an exception."""

from __future__ import annotations

import pytest

from azurefunctions.agents import Agent, Runner
from tests.servers.scripted import Reply

from .conftest import ProviderCase


@pytest.mark.parametrize(("reply", "code", "config_changes"), [
    (Reply(status=429, retry_after=0.05), "rate_limited", {"max_retries": 0}),
    (Reply(text="late", delay=1.5), "provider_timeout", {"timeout": 0.3, "max_retries": 0}),
    (Reply(malformed=True), "provider_error", {"max_retries": 0}),
], ids=["rate_limited", "timeout", "malformed"])
async def test_failures_become_error_responses(provider_case: ProviderCase, reply: Reply, code: str,
                                               config_changes: dict[str, object]) -> None:
    provider_case.script.add(reply)
    agent = Agent(name="Failing", instructions="Answer.", llm_config=provider_case.with_config(**config_changes))
    response = await Runner(agent).run("Hello?")
    assert response.status == "error"
    assert response.error_code == code
    assert response.error
    assert "Traceback" not in response.error
