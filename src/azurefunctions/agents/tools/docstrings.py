"""Summary and per-parameter descriptions from Google, Sphinx/reST or NumPy style docstrings."""

from __future__ import annotations

import inspect
import re

_SPHINX_PARAM = re.compile(r"^:param\s+(?:[^:]*\s)?(\w+):\s*(.*)$")
_GOOGLE_SECTION = re.compile(r"^(Args|Arguments|Parameters|Params):\s*$")
_NUMPY_UNDERLINE = re.compile(r"^-{3,}\s*$")
_GOOGLE_PARAM = re.compile(r"^(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_OTHER_SECTION = re.compile(
    r"^(Returns?|Raises|Yields|Examples?|Notes?|See Also|Attributes|Warnings?)\s*:?\s*$", re.IGNORECASE
)


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """(summary, {parameter: description}). The summary is the text before the first section."""
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    summary: list[str] = []
    params: dict[str, str] = {}
    section: str | None = None
    current: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if match := _SPHINX_PARAM.match(stripped):
            current = match.group(1)
            params[current] = match.group(2).strip()
            section = "sphinx"
        elif _GOOGLE_SECTION.match(stripped):
            section, current = "google", None
        elif stripped in ("Parameters", "Args", "Arguments") and _NUMPY_UNDERLINE.match(nxt):
            section, current = "numpy", None
            i += 1
        elif _OTHER_SECTION.match(stripped) or (stripped and _NUMPY_UNDERLINE.match(nxt)):
            section, current = "other", None
            if _NUMPY_UNDERLINE.match(nxt):
                i += 1
        elif section == "sphinx" and stripped.startswith(":"):
            section, current = "other", None
        elif section == "google" and (match := _GOOGLE_PARAM.match(stripped)):
            indent = len(line) - len(line.lstrip())
            if current is not None and indent > _indent_of(lines, current):
                params[current] = f"{params[current]} {stripped}".strip()
            else:
                current = match.group(1).lstrip("*")
                params[current] = match.group(2).strip()
        elif section == "numpy" and stripped and not line.startswith((" ", "\t")):
            current = stripped.split(":")[0].strip()
            params[current] = ""
        elif section in ("google", "numpy", "sphinx") and current is not None and stripped:
            params[current] = f"{params[current]} {stripped}".strip()
        elif section is None:
            summary.append(line)
        i += 1
    return " ".join(s.strip() for s in summary if s.strip()), params


def _indent_of(lines: list[str], name: str) -> int:
    for line in lines:
        stripped = line.lstrip()
        if stripped.startswith(name) or stripped.startswith(f"*{name}"):
            return len(line) - len(stripped)
    return 0
