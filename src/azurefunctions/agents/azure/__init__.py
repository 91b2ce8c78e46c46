"""Azure integration: the app's managed identity and Key Vault secrets.

``SecretRef("name")`` is a secret kept in Key Vault, usable wherever a secret is configured. Nothing here
imports an Azure SDK until a secret is first read.
"""

from __future__ import annotations

from .secrets import SecretRef, SecretUnavailableError, aget_secret, get_secret, invalidate

__all__ = ["SecretRef", "SecretUnavailableError", "aget_secret", "get_secret", "invalidate"]
