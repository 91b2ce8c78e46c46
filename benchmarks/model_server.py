"""A lean, scripted OpenAI-compatible Chat Completions server for the benchmarks.

    python benchmarks/model_server.py [--port 0] [--latency-ms 0]

Every turn is the same two model calls: a request whose last message is not a tool result is answered with one
call to the first tool offered (arguments ``{"city": "Paris"}``); a request whose last message is a tool result
is answered with ``The tool said: <that result>``. So a runner's answer proves its tool ran, and the counters
prove each turn made exactly two model calls.

It is plain asyncio and HTTP/1.1 with keep-alive (no web framework), so that the server costs as little CPU as
possible on a small machine and is the same far end for every runner. ``stream: true`` is answered with
``text/event-stream`` chunks in the OpenAI shape (the tool call, or the answer word by word, then usage).

Counters: ``GET /counters`` answers ``{"requests", "tool_calls", "answers", "unexpected"}``; ``POST
/counters/reset`` sets them to zero. The first line printed is ``listening on http://127.0.0.1:PORT``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import signal
import sys
from typing import Any

ANSWER_PREFIX = "The tool said: "
TOOL_ARGUMENTS = {"city": "Paris"}


class Counters:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.tool_calls = 0
        self.answers = 0
        self.unexpected = 0

    def as_dict(self) -> dict[str, int]:
        return {"requests": self.requests, "tool_calls": self.tool_calls, "answers": self.answers,
                "unexpected": self.unexpected}


class ModelServer:
    def __init__(self, latency_ms: float) -> None:
        self.latency = latency_ms / 1000.0
        self.counters = Counters()
        self._ids = itertools.count(1)

    # HTTP/1.1 ---------------------------------------------------------------------------------------------
    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                body = await reader.readexactly(length) if length else b""
                await self.route(method, path.split("?", 1)[0], body, writer)
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def route(self, method: str, path: str, body: bytes, writer: asyncio.StreamWriter) -> None:
        if method == "POST" and path.endswith("/chat/completions"):
            try:
                request = json.loads(body)
            except ValueError:
                self.counters.unexpected += 1
                return await self.send_json(writer, 400, {"error": {"message": "body is not JSON"}})
            return await self.complete(request, writer)
        if path == "/counters" and method == "GET":
            return await self.send_json(writer, 200, self.counters.as_dict())
        if path == "/counters/reset" and method == "POST":
            self.counters.reset()
            return await self.send_json(writer, 200, self.counters.as_dict())
        await self.send_json(writer, 404, {"error": {"message": f"no route {method} {path}"}})

    @staticmethod
    async def send_json(writer: asyncio.StreamWriter, status: int, payload: Any) -> None:
        data = json.dumps(payload, separators=(",", ":")).encode()
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}.get(status, "OK")
        writer.write(f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
                     f"content-length: {len(data)}\r\n\r\n".encode() + data)
        await writer.drain()

    # The script -------------------------------------------------------------------------------------------
    async def complete(self, request: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        self.counters.requests += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        messages = request.get("messages") or []
        tools = request.get("tools") or []
        last = messages[-1] if messages else {}
        number = next(self._ids)
        if last.get("role") == "tool":
            content = last.get("content")
            if isinstance(content, list):  # content parts
                content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
            message: dict[str, Any] = {"role": "assistant", "content": f"{ANSWER_PREFIX}{content}"}
            finish = "stop"
            self.counters.answers += 1
        elif tools:
            name = tools[0]["function"]["name"]
            message = {"role": "assistant", "content": None, "tool_calls": [
                {"id": f"call_{number}", "type": "function",
                 "function": {"name": name, "arguments": json.dumps(TOOL_ARGUMENTS)}}]}
            finish = "tool_calls"
            self.counters.tool_calls += 1
        else:
            message = {"role": "assistant", "content": "No tool was offered."}
            finish = "stop"
            self.counters.unexpected += 1
        model = request.get("model") or "benchmark-model"
        usage = {"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30}
        if request.get("stream"):
            return await self.stream(writer, number, model, message, finish, usage)
        await self.send_json(writer, 200, {
            "id": f"chatcmpl-{number}", "object": "chat.completion", "created": 1700000000, "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": usage,
        })

    async def stream(self, writer: asyncio.StreamWriter, number: int, model: str, message: dict[str, Any],
                     finish: str, usage: dict[str, int]) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")

        def chunk(delta: dict[str, Any], finish_reason: str | None = None, with_usage: bool = False) -> None:
            payload: dict[str, Any] = {
                "id": f"chatcmpl-{number}", "object": "chat.completion.chunk", "created": 1700000000,
                "model": model,
                "choices": [] if with_usage else [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
            }
            if with_usage:
                payload["usage"] = usage
            data = f"data: {json.dumps(payload, separators=(',', ':'))}\n\n".encode()
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

        if message.get("tool_calls"):
            call = message["tool_calls"][0]
            chunk({"role": "assistant", "tool_calls": [{"index": 0, **call}]})
        else:
            words = message["content"].split(" ")
            chunk({"role": "assistant", "content": words[0]})
            for word in words[1:]:
                chunk({"content": f" {word}"})
        chunk({}, finish)
        chunk({}, with_usage=True)
        done = b"data: [DONE]\n\n"
        writer.write(f"{len(done):x}\r\n".encode() + done + b"\r\n0\r\n\r\n")
        await writer.drain()


async def serve(port: int, latency_ms: float) -> None:
    model = ModelServer(latency_ms)
    server = await asyncio.start_server(model.handle, "127.0.0.1", port, backlog=1024)
    bound = server.sockets[0].getsockname()[1]
    print(f"listening on http://127.0.0.1:{bound}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay before each answer")
    args = parser.parse_args(argv)
    if args.latency_ms < 0:
        parser.error("--latency-ms must be zero or more")
    asyncio.run(serve(args.port, args.latency_ms))
    return 0


if __name__ == "__main__":
    sys.exit(main())
