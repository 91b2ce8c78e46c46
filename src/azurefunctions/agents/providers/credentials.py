"""Where provider keys come from: the configuration, else the SDK's own variable, else Key Vault."""

from __future__ import annotations

from typing import Any

from ..errors import ConfigurationError


def resolve_api_key(configured: Any, env_setting: Any, *, required: bool = True) -> str | None:
    """The key to use, or an error that names the variable to set.

    ``configured`` is ``LLMConfig.api_key`` (a string, or an object with an async-free ``resolve()``);
    ``env_setting`` is the ``settings.Setting`` of the SDK's own variable.
    """
    if isinstance(configured, str) and configured:
        return configured
    if configured is not None and hasattr(configured, "resolve"):
        value = configured.resolve()
        if isinstance(value, str) and value:
            return value
    value = env_setting.get()
    if value:
        return str(value)
    if required:
        raise ConfigurationError(
            f"No API key configured: set {env_setting.name} (or pass api_key= to LLMConfig)."
        )
    return None
