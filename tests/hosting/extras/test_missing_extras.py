"""A missing optional dependency names the extra that installs it: in the HTTP error a caller of the served app
gets (through the local host, over real HTTP) and in the exception Python code gets.

Each case runs in its own process started by ``blocked_python.py``, where the extra's modules cannot be
imported, exactly as when the extra was not installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from tests.servers.localhost import LocalHostProcess, app_env
from tests.servers.openai_server import OpenAIServer

BLOCKED_PYTHON = Path(__file__).with_name("blocked_python.py")
INSTALL = "pip install 'azurefunctions-agent-framework[{}]'"

README_AGENT = """
from azurefunctions.agents import Agent, AgentFunctionApp, AgentMode, MCPServer, MCPServerMode, MCPServerStdioParams
from azurefunctions.agents.types import LLMConfig, LLMProvider

OPTIONS = {options}
agent = Agent(
    name="WeatherBot",
    instructions="Answer weather questions.",
    llm_config=LLMConfig(provider=LLMProvider.{provider}, model_name="some-model"),
    mcp_servers=[MCPServer("clock", MCPServerMode.STDIO, MCPServerStdioParams(command="{python}"))]
    if OPTIONS.get("mcp") else [],
    streaming=bool(OPTIONS.get("streaming")),
)
app = AgentFunctionApp(agents={{"WeatherBot": agent}}, mode=OPTIONS.get("mode", AgentMode.AZURE_FUNCTION_AGENT))
"""


def blocked_host(folder: Path, blocked: list[str], env: dict[str, str], *, provider: str = "OPENAI",
                 **options: object) -> LocalHostProcess:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "function_app.py").write_text(
        README_AGENT.format(options=repr(options), provider=provider, python=sys.executable), encoding="utf-8")
    host = LocalHostProcess(folder, env={**env, "BLOCKED_MODULES": ",".join(blocked)})
    host.args = [sys.executable, str(BLOCKED_PYTHON), "-m", *host.args[2:]]  # the same serve command
    return host


def assert_names_extra(body: dict[str, object], extra: str, feature: str) -> None:
    error = body["error"]
    assert isinstance(error, dict)
    assert error["code"] == "missing_extra"
    assert feature in error["message"] and INSTALL.format(extra) in error["message"], error


@pytest.mark.parametrize(("case", "blocked", "provider", "options", "extra", "feature"), [
    ("mcp-tools", ["mcp", "mcp_types"], "OPENAI", {"mcp": True}, "mcp", "The MCP server 'clock'"),
    ("provider", ["anthropic"], "ANTHROPIC", {}, "anthropic", "The anthropic provider"),
    ("openai-provider", ["openai"], "OPENAI", {}, "openai", "The openai provider"),
])
def test_a_chat_that_needs_a_missing_extra_names_it(tmp_path: Path, model: OpenAIServer, case: str,
                                                    blocked: list[str], provider: str, options: dict[str, object],
                                                    extra: str, feature: str) -> None:
    env = app_env(tmp_path / "state", model)
    env["ANTHROPIC_API_KEY"] = "not-used"
    with blocked_host(tmp_path / case, blocked, env, provider=provider, **options) as host:
        reply = httpx.post(f"{host.url}/api/agents/WeatherBot/chat", json={"message": "Hi"}, timeout=30,
                           trust_env=False)
    assert reply.status_code == 501, reply.text
    assert_names_extra(reply.json(), extra, feature)
    assert "Traceback" not in reply.text


def test_the_cosmos_session_store_names_the_cosmos_extra(tmp_path: Path, model: OpenAIServer) -> None:
    env = app_env(tmp_path / "state", model)
    env.update({"COSMOS_ENDPOINT": "https://127.0.0.1:9/", "COSMOS_KEY": "bm90LXVzZWQ="})
    with blocked_host(tmp_path / "cosmos", ["azure.cosmos"], env) as host:
        reply = httpx.post(f"{host.url}/api/agents/WeatherBot/chat", json={"message": "Hi", "session_id": "s1"},
                           timeout=30, trust_env=False)
    assert reply.status_code == 501, reply.text
    assert_names_extra(reply.json(), "cosmos", "The Cosmos DB session store")


def test_the_mcp_endpoint_names_the_mcp_extra(tmp_path: Path, model: OpenAIServer) -> None:
    with blocked_host(tmp_path / "endpoint", ["mcp", "mcp_types"], app_env(tmp_path / "state", model)) as host:
        reply = httpx.post(f"{host.url}/api/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                           headers={"Accept": "application/json, text/event-stream"}, timeout=30, trust_env=False)
    assert reply.status_code == 501, reply.text
    assert_names_extra(reply.json(), "mcp", "The MCP endpoint")


@pytest.mark.parametrize(("blocked", "options", "extra", "feature"), [
    (["azurefunctions.extensions"], {"streaming": True}, "streaming", "Streaming agents"),
    (["a2a"], {"mode": "a2a"}, "a2a", "AgentMode.A2A"),
])
def test_an_app_that_needs_a_missing_extra_does_not_start_and_says_which(
        tmp_path: Path, model: OpenAIServer, blocked: list[str], options: dict[str, object], extra: str,
        feature: str) -> None:
    host = blocked_host(tmp_path / extra, blocked, app_env(tmp_path / "state", model), **options)
    with pytest.raises(RuntimeError, match="local host exited") as failure:
        host.start(timeout=30)
    host.stop()
    assert f"{feature} needs the '{extra}' extra" in str(failure.value)
    assert INSTALL.format(extra) in str(failure.value)
    assert "Traceback" not in str(failure.value)


def run_blocked(code: str, blocked: list[str], env: dict[str, str] | None = None,
                cwd: Path | None = None) -> dict[str, str]:
    """Run ``code`` with ``blocked`` modules absent (in ``cwd``); it prints one JSON object."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "APPLICATIONINSIGHTS", "OTEL_"))}
    out = subprocess.run([sys.executable, str(BLOCKED_PYTHON), "-c", textwrap.dedent(code)],
                         env={**base, **(env or {}), "BLOCKED_MODULES": ",".join(blocked)},
                         capture_output=True, text=True, timeout=60, check=True, cwd=cwd)
    result: dict[str, str] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


