"""One-time set-up of a self-managed Pulumi state backend in Azure Blob Storage, with Entra ID auth (no keys).

    python scripts/bootstrap_state.py --location eastus2 [--principal-id <pipeline SP object id>]

Creates a resource group, a storage account with shared-key access off, and a private container, then grants
Storage Blob Data Contributor on that container alone to you (a user or a service principal) and to each
`--principal-id` (the pipeline's service principal). Prints the `PULUMI_BACKEND_URL` to set locally
(`azd env set`) and as a GitHub repository variable. Re-running is safe. Uses the Azure CLI (`az login` first)
in the subscription it has selected.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from typing import Any

BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
ACCOUNT_NAME = re.compile(r"^[a-z0-9]{3,24}$")
CONTAINER_NAME = re.compile(r"^(?=.{3,63}$)[a-z0-9](?:-?[a-z0-9])*$")
GROUP_NAME = re.compile(r"^[-\w.()]{0,89}[-\w()]$")


def az(*args: str) -> str:
    command = [AZ, *args, "--only-show-errors", "--output", "json"]
    print("$ az " + " ".join(args), flush=True)
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"error: `az {' '.join(args[:3])}` failed:\n{result.stderr.strip()}")
    return result.stdout


def signed_in_account() -> dict[str, Any]:
    """`az account show`, or an error that says how to sign in (the first thing a new user hits)."""
    print("$ az account show", flush=True)
    result = subprocess.run(
        [AZ, "account", "show", "--only-show-errors", "--output", "json"], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(
            "error: the Azure CLI is not signed in: run `az login`, and `az account set --subscription <id>` to "
            f"choose the subscription for the state account\n{result.stderr.strip()}"
        )
    account: dict[str, Any] = json.loads(result.stdout)
    return account


def signed_in_principal(account: dict[str, Any]) -> tuple[str, str] | None:
    """The object ID and principal type of whoever runs this: a user, or a service principal (CI)."""
    user = account.get("user") or {}
    if user.get("type") == "user":
        return json.loads(az("ad", "signed-in-user", "show"))["id"], "User"
    if user.get("type") == "servicePrincipal" and "assignedIdentityInfo" not in user:
        return json.loads(az("ad", "sp", "show", "--id", user["name"]))["id"], "ServicePrincipal"
    print(
        "note: signed in with a managed identity, whose object ID the CLI cannot look up: "
        "pass it with --principal-id to grant it access",
        file=sys.stderr,
    )
    return None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Create a Pulumi state backend in Azure Blob Storage.")
    parser.add_argument(
        "--location",
        default=os.environ.get("AZURE_LOCATION"),
        help="Azure region, e.g. eastus2 (default: AZURE_LOCATION)",
    )
    parser.add_argument("--resource-group", default="rg-pulumi-state")
    parser.add_argument("--account", help="storage account name (default: derived from the subscription)")
    parser.add_argument("--container", default="pulumi-state")
    parser.add_argument(
        "--principal-id", action="append", default=[], help="also grant this service principal's object ID (CI)"
    )
    args = parser.parse_args(argv)
    if not args.location:
        parser.error("no region: pass --location (e.g. --location eastus2) or set AZURE_LOCATION")
    if args.account is not None and not ACCOUNT_NAME.match(args.account):
        parser.error(f"--account must be 3-24 lowercase letters and digits, got {args.account!r}")
    if not CONTAINER_NAME.match(args.container):
        parser.error(f"--container must be 3-63 lowercase letters, digits and single hyphens, got {args.container!r}")
    if not GROUP_NAME.match(args.resource_group):
        parser.error(f"--resource-group is not a valid resource group name: {args.resource_group!r}")
    for principal in args.principal_id:
        try:
            uuid.UUID(principal)
        except ValueError:
            parser.error(f"--principal-id must be an object ID (a GUID), got {principal!r}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    account_info = signed_in_account()
    subscription = account_info["id"]
    print(f"subscription: {account_info.get('name', '')} ({subscription})", flush=True)
    account = args.account or "stpulumi" + hashlib.sha256(subscription.encode()).hexdigest()[:14]
    principals = [(p, "ServicePrincipal") for p in args.principal_id]
    me = signed_in_principal(account_info)
    if me is not None:
        principals.insert(0, me)

    az("group", "create", "--name", args.resource_group, "--location", args.location)
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
    # Through the control plane: a data-plane create would need the role assigned below, which takes minutes.
    container = json.loads(
        az(
            "storage",
            "container-rm",
            "create",
            "--name",
            args.container,
            "--storage-account",
            account,
            "--resource-group",
            args.resource_group,
            "--public-access",
            "off",
        )
    )
    # The narrowest scope Pulumi needs: the state container, not the account or the group.
    for principal, principal_type in principals:
        az(
            "role",
            "assignment",
            "create",
            "--assignee-object-id",
            principal,
            "--assignee-principal-type",
            principal_type,
            "--role",
            BLOB_DATA_CONTRIBUTOR,
            "--scope",
            container["id"],
        )
    url = f"azblob://{args.container}?storage_account={account}"
    print(f"\nPULUMI_BACKEND_URL={url}")
    print("Next, point Pulumi at it:")
    print(f"  with azd:     azd env set PULUMI_BACKEND_URL '{url}'")
    print(f"  without azd:  pulumi login '{url}'")
    print(f"  in CI:        gh variable set PULUMI_BACKEND_URL --body '{url}'")
    print("Role assignments can take a few minutes to apply.")
    return 0


AZ = shutil.which("az") or "az"

if __name__ == "__main__":
    if shutil.which("az") is None:
        raise SystemExit("error: the Azure CLI (`az`) is required: https://aka.ms/install-azure-cli")
    sys.exit(main())
