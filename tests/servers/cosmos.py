"""A local Cosmos DB SQL-API endpoint for tests: npm ``@vercel/cosmosdb-server`` on 127.0.0.1 over HTTPS.

The real ``azure-cosmos`` SDK talks to it. It does no authentication (an Entra ID token is accepted as is),
never expires items by TTL and does not enforce the 2 MB item limit, so those parts of an adapter need their
own unit tests. Construct clients with ``enable_endpoint_discovery=False``: the server advertises its bind
address as the account's regional endpoint. The SDK skips TLS verification for 127.0.0.1 by itself.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent.parent
NODE_MODULES = TESTS_DIR / "node" / "node_modules"
SCRIPT = Path(__file__).resolve().with_name("cosmos_server.js")


def write_self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 and localhost, valid for a day; returns (cert, key) paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


class CosmosServer:
    """Runs the server in a Node process until ``stop()``; usable as a context manager.

    ``endpoint`` is the account URL to give ``CosmosClient``.
    """

    def __init__(self) -> None:
        self.endpoint = ""
        self._process: subprocess.Popen[str] | None = None
        self._folder: str | None = None

    @staticmethod
    def available() -> str | None:
        """Why the server cannot run here, or ``None`` when it can."""
        if shutil.which("node") is None:
            return "node is not installed"
        if not (NODE_MODULES / "@vercel" / "cosmosdb-server").is_dir():
            return f"@vercel/cosmosdb-server is not installed in {NODE_MODULES} (npm ci there)"
        return None

    def start(self, timeout: float = 20.0) -> CosmosServer:
        reason = self.available()
        if reason is not None:
            raise RuntimeError(reason)
        self._folder = tempfile.mkdtemp(prefix="cosmos-server-")
        cert, key = write_self_signed_certificate(Path(self._folder))
        env = {**os.environ, "NODE_PATH": str(NODE_MODULES)}
        self._process = subprocess.Popen(
            ["node", str(SCRIPT), str(cert), str(key)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        port = self._read_port(timeout)
        self.endpoint = f"https://127.0.0.1:{port}/"
        return self

    def _read_port(self, timeout: float) -> int:
        assert self._process is not None and self._process.stdout is not None
        stdout = self._process.stdout
        found: list[str] = []
        reader = threading.Thread(target=lambda: found.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        line = found[0] if found else ""
        if not line.startswith("listening "):
            self.stop()
            raise RuntimeError(f"cosmosdb-server did not start within {timeout} s (printed {line!r})")
        return int(line.split()[1])

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            if process.stdin is not None:
                process.stdin.close()  # the script exits when its stdin closes
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
            if process.stdout is not None:
                process.stdout.close()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def __enter__(self) -> CosmosServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

