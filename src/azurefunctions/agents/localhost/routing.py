"""Matching request paths against Functions route templates (``{name}``, ``{name?}``, ``{*rest}``, ``{id:int}``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..http.routes import template_regex

__all__ = ["HttpFunction", "template_regex"]

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
