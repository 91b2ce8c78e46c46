"""Which ``routePrefix`` the Functions host applies to the app's routes, read from the app's ``host.json``.

The host reads ``extensions.http.routePrefix`` from the ``host.json`` in the script root, ``api`` when the file
or the setting is missing (azure-functions-host, ``WebFunctionsManager.GetRoutePrefix``; the default is
``HttpOptions.RoutePrefix`` in azure-webjobs-sdk-extensions), and serves ``<prefix>/<route>`` for every
registered route (``WebJobsRouteBuilder.BuildRouteTemplate``). The Python worker imports the script
(``function_app.py``, or ``PYTHON_SCRIPT_FILE_NAME``) from that same script root
(azure-functions-python-worker, ``Dispatcher.load_function_metadata`` and ``loader.index_function_app``), so
the folder of the code that builds the app is where ``host.json`` is. ``AzureWebJobsScriptRoot`` names the
folder too where the host sets it (Core Tools, Linux Dedicated/Premium), but not everywhere (Linux
Consumption: ``DependencyManager._get_cx_working_dir``), so it is only a fallback. See docs/routes.md.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigurationError
from .routes import DEFAULT_ROUTE_PREFIX, normalize_prefix

HOST_FILE = "host.json"
SCRIPT_FILE_SETTING = "PYTHON_SCRIPT_FILE_NAME"
SCRIPT_FILE_DEFAULT = "function_app.py"
SCRIPT_ROOT_SETTING = "AzureWebJobsScriptRoot"


@dataclass(frozen=True)
class RoutePrefix:
    """The prefix and where it came from (a ``host.json``, the ``route_prefix=`` argument, or the default)."""

    value: str
    source: str


def read_route_prefix(directory: Path) -> str | None:
    """``extensions.http.routePrefix`` of ``directory/host.json``: ``api`` when unset, ``None`` with no file."""
    host_file = directory / HOST_FILE
    if not host_file.is_file():
        return None
    try:
        host = json.loads(host_file.read_text(encoding="utf-8-sig"))
    except ValueError as exc:
        raise ConfigurationError(f"{host_file} is not valid JSON: {exc}") from None
    http = ((host.get("extensions") or {}).get("http") or {}) if isinstance(host, dict) else {}
    try:
        return normalize_prefix(http.get("routePrefix") if isinstance(http, dict) else None)
    except ValueError as exc:
        raise ConfigurationError(f"{host_file}: extensions.http.routePrefix: {exc}") from None


def script_root_candidates(caller_file: str | None) -> list[Path]:
    """Folders that may hold the app's ``host.json``, most direct first: the folder of the code that builds
    the app, the folder of the script the worker imported, ``AzureWebJobsScriptRoot``, the working directory."""
    candidates: list[Path] = []
    if caller_file:
        candidates.append(Path(caller_file).resolve().parent)
    script_name = Path(os.environ.get(SCRIPT_FILE_SETTING) or SCRIPT_FILE_DEFAULT).stem
    script = getattr(sys.modules.get(script_name), "__file__", None)
    if script:
        candidates.append(Path(script).resolve().parent)
    root = os.environ.get(SCRIPT_ROOT_SETTING)
    if root:
        candidates.append(Path(root))
    candidates.append(Path.cwd())
    return _unique(candidates)


def discover_route_prefix(caller_file: str | None) -> RoutePrefix:
    """The prefix of the first candidate folder with a ``host.json``; the platform's default without one."""
    for directory in script_root_candidates(caller_file):
        prefix = read_route_prefix(directory)
        if prefix is not None:
            return RoutePrefix(prefix, str(directory / HOST_FILE))
    return RoutePrefix(DEFAULT_ROUTE_PREFIX, "default (no host.json found)")


def caller_file(skip_package: str) -> str | None:
    """The file of the nearest caller outside ``skip_package`` (the code that builds the app)."""
    frame = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module != skip_package and not str(module).startswith(skip_package + "."):
            name = frame.f_globals.get("__file__")
            return str(name) if name else None
        frame = frame.f_back  # type: ignore[assignment]
    return None


def _unique(paths: Iterable[Path]) -> list[Path]:
    seen: set[Path] = set()
    result = []
    for path in paths:
        if path not in seen:
            seen.add(path)
            result.append(path)
    return result
