"""Provider keys from Key Vault: the real SecretClient and DefaultAzureCredential against local servers."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets as pysecrets
from collections.abc import Iterator

import pytest

from azurefunctions.agents import Agent, Runner, settings
from azurefunctions.agents.azure import SecretRef
from azurefunctions.agents.errors import ConfigurationError
from azurefunctions.agents.providers.credentials import resolve_api_key
from azurefunctions.agents.types import LLMConfig
from tests.servers.identity import IdentityServer
from tests.servers.keyvault import KeyVaultServer
from tests.servers.openai_server import OpenAIServer

from .conftest import CLIENT_ID


@pytest.fixture
def model(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIServer]:
    """An OpenAI server whose key exists only in the vault (not in the environment)."""
    with OpenAIServer(api_key=f"sk-vault-{pysecrets.token_hex(12)}") as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        yield server


def agent(api_key: object = None) -> Agent:
    return Agent(name="VaultBot", instructions="Be brief.",
                 llm_config=LLMConfig(provider="openai", model_name="gpt-4o-mini", api_key=api_key, max_retries=0))


async def test_key_only_in_vault_read_once_for_twenty_turns_and_once_more_after_rotation(
        vault: KeyVaultServer, model: OpenAIServer, identity: IdentityServer) -> None:
    vault.set_secret("openai-api-key", model.api_key)
    bot = agent()
    runner = Runner(bot)
    try:
        for i in range(20):
            response = await runner.run(f"turn {i}")
            assert response.status == "success", response.error
            assert response.response == "Hello from the scripted model."
        assert vault.reads_of("openai-api-key") == 1
        # The vault was reached with the app's managed identity (AZURE_CLIENT_ID), for the vault's resource.
        vault_tokens = [r for r in identity.requests if r.resource == "https://vault.azure.net"]
        assert vault_tokens and all(r.client_id == CLIENT_ID for r in vault_tokens)

        rotated = f"sk-rotated-{pysecrets.token_hex(12)}"
        model.api_key = rotated  # the provider now refuses the old key
        vault.set_secret("openai-api-key", rotated)
        response = await runner.run("after rotation")
        assert response.status == "success", response.error
        assert vault.reads_of("openai-api-key") == 2
        for i in range(3):
            assert (await runner.run(f"again {i}")).status == "success"
        assert vault.reads_of("openai-api-key") == 2
        assert model.script.headers[-1]["authorization"] == f"Bearer {rotated}"
    finally:
        await bot.aclose()


async def test_concurrent_first_turns_share_one_vault_read(vault: KeyVaultServer, model: OpenAIServer) -> None:
    vault.set_secret("openai-api-key", model.api_key)
    bot = agent()
    try:
        responses = await asyncio.gather(*(Runner(bot).run(f"hi {i}") for i in range(20)))
        assert [r.status for r in responses] == ["success"] * 20
        assert vault.reads_of("openai-api-key") == 1
    finally:
        await bot.aclose()


async def test_secret_ref_names_any_secret(vault: KeyVaultServer, model: OpenAIServer) -> None:
    vault.set_secret("team-openai-key", model.api_key)
    vault.set_secret("openai-api-key", "sk-not-this-one")
    bot = agent(SecretRef("team-openai-key"))
    try:
        response = await Runner(bot).run("hello")
        assert response.status == "success", response.error
        assert vault.reads_of("team-openai-key") == 1
        assert vault.reads_of("openai-api-key") == 0
    finally:
        await bot.aclose()


async def test_pinned_version_and_secret_identifier(vault: KeyVaultServer) -> None:
    first = vault.set_secret("pinned", "value-one")
    vault.set_secret("pinned", "value-two")
    assert await SecretRef("pinned").aresolve() == "value-two"
    assert SecretRef("pinned", version=first).resolve() == "value-one"
    assert SecretRef(f"{vault.url}/secrets/pinned/{first}").resolve() == "value-one"


async def test_environment_variable_wins_over_the_vault(vault: KeyVaultServer, model: OpenAIServer,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", model.api_key)
    vault.set_secret("openai-api-key", "sk-stale")
    bot = agent()
    try:
        assert (await Runner(bot).run("hello")).status == "success"
        assert vault.reads_of("openai-api-key") == 0
    finally:
        await bot.aclose()


async def test_missing_secret_names_the_variable_and_the_secret(vault: KeyVaultServer,
                                                                model: OpenAIServer) -> None:
    bot = agent()
    try:
        response = await Runner(bot).run("hello")
        assert response.status == "error"
        assert "'openai-api-key' was not found" in (response.error or "")
    finally:
        await bot.aclose()
    with pytest.raises(ConfigurationError, match=r"ANTHROPIC_API_KEY.*'anthropic-api-key'"):
        resolve_api_key(None, settings.ANTHROPIC_API_KEY)


async def test_identity_without_the_role_is_told_which_role_to_grant(vault: KeyVaultServer) -> None:
    vault.set_secret("locked", "value")
    vault.forbidden.add("locked")
    with pytest.raises(ConfigurationError, match="Key Vault Secrets User"):
        SecretRef("locked").resolve()


def test_no_vault_configured_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="AZURE_KEY_VAULT_ENDPOINT"):
        SecretRef("anything").resolve()
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        resolve_api_key(None, settings.OPENAI_API_KEY)


def test_bad_secret_names_are_rejected() -> None:
    with pytest.raises(ConfigurationError, match="SecretRef"):
        SecretRef("not a name")
    with pytest.raises(ConfigurationError, match="secret identifier"):
        SecretRef("https://x.vault.azure.net/keys/k")


async def test_refused_key_the_vault_still_holds_fails_without_a_read_storm(
        vault: KeyVaultServer, model: OpenAIServer) -> None:
    vault.set_secret("openai-api-key", model.api_key)
    bot = agent()
    try:
        assert (await Runner(bot).run("hello")).status == "success"
        model.api_key = "sk-rotated-but-vault-not-updated"
        failed = await Runner(bot).run("hello")
        assert failed.status == "error" and failed.error_code == "provider_authentication_failed"
        assert vault.reads_of("openai-api-key") == 2  # one re-read, then the refusal stands
        again = await Runner(bot).run("hello")
        assert again.error_code == "provider_authentication_failed"
        assert vault.reads_of("openai-api-key") == 2  # no re-read right after one that changed nothing
    finally:
        await bot.aclose()


async def test_key_values_never_reach_logs_or_responses(vault: KeyVaultServer, model: OpenAIServer,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    old = model.api_key
    vault.set_secret("openai-api-key", old)
    bot = agent()
    try:
        first = await Runner(bot).run("hello")
        model.api_key = f"sk-canary-{pysecrets.token_hex(8)}"
        vault.set_secret("openai-api-key", model.api_key)
        second = await Runner(bot).run("hello")
        assert first.status == second.status == "success"
    finally:
        await bot.aclose()
    text = caplog.text + json.dumps(first.to_dict()) + json.dumps(second.to_dict())
    assert "openai-api-key" in caplog.text  # the refresh is logged, by name
    assert old not in text and model.api_key not in text


async def test_azure_openai_key_from_the_vault_else_managed_identity(
        vault: KeyVaultServer, identity: IdentityServer, monkeypatch: pytest.MonkeyPatch) -> None:
    with OpenAIServer(azure_api_key=f"az-{pysecrets.token_hex(8)}", bearer_token=None) as model:
        model.token_validator = lambda token: token in identity.tokens
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", model.url)
        config = LLMConfig(provider="azure_openai", model_name="gpt-4o", azure_deployment="chat", max_retries=0)

        # No 'azure-openai-api-key' secret: Entra ID with the managed identity (one vault read, remembered).
        bot = Agent(name="AzureBot", llm_config=config)
        try:
            assert (await Runner(bot).run("hi")).status == "success"
            assert model.script.headers[-1]["authorization"].startswith("Bearer local-mi-")
            assert "api-key" not in model.script.headers[-1]
        finally:
            await bot.aclose()
        assert vault.reads_of("azure-openai-api-key") == 1

        # With the secret in the vault (a new process would read it): the key is used.
        from azurefunctions.agents.azure import secrets

        secrets.clear_cache()
        vault.set_secret("azure-openai-api-key", model.azure_api_key)
        bot = Agent(name="AzureBot", llm_config=config)
        try:
            assert (await Runner(bot).run("hi")).status == "success"
            assert model.script.headers[-1]["api-key"] == model.azure_api_key
        finally:
            await bot.aclose()
