"""``Idempotency-Key`` on the chat route, without a host: what a key may be (the same rule in the OpenAPI
description as in the handler), the turn id it becomes and the session a keyed turn without one gets."""

from __future__ import annotations

import re

import pytest

from azurefunctions.agents import Agent, Runner
from azurefunctions.agents.errors import InvalidRequestError
from azurefunctions.agents.hosting.idempotency import IDEMPOTENCY_HEADER, keyed_request
from azurefunctions.agents.hosting.openapi import build_openapi
from azurefunctions.agents.http.routes import STANDARD_ROUTES
from azurefunctions.agents.messages import SESSION_ID_PATTERN
from azurefunctions.agents.sessions import MemorySessionStore
from azurefunctions.agents.types import ChatRequest

GOOD = ["a", "3f2b8c1e-9d4a-4e67-8f0a-2c5d7e9b1a34", "order:42.retry_1", "x" * 128]
BAD = ["", "-dash-first", ".dot-first", "with space", "slash/in", "x" * 129, "é"]


@pytest.mark.parametrize("key", GOOD)
def test_a_well_formed_key_becomes_the_turn_id(key: str) -> None:
    request = keyed_request(ChatRequest(message="Hi", session_id="s1"), key)
    assert request.turn_id == key and request.session_id == "s1"


@pytest.mark.parametrize("key", BAD)
def test_a_malformed_key_is_an_error_naming_the_header(key: str) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        keyed_request(ChatRequest(message="Hi"), key)
    assert IDEMPOTENCY_HEADER in raised.value.message


def test_no_key_leaves_the_request_as_it_is() -> None:
    request = ChatRequest(message="Hi")
    assert keyed_request(request, None) is request


def test_a_key_that_contradicts_the_body_turn_id_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match="differ"):
        keyed_request(ChatRequest(message="Hi", turn_id="one"), "two")
    assert keyed_request(ChatRequest(message="Hi", turn_id="same"), "same").turn_id == "same"


def test_a_keyed_turn_without_a_session_gets_one_derived_from_the_caller_and_the_key() -> None:
    runner = Runner(Agent(name="helper", instructions="Help."), session_store=MemorySessionStore())

    def session_of(user_id: str | None, key: str, message: str = "Hi") -> str | None:
        return runner.keyed_session(keyed_request(ChatRequest(message=message, user_id=user_id), key)).session_id

    ana = session_of("ana", "k1")
    assert ana is not None and SESSION_ID_PATTERN.match(ana)
    assert session_of("ana", "k1", "Hi again") == ana  # a retry reaches the same conversation
    assert session_of("bob", "k1") != ana  # another caller's key never reaches ana's conversation
    assert session_of("ana", "k2") != ana
    assert session_of(None, "k1") != ana


def test_the_openapi_description_documents_the_header_with_the_rule_the_handler_applies() -> None:
    document = build_openapi(list(STANDARD_ROUTES), {}, title="t", version="1", server_url="/",
                             agent_names=["weather"])
    chat = document["paths"]["/api/agents/{agent_name}/chat"]["post"]
    header = next(p for p in chat["parameters"] if p["in"] == "header")
    assert header["name"] == IDEMPOTENCY_HEADER and header["required"] is False
    pattern = re.compile(header["schema"]["pattern"])
    assert all(pattern.match(key) for key in GOOD)
    assert not any(pattern.match(key) for key in BAD)
