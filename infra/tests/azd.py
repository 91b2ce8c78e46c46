"""How azd reads, places and runs hooks, ported line by line from its source so tests can run hooks as azd does.

Source: Azure/azure-dev at ae35809f (azd 1.24+), `cli/azd`:
- `pkg/ext/hooks_manager.go` `HooksManager.filterConfigs`: the `posix`/`windows` override replaces the whole hook;
  `inputCwd` is the project folder for project hooks and the service folder for service hooks
  (`cmd/middleware/hooks.go` `registerCommandHooks` / `registerServiceHooks`), `projectDir` is azure.yaml's folder.
- `pkg/ext/models.go` `HookConfig.validate` -> `parseRunTarget` (a `run` that names an existing file is a file hook,
  anything else is an inline script), `resolveKind` (kind from `kind`/`shell`, else the file extension; inline
  defaults to sh), `resolvePaths` (shell hooks run in `inputCwd`; other file hooks in the script's own folder),
  `enforceContainment` (a file hook's script or folder outside `projectDir` is refused; inline hooks are exempt).
- `pkg/tools/bash/bash.go` `bashExecutor.Prepare/Execute` + `pkg/tools/script.go` `CreateInlineTempScript` +
  `pkg/exec/command_runner.go` `newCmdTree`/`appendEnv`: an inline script is written to an executable temp file
  with a `#!/bin/sh` / `set -e` header and run as `/bin/sh -c <file>` in the hook's folder, with the process
  environment plus the azd environment's values (`hooks_runner.go` `execHook`: `h.env.Dotenv()`).
- `pkg/tools/language/project_discovery.go` `DiscoverProjectFile`: for a Python hook, azd pip-installs the first
  `pyproject.toml`/`requirements.txt`/`package.json`/`*.*proj` found walking up from the script to `projectDir`.
- `pkg/project/project_utils.go` `createDeployableZip`: the zip of a Function App service is its package folder
  (`dist`, `framework_service_python.go` `Build`/`Package`) minus `.azure/`, `.funcignore`, `local.settings.json`
  and what `.funcignore` lists.
"""

from __future__ import annotations

import fnmatch
import os
import subprocess
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SHELL_KINDS = ("sh", "pwsh")
KIND_BY_EXTENSION = {".sh": "sh", ".ps1": "pwsh", ".py": "python", ".js": "js", ".ts": "ts", ".cs": "dotnet"}
PROJECT_FILES = ("pyproject.toml", "requirements.txt", "package.json")


class HookConfigError(Exception):
    """azd refuses the hook before running it (the message is azd's)."""


@dataclass(frozen=True)
class Hook:
    """A hook as azd resolves it: where it runs and what it runs."""

    name: str
    scope: str  # "project" or "service"
    kind: str
    cwd: Path
    project_dir: Path
    inline_script: str = ""
    script_path: Path | None = None

    @property
    def installs(self) -> Path | None:
        """The project file azd pip-installs before running the hook (non-shell file hooks only)."""
        if self.kind in SHELL_KINDS or self.script_path is None:
            return None
        return discover_project_file(self.script_path, self.project_dir)


def discover_project_file(script_path: Path, boundary: Path) -> Path | None:
    """`DiscoverProjectFile`: walk up from the script's folder to the boundary."""
    current = script_path.parent.resolve()
    boundary = boundary.resolve()
    while True:
        for name in PROJECT_FILES:
            if (current / name).is_file():
                return current / name
        if any(current.glob("*.*proj")):
            return next(current.glob("*.*proj"))
        if current == boundary or current.parent == current:
            return None
        current = current.parent


def _contained(boundary: Path, path: Path) -> bool:
    return path == boundary or boundary in path.parents


def resolve(name: str, config: Mapping[str, Any], *, scope: str, input_cwd: Path, project_dir: Path) -> Hook:
    """`filterConfigs` (posix override) then `validate`: parseRunTarget, resolveKind, resolvePaths, containment."""
    if config.get("posix") is not None:
        config = config["posix"]
    run = config.get("run") or ""
    if not run:
        raise HookConfigError("'run' is required for every hook configuration.")
    dir_explicit = bool(config.get("dir"))
    candidate = Path(config["dir"]) / run if dir_explicit else Path(run)
    full = (input_cwd / candidate) if not candidate.is_absolute() else candidate
    relative_script = ""
    inline = ""
    if full.is_file():
        relative_script = str(candidate) if dir_explicit else run
    else:
        inline = run
        dir_explicit = False

    kind = config.get("kind") or config.get("shell") or ""
    if not kind and relative_script:
        kind = KIND_BY_EXTENSION.get(Path(relative_script).suffix.lower(), "")
    if inline and kind and kind not in SHELL_KINDS:
        raise HookConfigError(f"inline scripts are not supported for {kind} hooks.")
    if not kind and inline:
        kind = "sh"
    if not kind:
        raise HookConfigError("script type is not valid.")

    directory = config.get("dir") or ""
    if kind not in SHELL_KINDS and not dir_explicit and relative_script:
        directory = os.path.dirname(relative_script)  # resolveKind: Dir inferred from the script's folder
    cwd = input_cwd / directory if directory else input_cwd  # an absolute `dir` replaces input_cwd
    cwd = Path(os.path.abspath(cwd))
    script = Path(os.path.abspath(input_cwd / relative_script)) if relative_script else None

    if relative_script:
        boundary = Path(os.path.abspath(project_dir))
        if not _contained(boundary, cwd):
            raise HookConfigError(f'hook directory "{directory}" escapes project root "{project_dir}"')
        if script is not None and not _contained(boundary, script):
            raise HookConfigError(f'hook script path "{run}" escapes project root "{project_dir}"')
    return Hook(
        name=name,
        scope=scope,
        kind=kind,
        cwd=cwd,
        project_dir=project_dir,
        inline_script=inline,
        script_path=script,
    )


