"""azure.yaml against azd's own rules, and every hook run as azd runs it, in a fresh clone.

`tests/azd.py` ports the azd code each rule comes from (Azure/azure-dev ae35809f, `cli/azd/pkg/ext/models.go`
`HookConfig.validate`, `pkg/ext/hooks_manager.go` `filterConfigs`, `pkg/ext/hooks_runner.go` `execHook`,
`pkg/tools/bash/bash.go`, `pkg/tools/language/project_discovery.go` `DiscoverProjectFile`,
`pkg/project/project_utils.go` `createDeployableZip`). The hooks then run for real: from the folder azd would
use, with azd's environment, against stand-in `azd`/`pulumi` executables (there is no cloud here); packaging
builds the real wheel and the zip azd would upload.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.azd import HookConfigError, deployable_zip, hook_named, hooks_of, resolve, run_hook
from tests.test_hooks import OUTPUTS, STAND_IN

REPO = Path(__file__).resolve().parents[2]
SAMPLES = sorted(p.parent.relative_to(REPO).as_posix() for p in REPO.glob("samples/*/function_app.py"))
PROJECTS = [".", *SAMPLES]
AZD_ENV = {
    "AZURE_ENV_NAME": "dev",
    "AZURE_LOCATION": "eastus2",
    "AZURE_SUBSCRIPTION_ID": "11111111-2222-3333-4444-555555555555",
    "AZURE_TENANT_ID": "99999999-8888-7777-6666-555555555555",
}
WHEEL = "azurefunctions_agent_framework-0.1.0-py3-none-any.whl"


def azure_yaml(project: str, root: Path = REPO) -> Path:
    return root / project / "azure.yaml"


def service_dir(project_yaml: Path) -> Path:
    document = yaml.safe_load(project_yaml.read_text(encoding="utf-8"))
    return (project_yaml.parent / str(document["services"]["api"]["project"])).resolve()


# -- 1. containment (models.go enforceContainment) ------------------------------------------------------------


@pytest.mark.parametrize("project", PROJECTS)
def test_every_hook_is_accepted_by_azd_containment(project: str) -> None:
    hooks = hooks_of(azure_yaml(project))  # raises HookConfigError exactly where azd would refuse
    assert sorted((h.scope, h.name) for h in hooks) == [
        ("project", "predown"),
        ("project", "preprovision"),
        ("service", "prepackage"),
    ]


def test_azd_refuses_a_sample_file_hook_that_leaves_the_sample() -> None:
    sample = REPO / "samples" / "single-agent"
    # A non-shell file hook's folder is the script's (resolveKind infers `dir`), checked before the script path.
    with pytest.raises(HookConfigError, match=r'^hook directory "\.\./\.\./scripts" escapes project root'):
        resolve(
            "prepackage", {"run": "../../scripts/package.py"}, scope="service", input_cwd=sample, project_dir=sample
        )
    with pytest.raises(
        HookConfigError, match=r'^hook script path "\.\./\.\./scripts/ci/infra\.sh" escapes project root'
    ):
        resolve(
            "prepackage", {"run": "../../scripts/ci/infra.sh"}, scope="service", input_cwd=sample, project_dir=sample
        )


# -- 2. working directory (models.go resolvePaths) ---------------------------------------------------------------


@pytest.mark.parametrize("project", PROJECTS)
def test_hooks_run_in_the_project_or_service_folder(project: str) -> None:
    path = azure_yaml(project)
    for hook in hooks_of(path):
        expected = path.parent.resolve() if hook.scope == "project" else service_dir(path)
        assert hook.cwd == expected, (hook.name, hook.cwd)


def test_azd_runs_a_python_file_hook_in_the_scripts_own_folder() -> None:
    hook = resolve(
        "preprovision", {"run": "./scripts/azd/provision.py"}, scope="project", input_cwd=REPO, project_dir=REPO
    )
    assert hook.kind == "python"
    assert hook.cwd == REPO / "scripts" / "azd"


# -- 3. dependency installation (project_discovery.go DiscoverProjectFile) ---------------------------------------


@pytest.mark.parametrize("project", PROJECTS)
def test_no_hook_makes_azd_install_packages(project: str) -> None:
    for hook in hooks_of(azure_yaml(project)):
        assert hook.kind == "sh", f"{hook.name} is a {hook.kind} hook: azd would prepare an environment for it"
        assert hook.installs is None


def test_a_python_file_hook_would_install_the_whole_framework() -> None:
    hook = resolve(
        "preprovision", {"run": "./scripts/azd/provision.py"}, scope="project", input_cwd=REPO, project_dir=REPO
    )
    assert hook.installs == REPO / "pyproject.toml"


@pytest.mark.parametrize("project", PROJECTS)
def test_the_windows_hooks_run_the_same_scripts_as_the_posix_ones(project: str) -> None:
    # filterConfigs picks `windows` on Windows (PowerShell, where Python is `python`) and `posix` elsewhere.
    document = yaml.safe_load(azure_yaml(project).read_text(encoding="utf-8"))
    configs = [*document["hooks"].values(), *document["services"]["api"]["hooks"].values()]
    for config in configs:
        posix, windows = config["posix"], config["windows"]
        assert (posix["shell"], windows["shell"]) == ("sh", "pwsh")
        assert posix["run"].startswith("python3 ") and windows["run"] == "python " + posix["run"][len("python3 ") :]
        assert posix.get("interactive") == windows.get("interactive")


# -- the hooks, run from a fresh clone ---------------------------------------------------------------------------


@pytest.fixture
def stand_ins(tmp_path: Path) -> dict[str, Any]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("azd", "pulumi", "az"):
        path = bin_dir / name
        path.write_text(STAND_IN.format(python=sys.executable))
        path.chmod(0o755)
    log = tmp_path / "log.jsonl"
    # The process environment azd passes on (command_runner.go appendEnv): PATH finds the stand-ins first, then a
    # python3 with pip and the build backend (the developer's), then the system.
    process_env = {
        "PATH": f"{bin_dir}:{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "STAND_IN_LOG": str(log),
        "STAND_IN_OUTPUTS": json.dumps(OUTPUTS),
    }
    return {"env": process_env, "log": log}


def logged(stand_ins: dict[str, Any]) -> list[dict[str, Any]]:
    log: Path = stand_ins["log"]
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.mark.parametrize("project", PROJECTS)
def test_preprovision_runs_pulumi_from_a_fresh_clone(
    fresh_clone: Path, stand_ins: dict[str, Any], project: str
) -> None:
    path = azure_yaml(project, fresh_clone)
    completed = run_hook(hook_named(path, "preprovision"), AZD_ENV, stand_ins["env"])
    assert completed.returncode == 0, completed.stdout + completed.stderr
    pulumi = [c["args"] for c in logged(stand_ins) if c["tool"] == "pulumi"]
    assert pulumi and all(args[-2:] == ["--cwd", str(fresh_clone / "infra")] for args in pulumi)
    state = (path.parent / ".azure" / "dev" / "pulumi").resolve()
    assert {c["env"]["PULUMI_BACKEND_URL"] for c in logged(stand_ins) if c["tool"] == "pulumi"} == {state.as_uri()}
    # A sample streams when its requirements name the `streaming` or `a2a` extra (A2A apps stream by default;
    # a caller that only installs the A2A client gets init indexing too, which costs nothing).
    streaming = "true" if service_dir(path).name in {"advanced-features", "a2a", "a2a-caller"} else "false"
    assert ["config", "set", "azurefunctions-agents:streaming", streaming] == next(
        a[:4] for a in pulumi if a[2:3] == ["azurefunctions-agents:streaming"]
    )
    copied = {c["args"][2] for c in logged(stand_ins) if c["tool"] == "azd"}
    assert copied == set(OUTPUTS)


@pytest.mark.parametrize("project", PROJECTS)
def test_predown_destroys_from_a_fresh_clone(fresh_clone: Path, stand_ins: dict[str, Any], project: str) -> None:
    completed = run_hook(hook_named(azure_yaml(project, fresh_clone), "predown"), AZD_ENV, stand_ins["env"])
    assert completed.returncode == 0, completed.stdout + completed.stderr
    pulumi = [c["args"][:2] for c in logged(stand_ins) if c["tool"] == "pulumi"]
    assert ["destroy", "--yes"] in pulumi


@pytest.mark.parametrize("project", PROJECTS)
def test_prepackage_writes_the_package_azd_zips_and_the_remote_build_installs(
    fresh_clone: Path, stand_ins: dict[str, Any], tmp_path: Path, project: str
) -> None:
    path = azure_yaml(project, fresh_clone)
    completed = run_hook(hook_named(path, "prepackage"), AZD_ENV, stand_ins["env"])
    assert completed.returncode == 0, completed.stdout + completed.stderr

    service = yaml.safe_load(path.read_text(encoding="utf-8"))["services"]["api"]
    sample = service_dir(path)
    archive = deployable_zip(service, sample, tmp_path)
    names = set(zipfile.ZipFile(archive).namelist())
    assert {"function_app.py", "host.json", "requirements.txt", f"wheels/{WHEEL}"} <= names
    assert not {n for n in names if n.startswith(("tests/", ".venv/", ".deploy/", ".azure/"))}
    assert not {n for n in names if n.startswith("local.settings.json") or "__pycache__" in n}

    # The remote build only has the zip: the runtime must resolve from it alone, pinned to the shipped wheel.
    extracted = tmp_path / "remote"
    zipfile.ZipFile(archive).extractall(extracted)
    requirements = (extracted / "requirements.txt").read_text().splitlines()
    source_line = next(line for line in (sample / "requirements.txt").read_text().splitlines() if line.startswith(".."))
    extras = source_line[len("../..") :]
    assert f"./wheels/{WHEEL}{extras}" in requirements
    assert not [line for line in requirements if "agent-framework" in line or line.startswith("..")]
    # Resolve the runtime's line with the index switched off (the sample's other requirements need the index).
    (extracted / "runtime-only.txt").write_text("\n".join(r for r in requirements if r.startswith("./wheels/")))
    dry_run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--no-index",
            "--no-deps",
            "--quiet",
            "--report",
            "-",
            "-r",
            "runtime-only.txt",
        ],
        cwd=extracted,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PIP_CONFIG_FILE": os.devnull},
    )
    assert dry_run.returncode == 0, dry_run.stderr
    report = json.loads(dry_run.stdout)
    runtime = [i for i in report["install"] if i["metadata"]["name"] == "azurefunctions-agent-framework"]
    assert len(runtime) == 1
    assert runtime[0]["metadata"]["version"] == "0.1.0"
    assert runtime[0]["download_info"]["url"].endswith(f"/wheels/{WHEEL}")


# -- 7. `azd provision` / `azd down` (pkg/infra/provisioning/bicep/bicep_provider.go) -----------------------------


def bicep_statements(path: Path) -> list[str]:
    lines = [line.split("//", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if line]


@pytest.mark.parametrize("project", PROJECTS)
def test_azd_provision_and_down_find_a_bicep_module_that_deploys_nothing(project: str) -> None:
    # BicepProvider.Initialize: the module is `<infra.path>/<infra.module>.bicepparam`, else `.bicep`, compiled by
    # EnsureEnv (without it `azd provision` and `azd down` fail). Destroy: a deployment without resources is only
    # voided, so `azd down` deletes nothing that Pulumi owns (the predown hook destroys those first).
    path = azure_yaml(project)
    infra = yaml.safe_load(path.read_text(encoding="utf-8"))["infra"]
    assert infra["provider"] == "bicep"
    folder = (path.parent / infra["path"]).resolve()
    assert not (folder / f"{infra['module']}.bicepparam").exists()
    statements = bicep_statements(folder / f"{infra['module']}.bicep")
    assert statements == ["targetScope = 'subscription'"]
    assert (folder / "Pulumi.yaml").is_file()
