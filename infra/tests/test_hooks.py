"""The azd hooks, run as azd runs them, against stand-in `azd`, `pulumi` and `az` executables on PATH.

The stand-ins record their arguments and the environment they were given, and print canned outputs, so the
tests see the exact commands, the login handed to Pulumi, the outputs copied into the azd environment, and
the error text for each missing input.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
HOOKS = REPO / "scripts" / "azd"
OUTPUTS = {
    "AZURE_RESOURCE_GROUP": "rg-dev",
    "AZURE_LOCATION": "eastus2",
    "AZURE_KEY_VAULT_NAME": "kvabc",
    "SERVICE_API_URI": "https://func-api-abc.azurewebsites.net",
    "COSMOS_ENDPOINT": "https://cosmos-abc.documents.azure.com:443/",
}

STAND_IN = """#!{python}
import json, os, sys
name = os.path.basename(sys.argv[0])
with open(os.environ["STAND_IN_LOG"], "a") as log:
    keys = ("PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "ARM_USE_DEFAULT_AZURE_CREDENTIAL",
            "ARM_SUBSCRIPTION_ID", "ARM_TENANT_ID", "AZURE_TOKEN_CREDENTIALS")
    log.write(json.dumps({{"tool": name, "args": sys.argv[1:],
                           "env": {{k: os.environ[k] for k in keys if k in os.environ}}}}) + "\\n")
if name == "pulumi" and sys.argv[1:3] == ["stack", "output"]:
    print(os.environ["STAND_IN_OUTPUTS"])
if name == "pulumi" and sys.argv[1:3] == ["config", "get"]:
    value = os.environ.get("STAND_IN_PURGE_PROTECTION")
    if value is None:
        sys.exit(1)
    print(value)