CATCH = """
import asyncio, json
from azurefunctions.agents.errors import MissingExtraError
def report(call):
    try:
        result = call()
        if asyncio.iscoroutine(result):
            asyncio.run(result)
    except MissingExtraError as exc:
        print(json.dumps({"type": type(exc).__name__, "extra": exc.extra, "message": exc.message,
                          "status": exc.status, "code": exc.code}))
    else:
        print(json.dumps({"type": None}))
"""


@pytest.mark.parametrize(("call", "blocked", "extra", "feature"), [
    ("from azurefunctions.agents.a2a.remote import RemoteA2AAgent\n"
     "report(lambda: RemoteA2AAgent('http://127.0.0.1:9', name='peer').send('hi'))",
     ["a2a"], "a2a", "Remote A2A agents"),
    ("from azurefunctions.agents.background.queues import QueueService, resolve_connection\n"
     "report(lambda: QueueService(resolve_connection('Q', {'Q': 'UseDevelopmentStorage=true'})).client)",
     ["azure.storage.queue"], "queues", "Storage queues"),
    ("from azurefunctions.agents.azure.secrets import _client\n"
     "report(lambda: _client('https://vault.example/'))",
     ["azure.keyvault"], "keyvault", "Key Vault secrets"),
    ("from azurefunctions.agents.azure.identity import default_credential\nreport(default_credential)",
     ["azure.identity"], "identity", "Azure identity"),
    ("from azurefunctions.agents.sessions.sqlite import SqliteSessionStore\n"
     "report(lambda: SqliteSessionStore(path='s.db').load('x'))",
     ["aiosqlite"], "sqlite", "The SQLite session store"),
    ("from azurefunctions.agents import Agent, AgentFunctionApp\n"
     "report(lambda: AgentFunctionApp(agents=[Agent(name='A', streaming=True)]))",
     ["azurefunctions.extensions"], "streaming", "Streaming agents"),
])
def test_the_exception_names_the_extra(tmp_path: Path, call: str, blocked: list[str], extra: str,
                                       feature: str) -> None:
    result = run_blocked(CATCH + call, blocked, cwd=tmp_path)  # the SQLite case writes nowhere else
    assert result["type"] == "MissingExtraError", result
    assert (result["extra"], result["status"], result["code"]) == (extra, 501, "missing_extra")
    assert result["message"].startswith(f"{feature} needs the '{extra}' extra")
    assert result["message"].endswith(INSTALL.format(extra))


def test_telemetry_that_cannot_start_logs_the_extra_to_install() -> None:
    code = """
    import json, logging
    logging.basicConfig(level=logging.WARNING, format="%(message)s", handlers=[logging.StreamHandler()])
    records = []
    logging.getLogger("azurefunctions.agents").addHandler(type("H", (logging.Handler,), {
        "emit": lambda self, record: records.append(record.getMessage())})())
    from azurefunctions.agents.telemetry import instrumentation
    kind = type(instrumentation()).__name__
    print(json.dumps({"kind": kind, "logs": records}))
    """
    result = run_blocked(code, ["azure.monitor", "opentelemetry"], {
        "APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=00000000-0000-0000-0000-000000000000;"
                                                 "IngestionEndpoint=http://127.0.0.1:9/"})
    assert result["kind"] == "NoopInstrumentation"
    assert any("telemetry is off" in line and INSTALL.format("monitor") in line for line in result["logs"])
