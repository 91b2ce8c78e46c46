"""The deploy workflows against what GitHub, azd and Pulumi do with them.

- OIDC: `azd pipeline config` creates federated credentials for exactly the subjects of
  Azure/azure-dev `cli/azd/pkg/pipeline/github_provider.go` `GitHubCiProvider.credentialOptions` (the current
  branch, `main`, and `pull_request`); GitHub signs a job's token with `environment:<name>` when the job has an
  environment, else `pull_request` for pull-request events, else `ref:refs/heads/<branch>`.
- The smoke-test step runs as the runner runs it (`bash -e` in its `working-directory`), with `azd` answering from
  an azd environment, and must hand smoke_test.py every setting it needs for the host key.
- Pulumi's `azblob://` backend signs in through the default Azure credential chain (pulumi/pulumi #10900), not
  `ARM_*`, so a job that reads state there signs in with azd first.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
sys.path.insert(0, str(REPO / "scripts"))
import smoke_test  # noqa: E402

sys.path.pop(0)


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads the key `on` as True
    return dict(document)


def azd_pipeline_config_subjects(repo: str, branch: str) -> set[str]:
    """github_provider.go credentialOptions: `pull_request` plus the current branch and `main`."""
    branches = [branch] if branch == "main" else [branch, "main"]
    return {f"repo:{repo}:pull_request", *(f"repo:{repo}:ref:refs/heads/{b}" for b in branches)}


def github_subjects(workflow: dict[str, Any], job: dict[str, Any], repo: str) -> set[str]:
    """The `sub` claims GitHub gives this job's OIDC token, one per event that starts it (default claim format)."""
    if job.get("environment"):
        name = job["environment"]["name"] if isinstance(job["environment"], dict) else job["environment"]
        return {f"repo:{repo}:environment:{name}"}
    subjects = set()
    for event, options in (workflow["on"] or {}).items():
        if event in ("pull_request", "pull_request_target"):
            subjects.add(f"repo:{repo}:pull_request")
        elif event == "push":
            subjects |= {f"repo:{repo}:ref:refs/heads/{b}" for b in (options or {}).get("branches", ["main"])}
        elif event == "workflow_dispatch":
            subjects.add(f"repo:{repo}:ref:refs/heads/main")  # run from the default branch
    return subjects


def oidc_jobs() -> list[tuple[Path, str]]:
    return [
        (path, name)
        for path in WORKFLOWS
        for name, job in load(path)["jobs"].items()
        if (job.get("permissions") or {}).get("id-token") == "write"
    ]


@pytest.mark.parametrize(("path", "job_name"), oidc_jobs(), ids=lambda v: v.name if isinstance(v, Path) else v)
def test_every_oidc_subject_has_a_credential_from_azd_pipeline_config(path: Path, job_name: str) -> None:
    workflow = load(path)
    repo = "contoso/agents"
    subjects = github_subjects(workflow, workflow["jobs"][job_name], repo)
    assert subjects
    assert subjects <= azd_pipeline_config_subjects(repo, "main"), subjects


def test_a_job_in_an_environment_gets_a_subject_azd_does_not_create() -> None:
    workflow = {"on": {"push": {"branches": ["main"]}}}
    subjects = github_subjects(workflow, {"environment": "azure"}, "o/r")
    assert not subjects <= azd_pipeline_config_subjects("o/r", "main")


def test_oidc_jobs_are_found() -> None:
    assert {(p.name, j) for p, j in oidc_jobs()} == {("azure-dev.yml", "deploy"), ("infra-preview.yml", "preview")}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_job_has_a_timeout(path: Path) -> None:
    for name, job in load(path)["jobs"].items():
        assert isinstance(job.get("timeout-minutes"), int), f"{path.name}: job {name} has no timeout-minutes"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_azd_is_installed_at_a_pinned_version_never_piped_to_a_shell(path: Path) -> None:
    for job in load(path)["jobs"].values():
        for step in job["steps"]:
            assert not re.search(r"curl[^|]*\|\s*(ba)?sh", step.get("run", "")), step
            if str(step.get("uses", "")).startswith("Azure/setup-azd@"):
                assert re.fullmatch(r"\d+\.\d+\.\d+", str((step.get("with") or {}).get("version", ""))), step


