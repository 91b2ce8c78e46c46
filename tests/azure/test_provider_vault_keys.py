"""Provider keys from Key Vault: read at the first request, once, and refreshed after a rotation.

Anthropic and Gemini here (OpenAI in ``test_keyvault.py``), and Azure OpenAI's choice between a vault key and
Entra ID.

The real ``anthropic`` and ``google-genai`` SDKs talk to the local provider servers; the real ``SecretClient``
and ``DefaultAzureCredential`` read the local vault with the local managed identity.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets as pysecrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from azurefunctions.agents import Agent, Runner
from azurefunctions.agents.azure import SecretRef
from azurefunctions.agents.azure import secrets as vault_secrets
from azurefunctions.agents.errors import ConfigurationError, ProviderAuthenticationError
from azurefunctions.agents.messages import Message
from azurefunctions.agents.providers.base import ModelDelta, ModelRequest, ModelResponse
from azurefunctions.agents.providers.factory import create_provider
from azurefunctions.agents.types import LLMConfig
from tests.servers.anthropic_server import AnthropicServer
from tests.servers.gemini_server import GeminiServer
from tests.servers.identity import IdentityServer
from tests.servers.keyvault import KeyVaultServer
from tests.servers.openai_server import OpenAIServer

pytestmark = pytest.mark.timeout(120)

GREETING = "Hello from the scripted model."


@dataclass
class Model:
    """One provider's local server and what differs between providers."""

    provider: str
    model_name: str
    server: Any  # AnthropicServer | GeminiServer
    env_key: str
    secret: str  # the fallback Key Vault secret name
    key_header: str  # where the SDK sends the key (else as a bearer token)

    @property
    def api_key(self) -> str:
        return str(self.server.api_key)

    def rotate(self) -> str:
        """The provider starts refusing the old key; returns the new one."""
        self.server.api_key = f"{self.provider}-rotated-{pysecrets.token_hex(12)}"
        return self.api_key

    def last_key_sent(self) -> str:
        headers = self.server.script.headers[-1]
        if self.key_header in headers:
            return str(headers[self.key_header])
        return str(headers["authorization"]).removeprefix("Bearer ")  # newer Anthropic SDKs

    def config(self, api_key: object = None, **changes: Any) -> LLMConfig:
        return LLMConfig(provider=self.provider, model_name=self.model_name, api_key=api_key,
                         max_retries=0, **changes)


@pytest.fixture(params=["anthropic", "google"])
def model(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Model]:
    """A provider whose key exists only in the vault (not in the environment)."""
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    if request.param == "anthropic":
        with AnthropicServer(api_key=f"sk-ant-vault-{pysecrets.token_hex(12)}") as anthropic_server:
            monkeypatch.setenv("ANTHROPIC_BASE_URL", anthropic_server.base_url)
            yield Model("anthropic", "claude-sonnet-4-6", anthropic_server, "ANTHROPIC_API_KEY",
                        "anthropic-api-key", "x-api-key")
    else:
        with GeminiServer(api_key=f"AIza-vault-{pysecrets.token_hex(12)}") as gemini_server:
            monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", gemini_server.base_url)
            yield Model("google", "gemini-2.5-flash", gemini_server, "GOOGLE_API_KEY",
                        "google-api-key", "x-goog-api-key")


def agent(model: Model, api_key: object = None) -> Agent:
    return Agent(name="VaultBot", instructions="Be brief.", llm_config=model.config(api_key))


def ask(text: str, *, stream: bool = False) -> ModelRequest:
    return ModelRequest(model="m", messages=[Message("user", text)], stream=stream)


async def test_key_only_in_vault_read_once_for_twenty_turns_and_once_more_after_rotation(
        vault: KeyVaultServer, model: Model) -> None:
    vault.set_secret(model.secret, model.api_key)
    bot = agent(model)
    runner = Runner(bot)
    try:
        for i in range(20):
            response = await runner.run(f"turn {i}")
            assert response.status == "success", response.error
            assert response.response == GREETING
        assert vault.reads_of(model.secret) == 1

        rotated = model.rotate()
        vault.set_secret(model.secret, rotated)
        response = await runner.run("after rotation")
        assert response.status == "success", response.error
        assert vault.reads_of(model.secret) == 2
        assert model.last_key_sent() == rotated
        for i in range(3):
            assert (await runner.run(f"again {i}")).status == "success"
        assert vault.reads_of(model.secret) == 2
    finally:
        await bot.aclose()


