"""Local managed identity and Key Vault for the Azure integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from azurefunctions.agents.azure import secrets
from tests.servers.identity import IdentityServer
from tests.servers.keyvault import KeyVaultServer

CLIENT_ID = "7b3f2c1e-1111-4a2b-9c3d-000000000001"


@pytest.fixture(scope="module")
def identity() -> Iterator[IdentityServer]:
    with IdentityServer() as server:
        yield server


@pytest.fixture(scope="module")
def vault_server(identity: IdentityServer) -> Iterator[KeyVaultServer]:
    with KeyVaultServer(token_validator=lambda token: token in identity.tokens) as server:
        yield server


@pytest.fixture
def vault(vault_server: KeyVaultServer, identity: IdentityServer,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[KeyVaultServer]:
    """The local vault as the app's ``AZURE_KEY_VAULT_ENDPOINT``, reached with the local managed identity."""
    for name, value in identity.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AZURE_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("AZURE_KEY_VAULT_ENDPOINT", vault_server.url + "/")
    # The test certificate is self-signed, and the challenge names vault.azure.net rather than 127.0.0.1.
    secrets.configure_client(connection_verify=vault_server.ca_file, verify_challenge_resource=False)
    secrets.clear_cache()
    vault_server.reset()
    yield vault_server
    secrets.clear_cache()
    secrets.configure_client()
