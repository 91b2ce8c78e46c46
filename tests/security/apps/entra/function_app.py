"""Entra ID through App Service Authentication: one tenant, one audience, two allowed client applications."""

from azurefunctions.agents import Agent, AgentFunctionApp, AgentMode
from azurefunctions.agents.http.auth import EntraAuth
from azurefunctions.agents.types import LLMConfig

TENANT = "11111111-2222-3333-4444-555555555555"
AUDIENCE = "api://agents-security-test"
CLIENTS = ["aaaaaaaa-0000-0000-0000-000000000001", "aaaaaaaa-0000-0000-0000-000000000002"]

greeter = Agent(name="Greeter", instructions="Greet people.", llm_config=LLMConfig(provider="offline"))

app = AgentFunctionApp(agents=[greeter], mode=AgentMode.A2A,
                       auth=EntraAuth(tenant_id=TENANT, audiences=[AUDIENCE], allowed_client_ids=CLIENTS))
