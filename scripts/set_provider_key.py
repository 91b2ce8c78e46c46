"""Store a model provider's API key in the environment's Key Vault, with your own Azure identity.

    python scripts/set_provider_key.py anthropic            # the key from ANTHROPIC_API_KEY, else a hidden prompt
    pass show anthropic | python scripts/set_provider_key.py anthropic      # or piped on stdin

The key is never an argument: shell history and process listings would keep it.

The key goes to the secret `<provider>-api-key`, which the app reads with its managed identity when
`AZURE_KEY_VAULT_ENDPOINT` is set; it never passes through an app setting, a file or the azd environment.
The vault comes from `--vault-url`, `AZURE_KEY_VAULT_ENDPOINT`, or `azd env get-value AZURE_KEY_VAULT_ENDPOINT`.
Needs azure-identity and azure-keyvault-secrets (the runtime's `azure` extra) and the Key Vault Secrets
Officer role, which the infrastructure grants the deploying principal.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import shutil
import subprocess
import sys
from urllib.parse import urlsplit

PROVIDERS = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "google": "GOOGLE_API_KEY",
    "azure-openai": "AZURE_OPENAI_API_KEY",
}


def vault_url(explicit: str | None) -> tuple[str, str]:
    """The vault URI and where it came from (named in errors, so the user knows what to fix)."""
    if explicit:
        return explicit, "--vault-url"
    if os.environ.get("AZURE_KEY_VAULT_ENDPOINT"):
        return os.environ["AZURE_KEY_VAULT_ENDPOINT"], "AZURE_KEY_VAULT_ENDPOINT"
    azd = shutil.which("azd")
    if azd is not None:
        result = subprocess.run(
            [azd, "env", "get-value", "AZURE_KEY_VAULT_ENDPOINT"], capture_output=True, text=True, check=False
        )
        if result.returncode == 0 and result.stdout.strip():
            return result.stdout.strip(), "AZURE_KEY_VAULT_ENDPOINT in the azd environment"
    raise SystemExit(
        "error: no vault: pass --vault-url, set AZURE_KEY_VAULT_ENDPOINT, or run inside an azd project "
        "whose environment has it (`azd up` puts it there)"
    )


def read_key(provider: str) -> tuple[str, str]:
    """The key and where it came from; never from the command line, which shell history keeps."""
    variable = PROVIDERS[provider]
    key = os.environ.get(variable, "").strip()
    source = variable
    if not key and sys.stdin.isatty():
        key = getpass.getpass(f"{provider} API key (input hidden): ").strip()
        source = "the prompt"
    elif not key:
        key = sys.stdin.readline().strip()
        source = "stdin"
    if not key:
        raise SystemExit(f"error: no key: set {variable}, or type it at the prompt, or pipe it on stdin")
    return key, source


def store(url: str, name: str, key: str, provider: str) -> None:
    """Write the secret with the caller's own identity; failures become errors that say what to do."""
    try:
        from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError
        from azure.identity import DefaultAzureCredential
        from azure.keyvault.secrets import SecretClient
    except ImportError:
        raise SystemExit(
            "error: pip install azure-identity azure-keyvault-secrets (the runtime's `azure` extra)"
        ) from None
    # The SDK's own warnings repeat what the errors below say; without a handler they would reach stderr.
    logging.getLogger("azure").addHandler(logging.NullHandler())
    try:
        with DefaultAzureCredential() as credential, SecretClient(url, credential) as client:
            client.set_secret(name, key, content_type="text/plain", tags={"provider": provider})
    except ClientAuthenticationError as exc:
        if exc.status_code in (401, 403):
            raise SystemExit(_refused(url, name, exc.status_code)) from None
        raise SystemExit(
            f"error: no Azure sign-in to write to {url}: run `az login` or `azd auth login`, then retry.\n{exc.message}"
        ) from None
    except HttpResponseError as exc:
        if exc.status_code == 403:
            raise SystemExit(_refused(url, name, 403)) from None
        raise SystemExit(f"error: {url} refused to store {name} (HTTP {exc.status_code}): {exc.message}") from None
    except ServiceRequestError as exc:
        raise SystemExit(f"error: cannot reach {url}: {exc.message}") from None


def _refused(url: str, name: str, status: int | None) -> str:
    return (
        f"error: {url} refused to store {name} (HTTP {status}): your identity needs the Key Vault Secrets "
        "Officer role on this vault (the infrastructure grants it to the principal that deployed it)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Store a provider API key in the environment's Key Vault.",
        epilog="The key comes from the provider's variable (e.g. OPENAI_API_KEY), a hidden prompt, or stdin; "
        "never from the command line.",
    )
    parser.add_argument("provider", choices=sorted(PROVIDERS), help="model provider")
    parser.add_argument("--vault-url", help="Key Vault URI (default: AZURE_KEY_VAULT_ENDPOINT or the azd env)")
    args, extra = parser.parse_known_args(argv)
    if extra:
        # Not echoed: the most likely extra argument is the key itself.
        parser.print_usage(sys.stderr)
        parser.exit(
            2,
            f"{parser.prog}: error: {len(extra)} unexpected argument(s), not shown. The key is never taken on "
            f"the command line, where shell history keeps it: set {PROVIDERS[args.provider]}, type it at the "
            "prompt, or pipe it on stdin.\n",
        )
    url, where = vault_url(args.vault_url)
    if urlsplit(url).scheme != "https" or not urlsplit(url).hostname:
        raise SystemExit(f"error: {where} must be an https:// vault URI, got {url!r}")
    key, source = read_key(args.provider)
    name = f"{args.provider}-api-key"
    store(url, name, key, args.provider)
    print(f"stored secret {name} (from {source}) in {url}; the app picks it up on its next cold start")
    return 0


if __name__ == "__main__":
    sys.exit(main())
