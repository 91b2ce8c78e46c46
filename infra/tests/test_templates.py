"""Template files: azure.yaml of the root and of every sample, host.json and local.settings.json.template,
validated offline against the published schemas, vendored in infra/tests/schemas/ (see its README for sources
and licences); azd's remote `$ref`s are served from there too. A missing schema fails the run: nothing here skips."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT7

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = Path(__file__).resolve().parent / "schemas"
EXTENSIONS_URL = "https://raw.githubusercontent.com/Azure/azure-dev/main/cli/azd/extensions/"
SAMPLES = sorted(p.parent for p in REPO.glob("samples/*/function_app.py"))

REQUIRED_SCHEMAS = ("azure.yaml.json", "host.json", "local.settings.json", "README.md")


def test_the_schemas_are_in_the_repository() -> None:
    missing = [name for name in REQUIRED_SCHEMAS if not (SCHEMAS / name).is_file()]
    assert missing == [], f"missing from {SCHEMAS.relative_to(REPO)}: {missing}"
    assert SCHEMAS.is_relative_to(REPO)


def _offline(uri: str) -> Resource[Any]:
    if uri.startswith(EXTENSIONS_URL):
        path = SCHEMAS / "azd-extensions" / uri[len(EXTENSIONS_URL) :]
        if not path.is_file():
            raise FileNotFoundError(f"{uri} is not vendored at {path}")
        return Resource.from_contents(json.loads(path.read_text()), default_specification=DRAFT7)
    raise NoSuchResource(ref=uri)  # type: ignore[call-arg]  # never fetch anything


def errors(validator_cls: Any, schema_file: str, document: Any, **kwargs: Any) -> list[str]:
    schema = json.loads((SCHEMAS / schema_file).read_text(encoding="utf-8"))
    validator = validator_cls(schema, **kwargs)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def azure_yaml_errors(document: Any) -> list[str]:
    return errors(jsonschema.Draft201909Validator, "azure.yaml.json", document, registry=Registry(retrieve=_offline))  # type: ignore[call-arg]


AZURE_YAMLS = [REPO / "azure.yaml", *(s / "azure.yaml" for s in SAMPLES)]


@pytest.mark.parametrize("path", AZURE_YAMLS, ids=lambda p: str(p.relative_to(REPO)))
def test_azure_yaml_is_valid(path: Path) -> None:
    assert path.is_file(), f"{path.relative_to(REPO)} is missing: every sample deploys with its own azure.yaml"
    assert azure_yaml_errors(yaml.safe_load(path.read_text(encoding="utf-8"))) == []


def test_the_validator_rejects_a_bad_azure_yaml() -> None:
    bad = {
        "name": "Bad Name!",
        "services": {"api": {"project": ".", "language": "python"}},
        "hooks": {"preprovisionn": {"run": "x.py"}},
    }
    assert len(azure_yaml_errors(bad)) >= 2


def test_every_azure_yaml_is_the_generated_one() -> None:
    # One source for the azd files: scripts/azd/sample_files.py (`--force` rewrites them all).
    sys.path.insert(0, str(REPO / "scripts" / "azd"))
    try:
        import sample_files
    finally:
        sys.path.pop(0)
    assert (REPO / "azure.yaml").read_text(encoding="utf-8") == sample_files.root_azure_yaml()
    for sample in SAMPLES:
        assert (sample / "azure.yaml").read_text(encoding="utf-8") == sample_files.sample_azure_yaml(sample.name)
        assert (sample / ".funcignore").read_text(encoding="utf-8") == sample_files.FUNCIGNORE


@pytest.mark.parametrize("path", AZURE_YAMLS, ids=lambda p: str(p.relative_to(REPO)))
def test_azure_yaml_points_at_the_app_and_the_infrastructure(path: Path) -> None:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    project = (path.parent / document["services"]["api"]["project"]).resolve()
    assert (project / "function_app.py").is_file()
    infra = (path.parent / document["infra"]["path"]).resolve()
    assert infra == REPO / "infra"
    assert (infra / f"{document['infra']['module']}.bicep").is_file()


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_host_json_is_valid(sample: Path) -> None:
    document = json.loads((sample / "host.json").read_text(encoding="utf-8"))
    assert errors(jsonschema.Draft7Validator, "host.json", document) == []
    assert document["extensions"]["http"]["routePrefix"] == ""


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_local_settings_template_is_valid(sample: Path) -> None:
    document = json.loads((sample / "local.settings.json.template").read_text(encoding="utf-8"))
    assert errors(jsonschema.Draft4Validator, "local.settings.json", document) == []


def test_schema_validators_reject_bad_files() -> None:
    assert errors(jsonschema.Draft7Validator, "host.json", {"version": "1.0"})
    assert errors(jsonschema.Draft4Validator, "local.settings.json", {"IsEncrypted": "no"})


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_funcignore_keeps_local_files_out_and_wheels_in(sample: Path) -> None:
    path = sample / ".funcignore"
    assert path.is_file(), f"{path.relative_to(REPO)} is missing"
    patterns = {line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")}
    assert {"tests/", ".venv/", "local.settings.json", ".azure/", ".env"} <= patterns
    assert not any(p.startswith("wheels") for p in patterns)


def _run_template_tests(clone: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "infra/tests/test_templates.py",
            "-q",
            "-p",
            "no:cacheprovider",
            "-k",
            "not in_a_fresh_clone",
            "-rs",
        ],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(clone.parent)},
    )


def test_the_template_tests_pass_in_a_fresh_clone_and_fail_without_a_schema(tmp_path: Path) -> None:
    from tests.conftest import clone_repository

    clone = clone_repository(tmp_path)  # in a temporary folder: nothing beside it to read schemas from
    passed = _run_template_tests(clone)
    assert passed.returncode == 0, passed.stdout[-3000:]
    assert " passed" in passed.stdout and "skipped" not in passed.stdout

    (clone / "infra" / "tests" / "schemas" / "host.json").unlink()
    failed = _run_template_tests(clone)
    assert failed.returncode == 1, failed.stdout[-3000:]
    assert "skipped" not in failed.stdout
    assert "missing from infra/tests/schemas: ['host.json']" in failed.stdout
