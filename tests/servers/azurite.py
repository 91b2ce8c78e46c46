"""Azurite's queue service (npm ``azurite``, the real Azure Storage emulator) on 127.0.0.1 for tests.

Started on a free port with a throw-away workspace folder, telemetry off, so nothing leaves the machine.
``connection_string`` is what ``AzureWebJobsStorage`` (or any connection setting) holds to reach it; the
real ``azure-storage-queue`` SDK talks to it. The data lives in the workspace folder until ``stop()``, so a
queue survives a restart of whatever uses it (but not of Azurite itself unless ``restart()`` is used).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from .base import free_port

TESTS_DIR = Path(__file__).resolve().parent.parent
AZURITE_QUEUE = TESTS_DIR / "node" / "node_modules" / ".bin" / "azurite-queue"
ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key (public, the same in every installation).
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class AzuriteQueues:
    """Runs ``azurite-queue`` until ``stop()``; usable as a context manager."""

    def __init__(self) -> None:
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._folder: str | None = None

    @staticmethod
    def available() -> str | None:
        """Why Azurite cannot run here, or ``None`` when it can."""
        if shutil.which("node") is None:
            return "node is not installed"
        if not AZURITE_QUEUE.exists():
            return f"azurite is not installed ({AZURITE_QUEUE} is missing; npm ci in tests/node)"
        return None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
                f"QueueEndpoint={self.endpoint};")

    def start(self, timeout: float = 20.0) -> AzuriteQueues:
        reason = self.available()
        if reason is not None:
            raise RuntimeError(reason)
        if self._folder is None:
            self._folder = tempfile.mkdtemp(prefix="azurite-")
        self.port = free_port()
        self._process = subprocess.Popen(
            [str(AZURITE_QUEUE), "--queueHost", "127.0.0.1", "--queuePort", str(self.port),
             "--location", self._folder, "--skipApiVersionCheck", "--loose", "--silent", "--disableTelemetry"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self.stop()
                raise RuntimeError("azurite-queue exited at start")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"azurite-queue did not listen within {timeout} s")

    def _end_process(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)

    def stop(self) -> None:
        self._end_process()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def __enter__(self) -> AzuriteQueues:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
