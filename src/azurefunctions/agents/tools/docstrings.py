"""Summary and per-parameter descriptions from Google, Sphinx/reST or NumPy style docstrings.

Parsing is ``docstring-parser``'s (it detects the style); this module only shapes its result into what a tool
schema needs: one line of summary and one line per parameter.
"""

from __future__ import annotations

import docstring_parser

#: The section keywords docstring-parser files parameters under (not ``attribute``: not an argument).
_PARAMETER_KEYWORDS = frozenset({"param", "parameter", "arg", "argument", "key", "keyword"})


def _one_line(text: str | None) -> str:
    return " ".join(line.strip() for line in (text or "").splitlines() if line.strip())


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """(summary, {parameter: description}). The summary is the text before the first section."""
    if not doc or not doc.strip():
        return "", {}
    try:
        parsed = docstring_parser.parse(doc)
    except docstring_parser.ParseError:
        # A docstring that reads as no known style is still a description.
        return _one_line(doc), {}
    summary = _one_line("\n".join(part for part in (parsed.short_description, parsed.long_description) if part))
    params = {param.arg_name.lstrip("*"): _one_line(param.description)
              for param in parsed.params if param.args and param.args[0] in _PARAMETER_KEYWORDS}
    return summary, params
