"""A Function App for the HTTP tests of handoff strategies, the tool-call limit and the 5xx/409 error codes.

Its session store is the embedded SQLite file, except that sessions whose id starts with ``broken-`` fail to
load with an unexpected error (an outage the runtime did not foresee: 500 ``internal_error``) and sessions whose
id starts with ``raced-`` are always saved first by someone else (409 ``session_busy``).
"""

from collections.abc import Sequence

from azurefunctions.agents import Agent, AgentFunctionApp, Message
from azurefunctions.agents.errors import SessionBusyError
from azurefunctions.agents.handoff import ControlReturn, HandoffConfig, HandoffMode, HandoffStrategy, HandoffTarget
from azurefunctions.agents.sessions.base import Session
from azurefunctions.agents.sessions.sqlite import SqliteSessionStore
from azurefunctions.agents.types import LLMConfig


class TroubledStore(SqliteSessionStore):
    @staticmethod
    def _check_read(session_id: str) -> None:
        if session_id.startswith("broken-"):
            raise RuntimeError("disk on fire at /var/lib/secret-path/sessions.db")

    @staticmethod
    def _check_write(session: Session) -> None:
        if session.id.startswith("raced-"):
            raise SessionBusyError(f"session {session.id} was changed by another request; retry the turn")

    async def load(self, session_id: str) -> Session | None:
        self._check_read(session_id)
        return await super().load(session_id)

    async def load_recent(self, session_id: str, limit: int | None) -> Session | None:
        self._check_read(session_id)
        return await super().load_recent(session_id, limit)

    async def save(self, session: Session) -> Session:
        self._check_write(session)
        return await super().save(session)

    async def append(self, session: Session, added: Sequence[Message]) -> Session:
        self._check_write(session)
        return await super().append(session, added)


def lookup(code: str) -> str:
    """Look up an order by its code."""
    return f"order {code} shipped"


config = LLMConfig.from_env(model_name="gpt-4o-mini", timeout=30, max_retries=0)


def about_invoices(request_data: dict) -> bool:
    return "invoice" in request_data["message"].lower()


def anything(request_data: dict) -> bool:
    return True


billing = Agent(name="Billing", instructions="Billing agent: invoices.", llm_config=config,
                description="Invoices and payments.")
support = Agent(name="Support", instructions="Support agent: everything else.", llm_config=config,
                description="Everything else.")
first_match = Agent(name="FirstMatch", instructions="FirstMatch router.", llm_config=config,
                    handoff_config=HandoffConfig(strategy=HandoffStrategy.FIRST_MATCH, targets=[
                        HandoffTarget(agent_name="Billing", condition=about_invoices),
                        HandoffTarget(agent_name="Support", condition=anything)]))
round_robin = Agent(name="RoundRobin", instructions="RoundRobin router.", llm_config=config,
                    handoff_config=HandoffConfig(strategy=HandoffStrategy.ROUND_ROBIN, targets=[
                        HandoffTarget(agent_name="Billing"), HandoffTarget(agent_name="Support")]))
drafter = Agent(name="Drafter", instructions="Drafter: you draft.", llm_config=config,
                handoff_config=HandoffConfig(mode=HandoffMode.SEQUENTIAL, control_return=ControlReturn.CONTINUE_CHAIN,
                                             targets=[HandoffTarget(agent_name="Editor"),
                                                      HandoffTarget(agent_name="Translator")]))
editor = Agent(name="Editor", instructions="Editor: you edit.", llm_config=config)
translator = Agent(name="Translator", instructions="Translator: you translate.", llm_config=config)
orders = Agent(name="Orders", instructions="Orders agent: you track orders.", tools=[lookup], llm_config=config,
               max_turns=4)

app = AgentFunctionApp(agents=[first_match, round_robin, billing, support, drafter, editor, translator, orders],
                       session_store=TroubledStore())