def hooks_of(azure_yaml: Path) -> list[Hook]:
    """Every project and service hook of an azure.yaml, resolved as azd resolves them on Linux/macOS."""
    document = yaml.safe_load(azure_yaml.read_text(encoding="utf-8"))
    project_dir = azure_yaml.parent.resolve()
    found = [
        resolve(name, config, scope="project", input_cwd=project_dir, project_dir=project_dir)
        for name, config in (document.get("hooks") or {}).items()
    ]
    for service in (document.get("services") or {}).values():
        service_dir = Path(os.path.abspath(project_dir / service["project"]))
        for name, config in (service.get("hooks") or {}).items():
            found.append(resolve(name, config, scope="service", input_cwd=service_dir, project_dir=project_dir))
    return found


def hook_named(azure_yaml: Path, name: str) -> Hook:
    matches = [hook for hook in hooks_of(azure_yaml) if hook.name == name]
    assert len(matches) == 1, f"{azure_yaml}: {len(matches)} hooks named {name}"
    return matches[0]


def run_hook(
    hook: Hook, azd_env: Mapping[str, str], process_env: Mapping[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run a shell hook as `bashExecutor` does: temp script, `/bin/sh -c <file>`, hook folder, process + azd env."""
    assert hook.kind == "sh", f"{hook.name}: only sh hooks run here (kind {hook.kind})"
    env = {**process_env, **azd_env}
    if hook.inline_script:
        content = "#!/bin/sh\nset -e\n\n# Auto generated file from Azure Developer CLI\n" + hook.inline_script + "\n"
        with tempfile.NamedTemporaryFile("w", prefix=f"azd-{hook.name}-", suffix=".sh", delete=False) as file:
            file.write(content)
        path = Path(file.name)
        path.chmod(0o700)
    else:
        assert hook.script_path is not None
        path = hook.script_path
    try:
        return subprocess.run(
            ["/bin/sh", "-c", str(path)],
            cwd=hook.cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    finally:
        if hook.inline_script:
            path.unlink()


def _funcignored(relative: str, is_dir: bool, patterns: list[str]) -> bool:
    # The gitignore forms the samples' .funcignore files use (go-gitignore semantics for them).
    name = relative.rsplit("/", 1)[-1]
    for pattern in patterns:
        directory_only = pattern.endswith("/")
        bare = pattern.rstrip("/")
        if directory_only and not is_dir:
            continue
        if "/" in bare.lstrip("/"):
            if fnmatch.fnmatch(relative, bare.lstrip("/")):
                return True
        elif fnmatch.fnmatch(name, bare.lstrip("/")):
            return True
    return False


def deployable_zip(service: Mapping[str, Any], service_dir: Path, into: Path) -> Path:
    """`createDeployableZip` for a Function App: zip `dist` (or the service folder) as azd does."""
    root = service_dir / service["dist"] if service.get("dist") else service_dir
    if not root.is_dir() or not any(root.iterdir()):
        raise HookConfigError(f"package source '{root}' is empty or does not exist")
    ignore = root / ".funcignore"
    patterns = []
    if ignore.is_file():
        patterns = [line.strip() for line in ignore.read_text().splitlines() if line.strip() and line[0] != "#"]
    archive = into / "azddeploy.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for directory, dirnames, filenames in os.walk(root):
            base = Path(directory)
            rel_base = base.relative_to(root).as_posix()
            keep = []
            for dirname in sorted(dirnames):
                relative = f"{rel_base}/{dirname}" if rel_base != "." else dirname
                if dirname == ".azure" or _funcignored(relative, True, patterns):
                    continue
                keep.append(dirname)
            dirnames[:] = keep
            for filename in sorted(filenames):
                relative = f"{rel_base}/{filename}" if rel_base != "." else filename
                if filename in (".funcignore", "local.settings.json") or _funcignored(relative, False, patterns):
                    continue
                zipped.write(base / filename, relative)
    return archive
