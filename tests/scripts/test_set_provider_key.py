"""scripts/set_provider_key.py, run as a user runs it, against the local Key Vault and identity servers.

The script runs in a subprocess with the real azure-identity and azure-keyvault-secrets: its
``DefaultAzureCredential`` gets the deployer's token from the local managed-identity endpoint, and its
``SecretClient`` writes over HTTPS to the local vault (trusted through ``REQUESTS_CA_BUNDLE``), which keeps
the SDK's challenge-resource check on. A stand-in ``azd`` on a temporary ``PATH`` records its arguments and
prints the azd environment's vault URI.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers.identity import IdentityServer
from tests.servers.keyvault import KeyVaultServer

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "set_provider_key.py"
KEY = "sk-test-0123456789abcdef0123456789abcdef"

STAND_IN_AZD = """#!{python}
import json, os, sys
with open(os.environ["STAND_IN_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
vault = os.environ.get("STAND_IN_VAULT")
if vault is None:
    print("ERROR: key 'AZURE_KEY_VAULT_ENDPOINT' not found in the environment values", file=sys.stderr)
    sys.exit(1)
print(vault)
"""


@pytest.fixture(scope="module")
def identity() -> Iterator[IdentityServer]:
    with IdentityServer() as server:
        yield server


@pytest.fixture(scope="module")
def vault_server(identity: IdentityServer) -> Iterator[KeyVaultServer]:
    with KeyVaultServer(token_validator=lambda token: token in identity.tokens) as server:
        server.challenge_resource = server.loopback_challenge_resource()
        yield server


@pytest.fixture
def vault(vault_server: KeyVaultServer, identity: IdentityServer) -> KeyVaultServer:
    vault_server.reset()
    identity.requests.clear()
    return vault_server


@pytest.fixture
def home(tmp_path: Path) -> dict[str, Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    return {"bin": bin_dir, "home": tmp_path / "home", "log": tmp_path / "azd.jsonl"}


def with_azd(home: dict[str, Path]) -> None:
    azd = home["bin"] / "azd"
    azd.write_text(STAND_IN_AZD.format(python=sys.executable))
    azd.chmod(0o755)


def azd_calls(home: dict[str, Path]) -> list[list[str]]:
    if not home["log"].exists():
        return []
    return [json.loads(line) for line in home["log"].read_text().splitlines()]


def script_env(home: dict[str, Path], identity: IdentityServer, vault: KeyVaultServer, **extra: str) -> dict[str, str]:
    home["home"].mkdir(exist_ok=True)
    return {
        "PATH": f"{home['bin']}:/usr/bin:/bin",
        "HOME": str(home["home"]),
        "STAND_IN_LOG": str(home["log"]),
        "REQUESTS_CA_BUNDLE": vault.ca_file,
        **identity.env,
        **extra,
    }


def run(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_key_never_shown(result: Any) -> None:
    assert KEY not in result.stdout
    assert KEY not in result.stderr


def test_key_from_the_variable_is_stored_with_the_deployers_identity(
    vault: KeyVaultServer, identity: IdentityServer, home: dict[str, Path]
) -> None:
    env = script_env(home, identity, vault, OPENAI_API_KEY=KEY, AZURE_KEY_VAULT_ENDPOINT=vault.url + "/")
    result = run(["openai"], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        f"stored secret openai-api-key (from OPENAI_API_KEY) in {vault.url}/; "
        "the app picks it up on its next cold start\n"
    )
    assert_key_never_shown(result)
    assert vault.value_of("openai-api-key") == KEY
    [write] = vault.writes
    assert (write.name, write.content_type, write.tags) == ("openai-api-key", "text/plain", {"provider": "openai"})
    # The token came from the credential, for the resource the vault's challenge named.
    assert write.token in identity.tokens
    assert [r.resource for r in identity.requests] == [vault.challenge_resource]
    assert vault.challenges == 1


def test_key_piped_on_stdin_goes_to_the_vault_of_the_azd_environment(
    vault: KeyVaultServer, identity: IdentityServer, home: dict[str, Path]
) -> None:
    with_azd(home)
    env = script_env(home, identity, vault, STAND_IN_VAULT=vault.url + "/")
    result = run(["anthropic"], env, stdin=KEY + "\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("stored secret anthropic-api-key (from stdin) in ")
    assert_key_never_shown(result)
    assert azd_calls(home) == [["env", "get-value", "AZURE_KEY_VAULT_ENDPOINT"]]
    assert vault.value_of("anthropic-api-key") == KEY
    assert vault.writes[0].tags == {"provider": "anthropic"}


def test_vault_url_option_wins_and_every_provider_has_its_secret(
    vault: KeyVaultServer, identity: IdentityServer, home: dict[str, Path]
) -> None:
    with_azd(home)
    env = script_env(home, identity, vault, AZURE_KEY_VAULT_ENDPOINT="https://elsewhere.vault.azure.net/")
    for provider, variable in [("google", "GOOGLE_API_KEY"), ("azure-openai", "AZURE_OPENAI_API_KEY")]:
        result = run([provider, "--vault-url", vault.url], {**env, variable: f"{KEY}-{provider}"})
        assert result.returncode == 0, result.stderr
        assert vault.value_of(f"{provider}-api-key") == f"{KEY}-{provider}"
    assert azd_calls(home) == []


def prompt_through_terminal(args: list[str], env: dict[str, str], typed: str) -> tuple[int, str]:
    """Runs the script on a new pseudo-terminal (its controlling terminal, as in a shell) and types ``typed``."""
    master, slave = os.openpty()
    slave_name = os.ttyname(slave)
    # The parent keeps its end of the terminal open, so reading never fails before the script has opened it.
    # A new session has no controlling terminal; opening the terminal's device makes it the controlling one.
    launcher = (
        "import os, sys\n"
        "fd = os.open(sys.argv[1], os.O_RDWR)\n"
        "for target in (0, 1, 2): os.dup2(fd, target)\n"
        "os.execv(sys.executable, [sys.executable, *sys.argv[2:]])\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", launcher, slave_name, str(SCRIPT), *args],
        env=env,
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    output = b""
    typed_yet = False
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                output += os.read(master, 4096)
            if not typed_yet and b"(input hidden): " in output:
                os.write(master, typed.encode() + b"\n")
                typed_yet = True
            if process.poll() is not None and not ready:
                break
        return process.wait(timeout=10), output.decode(errors="replace")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        os.close(master)
        os.close(slave)


def test_key_typed_at_the_hidden_prompt_is_stored_and_never_echoed(
    vault: KeyVaultServer, identity: IdentityServer, home: dict[str, Path]
) -> None:
    env = script_env(home, identity, vault, AZURE_KEY_VAULT_ENDPOINT=vault.url)
    code, output = prompt_through_terminal(["anthropic"], env, KEY)
    assert code == 0, output
    assert "anthropic API key (input hidden): " in output
    assert "stored secret anthropic-api-key (from the prompt)" in output
    assert KEY not in output
    assert vault.value_of("anthropic-api-key") == KEY


def test_key_on_the_command_line_is_refused_and_not_echoed(
    vault: KeyVaultServer, identity: IdentityServer, home: dict[str, Path]
) -> None:
    env = script_env(home, identity, vault, AZURE_KEY_VAULT_ENDPOINT=vault.url)
    for args in (["openai", KEY], ["openai", f"--key={KEY}"], ["openai", "--key", KEY]):
        result = run(args, env, stdin=KEY)
        assert result.returncode == 2
        assert_key_never_shown(result)
        assert "argument(s), not shown. The key is never taken on the command line" in result.stderr
        assert "set OPENAI_API_KEY, type it at the prompt, or pipe it on stdin" in result.stderr
    assert vault.writes == []
    assert identity.requests == []


def test_unknown_provider_is_refused_with_the_choices(
    vault: KeyVaultServer, identity: IdentityServer, home: dict[str, Path]
) -> None:
    env = script_env(home, identity, vault, AZURE_KEY_VAULT_ENDPOINT=vault.url)
    result = run(["mistral"], env, stdin=KEY)
    assert result.returncode == 2
    assert "argument provider: invalid choice: 'mistral' (choose from " in result.stderr
    choices = result.stderr.split("(choose from ", 1)[1].split(")", 1)[0]
    assert [c.strip(" '") for c in choices.split(",")] == ["anthropic", "azure-openai", "google", "openai"]
    assert_key_never_shown(result)
    assert vault.writes == []


@pytest.mark.parametrize("variable", [None, "   "], ids=["unset", "blank"])
def test_empty_key_names_where_to_put_it(
    vault: KeyVaultServer, identity: IdentityServer, home: dict[str, Path], variable: str | None
) -> None:
    extra = {"AZURE_KEY_VAULT_ENDPOINT": vault.url}
    if variable is not None:
        extra["OPENAI_API_KEY"] = variable
    result = run(["openai"], script_env(home, identity, vault, **extra), stdin="\n")
    assert result.returncode == 1
    assert result.stderr == "error: no key: set OPENAI_API_KEY, or type it at the prompt, or pipe it on stdin\n"
    assert vault.writes == []
    assert identity.requests == []


def test_no_vault_says_what_to_set(vault: KeyVaultServer, identity: IdentityServer, home: dict[str, Path]) -> None:
    expected = (
        "error: no vault: pass --vault-url, set AZURE_KEY_VAULT_ENDPOINT, or run inside an azd project "
        "whose environment has it (`azd up` puts it there)\n"
    )
    env = script_env(home, identity, vault, OPENAI_API_KEY=KEY)
    result = run(["openai"], env)
    assert (result.returncode, result.stderr) == (1, expected)
    with_azd(home)  # an azd project whose environment has no vault yet
    result = run(["openai"], env)
    assert (result.returncode, result.stderr) == (1, expected)
    assert azd_calls(home) == [["env", "get-value", "AZURE_KEY_VAULT_ENDPOINT"]]
    assert vault.writes == []


@pytest.mark.parametrize(
    ("args", "extra", "source"),
    [
        (["--vault-url", "http://127.0.0.1:1/"], {}, "--vault-url"),
        ([], {"AZURE_KEY_VAULT_ENDPOINT": "kv-dev.vault.azure.net"}, "AZURE_KEY_VAULT_ENDPOINT"),
        ([], {"STAND_IN_VAULT": "https://"}, "AZURE_KEY_VAULT_ENDPOINT in the azd environment"),
    ],
)
def test_a_vault_uri_that_is_not_https_names_its_source(
    vault: KeyVaultServer,
    identity: IdentityServer,
    home: dict[str, Path],
    args: list[str],
    extra: dict[str, str],
    source: str,
) -> None:
    with_azd(home)
    result = run(["openai", *args], script_env(home, identity, vault, OPENAI_API_KEY=KEY, **extra))
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: {source} must be an https:// vault URI, got ")
    assert_key_never_shown(result)


def test_identity_without_the_role_is_told_which_role_it_needs(
    vault: KeyVaultServer, identity: IdentityServer, home: dict[str, Path]
) -> None:
    vault.forbidden.add("openai-api-key")
    result = run(["openai"], script_env(home, identity, vault, OPENAI_API_KEY=KEY, AZURE_KEY_VAULT_ENDPOINT=vault.url))
    assert result.returncode == 1
    assert result.stderr == (
        f"error: {vault.url} refused to store openai-api-key (HTTP 403): your identity needs the Key Vault "
        "Secrets Officer role on this vault (the infrastructure grants it to the principal that deployed it)\n"
    )
    assert_key_never_shown(result)
    assert vault.value_of("openai-api-key") is None


def test_no_sign_in_says_how_to_sign_in(vault: KeyVaultServer, identity: IdentityServer, home: dict[str, Path]) -> None:
    # A developer machine with neither `az` nor `azd` signed in (no managed identity, so only developer tools).
    env = script_env(home, identity, vault, OPENAI_API_KEY=KEY, AZURE_KEY_VAULT_ENDPOINT=vault.url)
    env["AZURE_TOKEN_CREDENTIALS"] = "dev"
    # Not used under "dev"; if it were, a wrong header keeps any managed-identity attempt on 127.0.0.1.
    env["IDENTITY_HEADER"] = "not-the-identity-header"
    result = run(["openai"], env)
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"error: no Azure sign-in to write to {vault.url}: run `az login` or `azd auth login`, then retry.\n"
        "DefaultAzureCredential failed to retrieve a token from the included credentials.\n"
    )
    assert "AzureCliCredential: Azure CLI not found on path" in result.stderr
    assert_key_never_shown(result)
    assert vault.writes == []
    assert identity.requests == []
