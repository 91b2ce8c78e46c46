"""What the azd hooks share: check the azd environment, pick the Pulumi state backend, run Pulumi with azd's login.

azd has no Pulumi provider, so `azd up` runs the Pulumi program through the `preprovision` hook and copies the
stack outputs into the azd environment; `predown` destroys the stack. Standard library only: azure.yaml runs the
hooks as inline shell commands (`python3 <repo>/scripts/azd/provision.py --project-dir .`), so azd installs
nothing for them, and they never depend on their working directory: azd's project folder (where azure.yaml and
`.azure/` live) is passed in `--project-dir`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA_DIR = REPO_ROOT / "infra"

REQUIRED = {
    "AZURE_ENV_NAME": "azd env new <name>",
    "AZURE_LOCATION": "azd env set AZURE_LOCATION eastus2",
    "AZURE_SUBSCRIPTION_ID": "azd env set AZURE_SUBSCRIPTION_ID <subscription id>  (see: az account show)",
}

PULUMI_INSTALL = "install the Pulumi CLI: https://www.pulumi.com/docs/iac/download-install/ (then open a new shell)"


class HookError(RuntimeError):
    """A problem the user fixes; the message says how."""


def in_ci(environ: Mapping[str, str]) -> bool:
    return any(environ.get(name, "").strip().lower() in ("true", "1") for name in ("CI", "GITHUB_ACTIONS", "TF_BUILD"))


def require_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The azd values the hooks need, or one error listing each missing value and the command that sets it."""
    missing = [name for name in REQUIRED if not environ.get(name, "").strip()]
    if missing:
        lines = [f"  {name}: {REQUIRED[name]}" for name in missing]
        raise HookError("missing azd environment values:\n" + "\n".join(lines))
    return {name: environ[name].strip() for name in REQUIRED}


def project_dir(argv: Sequence[str] | None, description: str) -> Path:
    """azd's project folder, from `--project-dir` (azure.yaml passes `.`: azd runs inline hooks in that folder)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--project-dir", type=Path, required=True, help="the folder holding azure.yaml (azd's project folder)"
    )
    folder: Path = parser.parse_args(argv).project_dir.resolve()
    if not (folder / "azure.yaml").is_file():
        raise HookError(f"{folder} has no azure.yaml: --project-dir must name azd's project folder")
    return folder


def state_backend(environ: Mapping[str, str], env_name: str, project: Path) -> str | None:
    """The Pulumi backend URL to use; None means Pulumi Cloud (PULUMI_ACCESS_TOKEN).

    Locally, without a backend, state goes to `<project>/.azure/<env>/pulumi`, beside the azd environment
    (git-ignored), so two samples' environments of the same name never share a stack.
    In CI that would be lost with the runner, and the next run would try to re-create what exists, so CI must
    name a shared backend.
    """
    url = environ.get("PULUMI_BACKEND_URL", "").strip()
    if url:
        if in_ci(environ) and url.startswith("file://"):
            raise HookError(
                f"PULUMI_BACKEND_URL is local state ({url}), which a CI runner loses. Use a shared backend: "
                "run `python scripts/bootstrap_state.py` once and set the PULUMI_BACKEND_URL variable it prints, "
                "or use Pulumi Cloud with a PULUMI_ACCESS_TOKEN secret."
            )
        return url
    if environ.get("PULUMI_ACCESS_TOKEN", "").strip():
        return None
    if in_ci(environ):
        raise HookError(
            "no Pulumi state backend in CI: local state would be lost with the runner. Run "
            "`python scripts/bootstrap_state.py` once and set the PULUMI_BACKEND_URL repository variable it "
            "prints (azd pipeline config copies it from azure.yaml), or set a PULUMI_ACCESS_TOKEN secret."
        )
    state_dir = project / ".azure" / env_name / "pulumi"
    state_dir.mkdir(parents=True, exist_ok=True)
    return state_dir.as_uri()


def pulumi_environment(environ: Mapping[str, str], values: Mapping[str, str], project: Path) -> dict[str, str]:
    """The environment Pulumi runs with: azd's login (no second sign-in), the backend, no prompts."""
    env = dict(environ)
    backend = state_backend(environ, values["AZURE_ENV_NAME"], project)
    if backend is not None:
        env["PULUMI_BACKEND_URL"] = backend
        # Self-managed backends encrypt stack secrets with a passphrase. The stack holds none, so an empty one
        # is used unless the user chose one (it must stay the same for the life of the stack).
        if "PULUMI_CONFIG_PASSPHRASE" not in env and "PULUMI_CONFIG_PASSPHRASE_FILE" not in env:
            env["PULUMI_CONFIG_PASSPHRASE"] = ""
    env["ARM_SUBSCRIPTION_ID"] = values["AZURE_SUBSCRIPTION_ID"]
    if environ.get("AZURE_TENANT_ID", "").strip():
        env["ARM_TENANT_ID"] = environ["AZURE_TENANT_ID"].strip()
    if not env.get("ARM_USE_OIDC"):
        env["ARM_USE_DEFAULT_AZURE_CREDENTIAL"] = "true"
        env.setdefault("AZURE_TOKEN_CREDENTIALS", "AzureDeveloperCliCredential")
    env["PULUMI_SKIP_UPDATE_CHECK"] = "true"
    return env


def find_pulumi(environ: Mapping[str, str]) -> str:
    found = shutil.which("pulumi", path=environ.get("PATH"))
    if found is None:
        raise HookError(f"the `pulumi` command was not found: {PULUMI_INSTALL}")
    return found


def run(command: Sequence[str], env: Mapping[str, str], *, capture: bool = False) -> str:
    """Run a command, echoing it; raise HookError naming it when it fails."""
    print("$ " + " ".join(command), flush=True)
    result = subprocess.run(
        list(command), env=dict(env), check=False, text=True, capture_output=capture, cwd=str(REPO_ROOT)
    )
    if result.returncode != 0:
        detail = f"\n{result.stderr.strip()}" if capture and result.stderr else ""
        raise HookError(f"`{' '.join(command[:3])} ...` failed with exit code {result.returncode}{detail}")
    return result.stdout if capture else ""


def select_stack(pulumi: str, env: Mapping[str, str], stack: str) -> None:
    run([pulumi, "stack", "select", stack, "--create", "--non-interactive", "--cwd", str(INFRA_DIR)], env)


def stack_outputs(pulumi: str, env: Mapping[str, str], stack: str) -> dict[str, str]:
    raw = run(
        [pulumi, "stack", "output", "--json", "--stack", stack, "--non-interactive", "--cwd", str(INFRA_DIR)],
        env,
        capture=True,
    )
    try:
        parsed = json.loads(raw or "{}")
    except json.JSONDecodeError as error:
        raise HookError(f"`pulumi stack output --json` printed something that is not JSON: {error}") from None
    if not isinstance(parsed, dict):
        raise HookError("`pulumi stack output --json` did not print an object")
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in parsed.items()}


def main(action: Callable[[Path], int], description: str, argv: Sequence[str] | None = None) -> int:
    """Run a hook body for the project folder given on the command line; a HookError becomes its message and 1."""
    try:
        action_result = action(project_dir(argv, description))
    except HookError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return int(action_result or 0)


def environ() -> dict[str, str]:
    return dict(os.environ)
