"""Where provider keys come from: the configuration, else the SDK's own variable, else Key Vault.

Order: ``LLMConfig(api_key=...)`` (a string, or a ``SecretRef`` read from Key Vault), then the SDK's own
environment variable (``OPENAI_API_KEY``...), then, when ``AZURE_KEY_VAULT_ENDPOINT`` is set, the vault secret
named after that variable (``openai-api-key``, ``azure-openai-api-key``, ``anthropic-api-key``,
``google-api-key``), read with the app's managed identity. A key read from Key Vault is kept for the life of the
process; a provider that gets HTTP 401 with it calls ``invalidate`` and retries once with the re-read value.
"""

from __future__ import annotations

from typing import Any

from .. import settings
from ..azure.secrets import SecretRef, cached_secret, get_secret
from ..azure.secrets import invalidate as _invalidate_secret
from ..errors import ConfigurationError


def vault_secret_name(env_setting: Any) -> str:
    """The Key Vault secret that stands in for an SDK variable: ``OPENAI_API_KEY`` -> ``openai-api-key``."""
    return str(env_setting.name).lower().replace("_", "-")


def locate_api_key(configured: Any, env_setting: Any) -> str | SecretRef | None:
    """Where the key is, without reading a vault: a literal key, a ``SecretRef`` to read, or ``None``."""
    if isinstance(configured, SecretRef):
        return configured
    if isinstance(configured, str) and configured:
        return configured
    if configured is not None and not isinstance(configured, str):
        if not hasattr(configured, "resolve"):
            raise ConfigurationError(
                f"LLMConfig(api_key=...) must be a string or a SecretRef, not {type(configured).__name__}")
        value = configured.resolve()
        if isinstance(value, str) and value:
            return value
    value = env_setting.get()
    if value:
        return str(value)
    if settings.AZURE_KEY_VAULT_ENDPOINT.get():
        return SecretRef(vault_secret_name(env_setting))
    return None


def resolve_api_key(configured: Any, env_setting: Any, *, required: bool = True) -> str | None:
    """The key to use, or an error that names the variable to set.

    ``configured`` is ``LLMConfig.api_key`` (a string, a ``SecretRef``, or an object with a synchronous
    ``resolve()``); ``env_setting`` is the ``settings.Setting`` of the SDK's own variable. A Key Vault read
    happens once per process (this call blocks on it; async code reads ahead with ``aget_secret``).
    """
    located = locate_api_key(configured, env_setting)
    if isinstance(located, SecretRef):
        explicit = isinstance(configured, SecretRef)
        value = get_secret(located, required=explicit)
        if value:
            return value
        located = None
    if located:
        return located
    if required:
        vault = settings.AZURE_KEY_VAULT_ENDPOINT
        where = (f" or create the Key Vault secret {vault_secret_name(env_setting)!r}" if vault.get()
                 else f" (or set {vault.name} and keep it in Key Vault as {vault_secret_name(env_setting)!r})")
        raise ConfigurationError(
            f"No API key configured: set {env_setting.name}{where}, or pass api_key= to LLMConfig.")
    return None


def invalidate(secret: SecretRef | str, stale_value: str | None) -> bool:
    """The provider answered 401 with ``stale_value`` read from ``secret``: forget it so the next use re-reads
    the vault. Returns whether a retry can help (False when the vault was just re-read and still holds it)."""
    ref = secret if isinstance(secret, SecretRef) else SecretRef(secret)
    return _invalidate_secret(ref, stale_value)


def peek(secret: SecretRef) -> str | None:
    """The value already read for ``secret`` (no I/O), or ``None``."""
    return cached_secret(secret)
