"""The README's "Build your own agent" code, served from a user's own project folder, answers the README's curl
commands at the documented URLs, whatever ``host.json`` the project has.

The Functions host reads ``extensions.http.routePrefix`` from the script root's ``host.json``, ``api`` when the
file or the setting is missing (azure-functions-host ``WebFunctionsManager.GetRoutePrefix``; the default is
``HttpOptions.RoutePrefix`` in azure-webjobs-sdk-extensions), and serves ``<prefix>/<route>``
(``WebJobsRouteBuilder.BuildRouteTemplate``). The local host applies it the same way; the commands run with the
real ``curl`` against it over HTTP, and the app's model is the OpenAI SDK talking to the local OpenAI server.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers.localhost import LocalHostProcess, app_env
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, ScriptedToolCall

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SECTION = README.split("## Build your own agent", 1)[1].split("\n## ", 1)[0]
README_PORT_URL = "http://127.0.0.1:7071"

#: What ``func init --worker-runtime python`` writes: Core Tools' StaticResources/host.json with the extension
#: bundle appended (azure-functions-core-tools, src/Azure.Functions.Cli/StaticResources/host.json and
#: ``InitAction.WriteHostJson``). No routePrefix: the platform's default ``api`` applies.
FUNC_INIT_HOST_JSON = {
    "version": "2.0",
    "logging": {"applicationInsights": {"samplingExcludedTypes": "Request",
                                        "samplingSettings": {"isEnabled": True}}},
    "extensionBundle": {"id": "Microsoft.Azure.Functions.ExtensionBundle", "version": "[4.*, 5.0.0)"},
}


def _with_prefix(prefix: str) -> dict[str, Any]:
    return {**FUNC_INIT_HOST_JSON, "extensions": {"http": {"routePrefix": prefix}}}


#: (case id, host.json or None for no file, where the README's /api paths are served)
PROJECTS = [
    ("no-host-json", None, "/api"),
    ("func-init-host-json", FUNC_INIT_HOST_JSON, "/api"),
    ("route-prefix-empty", _with_prefix(""), "/api"),
    ("route-prefix-v1", _with_prefix("v1"), "/v1"),
]


def readme_code() -> str:
    blocks = re.findall(r"```python\n(.*?)```", SECTION, re.DOTALL)
    assert len(blocks) == 1, "the section shows one function_app.py"
    return blocks[0]


def readme_curl_commands() -> list[list[str]]:
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", SECTION, re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip().startswith("curl "):
                commands.append(shlex.split(line.split(" #", 1)[0]))
    assert len(commands) == 3, commands
    return commands


@pytest.fixture(scope="module", params=PROJECTS, ids=[p[0] for p in PROJECTS])
def project(request: pytest.FixtureRequest, model: OpenAIServer,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalHostProcess, str]]:
    _, host_json, api_base = request.param
    folder = tmp_path_factory.mktemp("my-agent")
    (folder / "function_app.py").write_text(readme_code(), encoding="utf-8")
    if host_json is not None:
        (folder / "host.json").write_text(json.dumps(host_json, indent=2), encoding="utf-8")
    env = app_env(tmp_path_factory.mktemp("state"), model)
    with LocalHostProcess(folder, env=env, health_path=f"{api_base}/health") as host:
        yield host, api_base


def curl(command: list[str], base_url: str, api_base: str) -> tuple[int, dict[str, str], Any]:
    """Run one README command against ``base_url``, its ``/api`` replaced by where the prefix serves it."""
    args = [arg.replace(README_PORT_URL + "/api", base_url + api_base) for arg in command]
    assert any(arg.startswith(base_url) for arg in args), args
    env = {key: value for key, value in os.environ.items() if "proxy" not in key.lower()}
    out = subprocess.run([*args, "--silent", "--show-error", "--include", "--noproxy", "*", "--max-time", "30"],
                         capture_output=True, text=True, timeout=60, check=True, env=env)
    head, _, body = out.stdout.replace("\r\n", "\n").partition("\n\n")
    status = int(head.split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head.splitlines()[1:])}
    return status, headers, json.loads(body) if body.strip() else None


def test_the_readme_commands_answer_at_the_documented_urls(project: tuple[LocalHostProcess, str],
                                                           model: OpenAIServer) -> None:
    host, api_base = project
    model.script.clear()
    model.script.add(Reply(tool_calls=[ScriptedToolCall("get_weather", {"city": "Seattle"})]),
                     Reply(text="Seattle is 18°C and sunny."))
    health, info, chat = readme_curl_commands()

    status, _, body = curl(health, host.url, api_base)
    assert (status, body["status"]) == (200, "healthy")

    status, _, body = curl(info, host.url, api_base)
    assert status == 200 and body["name"] == "WeatherBot"
    assert body["routes"]["chat"] == f"{api_base}/agents/WeatherBot/chat"
    assert [tool["name"] for tool in body["tools"]] == ["get_weather"]

    status, _, body = curl(chat, host.url, api_base)
    assert status == 200, body
    assert body["status"] == "success" and body["response"] == "Seattle is 18°C and sunny."
    assert [(c["name"], c["result"]) for c in body["tool_calls"]] == [("get_weather", "Seattle: 18°C and sunny")]


def test_the_prefix_is_applied_once_and_the_description_agrees(project: tuple[LocalHostProcess, str]) -> None:
    host, api_base = project
    import httpx

    with httpx.Client(base_url=host.url, timeout=30, trust_env=False) as client:
        assert client.get(f"{api_base}/api/agents").status_code == 404  # never /api/api/...
        if api_base != "/api":
            assert client.get("/api/agents").status_code == 404  # the prefix replaces api
        listing = client.get(f"{api_base}/agents").json()
        assert listing["agents"][0]["routes"]["info"] == f"{api_base}/agents/WeatherBot/info"
        document = client.get(f"{api_base}/openapi.json").json()
        assert f"{api_base}/agents/{{agent_name}}/chat" in document["paths"]
        assert all(path.startswith(api_base + "/") for path in document["paths"])
        alias = document["paths"][f"{api_base}/{{agent_name}}/chat"]["post"]
        assert alias["deprecated"] is True
        # The local host lists every function under the prefix it read from host.json.
        assert f"{host.url}{api_base}/agents/{{agent_name}}/chat" in host.output


def test_the_original_short_paths_are_deprecated_aliases(project: tuple[LocalHostProcess, str],
                                                         model: OpenAIServer) -> None:
    host, api_base = project
    import httpx

    model.script.clear()
    model.script.add(Reply(text="Hello from WeatherBot."))
    with httpx.Client(base_url=host.url, timeout=30, trust_env=False) as client:
        info = client.get(f"{api_base}/WeatherBot/info")
        assert info.status_code == 200 and info.json()["name"] == "WeatherBot"
        assert info.headers["deprecation"] == "true"
        assert info.headers["link"] == f'<{api_base}/agents/WeatherBot/info>; rel="successor-version"'
        chat = client.post(f"{api_base}/WeatherBot/chat", json={"message": "Hi"})
        assert chat.status_code == 200 and chat.json()["response"] == "Hello from WeatherBot."
        assert chat.headers["deprecation"] == "true"
        unknown = client.post(f"{api_base}/Nobody/chat", json={"message": "Hi"})
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "agent_not_found"
        # A first segment of the app's own routes is never an agent alias: this is session "info".
        session = client.get(f"{api_base}/sessions/info")
        assert session.status_code == 404 and session.json()["error"]["code"] == "session_not_found"
