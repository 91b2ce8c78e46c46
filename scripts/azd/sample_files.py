"""Write the azd files a sample needs to deploy on its own: `azure.yaml` and `.funcignore`.

`python scripts/azd/sample_files.py` adds them to every folder under samples/ with a function_app.py that
lacks them (existing files are left alone; `--force` rewrites them), so `cd samples/<name> && azd up` works for
a new sample. The root azure.yaml is the same file with the repository root as its project folder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

HEADER_SAMPLE = """\
# Deploy this sample on its own: `cd samples/{name} && azd up`. It reuses the repository's Pulumi program
# (infra/) and scripts; its azd environments live in this folder's .azure/.
"""

HEADER_ROOT = """\
# `azd up` here deploys samples/single-agent (change `project:` to deploy another sample, or run `azd up` in
# samples/<name>, which has its own azure.yaml). The Pulumi program in infra/ provisions the resources.
"""

HOOKS_NOTE = """\
# Every hook is an inline shell command. azd runs it in the project folder (project hooks) or the service folder
# (service hooks), installs nothing for it, and lets it call scripts outside this folder. A file hook
# (`run: x.py`) would be refused for a path outside the folder of azure.yaml, would run in the script's own
# folder, and would first pip-install whatever project file azd finds above the script. See docs/deploy.md.
"""


def _hook(command: str, indent: str, *, interactive: bool) -> str:
    extra = f"\n{indent}  interactive: true" if interactive else ""
    return (
        f"{indent}posix:\n{indent}  shell: sh\n{indent}  run: python3 {command}{extra}\n"
        f"{indent}windows:\n{indent}  shell: pwsh\n{indent}  run: python {command}{extra}\n"
    )


def render_azure_yaml(*, name: str, header: str, project: str, to_repo: str) -> str:
    """One azure.yaml: `project` is the service folder, `to_repo` the path from azure.yaml's folder to the repo."""
    return (
        "# yaml-language-server: $schema=https://raw.githubusercontent.com/Azure/azure-dev/main/schemas/v1.0/"
        "azure.yaml.json\n"
        + header
        + HOOKS_NOTE
        + f"name: {name}\n"
        + "metadata:\n  template: azurefunctions-agents@0.1.0\n"
        + 'requiredVersions:\n  azd: ">= 1.24.0"\n'
        + "# The Pulumi program in infra/ provisions everything, from the preprovision hook. infra/main.bicep deploys\n"
        + "# nothing: it only gives `azd provision` and `azd down` a Bicep step that succeeds, at no cost.\n"
        + f"infra:\n  provider: bicep\n  path: {to_repo}infra\n  module: main\n"
        + "services:\n  api:\n"
        + f"    project: {project}\n"
        + "    # The deployment package, written by scripts/package.py: the app and the runtime wheel it pins.\n"
        + "    dist: .deploy\n"
        + "    language: python\n    host: function\n"
        + "    hooks:\n      prepackage:\n"
        + _hook("../../scripts/package.py .", "        ", interactive=False)
        + "hooks:\n  preprovision:\n"
        + _hook(f"{to_repo}scripts/azd/provision.py --project-dir .", "    ", interactive=True)
        + "  predown:\n"
        + _hook(f"{to_repo}scripts/azd/down.py --project-dir .", "    ", interactive=True)
        + "pipeline:\n  provider: github\n  variables:\n    - PULUMI_BACKEND_URL\n"
        + "  secrets:\n    - PULUMI_CONFIG_PASSPHRASE\n    - PULUMI_ACCESS_TOKEN\n"
    )


def sample_azure_yaml(name: str) -> str:
    return render_azure_yaml(
        name=f"azurefunctions-agents-{name}", header=HEADER_SAMPLE.format(name=name), project=".", to_repo="../../"
    )


def root_azure_yaml() -> str:
    return render_azure_yaml(
        name="azurefunctions-agents", header=HEADER_ROOT, project="./samples/single-agent", to_repo=""
    )


FUNCIGNORE = """\
# Kept out of the deployment package. scripts/package.py copies the app into .deploy/ without these, adds the
# runtime wheel, and azd zips .deploy/ (azure.yaml `dist`) for the remote build.
.deploy/
.venv/
venv/
.python_packages/
__pycache__/
*.py[cod]
.pytest_cache/
tests/
local.settings.json
local.settings.json.template
.env
.agents-data/
.azure/
azure.yaml
.funcignore
README.md
"""


def write(samples_dir: Path, *, force: bool = False) -> list[Path]:
    written = []
    for app in sorted(samples_dir.glob("*/function_app.py")):
        sample = app.parent
        for filename, content in (("azure.yaml", sample_azure_yaml(sample.name)), (".funcignore", FUNCIGNORE)):
            target = sample / filename
            current = target.read_text(encoding="utf-8") if target.exists() else None
            if current is None or (force and current != content):
                target.write_text(content, encoding="utf-8")
                written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rewrite existing files (and the root azure.yaml)")
    args = parser.parse_args(argv)
    written = write(REPO_ROOT / "samples", force=args.force)
    if args.force:
        root = REPO_ROOT / "azure.yaml"
        if root.read_text(encoding="utf-8") != root_azure_yaml():
            root.write_text(root_azure_yaml(), encoding="utf-8")
            written.append(root)
    for path in written:
        print(f"wrote {path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
