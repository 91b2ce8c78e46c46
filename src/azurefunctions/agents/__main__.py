"""Command line: ``python -m azurefunctions.agents serve APP_DIR [--host] [--port] [--enable-auth]``, and
``python -m azurefunctions.agents --version``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import Any


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m azurefunctions.agents",
                                     description="Azure Functions Agent Framework tools.")
    from . import __version__

    parser.add_argument("--version", action="version",
                        version=f"azurefunctions-agent-framework {__version__} (Python {sys.version.split()[0]})")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="Serve a Function App folder locally (like `func start`).")
    serve.add_argument("app_dir", nargs="?", default=".", help="folder with function_app.py (default: .)")
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=7071, help="port (default: 7071)")
    serve.add_argument("--enable-auth", action="store_true",
                       help="require function keys on FUNCTION and ADMIN routes, as the platform does")
    serve.add_argument("--no-settings-files", action="store_true",
                       help="do not read local.settings.json or .env: the environment alone configures the app")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return serve(Path(args.app_dir), host=args.host, port=args.port, enable_auth=args.enable_auth,
                     log_level=args.log_level, settings_files=not args.no_settings_files)
    return 2


def serve(app_dir: Path, *, host: str, port: int, enable_auth: bool, log_level: str = "info",
          settings_files: bool = True) -> int:
    logging.basicConfig(level=getattr(logging, log_level.upper()), format="%(levelname)s %(name)s: %(message)s")
    try:
        import uvicorn
    except ModuleNotFoundError as exc:
        from .errors import missing_extra

        print(missing_extra("The local host", "local", exc).message, file=sys.stderr)
        return 1
    from . import settings
    from .errors import ConfigurationError
    from .localhost.loader import load_app
    from .localhost.queues import QueuePoller
    from .localhost.server import LocalHost, http_functions
    from .run.replay import park_turns

    try:
        loaded = load_app(app_dir, settings_files=settings_files)
    except ConfigurationError as exc:  # a missing extra or setting: the message says what to do
        print(f"error: {app_dir / 'function_app.py'}: {exc.message}", file=sys.stderr)
        return 1
    functions = http_functions(loaded)
    host_app = LocalHost(functions, enable_auth=enable_auth, function_key=settings.LOCAL_FUNCTION_KEY.get(),
                         master_key=settings.LOCAL_MASTER_KEY.get())
    base = f"http://{host}:{port}"
    print(f"Serving {loaded.directory} on {base}", flush=True)
    if loaded.loaded_settings:
        print(f"Loaded settings: {', '.join(sorted(loaded.loaded_settings))}", flush=True)
    print("Functions:", flush=True)
    for function in functions:
        methods = ",".join(sorted(function.methods)) or "ALL"
        print(f"  {function.name}: [{methods}] {base}{function.path}  (auth: {function.auth_level.lower()})",
              flush=True)
    print(f"Playground: {base}/playground", flush=True)
    queues = QueuePoller.for_app(loaded.directory, loaded.functions)
    for queued in queues.functions if queues is not None else []:
        print(f"  {queued.name}: queue {queued.queue_name} (connection: {queued.connection})", flush=True)
    if enable_auth:
        if not settings.LOCAL_FUNCTION_KEY.get():
            print(f"Function key (x-functions-key): {host_app.function_key}", flush=True)
        if not settings.LOCAL_MASTER_KEY.get():
            print(f"Master key: {host_app.master_key}", flush=True)
    stopped = False

    async def shut_down() -> None:
        """Give running queue messages back (visible at once) and close the app, once."""
        nonlocal stopped
        if stopped:
            return
        stopped = True
        if queues is not None:
            park_turns()  # running turns stop at their next step boundary, for the next start to resume
            await queues.stop()
        closer = getattr(loaded.app, "aclose", None)
        if closer is not None:
            await closer()

    async def app_with_shutdown(scope: Any, receive: Any, send: Any) -> None:
        # On SIGTERM/SIGINT uvicorn re-raises the signal with its default action as soon as serve() returns
        # (uvicorn/server.py, Server.capture_signals), which would kill the process before a ``finally`` here
        # runs. The lifespan shutdown runs inside serve(), so the queues are stopped there.
        if scope["type"] != "lifespan":
            await host_app(scope, receive, send)
            return

        async def send_after_shutdown(message: Any) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                await shut_down()
            await send(message)

        await host_app(scope, receive, send_after_shutdown)

    config = uvicorn.Config(app_with_shutdown, host=host, port=port, log_level="warning", lifespan="on",
                            timeout_graceful_shutdown=5)

    class DrainingServer(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            # From the signal on, running turns (HTTP and background) stop at their next step boundary, while
            # uvicorn still lets open requests finish: a parked HTTP turn answers 503 turn_parked, and the
            # client's retry with its Idempotency-Key continues it elsewhere (docs/crash-safety.md).
            park_turns()
            super().handle_exit(sig, frame)

    server = DrainingServer(config)

    async def run() -> None:
        try:
            if queues is not None:
                await queues.start()
            await server.serve()
        finally:
            await shut_down()

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
