"""Cosmos DB (NoSQL, serverless): the session store's one database and one container.

Local (key) auth and key-based metadata writes are off, so the data plane accepts only Entra tokens and
cannot create databases or containers: they are created here, and the runtime never creates them in Azure.
The container's partition key is `/pk` (session id, or A2A task id) and TTL is on, so items can expire.
"""

from __future__ import annotations

from dataclasses import dataclass

from pulumi_azure_native import cosmosdb

from .context import Context


@dataclass(frozen=True)
class Cosmos:
    account: cosmosdb.DatabaseAccount
    database: cosmosdb.SqlResourceSqlDatabase
    container: cosmosdb.SqlResourceSqlContainer


#: Index only what the runtime's queries use (its INDEXED_PATHS in azurefunctions/agents/sessions/cosmos.py,
#: compared by a test): by default Cosmos DB indexes every property, so every history page a turn writes
#: would pay index writes for each message's text, in request units and storage.
INDEXING_POLICY: cosmosdb.IndexingPolicyArgsDict = {
    "indexing_mode": cosmosdb.IndexingMode.CONSISTENT,
    "automatic": True,
    "included_paths": [
        {"path": path} for path in ("/pk/?", "/type/?", "/turn/?", "/generation/?", "/start/?", "/stop/?")
    ],
    "excluded_paths": [{"path": "/*"}],
}


def create(ctx: Context) -> Cosmos:
    account = cosmosdb.DatabaseAccount(
        "cosmos",
        account_name=ctx.names.cosmos_account,
        resource_group_name=ctx.resource_group_name,
        location=ctx.location,
        kind="GlobalDocumentDB",
        database_account_offer_type=cosmosdb.DatabaseAccountOfferType.STANDARD,
        locations=[{"location_name": ctx.location, "failover_priority": 0, "is_zone_redundant": False}],
        capabilities=[{"name": "EnableServerless"}],
        disable_local_auth=True,
        disable_key_based_metadata_write_access=True,
        minimal_tls_version="Tls12",
        consistency_policy={"default_consistency_level": cosmosdb.DefaultConsistencyLevel.SESSION},
        public_network_access="Enabled",
        # Serverless accounts are single-region.
        enable_automatic_failover=False,
        tags=ctx.tags,
    )
    database = cosmosdb.SqlResourceSqlDatabase(
        "cosmos-database",
        account_name=account.name,
        resource_group_name=ctx.resource_group_name,
        database_name=ctx.config.cosmos_database,
        resource={"id": ctx.config.cosmos_database},
        tags=ctx.tags,
    )
    container = cosmosdb.SqlResourceSqlContainer(
        "cosmos-container",
        account_name=account.name,
        resource_group_name=ctx.resource_group_name,
        database_name=database.name,
        container_name=ctx.config.cosmos_container,
        resource={
            "id": ctx.config.cosmos_container,
            "partition_key": {"paths": ["/pk"], "kind": "Hash", "version": 2},
            "default_ttl": ctx.config.cosmos_default_ttl,
            "indexing_policy": INDEXING_POLICY,
        },
        tags=ctx.tags,
    )
    return Cosmos(account=account, database=database, container=container)


def arm_id(ctx: Context) -> str:
    return ctx.arm_id(f"Microsoft.DocumentDB/databaseAccounts/{ctx.names.cosmos_account}")