async def test_vault_is_read_at_the_first_request_in_a_worker_thread(
        vault: KeyVaultServer, model: Model, monkeypatch: pytest.MonkeyPatch) -> None:
    vault.set_secret(model.secret, model.api_key)
    threads: list[threading.Thread] = []
    real_read = vault_secrets._read

    def recording_read(ref: SecretRef, vault_url: str) -> str | None:
        threads.append(threading.current_thread())
        return real_read(ref, vault_url)

    monkeypatch.setattr(vault_secrets, "_read", recording_read)
    provider = create_provider(model.config())
    try:
        assert vault.reads_of(model.secret) == 0  # making the provider reads nothing
        result = await provider.complete(ask("hi"))
        assert result.text == GREETING
        assert vault.reads_of(model.secret) == 1
        assert threads and all(t is not threading.main_thread() for t in threads)
    finally:
        await provider.aclose()


async def test_rotation_is_followed_by_a_streaming_call(vault: KeyVaultServer, model: Model) -> None:
    vault.set_secret(model.secret, model.api_key)
    provider = create_provider(model.config())
    try:
        assert (await provider.complete(ask("hi", stream=True))).text == GREETING
        rotated = model.rotate()
        vault.set_secret(model.secret, rotated)
        items = [item async for item in provider.stream(ask("again", stream=True))]
        deltas = "".join(i.text for i in items if isinstance(i, ModelDelta))
        assert deltas == GREETING and isinstance(items[-1], ModelResponse)
        assert vault.reads_of(model.secret) == 2
        assert model.last_key_sent() == rotated
    finally:
        await provider.aclose()


async def test_concurrent_first_turns_share_one_vault_read(vault: KeyVaultServer, model: Model) -> None:
    vault.set_secret(model.secret, model.api_key)
    bot = agent(model)
    try:
        responses = await asyncio.gather(*(Runner(bot).run(f"hi {i}") for i in range(10)))
        assert [r.status for r in responses] == ["success"] * 10
        assert vault.reads_of(model.secret) == 1
    finally:
        await bot.aclose()


async def test_secret_ref_names_any_secret(vault: KeyVaultServer, model: Model) -> None:
    vault.set_secret("team-model-key", model.api_key)
    vault.set_secret(model.secret, "not-this-one")
    bot = agent(model, SecretRef("team-model-key"))
    try:
        assert (await Runner(bot).run("hello")).status == "success"
        rotated = model.rotate()
        vault.set_secret("team-model-key", rotated)
        assert (await Runner(bot).run("after rotation")).status == "success"
        assert vault.reads_of("team-model-key") == 2
        assert vault.reads_of(model.secret) == 0
        assert model.last_key_sent() == rotated
    finally:
        await bot.aclose()


