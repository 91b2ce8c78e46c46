"""Errors of ``azurefunctions.agents.errors`` raised by the app's own code (here its session store) reach the
caller with their status and code in the JSON error envelope, never as a 500 with stack text: an app names
its own with ``AgentFrameworkError(message, code=..., status=...)``."""

from __future__ import annotations

import json

from azurefunctions.agents import Agent, AgentFunctionApp
from azurefunctions.agents.errors import AgentFrameworkError
from azurefunctions.agents.sessions.base import Session
from azurefunctions.agents.sessions.memory import MemorySessionStore
from azurefunctions.agents.types import LLMConfig
from tests.background.test_http import Client


class ArchiveOnlyStore(MemorySessionStore):
    """Sessions whose id starts with ``archived-`` live in an archive this build cannot read."""

    @staticmethod
    def _check(session_id: str) -> None:
        if session_id.startswith("archived-"):
            raise AgentFrameworkError(f"session {session_id} is archived; reading archives is not available in "
                                      "this deployment", code="not_available", status=501)

    async def load(self, session_id: str) -> Session | None:
        self._check(session_id)
        return await super().load(session_id)

    async def load_recent(self, session_id: str, limit: int | None) -> Session | None:
        self._check(session_id)
        return await super().load_recent(session_id, limit)


async def test_an_error_the_apps_own_store_raises_reaches_the_caller_with_its_status_and_code() -> None:
    agent = Agent(name="Helper", instructions="Help.", llm_config=LLMConfig(provider="offline"))
    app = AgentFunctionApp(agents=[agent], session_store=ArchiveOnlyStore())
    client = Client(app)
    try:
        status, _, data = await client.chat({"message": "Hi", "session_id": "archived-2024", "user_id": "ana"})
        assert status == 501, data
        assert data["error"]["code"] == "not_available"
        assert data["error"]["message"] == ("session archived-2024 is archived; reading archives is not available "
                                            "in this deployment")
        for leak in ("Traceback", 'File "', "/site-packages/", "Exception"):
            assert leak not in json.dumps(data)
        status, _, fine = await client.chat({"message": "Hi", "session_id": "current-1", "user_id": "ana"})
        assert status == 200 and fine["status"] == "success", fine
    finally:
        await app.aclose()
