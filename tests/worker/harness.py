"""Plays the Functions host to the real Python worker library, ``azure-functions-runtime`` (what runs Python
3.13+ apps in Azure), with the host's own RPC messages (``FunctionRpc.proto``, compiled with grpcio-tools).

Run by ``tests/worker/test_real_worker.py`` under Python 3.13 (``.test-cache/venv-worker313``):

    python harness.py PROTOS_DIR APP_DIR < requests.json > answers.json

The message flow is the host's (azure_functions_runtime/handle_event.py): ``worker_init_request`` (the
library indexes the app there: ``load_function_metadata`` -> ``loader.index_function_app``),
``functions_metadata_request`` (``use_default_metadata_indexing=False`` and the functions' metadata),
``function_load_request`` per function, then one ``invocation_request`` per HTTP request, each carrying an
``RpcHttp`` as the host sends it (body as bytes: the worker announced ``RawHttpBodyBytes``/``RpcHttpBodyOnly``
in its init response). Each handler takes an object with ``.request`` (the ``StreamingMessage``) and
``.properties`` (``host``, ``protos``), as the proxy worker passes them. The host's route matching is the
template match of ``route`` under ``host.json``'s ``routePrefix``. Prints JSON: the init status and
capabilities, what the host is told about each function, and each request's answer.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import types
import uuid
from pathlib import Path
from typing import Any


def load_protos(protos_dir: str) -> Any:
    sys.path.insert(0, protos_dir)
    import FunctionRpc_pb2  # type: ignore[import-not-found]
    from shared import NullableTypes_pb2  # type: ignore[import-not-found]

    namespace = types.SimpleNamespace()
    for module in (NullableTypes_pb2, FunctionRpc_pb2):
        for name, value in vars(module).items():
            if not name.startswith("_"):
                setattr(namespace, name, value)
    return namespace


class Message:
    """What the library's handlers read: ``request`` (the StreamingMessage) and ``properties``."""

    def __init__(self, request: Any, properties: dict[str, Any]) -> None:
        self.request = request
        self.properties = properties


def route_regex(prefix: str, route: str) -> re.Pattern[str]:
    template = "/".join(part for part in (prefix.strip("/"), route.strip("/")) if part)
    pattern = ""
    for piece in re.split(r"(\{[^}]+\})", template):
        if piece.startswith("{"):
            name = piece[1:-1].split(":", 1)[0]
            if name.startswith("*"):
                pattern += f"(?P<{name[1:]}>.*)"
            else:
                optional = name.endswith("?")
                name = name.rstrip("?")
                pattern += f"(?P<{name}>[^/]+)" + ("?" if optional else "")
        else:
            pattern += re.escape(piece)
    return re.compile(f"^/{pattern}/?$", re.IGNORECASE)


