"""Key Vault with RBAC authorization: the only place a provider API key may live.

No access policies: who may read or write secrets is decided by role assignments alone (the app reads, the
deployer writes). Soft delete is always on; purge protection is a config choice because with it on a
tear-down cannot purge the vault and its name stays taken for the retention period.
"""

from __future__ import annotations

from typing import Any

from pulumi_azure_native import keyvault

from .context import Context


def create(ctx: Context) -> keyvault.Vault:
    properties: dict[str, Any] = {
        "tenant_id": ctx.config.tenant_id,
        "sku": {"family": "A", "name": "standard"},
        "enable_rbac_authorization": True,
        "enable_soft_delete": True,
        "soft_delete_retention_in_days": ctx.config.key_vault_soft_delete_days,
        "public_network_access": "Enabled",
        "network_acls": {"bypass": "AzureServices", "default_action": "Allow"},
    }
    if ctx.config.key_vault_purge_protection:
        # The API rejects an explicit False: purge protection is either on or absent.
        properties["enable_purge_protection"] = True
    return keyvault.Vault(
        "key-vault",
        vault_name=ctx.names.key_vault,
        resource_group_name=ctx.resource_group_name,
        location=ctx.location,
        properties=properties,
        tags=ctx.tags,
    )


def arm_id(ctx: Context) -> str:
    return ctx.arm_id(f"Microsoft.KeyVault/vaults/{ctx.names.key_vault}")
