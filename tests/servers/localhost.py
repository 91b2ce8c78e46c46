"""The local host (``python -m azurefunctions.agents serve``) started as a real process for HTTP tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .base import free_port
from .network_guard.plugin import guarded_env


class LocalHostProcess:
    """Serves ``app_dir`` on a free port; ``url`` is its base. Output is kept for assertions."""

    def __init__(self, app_dir: Path | str, *, env: dict[str, str] | None = None, enable_auth: bool = False,
                 extra_args: list[str] | None = None, health_path: str = "/api/health") -> None:
        self.app_dir = Path(app_dir)
        #: Where readiness is polled: ``/api/health`` unless the app's host.json sets another routePrefix.
        self.health_path = health_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # The scrubbed environment of the run (never the caller's keys) with the network guard in the child.
        self.env = guarded_env(env)
        # A sample's real local.settings.json (a developer's keys) is never read: the test gives every setting.
        self.args = [sys.executable, "-m", "azurefunctions.agents", "serve", str(self.app_dir),
                     "--port", str(self.port), "--no-settings-files"]
        if enable_auth:
            self.args.append("--enable-auth")
        self.args += extra_args or []
        self.process: subprocess.Popen[str] | None = None
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"agents-localhost-{self.port}.log"

    def start(self, timeout: float = 30) -> LocalHostProcess:
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(self.args, stdout=self._log, stderr=subprocess.STDOUT, text=True,
                                        env=self.env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"local host exited:\n{self.output}")
            try:
                with urllib.request.urlopen(f"{self.url}{self.health_path}", timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"local host did not answer in {timeout}s:\n{self.output}")

    @property
    def output(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if hasattr(self, "_log"):
            self._log.close()

    def __enter__(self) -> LocalHostProcess:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
        self.log_path.unlink(missing_ok=True)


#: Model settings an app under test must not inherit from the developer's environment or local.settings.json.
MODEL_SETTINGS = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY",
                  "AGENT_PROVIDER", "AGENT_MODEL", "AZURE_KEY_VAULT_ENDPOINT",
                  "APPLICATIONINSIGHTS_CONNECTION_STRING", "WEBSITE_INSTANCE_ID")


def app_env(state_dir: Path, model: Any = None) -> dict[str, str]:
    """The environment of an app under test: sessions in ``state_dir``; the scripted ``model`` (an
    ``OpenAIServer``) through the SDK's own settings, or no model at all (the offline model)."""
    env = dict.fromkeys(MODEL_SETTINGS, "")
    env["AGENTS_SESSION_DB"] = str(state_dir / "sessions.sqlite3")
    if model is not None:
        env.update({"OPENAI_API_KEY": model.api_key, "OPENAI_BASE_URL": model.base_url})
    return env


def wait_for(check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.1) -> Any:
    """Polls ``check`` until it returns something true (and returns that), for state a host changes in the
    background; fails the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")
