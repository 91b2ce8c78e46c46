"""The whole HTTP surface for the security tests: standard, session, MCP and A2A routes over a scripted model.

``Orders`` has one tool; ``Admin`` has a destructive one that ``Orders`` must never reach. Every tool call is
appended to the file ``SECURITY_TOOL_LOG``, so a test can prove which tools ran. ``Echo`` talks to the model
endpoint in ``SECURITY_ECHO_BASE_URL`` (a server that echoes the key it got in its error), when set.
"""

import json
import os

from azurefunctions.agents import Agent, AgentFunctionApp, AgentMode
from azurefunctions.agents.types import LLMConfig


def _record(name: str, arguments: dict) -> None:
    path = os.environ.get("SECURITY_TOOL_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(json.dumps({"tool": name, "arguments": arguments}) + "\n")


def lookup(code: str) -> str:
    """Look up an order by its code."""
    _record("lookup", {"code": code})
    if code.startswith("fail:"):
        raise ValueError(f"no order with code {code}")
    return f"order {code} shipped"


def delete_everything(confirm: bool) -> str:
    """Delete every order (administrators only)."""
    _record("delete_everything", {"confirm": confirm})
    return "deleted"


key = os.environ.get("SECURITY_MODEL_KEY", "unset-key")
config = LLMConfig(provider="openai", model_name="gpt-4o-mini", api_key=key,
                   base_url=os.environ.get("SECURITY_MODEL_BASE_URL"), timeout=10, max_retries=0)
orders = Agent(name="Orders", instructions="You track orders.", tools=[lookup], llm_config=config,
               description="Tracks orders.", max_turns=3)
admin = Agent(name="Admin", instructions="You administer orders.", tools=[delete_everything], llm_config=config,
              description="Administers orders.", max_turns=3)
agents = [orders, admin]
if os.environ.get("SECURITY_ECHO_BASE_URL"):
    echo_config = LLMConfig(provider="openai", model_name="gpt-4o-mini", api_key=key,
                            base_url=os.environ["SECURITY_ECHO_BASE_URL"], timeout=10, max_retries=0)
    agents.append(Agent(name="Echo", instructions="Answer.", llm_config=echo_config))

app = AgentFunctionApp(agents=agents, mode=AgentMode.A2A, title="Security surface")
