"""Post-deployment smoke test: `python scripts/smoke_test.py URL [--key KEY]`.

Checks what a user of the deployed app sees: `GET /api/health`, `GET /api/agents`, one chat turn with the first
agent, and (with `--stream`) an SSE stream that ends with a `done` event. Chat routes use the FUNCTION auth
level; without `--key`, the default host key is fetched with the deployer's Azure identity (ARM `listKeys`,
needs azure-identity and `AZURE_SUBSCRIPTION_ID`, `AZURE_RESOURCE_GROUP`, `SERVICE_API_NAME`, as azd sets them).
Standard library HTTP; exits non-zero with the failing check named.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Any

ARM = "https://management.azure.com"
# What fetching the host key needs, as the azd environment names it (the deploy workflow exports them).
HOST_KEY_SETTINGS = ("AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_GROUP", "SERVICE_API_NAME")


def fetch_host_key() -> str:
    """The app's default host key, read with the deployer's identity (no key is stored anywhere)."""
    missing = [name for name in HOST_KEY_SETTINGS if not os.environ.get(name)]
    if missing:
        raise SystemExit(f"error: pass --key, or set {', '.join(missing)} (azd env get-values) to fetch the host key")
    from azure.identity import DefaultAzureCredential

    token = DefaultAzureCredential().get_token(f"{ARM}/.default").token
    site = (
        f"{ARM}/subscriptions/{os.environ['AZURE_SUBSCRIPTION_ID']}/resourceGroups/"
        f"{os.environ['AZURE_RESOURCE_GROUP']}/providers/Microsoft.Web/sites/{os.environ['SERVICE_API_NAME']}"
    )
    request = urllib.request.Request(  # noqa: S310 (fixed https URL)
        f"{site}/host/default/listkeys?api-version=2024-04-01",
        method="POST",
        data=b"",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (fixed https URL)
        return str(json.load(response)["functionKeys"]["default"])


def call(
    url: str, *, body: dict[str, Any] | None = None, key: str | None = None, timeout: float = 120
) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["x-functions-key"] = key
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (user-given app URL)
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def check(name: str, ok: bool, detail: str) -> None:
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
    if not ok:
        raise SystemExit(1)


def wait_for_health(base: str, attempts: int, delay: float) -> None:
    """A fresh Flex app starts cold: retry health for a while before failing."""
    status, body = 0, b""
    for attempt in range(attempts):
        try:
            status, body = call(f"{base}/api/health", timeout=30)
        except (urllib.error.URLError, TimeoutError) as error:
            status, body = 0, str(error).encode()
        if status == 200:
            break
        if attempt + 1 < attempts:
            time.sleep(delay)
    check("health", status == 200, f"HTTP {status} {body[:200]!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Smoke-test a deployed agents Function App.")
    parser.add_argument("url", help="the app's base URL, e.g. https://func-api-xyz.azurewebsites.net")
    parser.add_argument("--key", help="function or host key (default: fetched with your Azure identity)")
    parser.add_argument("--stream", action="store_true", help="also check an SSE stream (streaming samples)")
    parser.add_argument("--attempts", type=int, default=20, help="health attempts while the app starts")
    parser.add_argument("--delay", type=float, default=6.0, help="seconds between health attempts")
    parser.add_argument("--sample-dir", help="the deployed sample; --stream is implied when it streams")
    args = parser.parse_args(argv)
    base = args.url.rstrip("/")
    if not base.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise SystemExit("error: URL must be https:// (or a local http://127.0.0.1 host)")
    stream = args.stream
    if args.sample_dir:
        requirements = os.path.join(args.sample_dir, "requirements.txt")
        if os.path.isfile(requirements):
            with open(requirements, encoding="utf-8") as file:
                stream = stream or "streaming" in file.read()

    wait_for_health(base, max(1, args.attempts), args.delay)
    key = args.key if args.key is not None else fetch_host_key()
    status, body = call(f"{base}/api/agents", key=key)
    agents = json.loads(body or b"null") if status == 200 else None
    names = [a["name"] for a in agents.get("agents", [])] if isinstance(agents, dict) else []
    check("agents", status == 200 and bool(names), f"HTTP {status}, agents {names}")

    status, body = call(
        f"{base}/api/agents/{names[0]}/chat", body={"message": "Hello! Reply in one short sentence."}, key=key
    )
    reply = json.loads(body or b"{}") if status == 200 else {}
    check("chat", status == 200 and bool(reply.get("response")), f"HTTP {status} {body[:200]!r}")

    if stream:
        status, body = call(
            f"{base}/api/agents/{names[0]}/chat", body={"message": "Count to three.", "stream": True}, key=key
        )
        text = body.decode("utf-8", "replace")
        check("stream", status == 200 and "event: done" in text, f"HTTP {status}, {text.count('event:')} events")
    print("smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
