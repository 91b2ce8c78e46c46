"""A session lives in the embedded store, not in the process: it survives a restart of the local host."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.hosting.conftest import BASIC_APP
from tests.servers.localhost import LocalHostProcess
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply


def test_turn_two_after_a_restart_sees_turn_one(tmp_path: Path) -> None:
    with OpenAIServer() as model:
        env = {"OPENAI_API_KEY": model.api_key, "OPENAI_BASE_URL": model.base_url,
               "AGENTS_SESSION_DB": str(tmp_path / "sessions.sqlite3")}
        model.script.add(Reply(text="Noted: your flight is LH400."), Reply(text="Your flight is LH400."))
        with LocalHostProcess(BASIC_APP, env=env) as first:
            opened = httpx.post(f"{first.url}/api/agents/Greeter/chat",
                                json={"message": "My flight is LH400", "user_id": "ana"}).json()
        with LocalHostProcess(BASIC_APP, env=env) as second:
            answer = httpx.post(f"{second.url}/api/agents/Greeter/chat",
                                json={"message": "Which flight?", "user_id": "ana",
                                      "session_id": opened["session_id"]}).json()
            history = httpx.get(f"{second.url}/api/sessions/{opened['session_id']}",
                                params={"user_id": "ana"}).json()
    assert answer["response"] == "Your flight is LH400."
    sent = [m.get("content") for m in model.script.requests[-1]["messages"]]
    assert sent == ["Greet people.", "My flight is LH400", "Noted: your flight is LH400.", "Which flight?"]
    assert [m["content"] for m in history["messages"]] == [
        "My flight is LH400", "Noted: your flight is LH400.", "Which flight?", "Your flight is LH400."]
