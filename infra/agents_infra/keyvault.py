"""Key Vault with RBAC authorization: the only place a provider API key may live.

No access policies: who may read or write secrets is decided by role assignments alone (the app reads, the
deployer writes). Soft delete is always on, and so is purge protection unless the stack turns it off
(`keyVaultPurgeProtection false`, for throwaway environments): with it on, nobody can destroy the secrets for
good before the retention period ends, but a torn-down vault's name also stays taken for that period.
"""

from __future__ import annotations

from pulumi_azure_native import keyvault

from .context import Context


def create(ctx: Context) -> keyvault.Vault:
    properties: keyvault.VaultPropertiesArgsDict = {
        "tenant_id": ctx.config.tenant_id,
        "sku": {"family": keyvault.SkuFamily.A, "name": keyvault.SkuName.STANDARD},
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
