"""OpenAI and Azure OpenAI providers through the real openai SDK: keys, Entra ID tokens, env fallbacks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from azurefunctions.agents import Agent, Runner
from azurefunctions.agents.errors import ConfigurationError
from azurefunctions.agents.types import LLMConfig, LLMProvider
from tests.servers.identity import IdentityServer
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, ScriptedToolCall


def lookup(code: str) -> str:
    """Look up an order."""
    return f"order {code} shipped"


@pytest.fixture
def identity(monkeypatch: pytest.MonkeyPatch) -> Iterator[IdentityServer]:
    with IdentityServer() as server:
        for name, value in server.env.items():
            monkeypatch.setenv(name, value)
        yield server


async def test_azure_openai_with_an_api_key_uses_the_deployments_path(openai: OpenAIServer) -> None:
    config = LLMConfig(provider=LLMProvider.AZURE_OPENAI, model_name="gpt-4", endpoint=openai.url,
                       api_key="test-azure-key", api_version="2024-10-21")
    agent = Agent(name="AzureKey", tools=[lookup], llm_config=config)
    openai.script.add(Reply(tool_calls=[ScriptedToolCall("lookup", {"code": "A1"})]))
    response = await Runner(agent).run("where is A1?")
    assert response.response == "Here is what I found: order A1 shipped"
    assert openai.script.headers[0]["api-key"] == "test-azure-key"
    assert openai.script.headers[0][":path"] == "/openai/deployments/gpt-4/chat/completions"
    assert "authorization" not in openai.script.headers[0]


async def test_azure_openai_without_a_key_uses_a_managed_identity_token_on_the_v1_api(openai: OpenAIServer,
                                                                       identity: IdentityServer,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("azure.identity")
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", openai.url)
    monkeypatch.setenv("AZURE_OPENAI_DEPLOYMENT", "chat-deployment")
    openai.token_validator = lambda token: token in identity.tokens
    agent = Agent(name="AzureMI", tools=[lookup], llm_config=LLMConfig.from_env())
    assert agent.llm_config.provider is LLMProvider.AZURE_OPENAI
    openai.script.add(Reply(tool_calls=[ScriptedToolCall("lookup", {"code": "B2"})]))
    response = await Runner(agent).run("where is B2?")
    assert response.status == "success", response.error
    assert response.response == "Here is what I found: order B2 shipped"
    assert identity.requests[0].resource == "https://cognitiveservices.azure.com"
    assert openai.script.headers[0]["authorization"] == f"Bearer {identity.tokens[0]}"
    # No AZURE_OPENAI_API_VERSION: the v1 API, with the deployment name as the model.
    assert openai.script.headers[0][":path"] == "/openai/v1/chat/completions"
    assert openai.script.requests[0]["model"] == "chat-deployment"
    assert len(identity.tokens) == 1  # the token is cached across the turn's two model calls
    await agent.aclose()


async def test_readme_azure_openai_snippet_with_endpoint_spelling(openai: OpenAIServer) -> None:
    llm_config = LLMConfig(
        provider=LLMProvider.AZURE_OPENAI,
        model_name="gpt-4",
        endpoint=openai.url,
        api_key="test-azure-key",
        api_version="2024-02-15-preview",
    )
    assert llm_config.azure_endpoint == openai.url
    openai.script.add(Reply(text="hi from azure"))
    assert await Agent(name="A", llm_config=llm_config).chat("hello") == "hi from azure"
    assert openai.script.headers[0][":path"] == "/openai/deployments/gpt-4/chat/completions"


async def test_azure_endpoint_keyword_and_env_fallbacks(openai: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "test-azure-key")
    monkeypatch.setenv("AZURE_OPENAI_API_VERSION", "2024-10-21")
    config = LLMConfig(provider="azure_openai", model_name="gpt-4", azure_endpoint=openai.url)
    openai.script.add(Reply(text="env key works"))
    assert await Agent(name="A", llm_config=config).chat("hi") == "env key works"


def test_missing_keys_name_the_variable_to_set() -> None:
    from azurefunctions.agents.providers.factory import create_provider

    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        create_provider(LLMConfig(provider="openai"))
    with pytest.raises(ConfigurationError, match="AZURE_OPENAI_ENDPOINT"):
        create_provider(LLMConfig(provider="azure_openai"))


def test_base_url_spellings() -> None:
    assert LLMConfig(api_base="http://a").base_url == "http://a"
    assert LLMConfig(base_url="http://b").base_url == "http://b"
    with pytest.raises(ValueError, match="colour"):
        LLMConfig(colour="red")  # type: ignore[call-arg]


@pytest.mark.parametrize(("env", "provider"), [
    ({}, LLMProvider.OFFLINE),
    ({"OPENAI_API_KEY": "k"}, LLMProvider.OPENAI),
    ({"OPENAI_API_KEY": "k", "AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com"}, LLMProvider.AZURE_OPENAI),
    ({"AGENT_PROVIDER": "anthropic", "OPENAI_API_KEY": "k"}, LLMProvider.ANTHROPIC),
    ({"WEBSITE_INSTANCE_ID": "abc"}, LLMProvider.AZURE_OPENAI),
])
def test_model_selection_rule(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], provider: LLMProvider) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert LLMConfig.from_env().provider is provider


async def test_in_azure_with_nothing_configured_the_first_request_names_the_settings(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBSITE_INSTANCE_ID", "instance")
    response = await Runner(Agent(name="A")).run("hello")
    assert response.status == "error" and response.error_code == "configuration_error"
    assert "AZURE_OPENAI_ENDPOINT" in (response.error or "") and "OPENAI_API_KEY" in (response.error or "")


def test_unknown_agent_provider_value_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_PROVIDER", "skynet")
    with pytest.raises(ValueError, match="AGENT_PROVIDER='skynet'"):
        LLMConfig.from_env()
