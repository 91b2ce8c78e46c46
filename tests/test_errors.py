"""The error classes of ``azurefunctions.agents.errors``: each is raised (or caught by name) somewhere in the
runtime, so every code a client may be told about is one the runtime really gives, and no two classes share a
code."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import azurefunctions.agents.errors as errors

PACKAGE = Path(errors.__file__).parent


def error_classes() -> dict[str, type[errors.AgentFrameworkError]]:
    return {name: value for name, value in vars(errors).items()
            if inspect.isclass(value) and issubclass(value, errors.AgentFrameworkError)
            and value.__module__ == errors.__name__}


def names_used_outside_errors() -> set[str]:
    used: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        if path == Path(errors.__file__):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Name):
                used.add(node.id)
            elif isinstance(node, ast.Attribute):
                used.add(node.attr)
    return used


def test_every_error_class_is_used_by_the_runtime() -> None:
    unused = sorted(set(error_classes()) - names_used_outside_errors())
    assert not unused, f"declared in errors.py but never raised or caught: {unused}"


def test_no_two_error_classes_share_a_code() -> None:
    by_code: dict[str, list[str]] = {}
    for name, cls in error_classes().items():
        by_code.setdefault(cls.code, []).append(name)
    assert {code: names for code, names in by_code.items() if len(names) > 1} == {}
