"""Loading a Function App folder the way Core Tools does: settings first, then ``function_app.py``."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import azure.functions as func

from ..errors import ConfigurationError
from ..http.hostjson import read_route_prefix
from ..http.routes import DEFAULT_ROUTE_PREFIX


@dataclass
class LoadedApp:
    directory: Path
    app: func.FunctionApp
    functions: list[Any]  # azure.functions.decorators.core.Function; get_functions() can run only once
    route_prefix: str
    loaded_settings: list[str]


def load_settings(directory: Path) -> list[str]:
    """``local.settings.json`` ``Values`` and ``.env`` into the environment; variables already set win."""
    loaded: list[str] = []
    settings_file = directory / "local.settings.json"
    if settings_file.is_file():
        try:
            values = json.loads(settings_file.read_text(encoding="utf-8")).get("Values") or {}
        except ValueError as exc:
            raise SystemExit(f"{settings_file} is not valid JSON: {exc}") from None
        for key, value in values.items():
            if key not in os.environ and value is not None:
                os.environ[key] = str(value)
                loaded.append(key)
    env_file = directory / ".env"
    if env_file.is_file():
        from dotenv import dotenv_values

        for key, value in dotenv_values(env_file).items():
            if key not in os.environ and value is not None:
                os.environ[key] = value
                loaded.append(key)
    return loaded


def route_prefix(directory: Path) -> str:
    """``extensions.http.routePrefix`` of ``host.json``, read as the Functions host reads it: ``api`` when the
    file or the setting is missing (azure-functions-host ``WebFunctionsManager.GetRoutePrefix``)."""
    try:
        prefix = read_route_prefix(directory)
    except ConfigurationError as exc:
        raise SystemExit(str(exc)) from None
    return DEFAULT_ROUTE_PREFIX if prefix is None else prefix


def load_app(directory: Path, *, settings_files: bool = True) -> LoadedApp:
    directory = directory.resolve()
    script = directory / "function_app.py"
    if not script.is_file():
        raise SystemExit(f"{script} not found: point serve at a Function App folder (one with function_app.py)")
    loaded = load_settings(directory) if settings_files else []
    os.chdir(directory)
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
    spec = importlib.util.spec_from_file_location("function_app", script)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot import {script}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["function_app"] = module
    spec.loader.exec_module(module)
    apps = [value for value in vars(module).values() if isinstance(value, func.FunctionApp)]
    if len(apps) != 1:
        raise SystemExit(f"{script} must define exactly one FunctionApp (found {len(apps)})")
    app = apps[0]
    return LoadedApp(directory=directory, app=app, functions=list(app.get_functions()),
                     route_prefix=route_prefix(directory), loaded_settings=loaded)
