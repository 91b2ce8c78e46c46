"""``GET /api/sessions/{session_id}`` reads a conversation's history a page at a time, over real HTTP through
the local host (the SQLite store behind it)."""

from __future__ import annotations

import httpx

from tests.servers.localhost import LocalHostProcess
from tests.servers.scripted import Reply, Script

from .test_http_routes import assert_error


def test_history_is_read_page_by_page_and_bad_paging_is_refused(host: LocalHostProcess, script: Script) -> None:
    script.add(*(Reply(text=f"answer {n}") for n in range(3)))
    session_id = None
    for n in range(3):
        body = {"message": f"question {n}", "user_id": "u1", **({"session_id": session_id} if session_id else {})}
        session_id = httpx.post(f"{host.url}/api/agents/Greeter/chat", json=body, timeout=30).json()["session_id"]
    url = f"{host.url}/api/sessions/{session_id}"

    whole = httpx.get(url, params={"user_id": "u1"}).json()
    assert [m["content"] for m in whole["messages"]] == [
        "question 0", "answer 0", "question 1", "answer 1", "question 2", "answer 2"]
    assert whole["message_count"] == 6 and whole["offset"] == 0 and whole["next_offset"] is None

    contents: list[str] = []
    offset: int | None = 0
    while offset is not None:
        page = httpx.get(url, params={"user_id": "u1", "offset": offset, "limit": 4}).json()
        assert page["message_count"] == 6 and page["active_agent"] == "Greeter"
        contents += [m["content"] for m in page["messages"]]
        offset = page["next_offset"]
    assert contents == [m["content"] for m in whole["messages"]]

    for params, name in (({"limit": "-1"}, "limit"), ({"limit": "1001"}, "limit"), ({"offset": "x"}, "offset")):
        body = assert_error(httpx.get(url, params={"user_id": "u1", **params}), 400, "invalid_request")
        assert body["error"]["message"].startswith(name)
    assert_error(httpx.get(url, params={"user_id": "u2", "limit": 1}), 404, "session_not_found")


def test_the_openapi_document_names_the_paging_parameters(host: LocalHostProcess) -> None:
    document = httpx.get(f"{host.url}/api/openapi.json").json()
    params = {p["name"]: p for p in document["paths"]["/api/sessions/{session_id}"]["get"]["parameters"]}
    assert params["offset"]["schema"]["minimum"] == 0
    assert params["limit"]["schema"]["maximum"] == 1000 and params["limit"]["schema"]["default"] == 1000
