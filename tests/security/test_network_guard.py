"""The loopback-only guard every test runs under (tests/servers/network_guard): it fires, and it fails the test.

Each case runs a small test file in a fresh pytest process with the plugin loaded and real-looking cloud
settings exported, then reads the outcome: a guard that did not fire would let that inner run pass.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.servers.network_guard import loopback_only

REPO = Path(__file__).resolve().parents[2]
# Real-looking settings a developer may have exported (none of them is used: the run must scrub them).
EXPORTED = {
    "AZURE_OPENAI_ENDPOINT": "https://contoso-prod.openai.azure.com/",
    "AZURE_OPENAI_API_KEY": "0123456789abcdef0123456789abcdef",
    "OPENAI_API_KEY": "sk-proj-real-looking-key-0123456789",
    "ANTHROPIC_API_KEY": "sk-ant-api03-real-looking",
    "GOOGLE_API_KEY": "AIzaSyReal-Looking-Key",
    "COSMOS_ENDPOINT": "https://contoso-prod.documents.azure.com:443/",
    "AzureWebJobsStorage": "DefaultEndpointsProtocol=https;AccountName=contosoprod;AccountKey=a2V5;",
}
# TEST-NET-1 (RFC 5737): never routed, so even an unguarded attempt cannot reach anyone.
OFF_LOOPBACK = "192.0.2.1"


def run_inner(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    test_file = tmp_path / "test_inner.py"
    test_file.write_text(textwrap.dedent(body))
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, **EXPORTED, "PYTHONPATH": str(REPO)}
    env.pop(loopback_only.LOG_SETTING, None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.servers.network_guard.plugin", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), str(test_file)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )


@pytest.mark.parametrize("address", ["192.0.2.1", "10.0.0.1", "169.254.169.254", "2001:db8::1"])
def test_connection_off_loopback_is_refused_here(address: str) -> None:
    import socket

    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    before = len(loopback_only.violations)
    with socket.socket(family, socket.SOCK_STREAM) as sock, pytest.raises(ConnectionRefusedError):
        sock.connect((address, 443))
    assert address in loopback_only.violations[before]
    del loopback_only.violations[before:]  # recorded as it should be; this test expected it


def test_loopback_and_localhost_stay_allowed() -> None:
    for host in ("127.0.0.1", "127.5.6.7", "::1", "localhost", "::ffff:127.0.0.1", None):
        assert loopback_only.is_loopback_host(host), host
    for host in ("192.0.2.1", "contoso-prod.openai.azure.com", "10.0.0.1", "::ffff:10.0.0.1"):
        assert not loopback_only.is_loopback_host(host), host


def test_a_swallowed_connection_still_fails_the_test(tmp_path: Path) -> None:
    result = run_inner(tmp_path, f"""
        import httpx

        def test_reaches_out():
            try:
                httpx.get("https://{OFF_LOOPBACK}/openai/deployments", timeout=2)
            except httpx.HTTPError:
                pass  # the code under test hid the failure; the guard must not
        """)
    assert result.returncode == 1, result.stdout
    assert "outside loopback" in result.stdout
    assert OFF_LOOPBACK in result.stdout


def test_a_name_lookup_of_a_real_endpoint_fails_the_test(tmp_path: Path) -> None:
    result = run_inner(tmp_path, """
        import socket

        def test_resolves():
            try:
                socket.getaddrinfo("contoso-prod.openai.azure.com", 443)
            except OSError:
                pass
        """)
    assert result.returncode == 1, result.stdout
    assert "contoso-prod.openai.azure.com" in result.stdout


def test_a_child_process_reaching_out_fails_the_test(tmp_path: Path) -> None:
    result = run_inner(tmp_path, f"""
        import subprocess, sys
        from tests.servers.network_guard.plugin import guarded_env

        def test_child():
            code = ("import socket\\ntry:\\n socket.create_connection(('{OFF_LOOPBACK}', 443), timeout=1)\\n"
                    "except OSError:\\n pass")
            subprocess.run([sys.executable, "-c", code], env=guarded_env(), check=True, timeout=60)
        """)
    assert result.returncode == 1, result.stdout
    assert "outside loopback" in result.stdout and OFF_LOOPBACK in result.stdout


def test_exported_cloud_settings_never_reach_a_test(tmp_path: Path) -> None:
    result = run_inner(tmp_path, """
        import os
        from tests.servers.network_guard.plugin import guarded_env

        def test_environment_is_clean():
            leaked = [n for n in ("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "OPENAI_API_KEY",
                                  "ANTHROPIC_API_KEY", "GOOGLE_API_KEY", "COSMOS_ENDPOINT", "AzureWebJobsStorage")
                      if n in os.environ or n in guarded_env()]
            assert leaked == []
        """)
    assert result.returncode == 0, result.stdout
    assert "1 passed" in result.stdout


def test_the_local_host_never_reads_a_samples_local_settings(tmp_path: Path) -> None:
    from tests.servers.localhost import LocalHostProcess

    app = tmp_path / "app"
    app.mkdir()
    (app / "function_app.py").write_text(textwrap.dedent("""
        import os
        import azure.functions as func

        app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

        @app.route(route="health")
        def health(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse(os.environ.get("OPENAI_API_KEY", "unset"))
        """))
    (app / "local.settings.json").write_text('{"Values": {"OPENAI_API_KEY": "sk-from-local-settings"}}')
    import httpx

    with LocalHostProcess(app) as host:
        assert httpx.get(f"{host.url}/api/health", timeout=10).text == "unset"
        assert "sk-from-local-settings" not in host.output


def run_inner_ci(tmp_path: Path, body: str, *, ci: str | None) -> subprocess.CompletedProcess[str]:
    test_file = tmp_path / "test_inner_ci.py"
    test_file.write_text(textwrap.dedent(body))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CI")}
    env["PYTHONPATH"] = str(REPO)
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "tests.servers.network_guard.plugin", "-p",
         "no:cacheprovider", "--rootdir", str(tmp_path), str(test_file)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )


SKIPPING = """
    import pytest

    def test_needs_a_peer():
        pytest.skip("node is not installed")

    def test_module_missing():
        pytest.importorskip("a_module_that_is_not_installed")

    def test_structural():
        pytest.skip("the memory store lives in one process")
    """


def test_under_ci_a_missing_peer_fails_the_run(tmp_path: Path) -> None:
    result = run_inner_ci(tmp_path, SKIPPING, ci="true")
    assert result.returncode == 1, result.stdout
    assert "2 failed, 1 skipped" in result.stdout
    assert "skipped under CI=true: node is not installed" in result.stdout


def test_outside_ci_a_missing_peer_is_a_skip(tmp_path: Path) -> None:
    result = run_inner_ci(tmp_path, SKIPPING, ci=None)
    assert result.returncode == 0, result.stdout
    assert "3 skipped" in result.stdout


def test_under_ci_a_module_level_skip_fails_too(tmp_path: Path) -> None:
    result = run_inner_ci(tmp_path, """
        import pytest

        pytest.importorskip("a_module_that_is_not_installed")

        def test_never_collected():
            pass
        """, ci="true")
    assert result.returncode != 0, result.stdout
    assert "skipped under CI=true" in result.stdout
