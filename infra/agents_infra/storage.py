"""The storage account: Functions host storage, the deployment package container, the background-work queue.

Shared-key access is off, so nothing can use an account key or a key-based connection string: the host, the
deployment and the runtime reach storage with the managed identity only.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import storage

from .context import Context


@dataclass(frozen=True)
class Storage:
    account: storage.StorageAccount
    deployment_container: storage.BlobContainer
    work_queue: storage.Queue
    blob_endpoint: pulumi.Output[str]
    queue_endpoint: pulumi.Output[str]


def create(ctx: Context) -> Storage:
    account = storage.StorageAccount(
        "storage",
        account_name=ctx.names.storage_account,
        resource_group_name=ctx.resource_group_name,
        location=ctx.location,
        kind="StorageV2",
        sku={"name": "Standard_LRS"},
        allow_shared_key_access=False,
        allow_blob_public_access=False,
        minimum_tls_version="TLS1_2",
        enable_https_traffic_only=True,
        default_to_o_auth_authentication=True,
        allow_cross_tenant_replication=False,
        dns_endpoint_type="Standard",
        public_network_access="Enabled",
        network_rule_set={"default_action": storage.DefaultAction.ALLOW, "bypass": "AzureServices"},
        tags=ctx.tags,
    )
    # Control-plane creates: they work with shared keys off (a data-plane blob or queue write would not).
    container = storage.BlobContainer(
        "deployment-container",
        account_name=account.name,
        resource_group_name=ctx.resource_group_name,
        container_name=ctx.names.deployment_container,
        public_access=storage.PublicAccess.NONE,
    )
    queue = storage.Queue(
        "work-queue",
        account_name=account.name,
        resource_group_name=ctx.resource_group_name,
        queue_name=ctx.config.work_queue_name,
    )
    return Storage(
        account=account,
        deployment_container=container,
        work_queue=queue,
        blob_endpoint=account.primary_endpoints.apply(lambda e: e.blob),
        queue_endpoint=account.primary_endpoints.apply(lambda e: e.queue),
    )


def arm_id(ctx: Context) -> str:
    return ctx.arm_id(f"Microsoft.Storage/storageAccounts/{ctx.names.storage_account}")
