"""azd `preprovision` hook: `pulumi up` in infra/, then the stack outputs into the azd environment.

azure.yaml runs it as `python3 <repo>/scripts/azd/provision.py --project-dir .` from azd's project folder. By
hand: `azd provision` (or `azd hooks run preprovision`) provisions without deploying.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from pulumi_hook import (
    INFRA_DIR,
    HookError,
    environ,
    find_pulumi,
    main,
    pulumi_environment,
    require_environment,
    run,
    select_stack,
    stack_outputs,
)

# Outputs never copied into the azd environment: in CI AZURE_CLIENT_ID names the pipeline's principal.
NOT_COPIED = {"AZURE_CLIENT_ID"}


def sample_streams(project_dir: Path) -> bool:
    """True when the deployed app uses the HTTP-streams extension (it then needs PYTHON_ENABLE_INIT_INDEXING).

    The sample's requirements say so: the runtime's `streaming` or `a2a` extra (A2A apps stream, and that extra
    brings the extension), or the extension itself.
    """
    requirements = project_dir / "requirements.txt"
    if not requirements.is_file():
        return False
    for line in requirements.read_text(encoding="utf-8").lower().splitlines():
        requirement = line.split("#", 1)[0]
        if "azurefunctions-extensions-http-fastapi" in requirement:
            return True
        extras = requirement.split("[", 1)[1].split("]", 1)[0] if "[" in requirement else ""
        if {"streaming", "a2a"} & {extra.strip() for extra in extras.split(",")}:
            return True
    return False


def service_project(project: Path) -> Path:
    """The `project:` folder of the `api` service in the project's azure.yaml."""
    azure_yaml = project / "azure.yaml"
    if azure_yaml.is_file():
        in_api = False
        for line in azure_yaml.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            if stripped.startswith("api:"):
                in_api = True
            elif in_api and stripped.startswith("project:"):
                return (project / stripped.split(":", 1)[1].split(" #", 1)[0].strip().strip("'\"")).resolve()
    return project


def provision(project: Path) -> int:
    env_in = environ()
    values = require_environment(env_in)
    pulumi = find_pulumi(env_in)
    azd = shutil.which("azd", path=env_in.get("PATH"))
    if azd is None:
        raise HookError("the `azd` command was not found: https://aka.ms/azd-install")
    env = pulumi_environment(env_in, values, project)
    stack = values["AZURE_ENV_NAME"]
    cwd = str(INFRA_DIR)

    run([pulumi, "install", "--cwd", cwd], env)
    select_stack(pulumi, env, stack)
    streaming = env_in.get("AGENTS_STREAMING", "").strip().lower()
    if streaming not in ("true", "false"):
        streaming = "true" if sample_streams(service_project(project)) else "false"
    config = {
        "azure-native:location": values["AZURE_LOCATION"],
        "azurefunctions-agents:envName": stack,
        "azurefunctions-agents:streaming": streaming,
    }
    if env_in.get("AZURE_PRINCIPAL_TYPE", "").strip():
        config["azurefunctions-agents:deployerPrincipalType"] = env_in["AZURE_PRINCIPAL_TYPE"].strip()
    for key, value in config.items():
        run([pulumi, "config", "set", key, value, "--stack", stack, "--non-interactive", "--cwd", cwd], env)
    run([pulumi, "up", "--yes", "--skip-preview", "--stack", stack, "--non-interactive", "--cwd", cwd], env)

    outputs = stack_outputs(pulumi, env, stack)
    if "AZURE_RESOURCE_GROUP" not in outputs:
        raise HookError("the stack has no AZURE_RESOURCE_GROUP output; azd deploy cannot find the app without it")
    for name, value in sorted(outputs.items()):
        if name in NOT_COPIED:
            continue
        run([azd, "env", "set", name, value], env_in)
    print(f"Provisioned {outputs.get('SERVICE_API_URI', 'the stack')}; {len(outputs)} outputs in the azd environment")
    return 0


if __name__ == "__main__":
    sys.exit(main(provision, "azd preprovision hook: pulumi up, then the stack outputs into the azd environment"))