def steps_before(job: dict[str, Any], predicate: Any) -> list[dict[str, Any]]:
    for index, step in enumerate(job["steps"]):
        if predicate(step):
            return list(job["steps"][:index])
    raise AssertionError("no such step")


def runs_pulumi(step: dict[str, Any]) -> bool:
    uses_pulumi = str(step.get("uses", "")).startswith("pulumi/actions@") and "command" in (step.get("with") or {})
    return uses_pulumi or "azd up" in step.get("run", "") or "azd provision" in step.get("run", "")


@pytest.mark.parametrize(("path", "job_name"), oidc_jobs(), ids=lambda v: v.name if isinstance(v, Path) else v)
def test_a_job_that_reads_pulumi_state_signs_in_to_azure_first(path: Path, job_name: str) -> None:
    job = load(path)["jobs"][job_name]
    assert job["env"]["PULUMI_BACKEND_URL"] == "${{ vars.PULUMI_BACKEND_URL }}"
    earlier = steps_before(job, runs_pulumi)
    logins = [
        s
        for s in earlier
        if "azd auth login" in s.get("run", "") and "--federated-credential-provider github" in s["run"]
    ]
    assert logins, f"{path.name}: no `azd auth login` before Pulumi reads its azblob:// state"


AZD_ENV_VALUES = {
    "SERVICE_API_URI": "https://func-api-abc.azurewebsites.net",
    "AZURE_RESOURCE_GROUP": "rg-dev",
    "SERVICE_API_NAME": "func-api-abc",
}

AZD_STAND_IN = """#!/bin/sh
# azd env get-value NAME, answered from the azd environment's .env (as azd does)
[ "$1 $2" = "env get-value" ] || exit 2
sed -n "s/^$3=\\"\\(.*\\)\\"$/\\1/p" "$AZD_DOTENV"
"""

PYTHON_STAND_IN = """#!{python}
import json, os, sys
if sys.argv[1:3] == ["-m", "pip"]:
    sys.exit(0)
with open(os.environ["RECORD"], "w") as record:
    json.dump({{"argv": sys.argv[1:], "cwd": os.getcwd(), "env": dict(os.environ)}}, record)
"""


def test_the_smoke_step_gives_smoke_test_every_setting_it_needs(tmp_path: Path) -> None:
    workflow = load(REPO / ".github" / "workflows" / "azure-dev.yml")
    job = workflow["jobs"]["deploy"]
    step = next(s for s in job["steps"] if s.get("name") == "Smoke test")
    sample = "single-agent"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "azd").write_text(AZD_STAND_IN)
    (bin_dir / "python").write_text(PYTHON_STAND_IN.format(python=sys.executable))
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    dotenv = tmp_path / ".env"
    dotenv.write_text("".join(f'{k}="{v}"\n' for k, v in AZD_ENV_VALUES.items()))
    job_env = {k: v for k, v in job["env"].items() if "${{" not in str(v)}
    job_env["AZURE_SUBSCRIPTION_ID"] = "11111111-2222-3333-4444-555555555555"  # from vars.* on GitHub
    working_directory = REPO / step["working-directory"].replace("${{ env.SAMPLE }}", sample)
    script = tmp_path / "step.sh"
    script.write_text(step["run"])
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],  # GitHub's `shell: bash`
        cwd=working_directory,
        env={**job_env, "PATH": f"{bin_dir}:/usr/bin:/bin", "AZD_DOTENV": str(dotenv), "RECORD": str(tmp_path / "r")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    record = json.loads((tmp_path / "r").read_text())
    assert record["argv"][0] == "../../scripts/smoke_test.py"
    assert (Path(record["cwd"]) / record["argv"][0]).resolve() == REPO / "scripts" / "smoke_test.py"
    assert record["argv"][1] == AZD_ENV_VALUES["SERVICE_API_URI"]
    missing = [name for name in smoke_test.HOST_KEY_SETTINGS if not record["env"].get(name)]
    assert missing == []
