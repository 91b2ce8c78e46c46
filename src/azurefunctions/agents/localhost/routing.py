"""Matching request paths against Functions route templates (``{name}``, ``{name?}``, ``{*rest}``, ``{id:int}``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_SEGMENT = re.compile(r"{(\*?)(\w+)(?::[^}?]+)?(\??)}")


def template_regex(template: str) -> re.Pattern[str]:
    pattern = ""
    position = 0
    for match in _SEGMENT.finditer(template):
        pattern += re.escape(template[position:match.start()])
        catch_all, name, optional = match.group(1), match.group(2), match.group(3)
        body = ".*" if catch_all else "[^/]+"
        pattern += f"(?P<{name}>{body})" + ("?" if optional else "")
        position = match.end()
    pattern += re.escape(template[position:])
    return re.compile(f"^{pattern}/?$", re.IGNORECASE)


@dataclass
class HttpFunction:
    name: str
    path: str  # full path with the route prefix, leading slash
    regex: re.Pattern[str]
    methods: set[str]
    auth_level: str  # ANONYMOUS, FUNCTION or ADMIN
    function: Any  # the user function
    streams: bool  # takes a Starlette request (HTTP-streams model)

    def match(self, path: str, method: str) -> dict[str, str] | None:
        if self.methods and method.upper() not in self.methods:
            return None
        found = self.regex.match(path)
        if found is None:
            return None
        return {k: v for k, v in found.groupdict().items() if v is not None}
