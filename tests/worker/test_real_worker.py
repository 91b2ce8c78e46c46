"""Every sample run by the real Functions worker library on Python 3.13, driven with the host's RPC messages
(tests/worker/harness.py), compared with the local host serving the same sample.

What the host is told at indexing (function names, bindings, routes, auth levels) must match what the local
host serves, and the same requests must get the same answers from both. The library is
``azure-functions-runtime`` 1.3.0 (the worker Azure runs for Python 3.13+; azure_functions_runtime/
handle_event.py): ``worker_init_request`` indexes the app (``loader.index_function_app``),
``functions_metadata_request`` returns ``RpcFunctionMetadata`` with the bindings as JSON (``raw_bindings``),
``invocation_request`` converts the ``RpcHttp`` input with azure-functions' converters and the function's
``HttpResponse`` back into the ``InvocationResponse`` ``return_value``.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers.localhost import LocalHostProcess, app_env
from tests.servers.network_guard.plugin import guarded_env
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply
from tests.worker import prepare

REPO = Path(__file__).resolve().parents[2]
SAMPLES = sorted(p.parent.name for p in (REPO / "samples").glob("*/function_app.py"))
HARNESS = Path(__file__).with_name("harness.py")
FUNCTION_LINE = re.compile(r"^  (\S+): \[([A-Z,]+)\] http://127\.0\.0\.1:\d+(\S+)  \(auth: (\w+)\)$", re.MULTILINE)


@pytest.fixture(scope="module")
def worker_python() -> str:
    reason = prepare.ready()
    if reason is not None:
        pytest.skip(reason)  # a failure under CI=true: the test command prepares it
    return str(prepare.venv_python())


def run_worker(python: str, sample: str, env: dict[str, str], requests: list[dict[str, Any]]) -> dict[str, Any]:
    result = subprocess.run([python, str(HARNESS), str(prepare.PROTOS_OUT), str(REPO / "samples" / sample)],
                            input=json.dumps(requests), capture_output=True, text=True, timeout=300,
                            env=guarded_env(env))
    assert result.returncode == 0, result.stderr[-3000:]
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def local_functions(output: str) -> dict[str, tuple[str, str]]:
    """name -> (path, auth level) of the HTTP functions the local host printed."""
    return {name: (path, auth) for name, _methods, path, auth in FUNCTION_LINE.findall(output)}


def first_agent(client: httpx.Client) -> str | None:
    """The first agent the app lists, or None for an app without the framework's routes."""
    listing = client.get("/api/agents")
    agents = listing.json().get("agents") if listing.status_code == 200 else None
    return str(agents[0]["name"]) if agents else None


def requests_for(agent: str | None) -> list[dict[str, Any]]:
    if agent is None:  # the app's own routes (queue-trigger: create_triggers=False)
        return [{"method": "GET", "path": "/api/health"}, {"method": "GET", "path": "/api/tickets/T-1"},
                {"method": "GET", "path": "/api/agents"}]
    chat = f"/api/agents/{agent}/chat"
    return [
        {"method": "GET", "path": "/api/health"},
        {"method": "GET", "path": "/api/agents"},
        {"method": "GET", "path": f"/api/agents/{agent}/info"},
        {"method": "POST", "path": chat, "body": '{"message": 7}', "headers": {"content-type": "application/json"}},
        {"method": "POST", "path": chat, "body": '{"message": "\\ud800"}',
         "headers": {"content-type": "application/json"}},
        {"method": "GET", "path": chat},
        {"method": "GET", "path": "/api/agents/NoSuchAgent/info"},
        {"method": "POST", "path": chat, "body": '{"message": "Hello there"}',
         "headers": {"content-type": "application/json"}},
    ]


@pytest.mark.parametrize("sample", SAMPLES)
def test_the_real_worker_serves_the_sample_like_the_local_host(sample: str, worker_python: str,
                                                               model: OpenAIServer, tmp_path: Path) -> None:
    env = app_env(tmp_path, model)
    with LocalHostProcess(REPO / "samples" / sample, env=env) as host, \
            httpx.Client(base_url=host.url, timeout=30) as client:
        served = local_functions(host.output)
        agent = first_agent(client)
        requests = requests_for(agent)
        model.script.clear()
        model.script.add(Reply(text="Hello from the model."))
        local = []
        for item in requests:
            reply = client.request(item["method"], item["path"], content=item.get("body", "").encode(),
                                   headers=item.get("headers") or {})
            local.append((reply.status_code, reply.text))

    model.script.clear()
    model.script.add(Reply(text="Hello from the model."))
    worker_env = {**app_env(tmp_path / "worker", model), "AGENTS_SESSION_DB": str(tmp_path / "worker.sqlite3")}
    (tmp_path / "worker").mkdir(exist_ok=True)
    report = run_worker(worker_python, sample, worker_env, requests)

    assert report["init"]["status"] == 1, report["init"]  # StatusResult.Success
    http = {f["name"]: f for f in report["functions"] if str(f["trigger"]).lower() == "httptrigger"}
    assert all(f["loaded"] for f in report["functions"])
    # What the host is told matches what the local host serves: names, routes (under the prefix), auth levels.
    prefix = str((json.loads((REPO / "samples" / sample / "host.json").read_text()).get("extensions") or {})
                 .get("http", {}).get("routePrefix", "api")).strip("/")
    told = {name: ("/" + "/".join(p for p in (prefix, f["route"]) if p), f["auth_level"].lower())
            for name, f in http.items()}
    assert served and told == served
    for f in http.values():
        assert f["bindings"][-1] == "OUT:http:$return" and any(b.startswith("IN:httpTrigger:") for b in f["bindings"])

    if "HttpUri" in report["init"]["capabilities"]:  # HTTP streams: requests went to the worker's own server
        assert report["init"]["capabilities"].get("RequiresRouteParameters") == "true"
    assert len(report["answers"]) == len(requests)
    for item, (status, text), answer in zip(requests, local, report["answers"], strict=True):
        where = f"{item['method']} {item['path']}"
        assert answer.get("status") == status, (where, answer, text[:300])
        if answer["function"] is None:
            continue  # no function's route matched: the host itself answers 404
        if text.startswith("{"):
            mine, theirs = json.loads(text), json.loads(answer["body"])
            for volatile in ("session_id", "conversation_id", "usage", "duration_ms", "turn_id"):
                mine.pop(volatile, None)
                theirs.pop(volatile, None)
            assert theirs == mine, where