async def main(protos_dir: str, app_dir: str) -> dict[str, Any]:
    import os

    import azure_functions_runtime.handle_event as worker  # the real worker library

    # The host starts the worker in the app's root with that folder importable (the library then imports the
    # script by module name: loader.index_function_app -> importlib.import_module("function_app")).
    os.chdir(app_dir)
    sys.path.insert(0, app_dir)
    protos = load_protos(protos_dir)
    properties = {"host": "127.0.0.1", "protos": protos}
    host_json = json.loads((Path(app_dir) / "host.json").read_text())
    prefix = str(((host_json.get("extensions") or {}).get("http") or {}).get("routePrefix", "api"))

    init = await worker.worker_init_request(Message(protos.StreamingMessage(
        request_id="init", worker_init_request=protos.WorkerInitRequest(
            host_version="4.1040.0", function_app_directory=app_dir,
            capabilities={"RpcHttpBodyOnly": "true"})), properties))
    report: dict[str, Any] = {
        "init": {"status": int(init.result.status), "exception": init.result.exception.message,
                 "capabilities": dict(init.capabilities)},
        "functions": [], "answers": []}
    if init.result.status != protos.StatusResult.Success:
        return report
    streams_uri = report["init"]["capabilities"].get("HttpUri")
    if streams_uri:
        # The worker's HTTP server is a task on this loop: it listens once the loop has run it (the host, in
        # another process, simply retries its connection).
        from urllib.parse import urlsplit

        address = urlsplit(streams_uri)
        for _ in range(200):
            try:
                _, writer = await asyncio.open_connection(address.hostname, address.port)
                writer.close()
                break
            except OSError:
                await asyncio.sleep(0.05)
    metadata = await worker.functions_metadata_request(Message(protos.StreamingMessage(
        request_id="meta", functions_metadata_request=protos.FunctionsMetadataRequest(
            function_app_directory=app_dir)), properties))
    http_functions = []
    for meta in metadata.function_metadata_results:
        loaded = await worker.function_load_request(Message(protos.StreamingMessage(
            request_id="load", function_load_request=protos.FunctionLoadRequest(
                function_id=meta.function_id, metadata=meta)), properties))
        raw = [json.loads(binding) for binding in meta.raw_bindings]
        trigger = next((b for b in raw if str(b.get("type", "")).lower().endswith("trigger")), {})
        info = {"name": meta.name, "loaded": int(loaded.result.status) == int(protos.StatusResult.Success),
                "is_proxy": meta.is_proxy, "trigger": trigger.get("type"),
                "bindings": sorted(f"{b.get('direction')}:{b.get('type')}:{b.get('name')}" for b in raw),
                "route": trigger.get("route"), "methods": trigger.get("methods"),
                "auth_level": trigger.get("authLevel")}
        report["functions"].append(info)
        if str(trigger.get("type", "")).lower() == "httptrigger":
            http_functions.append((meta, trigger, route_regex(prefix, trigger.get("route") or meta.name)))

    for item in json.loads(sys.stdin.read() or "[]"):
        method, path = item["method"].upper(), item["path"]
        query = item.get("query") or {}
        headers = {k.lower(): v for k, v in (item.get("headers") or {}).items()}
        body = item.get("body", "").encode("utf-8")
        for meta, trigger, pattern in http_functions:  # noqa: B007 - the match is used after the loop
            match = pattern.match(path)
            allowed = [m.upper() for m in (trigger.get("methods") or [])]
            if match and (not allowed or method in allowed):
                break
        else:
            report["answers"].append({"function": None, "status": 404})
            continue
        params = {k: v for k, v in match.groupdict().items() if v is not None}
        http = protos.RpcHttp(method=method, url=f"http://127.0.0.1:7071{path}", headers=headers, params=params,
                              query=query, body=protos.TypedData(bytes=body) if body else protos.TypedData())
        invocation = protos.InvocationRequest(
            invocation_id=str(uuid.uuid4()), function_id=meta.function_id,
            input_data=[protos.ParameterBinding(name=trigger["name"], data=protos.TypedData(http=http))],
            trigger_metadata={})
        if streams_uri:
            # HTTP streams: the worker started its own HTTP server (http_v2.initialize_http_server) and announced
            # it as HttpUri; the host forwards the request there with x-ms-invocation-id and sends the
            # InvocationRequest alongside; the reply comes back on the HTTP connection.
            import httpx

            async with httpx.AsyncClient(base_url=streams_uri, timeout=60) as forward:
                sent = asyncio.create_task(forward.request(
                    method, path, params=query, content=body,
                    headers={**headers, "x-ms-invocation-id": invocation.invocation_id}))
                answer = await worker.invocation_request(Message(protos.StreamingMessage(
                    request_id="invoke", invocation_request=invocation), properties))
                streamed = await sent
            report["answers"].append({"function": meta.name, "status": streamed.status_code,
                                      "headers": dict(streamed.headers), "body": streamed.text,
                                      "invocation": int(answer.result.status)})
            continue
        answer = await worker.invocation_request(Message(protos.StreamingMessage(
            request_id="invoke", invocation_request=invocation), properties))
        if answer.result.status != protos.StatusResult.Success:
            report["answers"].append({"function": meta.name, "status": None,
                                      "exception": answer.result.exception.message})
            continue
        reply = answer.return_value.http
        which = reply.body.WhichOneof("data")
        content = getattr(reply.body, which) if which else b""
        text = content.decode("utf-8") if isinstance(content, bytes) else str(content)
        report["answers"].append({"function": meta.name, "status": int(reply.status_code or 200),
                                  "headers": {k.lower(): v for k, v in reply.headers.items()}, "body": text})
    return report


if __name__ == "__main__":
    import os

    # The report goes to the original stdout; anything the app or the worker's web server prints goes to stderr.
    report_out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    result = asyncio.run(main(sys.argv[1], sys.argv[2]))
    report_out.write(json.dumps(result))
    report_out.flush()
