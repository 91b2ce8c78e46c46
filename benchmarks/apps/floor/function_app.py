"""The HTTP floor: a bare Azure Functions app whose chat route runs the floor's ``openai`` tool loop.

Served by the same local host as this project's app, so the difference between the two is what the
framework's HTTP route adds. The loop itself is the floor runner's (``benchmarks/runners/run_floor.py``).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import azure.functions as func

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "runners"))

import run_floor

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
_client: Any = None


@app.route(route="api/agents/{name}/chat", methods=["POST"])
async def chat(req: func.HttpRequest) -> func.HttpResponse:
    global _client
    if _client is None:
        _client = run_floor.build(os.environ["OPENAI_BASE_URL"])
    message = req.get_json()["message"]
    answer = await run_floor.turn(_client, message)
    body = {"status": "success", "response": answer, "agent": req.route_params["name"]}
    return func.HttpResponse(json.dumps(body), mimetype="application/json")
