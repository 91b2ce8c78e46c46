"""A feature used without its extra fails with an error that names the extra to install.

The SDK modules are hidden (``sys.modules[name] = None`` makes ``import`` raise ``ImportError``), which is what
a Function App sees when its requirements.txt lists ``azurefunctions-agent-framework`` without that extra.
"""

from __future__ import annotations

import pytest

from azurefunctions.agents.azure import SecretRef
from azurefunctions.agents.azure import secrets as vault_secrets
from azurefunctions.agents.background.queues import QueueConnection, QueueService
from azurefunctions.agents.errors import ConfigurationError
from azurefunctions.agents.sessions.cosmos import CosmosSessionStore


def hide(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    for name in modules:
        monkeypatch.setitem(__import__("sys").modules, name, None)


def test_key_vault_secrets_name_the_keyvault_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    hide(monkeypatch, "azure.keyvault.secrets")
    monkeypatch.setenv("AZURE_KEY_VAULT_ENDPOINT", "https://extras-test.vault.azure.net/")
    vault_secrets.clear_cache()
    with pytest.raises(ConfigurationError, match=r"azurefunctions-agent-framework\[keyvault\]"):
        SecretRef("any-secret").resolve()


async def test_cosmos_sessions_name_the_cosmos_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    hide(monkeypatch, "azure.cosmos", "azure.cosmos.aio")
    # Every method needs the SDK, so the store says so when it is built, before any request reaches it.
    with pytest.raises(ConfigurationError, match=r"azurefunctions-agent-framework\[cosmos\]"):
        CosmosSessionStore("https://extras-test.documents.azure.com:443/")


def test_storage_queues_name_the_queues_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    hide(monkeypatch, "azure.storage.queue", "azure.storage.queue.aio")
    service = QueueService(QueueConnection(name="AzureWebJobsStorage",
                                           account_url="https://extrastest.queue.core.windows.net"))
    with pytest.raises(ConfigurationError, match=r"azurefunctions-agent-framework\[queues\]"):
        service.queue("agents-work")
