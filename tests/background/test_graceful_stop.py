"""A local host stopped gracefully (SIGTERM, as Core Tools and the platform stop a worker) while it runs a
background turn gives the turn back: the claim is released and the queue message is made visible at once, so
a restarted host resumes the turn immediately - with the default 10-minute message visibility and 2-minute
lease, which a crash has to wait out (tests/background/test_local_host_turns.py covers the crash with short
ones)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from tests.servers.azurite import AzuriteQueues
from tests.servers.localhost import LocalHostProcess
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply

APP = Path(__file__).parent / "apps" / "turns"
SLOW = "Slow agent"


def status_of(client: httpx.Client, location: str) -> dict[str, Any]:
    reply = client.get(location)
    assert reply.status_code == 200, reply.text
    data: dict[str, Any] = reply.json()
    return data


def test_a_sigterm_releases_the_running_turn_for_the_next_start(model: OpenAIServer, storage: AzuriteQueues,
                                                                 queue_name: str, tmp_path: Path) -> None:
    # Defaults left alone: visibility 600 s, lease 120 s. Only a released message can come back in time.
    env = {"OPENAI_API_KEY": model.api_key, "OPENAI_BASE_URL": model.base_url,
           "AGENTS_SESSION_DB": str(tmp_path / "sessions.sqlite3"),
           "AzureWebJobsStorage": storage.connection_string, "AGENTS_WORK_QUEUE": queue_name,
           "AGENTS_LOCAL_QUEUE_POLL_SECONDS": "0.5"}
    model.script.add_for(SLOW, Reply(text="Never delivered.", delay=60), Reply(text="Answered after the restart."))
    first = LocalHostProcess(APP, env=env).start()
    try:
        with httpx.Client(base_url=first.url, timeout=10) as client:
            accepted = client.post("/api/agents/Slow/chat", json={"message": "Take your time", "async": True})
            assert accepted.status_code == 202, accepted.text
            location = accepted.json()["location"]
            deadline = time.monotonic() + 20
            while status_of(client, location)["status"] != "running":
                assert time.monotonic() < deadline, "the turn never started"
                time.sleep(0.1)
        assert first.process is not None
        first.process.terminate()  # SIGTERM: a graceful stop
        # uvicorn re-raises the signal once it has shut down (Server.capture_signals), so the exit says SIGTERM.
        assert first.process.wait(timeout=30) in (0, -15), first.output[-3000:]
    finally:
        first.stop()
    started = time.monotonic()
    with LocalHostProcess(APP, env=env) as second, httpx.Client(base_url=second.url, timeout=10) as client:
        deadline = time.monotonic() + 30
        status = status_of(client, location)
        while status["status"] in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.2)
            status = status_of(client, location)
        assert status["status"] == "completed", (status.get("error"), status.get("attempts"), second.output[-3000:])
        assert status["response"]["response"] == "Answered after the restart."
        assert status["attempts"] == 2
    assert time.monotonic() - started < 60  # nowhere near the 600 s visibility or the 120 s lease