async def test_environment_variable_wins_over_the_vault(vault: KeyVaultServer, model: Model,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(model.env_key, model.api_key)
    vault.set_secret(model.secret, "stale")
    bot = agent(model)
    try:
        assert (await Runner(bot).run("hello")).status == "success"
        assert vault.reads_of(model.secret) == 0
    finally:
        await bot.aclose()


async def test_a_refused_literal_key_is_not_retried(vault: KeyVaultServer, model: Model) -> None:
    provider = create_provider(model.config("wrong-literal-key"))
    try:
        with pytest.raises(ProviderAuthenticationError) as caught:
            await provider.complete(ask("hi"))
        assert "wrong-literal-key" not in caught.value.message
        assert vault.reads == []
    finally:
        await provider.aclose()


async def test_missing_secret_names_the_variable_and_the_secret(vault: KeyVaultServer, model: Model) -> None:
    bot = agent(model)
    try:
        response = await Runner(bot).run("hello")
        assert response.status == "error"
        assert f"'{model.secret}' was not found" in (response.error or "")
        assert model.env_key in (response.error or "")
    finally:
        await bot.aclose()
    provider = create_provider(model.config(SecretRef("no-such-secret")))
    try:
        with pytest.raises(ConfigurationError, match="'no-such-secret' was not found"):
            await provider.complete(ask("hi"))
    finally:
        await provider.aclose()


def test_no_key_and_no_vault_fails_when_the_provider_is_made(model: Model) -> None:
    with pytest.raises(ConfigurationError, match=f"{model.env_key}.*AZURE_KEY_VAULT_ENDPOINT"):
        create_provider(model.config())


async def test_refused_key_the_vault_still_holds_fails_without_a_read_storm(
        vault: KeyVaultServer, model: Model) -> None:
    vault.set_secret(model.secret, model.api_key)
    bot = agent(model)
    try:
        assert (await Runner(bot).run("hello")).status == "success"
        model.rotate()  # the vault is not updated
        failed = await Runner(bot).run("hello")
        assert failed.status == "error" and failed.error_code == "provider_authentication_failed"
        assert vault.reads_of(model.secret) == 2  # one re-read, then the refusal stands
        again = await asyncio.gather(*(Runner(bot).run("hello") for _ in range(5)))
        assert {r.error_code for r in again} == {"provider_authentication_failed"}
        assert vault.reads_of(model.secret) == 2  # no re-read right after one that changed nothing
    finally:
        await bot.aclose()


async def test_key_values_never_reach_logs_or_responses(vault: KeyVaultServer, model: Model,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    old = model.api_key
    vault.set_secret(model.secret, old)
    bot = agent(model)
    try:
        first = await Runner(bot).run("hello")
        new = model.rotate()
        vault.set_secret(model.secret, new)
        second = await Runner(bot).run("hello")
        model.rotate()  # refused, and the vault still holds ``new``
        third = await Runner(bot).run("hello")
        assert first.status == second.status == "success" and third.status == "error"
    finally:
        await bot.aclose()
    text = caplog.text + "".join(json.dumps(r.to_dict()) for r in (first, second, third))
    assert model.secret in caplog.text  # the refresh is logged, by name
    assert old not in text and new not in text and model.api_key not in text


async def test_azure_openai_learns_at_the_first_request_whether_the_vault_has_a_key(
        vault: KeyVaultServer, identity: IdentityServer, monkeypatch: pytest.MonkeyPatch) -> None:
    with OpenAIServer(azure_api_key=f"az-{pysecrets.token_hex(8)}", bearer_token=None) as server:
        server.token_validator = lambda token: token in identity.tokens
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", server.url)
        config = LLMConfig(provider="azure_openai", model_name="gpt-4o", azure_deployment="chat", max_retries=0)

        # No 'azure-openai-api-key' secret: Entra ID with the managed identity, decided at the first request.
        provider = create_provider(config)
        try:
            assert vault.reads_of("azure-openai-api-key") == 0
            for _ in range(3):
                assert (await provider.complete(ask("hi"))).text == GREETING
            assert server.script.headers[-1]["authorization"].startswith("Bearer local-mi-")
            assert vault.reads_of("azure-openai-api-key") == 1
        finally:
            await provider.aclose()

        # With the secret (a new process): the key is used, and a rotation costs one re-read.
        vault_secrets.clear_cache()
        vault.set_secret("azure-openai-api-key", server.azure_api_key)
        provider = create_provider(config)
        try:
            assert (await provider.complete(ask("hi"))).text == GREETING
            assert server.script.headers[-1]["api-key"] == server.azure_api_key
            server.azure_api_key = f"az-rotated-{pysecrets.token_hex(8)}"
            vault.set_secret("azure-openai-api-key", server.azure_api_key)
            assert (await provider.complete(ask("again"))).text == GREETING
            assert server.script.headers[-1]["api-key"] == server.azure_api_key
            assert vault.reads_of("azure-openai-api-key") == 3  # the absent read, the key, the rotated key
        finally:
            await provider.aclose()
