"""scripts/bootstrap_state.py against a stand-in `az` on PATH that records its arguments and answers as the CLI.

The stand-in prints the JSON the Azure CLI prints for each command the script runs (the signed-in account,
object IDs, the resource IDs of what it creates), or fails the command named in ``STAND_IN_FAIL`` with the
CLI's error text, so the tests see the exact commands, the role scope, the URL printed and each error.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "bootstrap_state.py"
SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
USER_OBJECT_ID = "aaaaaaaa-0000-0000-0000-000000000001"
SP_APP_ID = "bbbbbbbb-0000-0000-0000-000000000002"
SP_OBJECT_ID = "cccccccc-0000-0000-0000-000000000003"
PIPELINE_OBJECT_ID = "dddddddd-0000-0000-0000-000000000004"
BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
TAIL = ["--only-show-errors", "--output", "json"]

USER = {"name": "dev@contoso.com", "type": "user"}
SERVICE_PRINCIPAL = {"name": SP_APP_ID, "type": "servicePrincipal"}
MANAGED_IDENTITY = {"name": "systemAssignedIdentity", "type": "servicePrincipal", "assignedIdentityInfo": "MSI"}

STAND_IN_AZ = """#!{python}
import json, os, sys
args = sys.argv[1:]
with open(os.environ["STAND_IN_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
command = " ".join(a for a in args if not a.startswith("-"))
if os.environ.get("STAND_IN_FAIL") and command.startswith(os.environ["STAND_IN_FAIL"]):
    print(os.environ.get("STAND_IN_ERROR", "ERROR: failed"), file=sys.stderr)
    sys.exit(1)

def value(flag):
    return args[args.index(flag) + 1]

if command.startswith("account show"):
    print(os.environ["STAND_IN_ACCOUNT"])
elif command.startswith("ad signed-in-user show"):
    print(json.dumps({{"id": os.environ["STAND_IN_USER_ID"], "userPrincipalName": "dev@contoso.com"}}))
elif command.startswith("ad sp show"):
    print(json.dumps({{"id": os.environ["STAND_IN_SP_ID"], "appId": value("--id")}}))
elif command.startswith("group create"):
    print(json.dumps({{"id": "/subscriptions/{subscription}/resourceGroups/" + value("--name")}}))
elif command.startswith("storage account create"):
    group = "/subscriptions/{subscription}/resourceGroups/" + value("--resource-group")
    print(json.dumps({{"id": group + "/providers/Microsoft.Storage/storageAccounts/" + value("--name")}}))
elif command.startswith("storage container-rm create"):
    account = ("/subscriptions/{subscription}/resourceGroups/" + value("--resource-group")
               + "/providers/Microsoft.Storage/storageAccounts/" + value("--storage-account"))
    print(json.dumps({{"id": account + "/blobServices/default/containers/" + value("--name")}}))
elif command.startswith("role assignment create"):
    print(json.dumps({{"principalId": value("--assignee-object-id"), "scope": value("--scope")}}))
else:
    print("ERROR: the stand-in does not know: " + command, file=sys.stderr)
    sys.exit(2)
"""


@pytest.fixture
def az(tmp_path: Path) -> dict[str, Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stand_in = bin_dir / "az"
    stand_in.write_text(STAND_IN_AZ.format(python=sys.executable, subscription=SUBSCRIPTION))
    stand_in.chmod(0o755)
    return {"bin": bin_dir, "log": tmp_path / "az.jsonl", "home": tmp_path}


def bootstrap(
    az: dict[str, Path], *args: str, user: dict[str, Any] = USER, **env: str
) -> subprocess.CompletedProcess[str]:
    account = {"id": SUBSCRIPTION, "name": "Contoso Dev", "tenantId": "t", "user": user}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        env={
            "PATH": f"{az['bin']}:/usr/bin:/bin",
            "HOME": str(az["home"]),
            "STAND_IN_LOG": str(az["log"]),
            "STAND_IN_ACCOUNT": json.dumps(account),
            "STAND_IN_USER_ID": USER_OBJECT_ID,
            "STAND_IN_SP_ID": SP_OBJECT_ID,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def commands(az: dict[str, Path]) -> list[list[str]]:
    """The recorded `az` commands, each checked for the CLI options every call carries, then without them."""
    if not az["log"].exists():
        return []
    recorded = [json.loads(line) for line in az["log"].read_text().splitlines()]
    assert all(args[-3:] == TAIL for args in recorded)
    return [args[:-3] for args in recorded]


ACCOUNT = "stpulumi" + hashlib.sha256(SUBSCRIPTION.encode()).hexdigest()[:14]
GROUP_ID = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-pulumi-state"
ACCOUNT_ID = f"{GROUP_ID}/providers/Microsoft.Storage/storageAccounts/{ACCOUNT}"
CONTAINER_ID = f"{ACCOUNT_ID}/blobServices/default/containers/pulumi-state"
URL = f"azblob://pulumi-state?storage_account={ACCOUNT}"
STORAGE_ACCOUNT = [
    "storage",
    "account",
    "create",
    "--name",
    ACCOUNT,
    "--resource-group",
    "rg-pulumi-state",
    "--location",
    "eastus2",
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
]
CONTAINER = [
    "storage",
    "container-rm",
    "create",
    "--name",
    "pulumi-state",
    "--storage-account",
    ACCOUNT,
    "--resource-group",
    "rg-pulumi-state",
    "--public-access",
    "off",
]


def grant(object_id: str, principal_type: str, scope: str = CONTAINER_ID) -> list[str]:
    return [
        "role",
        "assignment",
        "create",
        "--assignee-object-id",
        object_id,
        "--assignee-principal-type",
        principal_type,
        "--role",
        BLOB_DATA_CONTRIBUTOR,
        "--scope",
        scope,
    ]


def test_a_signed_in_user_gets_a_keyless_account_and_the_role_on_the_container(az: dict[str, Path]) -> None:
    result = bootstrap(az, "--location", "eastus2")
    assert result.returncode == 0, result.stderr
    assert commands(az) == [
        ["account", "show"],
        ["ad", "signed-in-user", "show"],
        ["group", "create", "--name", "rg-pulumi-state", "--location", "eastus2"],
        STORAGE_ACCOUNT,
        CONTAINER,
        grant(USER_OBJECT_ID, "User"),
    ]
    assert f"subscription: Contoso Dev ({SUBSCRIPTION})" in result.stdout
    assert result.stdout.endswith(
        f"\nPULUMI_BACKEND_URL={URL}\n"
        "Next, point Pulumi at it:\n"
        f"  with azd:     azd env set PULUMI_BACKEND_URL '{URL}'\n"
        f"  without azd:  pulumi login '{URL}'\n"
        f"  in CI:        gh variable set PULUMI_BACKEND_URL --body '{URL}'\n"
        "Role assignments can take a few minutes to apply.\n"
    )
    # Each command is shown as it runs, so the user sees what was created where.
    assert "$ az storage account create --name " + ACCOUNT in result.stdout


def test_a_signed_in_service_principal_and_the_pipeline_principal_are_granted(az: dict[str, Path]) -> None:
    result = bootstrap(
        az,
        "--location",
        "westus3",
        "--resource-group",
        "rg-state",
        "--account",
        "stteamstate01",
        "--container",
        "stacks",
        "--principal-id",
        PIPELINE_OBJECT_ID,
        user=SERVICE_PRINCIPAL,
    )
    assert result.returncode == 0, result.stderr
    recorded = commands(az)
    assert recorded[1] == ["ad", "sp", "show", "--id", SP_APP_ID]
    container_id = (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-state/providers/Microsoft.Storage/storageAccounts/"
        "stteamstate01/blobServices/default/containers/stacks"
    )
    assert recorded[-2:] == [
        grant(SP_OBJECT_ID, "ServicePrincipal", container_id),
        grant(PIPELINE_OBJECT_ID, "ServicePrincipal", container_id),
    ]
    assert "PULUMI_BACKEND_URL=azblob://stacks?storage_account=stteamstate01\n" in result.stdout


def test_a_managed_identity_is_told_to_pass_its_object_id(az: dict[str, Path]) -> None:
    result = bootstrap(az, "--location", "eastus2", "--principal-id", PIPELINE_OBJECT_ID, user=MANAGED_IDENTITY)
    assert result.returncode == 0, result.stderr
    assert "note: signed in with a managed identity" in result.stderr
    assert "pass it with --principal-id" in result.stderr
    grants = [c for c in commands(az) if c[:2] == ["role", "assignment"]]
    assert grants == [grant(PIPELINE_OBJECT_ID, "ServicePrincipal")]
    assert not any(c[:1] == ["ad"] for c in commands(az))


def test_the_account_name_follows_the_subscription_and_rerunning_repeats_the_same_commands(
    az: dict[str, Path],
) -> None:
    assert bootstrap(az, "--location", "eastus2").returncode == 0
    first = commands(az)
    az["log"].unlink()
    assert bootstrap(az, "--location", "eastus2").returncode == 0
    assert commands(az) == first
    other = json.dumps({"id": "22222222-0000-0000-0000-000000000000", "user": USER})
    az["log"].unlink()
    result = bootstrap(az, "--location", "eastus2", STAND_IN_ACCOUNT=other)
    assert result.returncode == 0, result.stderr
    [create] = [c for c in commands(az) if c[:3] == ["storage", "account", "create"]]
    assert create[4] != ACCOUNT and create[4].startswith("stpulumi") and len(create[4]) == 22


def test_the_region_comes_from_azure_location_when_not_passed(az: dict[str, Path]) -> None:
    result = bootstrap(az, AZURE_LOCATION="swedencentral")
    assert result.returncode == 0, result.stderr
    assert ["group", "create", "--name", "rg-pulumi-state", "--location", "swedencentral"] in commands(az)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "error: no region: pass --location (e.g. --location eastus2) or set AZURE_LOCATION"),
        (
            ["--location", "eastus2", "--account", "St-Pulumi"],
            "error: --account must be 3-24 lowercase letters and digits, got 'St-Pulumi'",
        ),
        (
            ["--location", "eastus2", "--container", "Pulumi_State"],
            "error: --container must be 3-63 lowercase letters, digits and single hyphens, got 'Pulumi_State'",
        ),
        (
            ["--location", "eastus2", "--principal-id", "my-pipeline"],
            "error: --principal-id must be an object ID (a GUID), got 'my-pipeline'",
        ),
    ],
)
def test_bad_arguments_name_what_to_set(az: dict[str, Path], args: list[str], message: str) -> None:
    result = bootstrap(az, *args)
    assert result.returncode == 2
    assert result.stderr.rstrip().endswith(message)
    assert commands(az) == []


def test_not_signed_in_says_how_to_sign_in(az: dict[str, Path]) -> None:
    result = bootstrap(
        az,
        "--location",
        "eastus2",
        STAND_IN_FAIL="account show",
        STAND_IN_ERROR="ERROR: Please run 'az login' to setup account.",
    )
    assert result.returncode == 1
    assert result.stderr == (
        "error: the Azure CLI is not signed in: run `az login`, and `az account set --subscription <id>` to "
        "choose the subscription for the state account\nERROR: Please run 'az login' to setup account.\n"
    )
    assert commands(az) == [["account", "show"]]


def test_a_failing_command_is_named_and_stops_before_the_url(az: dict[str, Path]) -> None:
    error = "ERROR: (StorageAccountAlreadyTaken) The storage account named stpulumi is already taken."
    result = bootstrap(az, "--location", "eastus2", STAND_IN_FAIL="storage account create", STAND_IN_ERROR=error)
    assert result.returncode == 1
    assert result.stderr == f"error: `az storage account create` failed:\n{error}\n"
    assert "PULUMI_BACKEND_URL" not in result.stdout
    assert commands(az)[-1] == STORAGE_ACCOUNT


def test_without_the_azure_cli_it_says_where_to_get_it(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--location", "eastus2"],
        env={"PATH": str(tmp_path), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr == "error: the Azure CLI (`az`) is required: https://aka.ms/install-azure-cli\n"
