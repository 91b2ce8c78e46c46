"""Config parsing: defaults, the azd environment fallbacks, and an error naming the key for each bad value."""

from __future__ import annotations

import pytest
from agents_infra.config import KEYS, ClientInfo, ConfigError, parse

CLIENT = ClientInfo(subscription_id="sub", tenant_id="tenant", object_id="aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")


def run(raw: dict[str, str], location: str | None = "eastus2", environ: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return parse(raw, location=location, stack_name="dev", client=CLIENT, environ=environ or {})


def test_defaults() -> None:
    config = run({})
    assert config.env_name == "dev"
    assert config.openai is not None and config.openai.model == "gpt-4o-mini"
    assert config.openai.deployment_name == "gpt-4o-mini" and config.openai.location == "eastus2"
    assert config.agent_provider == "azure_openai"
    assert (config.streaming, config.key_vault_purge_protection, config.key_vault_soft_delete_days) == (
        False,
        True,
        7,
    )
    assert (config.cosmos_database, config.cosmos_container, config.cosmos_default_ttl) == (
        "agents",
        "state",
        -1,
    )
    assert config.deployer_principal_id == CLIENT.object_id and config.deployer_principal_type == "User"
    assert (config.python_version, config.instance_memory_mb, config.maximum_instance_count) == (
        "3.12",
        2048,
        100,
    )


def test_azd_environment_fallbacks() -> None:
    config = run({}, location=None, environ={"AZURE_ENV_NAME": "from-azd", "AZURE_LOCATION": "westus3"})
    assert (config.env_name, config.location) == ("from-azd", "westus3")
    assert run({"envName": "explicit"}, environ={"AZURE_ENV_NAME": "from-azd"}).env_name == "explicit"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"streaming": "maybe"},
            "config 'streaming' must be true or false, got 'maybe'; set it with: pulumi config set streaming true",
        ),
        ({"openaiCapacity": "lots"}, "config 'openaiCapacity' must be an integer, got 'lots'"),
        (
            {"keyVaultSoftDeleteRetentionDays": "3"},
            "config 'keyVaultSoftDeleteRetentionDays' must be between 7 and 90, got 3",
        ),
        ({"maximumInstanceCount": "5000"}, "config 'maximumInstanceCount' must be between 40 and 1000"),
        ({"pythonVersion": "3.9"}, "config 'pythonVersion' must be one of 3.11, 3.12, 3.13, got '3.9'"),
        ({"envName": "bad name"}, "config 'envName': environment name 'bad name' is invalid"),
        (
            {"deployerPrincipalId": "me"},
            "config 'deployerPrincipalId' must be an object ID (a GUID), got 'me'",
        ),
        (
            {"deployerPrincipalType": "Robot"},
            "config 'deployerPrincipalType' must be one of User, ServicePrincipal, Group",
        ),
        (
            {"cosmosDefaultTtl": "0"},
            "config 'cosmosDefaultTtl' must be -1 (items set their own TTL) or a positive number",
        ),
        ({"workQueueName": "Bad_Queue"}, "config 'workQueueName' 'Bad_Queue' is invalid"),
        ({"cosmosContainer": "a/b"}, "config 'cosmosContainer' 'a/b' is invalid"),
        ({"openaiDeploymentName": "-x"}, "config 'openaiDeploymentName' '-x' is invalid"),
        (
            {"openaiEnabled": "false", "agentProvider": "azure_openai"},
            "config 'agentProvider' must be one of openai, anthropic, google, offline",
        ),
        ({"typo": "1"}, "unknown config key(s) typo; known keys: envName"),
    ],
)
def test_errors_name_the_key(raw: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        run(raw)
    assert message in str(raised.value)


def test_missing_location_says_how_to_set_it_for_pulumi_and_azd() -> None:
    with pytest.raises(ConfigError) as raised:
        run({}, location=None)
    assert str(raised.value) == (
        "no Azure region: set it with: pulumi config set azure-native:location eastus2 "
        "(under azd: azd env set AZURE_LOCATION eastus2)"
    )


def test_every_key_is_documented_in_the_readme() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    missing = [key for key in KEYS if f"`{key}`" not in readme]
    assert not missing, f"infra/README.md does not document: {missing}"
