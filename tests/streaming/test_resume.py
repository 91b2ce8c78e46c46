"""Resumable streams: a client that lost the connection gets exactly what it missed, then the rest live."""

from __future__ import annotations

import time

import httpx

from tests.servers.localhost import LocalHostProcess
from tests.servers.scripted import Reply, Script

from .sse_client import Received, events

TEXT = "".join(f"word{n:02d} " for n in range(30))  # 30 chunks of 7 characters


def start_slow_turn(host: LocalHostProcess, script: Script, client: httpx.Client, *, read: int,
                    user_id: str = "ann") -> list[Received]:
    """Start a slow streamed turn, read its first ``read`` events, then drop the connection."""
    script.add(Reply(text=TEXT, chunk_size=7, chunk_delay=0.05))
    received: list[Received] = []
    with client.stream("POST", f"{host.url}/api/agents/Greeter/chat", timeout=30,
                       json={"message": "tell me", "user_id": user_id},
                       headers={"accept": "text/event-stream"}) as response:
        for event in events(response):
            received.append(event)
            if len(received) == read:
                break
    return received


def resume(client: httpx.Client, host: LocalHostProcess, session_id: str, *, user_id: str | None = "ann",
           last_event_id: str | None = None, after: str | None = None) -> httpx.Response:
    params = {k: v for k, v in {"user_id": user_id, "after": after}.items() if v is not None}
    headers = {"last-event-id": last_event_id} if last_event_id else {}
    request = client.build_request("GET", f"{host.url}/api/sessions/{session_id}/stream", params=params,
                                   headers=headers, timeout=30)
    return client.send(request, stream=True)


def test_reconnect_with_last_event_id_gets_exactly_the_missed_events_then_live(
        host: LocalHostProcess, script: Script) -> None:
    with httpx.Client() as client:
        first = start_slow_turn(host, script, client, read=5)
        session_id = first[0].data["session_id"]
        time.sleep(0.4)  # events keep coming (and being kept) while nobody listens
        response = resume(client, host, session_id, last_event_id=first[-1].id)
        assert response.status_code == 200
        rest = list(events(response))
        response.close()
        assert rest[-1].event == "done"

        everything = first + rest
        ids = [e.id for e in everything]
        assert len(ids) == len(set(ids)), "an event was sent twice"
        assert [int(str(i).rsplit("-", 1)[1]) for i in ids] == list(range(1, len(ids) + 1)), "an event was lost"
        assert "".join(e.text for e in everything if e.event == "text_delta") == TEXT
        assert rest[-1].data["response"]["response"] == TEXT
        # Part of the rest was replayed from the store, part arrived live as the model produced it.
        deltas = [e for e in rest if e.event == "text_delta"]
        assert deltas[-1].at - deltas[0].at > 0.3

        # The whole turn replays from the start without an id; after the end there is nothing more (204).
        whole = resume(client, host, session_id)
        assert [e.id for e in events(whole)] == ids
        whole.close()
        end = resume(client, host, session_id, last_event_id=ids[-1])
        assert end.status_code == 204
        end.close()
        # ?after= works like the header; the header wins when both are sent.
        middle = resume(client, host, session_id, after=ids[9])
        assert [e.id for e in events(middle)] == ids[10:]
        middle.close()
        both = resume(client, host, session_id, after=ids[1], last_event_id=ids[-3])
        assert [e.id for e in events(both)] == ids[-2:]
        both.close()


def test_a_client_that_disconnects_does_not_stop_the_turn(host: LocalHostProcess, script: Script) -> None:
    with httpx.Client() as client:
        first = start_slow_turn(host, script, client, read=3, user_id="bo")
        session_id = first[0].data["session_id"]
        deadline = time.monotonic() + 15
        session = None
        while time.monotonic() < deadline:
            found = client.get(f"{host.url}/api/sessions/{session_id}", params={"user_id": "bo"})
            if found.status_code == 200:
                session = found.json()
                break
            time.sleep(0.1)
        assert session is not None, "the turn was not saved after its client left"
        assert [m["content"] for m in session["messages"]] == ["tell me", TEXT]
        assert client.get(f"{host.url}/api/health").status_code == 200
        # The session is consistent: the next turn sees the finished one.
        script.add(Reply(text="again"))
        turn = client.post(f"{host.url}/api/agents/Greeter/chat",
                           json={"message": "more", "user_id": "bo", "session_id": session_id}).json()
        assert turn["response"] == "again"
        assert [m.get("content") for m in script.requests[-1]["messages"]][-3:] == ["tell me", TEXT, "more"]
    assert "Traceback" not in host.output and "exception was never retrieved" not in host.output


def test_only_the_owner_may_resume(host: LocalHostProcess, script: Script) -> None:
    with httpx.Client() as client:
        first = start_slow_turn(host, script, client, read=2, user_id="cy")
        session_id = first[0].data["session_id"]
        # Before the first turn is saved the owner is known from the turn itself.
        for user in ("someone-else", None):
            denied = resume(client, host, session_id, user_id=user)
            denied.read()
            assert denied.status_code == 404 and denied.json()["error"]["code"] == "session_not_found"
        owner = resume(client, host, session_id, user_id="cy", last_event_id=first[-1].id)
        assert list(events(owner))[-1].event == "done"
        owner.close()
        denied = resume(client, host, session_id, user_id="someone-else")
        denied.read()
        assert denied.status_code == 404
        unknown = resume(client, host, "no-such-session")
        unknown.read()
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "session_not_found"
        for bad in ("12", "X" * 12 + "-1", "abc-def"):
            invalid = resume(client, host, session_id, user_id="cy", last_event_id=bad)
            invalid.read()
            assert invalid.status_code == 400 and "Last-Event-ID" in invalid.json()["error"]["message"]
        wrong_method = client.post(f"{host.url}/api/sessions/{session_id}/stream")
        assert wrong_method.status_code == 405
