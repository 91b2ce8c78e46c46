"""The stack's configuration: every key, its default, and a clear error when a value is wrong.

Values come from Pulumi stack config (`pulumi config set <key> <value>`, project namespace), with the azd
environment (`AZURE_ENV_NAME`, `AZURE_LOCATION`, ...) as a fallback, so the same program runs under
`azd up` (the provisioning hook passes the azd environment) and under a plain `pulumi up`.
Parsing is a pure function of those inputs, so it is tested without Pulumi.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from . import naming

# Every project-namespace key the program reads, with what it means (README and error messages use this).
KEYS: dict[str, str] = {
    "envName": "environment name (default: AZURE_ENV_NAME, else the stack name)",
    "openaiEnabled": "provision Azure OpenAI and run the app keyless against it (default true)",
    "openaiModel": "model of the Azure OpenAI deployment (default gpt-4o-mini)",
    "openaiModelVersion": "model version (default 2024-07-18)",
    "openaiDeploymentName": "deployment name (default: the model name)",
    "openaiSku": "deployment SKU (default GlobalStandard)",
    "openaiCapacity": "deployment capacity in thousands of tokens per minute (default 10)",
    "openaiLocation": "region of the Azure OpenAI account (default: the stack's location)",
    "agentProvider": "model provider when openaiEnabled is false: openai, anthropic, google or offline",
    "agentModel": "model name for that provider (optional; AGENT_MODEL)",
    "streaming": "the deployed sample streams (sets PYTHON_ENABLE_INIT_INDEXING=1; default false)",
    "keyVaultPurgeProtection": (
        "Key Vault purge protection (default true; false only for throwaway environments, so tear-down can purge)"
    ),
    "httpPerInstanceConcurrency": (
        "HTTP requests one instance takes at once (default 64), also the runtime's AGENTS_MAX_CONCURRENT_TURNS"
    ),
    "keyVaultSoftDeleteRetentionDays": "Key Vault soft-delete retention, 7-90 days (default 7)",
    "deployerPrincipalId": "object ID granted Key Vault Secrets Officer (default: the signed-in principal)",
    "deployerPrincipalType": (
        "User, ServicePrincipal or Group (default: AZURE_PRINCIPAL_TYPE, else ServicePrincipal in CI, else User)"
    ),
    "deployerCosmosAccess": "give the deployer Cosmos DB data access for the contract tests (default true)",
    "pythonVersion": "Python version of the Function App: 3.11, 3.12 or 3.13 (default 3.12)",
    "instanceMemoryMb": "Flex Consumption instance memory: 2048 or 4096 (default 2048)",
    "maximumInstanceCount": "Flex Consumption scale-out limit, 40-1000 (default 100)",
    "cosmosDatabase": "Cosmos DB database (default agents)",
    "cosmosContainer": "Cosmos DB container (default state)",
    "cosmosDefaultTtl": "container default TTL in seconds; -1 lets each item set its own (default -1)",
    "workQueueName": "storage queue of background work (default agent-turns)",
    "easyAuthClientId": (
        "client ID of an existing Entra app registration: turns on App Service Authentication (Entra ID) "
        "with no client secret (default: off)"
    ),
    "easyAuthTenantId": "tenant of that registration and of the callers (default: the deployment's tenant)",
    "easyAuthAudiences": "comma-separated extra token audiences (default: api://<client ID> and the client ID)",
    "easyAuthAllowedClientIds": "comma-separated client IDs of the applications allowed to call (default: any)",
}

EXTERNAL_PROVIDERS = ("openai", "anthropic", "google", "offline")
PRINCIPAL_TYPES = ("User", "ServicePrincipal", "Group")
PYTHON_VERSIONS = ("3.11", "3.12", "3.13")
INSTANCE_MEMORY_MB = (2048, 4096)
# Flex Consumption sends an instance at most this many HTTP requests at once; the runtime answers 503 too_busy
# above AGENTS_MAX_CONCURRENT_TURNS. Both get this one value, so the platform scales out before the runtime
# refuses. It equals the runtime's default for that setting (a test checks).
DEFAULT_HTTP_PER_INSTANCE_CONCURRENCY = 64

_QUEUE_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]$")
_COSMOS_ID = re.compile(r"^[^/\\#?]{1,255}$")
_DEPLOYMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{1,63}$")


class ConfigError(ValueError):
    """A configuration value is missing or invalid; the message says which key and how to fix it."""


@dataclass(frozen=True)
class OpenAIConfig:
    model: str
    model_version: str
    deployment_name: str
    sku: str
    capacity: int
    location: str


@dataclass(frozen=True)
class EasyAuthConfig:
    """App Service Authentication with Entra ID, using an existing app registration."""

    client_id: str
    tenant_id: str
    audiences: tuple[str, ...]
    allowed_client_ids: tuple[str, ...]


@dataclass(frozen=True)
class ClientInfo:
    """Who runs the deployment: from `authorization.get_client_config()`."""

    subscription_id: str
    tenant_id: str
    object_id: str


@dataclass(frozen=True)
class StackConfig:
    env_name: str
    location: str
    subscription_id: str
    tenant_id: str
    openai: OpenAIConfig | None
    agent_provider: str
    agent_model: str | None
    streaming: bool
    key_vault_purge_protection: bool
    key_vault_soft_delete_days: int
    deployer_principal_id: str
    deployer_principal_type: str
    deployer_cosmos_access: bool
    python_version: str
    instance_memory_mb: int
    maximum_instance_count: int
    http_per_instance_concurrency: int
    cosmos_database: str
    cosmos_container: str
    cosmos_default_ttl: int
    work_queue_name: str
    easy_auth: EasyAuthConfig | None = None

    @property
    def names(self) -> naming.ResourceNames:
        return naming.ResourceNames.create(self.subscription_id, self.env_name, self.location)


def _fix(key: str, example: str) -> str:
    return f"set it with: pulumi config set {key} {example}"


def _bool(raw: Mapping[str, str | None], key: str, default: bool) -> bool:
    value = raw.get(key)
    if value is None or value.strip() == "":
        return default
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ConfigError(f"config {key!r} must be true or false, got {value!r}; {_fix(key, 'true')}")


def _int(raw: Mapping[str, str | None], key: str, default: int, low: int, high: int) -> int:
    value = raw.get(key)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value.strip())
    except ValueError:
        raise ConfigError(f"config {key!r} must be an integer, got {value!r}; {_fix(key, str(default))}") from None
    if not low <= number <= high:
        raise ConfigError(f"config {key!r} must be between {low} and {high}, got {number}")
    return number


def _str(raw: Mapping[str, str | None], key: str, default: str | None = None) -> str | None:
    value = raw.get(key)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def _choice(raw: Mapping[str, str | None], key: str, default: str, choices: tuple[str, ...]) -> str:
    value = _str(raw, key, default) or default
    if value not in choices:
        raise ConfigError(f"config {key!r} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _in_ci(environ: Mapping[str, str]) -> bool:
    return any(environ.get(name, "").strip().lower() in ("true", "1") for name in ("CI", "GITHUB_ACTIONS", "TF_BUILD"))


def parse(
    raw: Mapping[str, str | None],
    *,
    location: str | None,
    stack_name: str,
    client: ClientInfo,
    environ: Mapping[str, str],
) -> StackConfig:
    """Validate the raw config values (project keys of `KEYS`) into a `StackConfig`."""
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        raise ConfigError(f"unknown config key(s) {', '.join(unknown)}; known keys: {', '.join(KEYS)}")

    env_name = _str(raw, "envName") or environ.get("AZURE_ENV_NAME", "").strip() or stack_name
    try:
        naming.validate_env_name(env_name)
    except ValueError as error:
        raise ConfigError(f"config 'envName': {error}") from None

    location = (location or "").strip() or environ.get("AZURE_LOCATION", "").strip()
    if not location:
        raise ConfigError(
            "no Azure region: set it with: pulumi config set azure-native:location eastus2 "
            "(under azd: azd env set AZURE_LOCATION eastus2)"
        )
    if not re.fullmatch(r"[a-z0-9]+", location):
        raise ConfigError(f"azure-native:location must be a region name such as eastus2, got {location!r}")

    openai_enabled = _bool(raw, "openaiEnabled", True)
    provider = _str(raw, "agentProvider")
    openai: OpenAIConfig | None = None
    if openai_enabled:
        if provider not in (None, "azure_openai"):
            raise ConfigError(
                f"config 'agentProvider' is {provider!r} but openaiEnabled is true (the app then uses "
                "azure_openai); set openaiEnabled to false to use another provider"
            )
        provider = "azure_openai"
        model = _str(raw, "openaiModel", "gpt-4o-mini") or "gpt-4o-mini"
        deployment = _str(raw, "openaiDeploymentName", model) or model
        if not _DEPLOYMENT_NAME.match(deployment):
            raise ConfigError(
                f"config 'openaiDeploymentName' {deployment!r} is invalid: 2-64 letters, digits, '_', '.' or '-'"
            )
        openai_location = _str(raw, "openaiLocation", location) or location
        if not re.fullmatch(r"[a-z0-9]+", openai_location):
            raise ConfigError(f"config 'openaiLocation' must be a region name, got {openai_location!r}")
        openai = OpenAIConfig(
            model=model,
            model_version=_str(raw, "openaiModelVersion", "2024-07-18") or "2024-07-18",
            deployment_name=deployment,
            sku=_str(raw, "openaiSku", "GlobalStandard") or "GlobalStandard",
            capacity=_int(raw, "openaiCapacity", 10, 1, 10000),
            location=openai_location,
        )
    else:
        if provider is None:
            raise ConfigError(
                "openaiEnabled is false, so the app needs another model provider: "
                f"{_fix('agentProvider', 'openai')} (one of {', '.join(EXTERNAL_PROVIDERS)}); "
                "then store its key with scripts/set_provider_key.py"
            )
        if provider not in EXTERNAL_PROVIDERS:
            raise ConfigError(
                f"config 'agentProvider' must be one of {', '.join(EXTERNAL_PROVIDERS)} "
                f"when openaiEnabled is false, got {provider!r}"
            )

    # Always explicit: ARM rejects an assignment whose principalType does not match the principal, and the
    # provider would otherwise send "User" (wrong for a CI service principal).
    principal_type = (
        _str(raw, "deployerPrincipalType")
        or environ.get("AZURE_PRINCIPAL_TYPE", "").strip()
        or ("ServicePrincipal" if _in_ci(environ) else "User")
    )
    if principal_type not in PRINCIPAL_TYPES:
        raise ConfigError(
            f"config 'deployerPrincipalType' must be one of {', '.join(PRINCIPAL_TYPES)}, got {principal_type!r}"
        )
    deployer = _str(raw, "deployerPrincipalId", client.object_id) or client.object_id
    if not re.fullmatch(r"[0-9a-fA-F-]{36}", deployer):
        raise ConfigError(f"config 'deployerPrincipalId' must be an object ID (a GUID), got {deployer!r}")

    database = _str(raw, "cosmosDatabase", "agents") or "agents"
    container = _str(raw, "cosmosContainer", "state") or "state"
    for key, value in (("cosmosDatabase", database), ("cosmosContainer", container)):
        if not _COSMOS_ID.match(value) or value.endswith(" "):
            raise ConfigError(f"config {key!r} {value!r} is invalid: 1-255 characters, none of / \\ # ?")
    ttl = _int(raw, "cosmosDefaultTtl", -1, -1, 2147483647)
    if ttl == 0:
        raise ConfigError("config 'cosmosDefaultTtl' must be -1 (items set their own TTL) or a positive number")

    queue = _str(raw, "workQueueName", "agent-turns") or "agent-turns"
    if not _QUEUE_NAME.match(queue):
        raise ConfigError(
            f"config 'workQueueName' {queue!r} is invalid: 3-63 lowercase letters, digits and single hyphens"
        )

    easy_auth = _easy_auth(raw, client.tenant_id)

    return StackConfig(
        env_name=env_name,
        location=location,
        subscription_id=client.subscription_id,
        tenant_id=client.tenant_id,
        openai=openai,
        agent_provider=provider,
        agent_model=_str(raw, "agentModel"),
        streaming=_bool(raw, "streaming", False),
        key_vault_purge_protection=_bool(raw, "keyVaultPurgeProtection", True),
        key_vault_soft_delete_days=_int(raw, "keyVaultSoftDeleteRetentionDays", 7, 7, 90),
        deployer_principal_id=deployer,
        deployer_principal_type=principal_type,
        deployer_cosmos_access=_bool(raw, "deployerCosmosAccess", True),
        python_version=_choice(raw, "pythonVersion", "3.12", PYTHON_VERSIONS),
        instance_memory_mb=int(_choice(raw, "instanceMemoryMb", "2048", tuple(str(m) for m in INSTANCE_MEMORY_MB))),
        maximum_instance_count=_int(raw, "maximumInstanceCount", 100, 40, 1000),
        http_per_instance_concurrency=_int(
            raw, "httpPerInstanceConcurrency", DEFAULT_HTTP_PER_INSTANCE_CONCURRENCY, 1, 1000
        ),
        cosmos_database=database,
        cosmos_container=container,
        cosmos_default_ttl=ttl,
        work_queue_name=queue,
        easy_auth=easy_auth,
    )


_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _list(raw: Mapping[str, str | None], key: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in (_str(raw, key) or "").split(",") if item.strip())


def _easy_auth(raw: Mapping[str, str | None], default_tenant: str) -> EasyAuthConfig | None:
    client_id = _str(raw, "easyAuthClientId")
    dependent = [key for key in ("easyAuthTenantId", "easyAuthAudiences", "easyAuthAllowedClientIds") if _str(raw, key)]
    if client_id is None:
        if dependent:
            raise ConfigError(
                f"config {dependent[0]!r} needs easyAuthClientId (the Entra app registration's client ID); "
                f"{_fix('easyAuthClientId', '<client id>')}"
            )
        return None
    tenant = _str(raw, "easyAuthTenantId", default_tenant) or default_tenant
    allowed = _list(raw, "easyAuthAllowedClientIds")
    checked = [("easyAuthClientId", client_id), ("easyAuthTenantId", tenant)]
    checked += [("easyAuthAllowedClientIds", item) for item in allowed]
    for key, value in checked:
        if not _GUID.match(value):
            raise ConfigError(f"config {key!r} must be a GUID, got {value!r}")
    defaults = (f"api://{client_id}", client_id)
    audiences = (*defaults, *(a for a in _list(raw, "easyAuthAudiences") if a not in defaults))
    return EasyAuthConfig(
        client_id=client_id.lower(), tenant_id=tenant.lower(), audiences=audiences, allowed_client_ids=allowed
    )


def load() -> StackConfig:
    """Read the current stack's config and the signed-in principal, then `parse` them."""
    import os

    import pulumi
    from pulumi_azure_native import authorization

    project = pulumi.Config()
    raw = {key: project.get(key) for key in KEYS}
    # Reject typos: config keys of this project that the program does not know.
    for full_key in _project_config_keys(pulumi.get_project()):
        raw.setdefault(full_key, project.get(full_key))
    client_config = authorization.get_client_config()
    client = ClientInfo(
        subscription_id=client_config.subscription_id,
        tenant_id=client_config.tenant_id,
        object_id=client_config.object_id,
    )
    return parse(
        {k: v for k, v in raw.items() if v is not None},
        location=pulumi.Config("azure-native").get("location"),
        stack_name=pulumi.get_stack(),
        client=client,
        environ=os.environ,
    )


def _project_config_keys(project: str) -> list[str]:
    """Keys set for this project in the stack config (without the `<project>:` prefix)."""
    from pulumi.runtime import config as runtime_config

    prefix = f"{project}:"
    keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    return sorted(key[len(prefix) :] for key in keys if key.startswith(prefix))
