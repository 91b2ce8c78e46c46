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
    """Runs ``azurite-queue`` until ``stop()``; usable as a context manager.

    ``oauth=True``: over HTTPS (a throw-away certificate for 127.0.0.1, ``ca_file``) with ``--oauth basic``, the
    only way Azurite takes Entra ID bearer tokens (QueueTokenAuthenticator.validate refuses them over HTTP); it
    then checks a token's JWT shape - an Entra issuer, audience ``https://storage.azure.com``, ``iat``/``nbf``/
    ``exp`` - but not its signature. The development key still works too.
    """

    def __init__(self, *, oauth: bool = False) -> None:
        self.port = 0
        self.oauth = oauth
        self.ca_file = ""
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
        scheme = "https" if self.oauth else "http"
        return f"{scheme}://127.0.0.1:{self.port}/{ACCOUNT}"

    @property
    def connection_string(self) -> str:
        scheme = "https" if self.oauth else "http"
        return (f"DefaultEndpointsProtocol={scheme};AccountName={ACCOUNT};AccountKey={KEY};"
                f"QueueEndpoint={self.endpoint};")

    def start(self, timeout: float = 20.0) -> AzuriteQueues:
        reason = self.available()
        if reason is not None:
            raise RuntimeError(reason)
        if self._folder is None:
            self._folder = tempfile.mkdtemp(prefix="azurite-")
        self.port = free_port()
        args = [str(AZURITE_QUEUE), "--queueHost", "127.0.0.1", "--queuePort", str(self.port),
                "--location", self._folder, "--skipApiVersionCheck", "--loose", "--silent", "--disableTelemetry"]
        if self.oauth:
            from .cosmos import write_self_signed_certificate

            cert, key = write_self_signed_certificate(Path(self._folder))
            self.ca_file = str(cert)
            args += ["--cert", str(cert), "--key", str(key), "--oauth", "basic"]
        self._process = subprocess.Popen(
            args,
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
