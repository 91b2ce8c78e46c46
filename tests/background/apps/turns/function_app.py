"""A Function App for the background-work tests: a slow and a quick agent with background turns on.

Its session store is the embedded SQLite file, except that sessions whose id starts with ``unreadable-``
can be read once (when their turn is queued) and never again: a storage outage that makes every delivery of
such a turn's message fail, so the message ends on the poison queue.
"""

from azurefunctions.agents import Agent, AgentFunctionApp
from azurefunctions.agents.sessions.base import Session
from azurefunctions.agents.sessions.sqlite import SqliteSessionStore
from azurefunctions.agents.types import LLMConfig


class OutageStore(SqliteSessionStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads: dict[str, int] = {}

    def _outage(self, session_id: str) -> None:
        if session_id.startswith("unreadable-"):
            self.reads[session_id] = self.reads.get(session_id, 0) + 1
            if self.reads[session_id] > 1:
                raise ConnectionError("the session store is unavailable")

    async def load(self, session_id: str) -> Session | None:
        self._outage(session_id)
        return await super().load(session_id)

    async def load_recent(self, session_id: str, limit: int | None) -> Session | None:
        self._outage(session_id)
        return await super().load_recent(session_id, limit)


config = LLMConfig.from_env(model_name="gpt-4o-mini", timeout=30, max_retries=0)
slow = Agent(name="Slow", instructions="Slow agent: think long.", llm_config=config)
quick = Agent(name="Quick", instructions="Quick agent: answer at once.", llm_config=config)

app = AgentFunctionApp(agents=[slow, quick], background=True, session_store=OutageStore())
