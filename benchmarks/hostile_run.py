"""The long hostile-input run, on demand: at least 10,000 generated requests against the whole HTTP surface.

    python benchmarks/hostile_run.py [--requests 10000] [--seed N]

It serves the security suite's surface app (tests/security/apps/surface: standard, session, MCP and A2A routes
over a scripted model) on the local host, creates one session owned by another user, then sends requests drawn
by hypothesis from the same generators as the bounded suite (tests/security/hostile_inputs.py): arbitrary bytes
and JSON values as bodies of every POST route, chat bodies with wrong types and hostile text (lone surrogates,
control characters), hostile agent names and session ids in every path, hostile header values. It reports the
requests tried, the 5xx answers, bodies with a traceback, an exception repr or a path of this machine, requests
that timed out, and whether the other user's session changed - all must be 0 - and exits 1 when one is not.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

EVERY_ROUTE = ["/api/agents/{agent}/chat", "/api/agents/{agent}/info", "/api/agents", "/api/health",
               "/api/openapi.json", "/api/mcp", "/api/sessions/{session}", "/api/sessions/{session}/stream",
               "/api/sessions/{session}/turns/{turn}", "/api/agents/{agent}/a2a",
               "/api/agents/{agent}/.well-known/agent-card.json"]
POST_ROUTES = ["/api/agents/Orders/chat", "/api/mcp", "/api/agents/Orders/a2a"]
HEADER_NAMES = ["accept", "content-type", "traceparent", "last-event-id", "prefer", "a2a-version",
                "mcp-protocol-version", "mcp-session-id", "x-ms-client-principal", "x-forwarded-host",
                "x-functions-key", "authorization"]


@dataclass
class Figures:
    requests: int = 0
    server_errors: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)
    timeouts: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)


def request_strategy() -> Any:
    """One hostile request: (method, path, params, headers, body bytes or None)."""
    from hypothesis import strategies as st
    from tests.security.hostile_inputs import (
        NASTY_SEGMENTS,
        OWNER,
        chat_bodies,
        header_values,
        json_values,
        segments,
        session_ids,
    )

    def encoded(value: Any) -> bytes:
        if isinstance(value, dict) and value.get("user_id") == OWNER:
            value = {**value, "user_id": "mallory"}
        if isinstance(value, dict):
            value = {**value, "stream": False}
        return json.dumps(value).encode("ascii")

    raw_bodies = st.tuples(st.just("POST"), st.sampled_from(POST_ROUTES), st.just({}), st.just({}),
                           st.binary(max_size=2048))
    json_bodies = st.tuples(st.just("POST"), st.sampled_from(POST_ROUTES), st.just({}), st.just({}),
                            (json_values | chat_bodies).map(encoded))
    paths = st.builds(
        lambda route, agent, session, method, body, user: (
            method, route.format(agent=quote(agent, safe=""), session=quote(session, safe="") or "x", turn="t-1"),
            {"user_id": user}, {}, encoded(body)),
        st.sampled_from(EVERY_ROUTE), st.sampled_from(["Orders", "Admin", *NASTY_SEGMENTS[:6]]) | segments,
        session_ids, st.sampled_from(["GET", "POST", "DELETE", "PUT", "PATCH"]), json_values | chat_bodies,
        st.sampled_from(["mallory", ""]) | st.text(max_size=20).filter(lambda u: u != OWNER))
    headers = st.tuples(st.just("POST"), st.sampled_from(POST_ROUTES), st.just({}),
                        st.dictionaries(st.sampled_from(HEADER_NAMES), header_values, max_size=5),
                        st.just(b'{"message": "hi", "user_id": "mallory"}'))
    return st.one_of(raw_bodies, json_bodies, paths, headers)


def run(total: int, seed: int) -> Figures:
    import httpx
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hypothesis_seed
    from tests.security.conftest import LEAKS, SURFACE_APP, surface_env
    from tests.security.hostile_inputs import OWNED_SESSION, OWNER
    from tests.servers.localhost import LocalHostProcess
    from tests.servers.openai_server import OpenAIServer

    figures = Figures()
    with tempfile.TemporaryDirectory() as tmp, OpenAIServer(api_key="security-model-key-0001") as model, \
            LocalHostProcess(SURFACE_APP, env=surface_env(model, Path(tmp))) as host, \
            httpx.Client(base_url=host.url, timeout=20) as client:
        created = client.post("/api/agents/Orders/chat", json={"message": "my private order", "user_id": OWNER,
                                                               "session_id": OWNED_SESSION})
        assert created.status_code == 200, created.text

        def owned() -> Any:
            return client.get(f"/api/sessions/{OWNED_SESSION}", params={"user_id": OWNER}).json()

        before = owned()

        def send(case: tuple[str, str, dict[str, str], dict[str, str], bytes]) -> None:
            method, path, params, headers, body = case
            headers = {"content-type": "application/json", "accept": "application/json, text/event-stream",
                       **headers}
            figures.requests += 1
            try:
                if path.endswith("/stream") and method == "GET":
                    with client.stream(method, path, params=params, headers=headers) as streamed:
                        status, text = streamed.status_code, streamed.read().decode() if \
                            streamed.status_code >= 400 else ""
                else:
                    response = client.request(method, path, params=params, headers=headers, content=body)
                    status, text = response.status_code, response.text
            except httpx.TimeoutException:
                figures.timeouts.append(f"{method} {path}")
                return
            except httpx.HTTPError:
                return  # a request the client itself cannot send (an illegal header value): nothing reached
            figures.statuses[status] = figures.statuses.get(status, 0) + 1
            if status >= 500:
                figures.server_errors.append(f"{method} {path} -> {status}: {text[:200]}")
            if LEAKS.search(text):
                figures.leaks.append(f"{method} {path}: {text[:200]}")

        batch = 2000
        started = time.monotonic()
        while figures.requests < total:
            budget = min(batch, total - figures.requests)

            @hypothesis_seed(seed + figures.requests)
            @settings(max_examples=budget, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(case=request_strategy())
            def sweep(case: Any) -> None:
                send(case)

            sweep()
            print(f"  {figures.requests} requests, {len(figures.server_errors)} 5xx, "
                  f"{time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
        figures.statuses[-1] = int(owned() != before)  # -1: the other user's session changed (1) or not (0)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    if args.seed is not None:
        os.environ["AGENTS_TEST_HOSTILE_SEED"] = str(args.seed)
    from tests.security.hostile_inputs import SEED

    started = time.monotonic()
    figures = run(args.requests, SEED)
    changed = figures.statuses.pop(-1)
    elapsed = time.monotonic() - started
    print(f"seed {SEED}; {elapsed:.0f} s")
    print(f"requests tried: {figures.requests}")
    print(f"5xx answers: {len(figures.server_errors)}")
    print(f"tracebacks or paths in bodies: {len(figures.leaks)}")
    print(f"timed out: {len(figures.timeouts)}")
    print(f"sessions changed by another user: {changed}")
    print("statuses: " + ", ".join(f"{status}: {count}" for status, count in sorted(figures.statuses.items())))
    for line in (figures.server_errors + figures.leaks + figures.timeouts)[:20]:
        print("  " + line)
    bad = figures.server_errors or figures.leaks or figures.timeouts or changed
    return 1 if bad or figures.requests < args.requests else 0


if __name__ == "__main__":
    sys.exit(main())