sys.exit(int(os.environ.get("STAND_IN_FAIL_" + name.upper(), "0")))
"""


@pytest.fixture
def tools(tmp_path: Path) -> dict[str, Any]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("azd", "pulumi", "az"):
        path = bin_dir / name
        path.write_text(STAND_IN.format(python=sys.executable))
        path.chmod(0o755)
    project = tmp_path / "project"
    project.mkdir()
    (project / "azure.yaml").write_text("name: t\nservices:\n  api:\n    project: .\n")
    return {"bin": bin_dir, "log": tmp_path / "log.jsonl", "project": project}


def run_hook(
    hook: str, tools: dict[str, Any], env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    base = {
        "PATH": f"{tools['bin']}:/usr/bin:/bin",
        "STAND_IN_LOG": str(tools["log"]),
        "STAND_IN_OUTPUTS": json.dumps(OUTPUTS),
        "HOME": str(tools["project"]),
    }
    return subprocess.run(
        [sys.executable, str(HOOKS / hook), "--project-dir", str(tools["project"])],
        env={**base, **env},
        cwd=cwd or tools["project"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def calls(tools: dict[str, Any]) -> list[dict[str, Any]]:
    if not tools["log"].exists():
        return []
    return [json.loads(line) for line in tools["log"].read_text().splitlines()]


AZD_ENV = {
    "AZURE_ENV_NAME": "dev",
    "AZURE_LOCATION": "eastus2",
    "AZURE_SUBSCRIPTION_ID": "11111111-2222-3333-4444-555555555555",
    "AZURE_TENANT_ID": "99999999-8888-7777-6666-555555555555",
}


def test_provision_runs_pulumi_with_azd_login_and_copies_outputs(tools: dict[str, Any]) -> None:
    backend = "azblob://state?storage_account=stpulumi"
    result = run_hook("provision.py", tools, {**AZD_ENV, "PULUMI_BACKEND_URL": backend})
    assert result.returncode == 0, result.stderr
    recorded = calls(tools)
    pulumi = [c for c in recorded if c["tool"] == "pulumi"]
    infra = str(REPO / "infra")
    assert [c["args"] for c in pulumi] == [
        ["install", "--cwd", infra],
        ["stack", "select", "dev", "--create", "--non-interactive", "--cwd", infra],
        ["config", "set", "azure-native:location", "eastus2", "--stack", "dev", "--non-interactive", "--cwd", infra],
        [
            "config",
            "set",
            "azurefunctions-agents:envName",
            "dev",
            "--stack",
            "dev",
            "--non-interactive",
            "--cwd",
            infra,
        ],
        [
            "config",
            "set",
            "azurefunctions-agents:streaming",
            "false",
            "--stack",
            "dev",
            "--non-interactive",
            "--cwd",
            infra,
        ],
        ["up", "--yes", "--skip-preview", "--stack", "dev", "--non-interactive", "--cwd", infra],
        ["stack", "output", "--json", "--stack", "dev", "--non-interactive", "--cwd", infra],
    ]
    for call in pulumi:
        assert call["env"] == {
            "PULUMI_BACKEND_URL": backend,
            "PULUMI_CONFIG_PASSPHRASE": "",
            "ARM_USE_DEFAULT_AZURE_CREDENTIAL": "true",
            "ARM_SUBSCRIPTION_ID": AZD_ENV["AZURE_SUBSCRIPTION_ID"],
            "ARM_TENANT_ID": AZD_ENV["AZURE_TENANT_ID"],
            "AZURE_TOKEN_CREDENTIALS": "AzureDeveloperCliCredential",
        }
    azd = [c["args"] for c in recorded if c["tool"] == "azd"]
    assert azd == [["env", "set", name, value] for name, value in sorted(OUTPUTS.items())]


def test_provision_never_copies_azure_client_id(tools: dict[str, Any]) -> None:
    outputs = {**OUTPUTS, "AZURE_CLIENT_ID": "app-identity"}
    result = run_hook(
        "provision.py", tools, {**AZD_ENV, "PULUMI_BACKEND_URL": "azblob://s", "STAND_IN_OUTPUTS": json.dumps(outputs)}
    )
    assert result.returncode == 0, result.stderr
    assert all(c["args"][2] != "AZURE_CLIENT_ID" for c in calls(tools) if c["tool"] == "azd")


def test_streaming_sample_turns_on_init_indexing(tools: dict[str, Any]) -> None:
    sample = tools["project"] / "samples" / "streamer"
    sample.mkdir(parents=True)
    (sample / "requirements.txt").write_text("../..[openai,streaming]\n")
    (tools["project"] / "azure.yaml").write_text("services:\n  api:\n    project: ./samples/streamer\n")
    result = run_hook("provision.py", tools, {**AZD_ENV, "PULUMI_BACKEND_URL": "azblob://s"})
    assert result.returncode == 0, result.stderr
    sets = [c["args"][2:4] for c in calls(tools) if c["tool"] == "pulumi" and c["args"][:2] == ["config", "set"]]
    assert ["azurefunctions-agents:streaming", "true"] in sets


@pytest.mark.parametrize(
    ("missing", "fix"),
    [
        ("AZURE_LOCATION", "  AZURE_LOCATION: azd env set AZURE_LOCATION eastus2"),
        ("AZURE_SUBSCRIPTION_ID", "  AZURE_SUBSCRIPTION_ID: azd env set AZURE_SUBSCRIPTION_ID <subscription id>"),
        ("AZURE_ENV_NAME", "  AZURE_ENV_NAME: azd env new <name>"),
    ],
)
def test_missing_azd_values_name_the_fix(tools: dict[str, Any], missing: str, fix: str) -> None:
    env = {k: v for k, v in AZD_ENV.items() if k != missing}
    result = run_hook("provision.py", tools, env)
    assert result.returncode == 1
    assert result.stderr.startswith("error: missing azd environment values:\n")
    assert fix in result.stderr
    assert calls(tools) == []


def test_ci_refuses_local_state(tools: dict[str, Any]) -> None:
    result = run_hook("provision.py", tools, {**AZD_ENV, "GITHUB_ACTIONS": "true"})
    assert result.returncode == 1
    assert result.stderr.startswith("error: no Pulumi state backend in CI: local state would be lost with the runner.")
    assert "python scripts/bootstrap_state.py" in result.stderr
    result = run_hook("provision.py", tools, {**AZD_ENV, "CI": "true", "PULUMI_BACKEND_URL": "file:///tmp/state"})
    assert result.returncode == 1
    assert "PULUMI_BACKEND_URL is local state (file:///tmp/state), which a CI runner loses" in result.stderr
    assert calls(tools) == []


def test_ci_accepts_pulumi_cloud(tools: dict[str, Any]) -> None:
    result = run_hook("provision.py", tools, {**AZD_ENV, "GITHUB_ACTIONS": "true", "PULUMI_ACCESS_TOKEN": "t"})
    assert result.returncode == 0, result.stderr
    assert all("PULUMI_BACKEND_URL" not in c["env"] for c in calls(tools) if c["tool"] == "pulumi")


def test_local_state_goes_beside_the_azd_environment(tools: dict[str, Any]) -> None:
    result = run_hook("provision.py", tools, {**AZD_ENV, "AZURE_ENV_NAME": "hook-test-env"})
    state = tools["project"] / ".azure" / "hook-test-env" / "pulumi"
    assert result.returncode == 0, result.stderr
    backends = {c["env"]["PULUMI_BACKEND_URL"] for c in calls(tools) if c["tool"] == "pulumi"}
    assert backends == {state.as_uri()}
    assert state.is_dir()
    assert not (REPO / ".azure" / "hook-test-env").exists()


def test_a_folder_without_azure_yaml_is_refused(tools: dict[str, Any], tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(HOOKS / "provision.py"), "--project-dir", str(tmp_path)],
        env={"PATH": f"{tools['bin']}:/usr/bin:/bin", "STAND_IN_LOG": str(tools["log"]), **AZD_ENV},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr == f"error: {tmp_path} has no azure.yaml: --project-dir must name azd's project folder\n"
    assert calls(tools) == []


def test_missing_pulumi_says_how_to_install(tools: dict[str, Any]) -> None:
    (tools["bin"] / "pulumi").unlink()
    result = run_hook("provision.py", tools, {**AZD_ENV, "PULUMI_BACKEND_URL": "azblob://s"})
    assert result.returncode == 1
    assert "error: the `pulumi` command was not found: install the Pulumi CLI:" in result.stderr


def test_a_failing_pulumi_up_stops_the_hook(tools: dict[str, Any]) -> None:
    result = run_hook(
        "provision.py", tools, {**AZD_ENV, "PULUMI_BACKEND_URL": "azblob://s", "STAND_IN_FAIL_PULUMI": "2"}
    )
    assert result.returncode == 1
    assert "failed with exit code 2" in result.stderr
    assert not [c for c in calls(tools) if c["tool"] == "azd"]


def test_down_destroys_then_purges_a_vault_without_purge_protection(tools: dict[str, Any]) -> None:
    result = run_hook(
        "down.py", tools, {**AZD_ENV, "PULUMI_BACKEND_URL": "azblob://s", "STAND_IN_PURGE_PROTECTION": "false"}
    )
    assert result.returncode == 0, result.stderr
    recorded = calls(tools)
    pulumi = [c["args"][:2] for c in recorded if c["tool"] == "pulumi"]
    assert pulumi == [["stack", "select"], ["stack", "output"], ["config", "get"], ["destroy", "--yes"]]
    az = [c["args"] for c in recorded if c["tool"] == "az"]
    assert az == [
        [
            "keyvault",
            "purge",
            "--name",
            "kvabc",
            "--location",
            "eastus2",
            "--subscription",
            AZD_ENV["AZURE_SUBSCRIPTION_ID"],
        ]
    ]


@pytest.mark.parametrize("configured", ["true", None], ids=["on", "default"])
def test_down_keeps_a_purge_protected_vault(tools: dict[str, Any], configured: str | None) -> None:
    env = {**AZD_ENV, "PULUMI_BACKEND_URL": "azblob://s"}
    if configured is not None:
        env["STAND_IN_PURGE_PROTECTION"] = configured
    result = run_hook("down.py", tools, env)
    assert result.returncode == 0, result.stderr
    assert [c["args"][:2] for c in calls(tools) if c["tool"] == "pulumi"][-1] == ["destroy", "--yes"]
    assert not [c for c in calls(tools) if c["tool"] == "az"]
    assert "purge protection" in result.stdout


def test_hooks_are_standard_library_only() -> None:
    # azure.yaml runs the hooks with the system's python3, with nothing installed.
    import ast

    for hook in ("provision.py", "down.py", "pulumi_hook.py"):
        tree = ast.parse((HOOKS / hook).read_text())
        imported = {
            alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
        }
        imported |= {
            node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
        }
        local = {"pulumi_hook"}
        assert imported - local <= set(sys.stdlib_module_names), (hook, imported - local - set(sys.stdlib_module_names))
