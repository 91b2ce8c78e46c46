"""Write the azd files a sample needs to deploy on its own: `azure.yaml` and `.funcignore`.

`python scripts/azd/sample_files.py` adds them to every folder under samples/ with a function_app.py that
lacks them (existing files are left alone), so `cd samples/<name> && azd up` works for a new sample.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

AZURE_YAML = """\
# yaml-language-server: $schema=https://raw.githubusercontent.com/Azure/azure-dev/main/schemas/v1.0/azure.yaml.json
# Deploy this sample on its own: `cd samples/{name} && azd up`. It reuses the repository's Pulumi program
# (infra/) and hooks; its azd environments live in this folder's .azure/.
name: azurefunctions-agents-{name}
metadata:
  template: azurefunctions-agents@0.1.0
requiredVersions:
  azd: ">= 1.24.0"
services:
  api:
    project: .
    language: python
    host: function
    hooks:
      prepackage:
        run: ../../scripts/package.py
hooks:
  preprovision:
    run: ../../scripts/azd/provision.py
    interactive: true
  predown:
    run: ../../scripts/azd/down.py
    interactive: true
workflows:
  up:
    steps:
      - azd: hooks run preprovision
      - azd: package --all
      - azd: deploy --all
"""

FUNCIGNORE = """\
# Kept out of the deployment package (the remote build installs requirements.txt, wheels/ included).
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
"""


def write_missing(samples_dir: Path) -> list[Path]:
    written = []
    for app in sorted(samples_dir.glob("*/function_app.py")):
        sample = app.parent
        for filename, content in (("azure.yaml", AZURE_YAML.format(name=sample.name)), (".funcignore", FUNCIGNORE)):
            target = sample / filename
            if not target.exists():
                target.write_text(content, encoding="utf-8")
                written.append(target)
    return written


if __name__ == "__main__":
    for path in write_missing(REPO_ROOT / "samples"):
        print(f"wrote {path.relative_to(REPO_ROOT)}")
    sys.exit(0)
