"""The HTTP tests' Function App in streams mode: the same agents (read from ``tests/hosting/apps/basic``),
registered with the HTTP-streams extension's types. Its agents do not stream by default, so every JSON answer
must be exactly what the classic app gives."""

import runpy
from pathlib import Path

from azurefunctions.agents import AgentFunctionApp

_basic = runpy.run_path(str(Path(__file__).resolve().parents[3] / "hosting" / "apps" / "basic" / "function_app.py"))

app = AgentFunctionApp(agents=[_basic["orders"], _basic["greeter"]], streaming=True)
