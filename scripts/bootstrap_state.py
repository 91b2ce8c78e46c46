"""One-time set-up of a self-managed Pulumi state backend in Azure Blob Storage, with Entra ID auth (no keys).

    python scripts/bootstrap_state.py --location eastus2 [--principal-id <pipeline SP object id>]

Creates a resource group, a storage account with shared-key access off, and a private container, then grants
Storage Blob Data Contributor on the account to you (and to the pipeline principal, if given). Prints the
`PULUMI_BACKEND_URL` to set locally (`azd env set`) and as a GitHub repository variable. Re-running is safe.
Uses the Azure CLI (`az login` first).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys

BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"


def az(*args: str) -> str:
    command = [AZ, *args, "--only-show-errors", "--output", "json"]
    print("$ az " + " ".join(args), flush=True)
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"error: `az {' '.join(args[:3])}` failed:\n{result.stderr.strip()}")
    return result.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Create a Pulumi state backend in Azure Blob Storage.")
    parser.add_argument("--location", required=True, help="Azure region, e.g. eastus2")
    parser.add_argument("--resource-group", default="rg-pulumi-state")
    parser.add_argument("--account", help="storage account name (default: derived from the subscription)")
    parser.add_argument("--container", default="pulumi-state")
    parser.add_argument("--principal-id", action="append", default=[], help="also grant this object ID (CI)")
    args = parser.parse_args(argv)

    account_info = json.loads(az("account", "show"))
    subscription = account_info["id"]
    account = args.account or "stpulumi" + hashlib.sha256(subscription.encode()).hexdigest()[:14]
    az("group", "create", "--name", args.resource_group, "--location", args.location)
    created = json.loads(
        az(
            "storage",
            "account",
            "create",
            "--name",
            account,
            "--resource-group",
            args.resource_group,
            "--location",
            args.location,
            "--sku",
            "Standard_LRS",
            "--kind",
            "StorageV2",
            "--allow-shared-key-access",
            "false",
            "--allow-blob-public-access",
            "false",
            "--min-tls-version",
            "TLS1_2",
            "--https-only",
            "true",
        )
    )
    principals = list(args.principal_id)
    if account_info.get("user", {}).get("type") == "user":
        principals.insert(0, json.loads(az("ad", "signed-in-user", "show"))["id"])
    for principal in principals:
        az(
            "role",
            "assignment",
            "create",
            "--assignee-object-id",
            principal,
            "--role",
            BLOB_DATA_CONTRIBUTOR,
            "--scope",
            created["id"],
        )
    az("storage", "container", "create", "--name", args.container, "--account-name", account, "--auth-mode", "login")
    url = f"azblob://{args.container}?storage_account={account}"
    print(f"\nPULUMI_BACKEND_URL={url}")
    print(f"  locally:  azd env set PULUMI_BACKEND_URL '{url}'")
    print(f"  in CI:    gh variable set PULUMI_BACKEND_URL --body '{url}'")
    print("Role assignments can take a few minutes to apply.")
    return 0


AZ = shutil.which("az") or "az"

if __name__ == "__main__":
    if shutil.which("az") is None:
        raise SystemExit("error: the Azure CLI (`az`) is required: https://aka.ms/install-azure-cli")
    sys.exit(main())
