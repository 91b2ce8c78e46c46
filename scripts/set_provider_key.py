"""Store a model provider's API key in the environment's Key Vault, with your own Azure identity.

    python scripts/set_provider_key.py anthropic            # reads the key from ANTHROPIC_API_KEY or a prompt

The key goes to the secret `<provider>-api-key`, which the app reads with its managed identity when
`AZURE_KEY_VAULT_ENDPOINT` is set; it never passes through an app setting, a file or the azd environment.
The vault comes from `--vault-url`, `AZURE_KEY_VAULT_ENDPOINT`, or `azd env get-value AZURE_KEY_VAULT_ENDPOINT`.
Needs azure-identity and azure-keyvault-secrets (the runtime's `azure` extra) and the Key Vault Secrets
Officer role, which the infrastructure grants the deploying principal.
"""

from __future__ import annotations

import argparse
import getpass
import os
import shutil
import subprocess
import sys

PROVIDERS = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "google": "GOOGLE_API_KEY",
    "azure-openai": "AZURE_OPENAI_API_KEY",
}


def vault_url(explicit: str | None) -> str:
    if explicit:
        return explicit
    if os.environ.get("AZURE_KEY_VAULT_ENDPOINT"):
        return os.environ["AZURE_KEY_VAULT_ENDPOINT"]
    azd = shutil.which("azd")
    if azd is not None:
        result = subprocess.run(
            [azd, "env", "get-value", "AZURE_KEY_VAULT_ENDPOINT"], capture_output=True, text=True, check=False
        )
        if result.returncode == 0 and result.stdout.strip().startswith("https://"):
            return result.stdout.strip()
    raise SystemExit("error: no vault: pass --vault-url, set AZURE_KEY_VAULT_ENDPOINT, or run inside an azd project")


def read_key(provider: str) -> str:
    variable = PROVIDERS[provider]
    key = os.environ.get(variable, "").strip()
    if not key and sys.stdin.isatty():
        key = getpass.getpass(f"{provider} API key (input hidden): ").strip()
    elif not key:
        key = sys.stdin.readline().strip()
    if not key:
        raise SystemExit(f"error: no key: set {variable}, or type it at the prompt, or pipe it on stdin")
    return key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Store a provider API key in the environment's Key Vault.")
    parser.add_argument("provider", choices=sorted(PROVIDERS), help="model provider")
    parser.add_argument("--vault-url", help="Key Vault URI (default: AZURE_KEY_VAULT_ENDPOINT or the azd env)")
    args = parser.parse_args(argv)
    url = vault_url(args.vault_url)
    if not url.startswith("https://"):
        raise SystemExit(f"error: --vault-url must be an https:// vault URI, got {url!r}")
    key = read_key(args.provider)
    try:
        from azure.identity import DefaultAzureCredential
        from azure.keyvault.secrets import SecretClient
    except ImportError:
        raise SystemExit(
            "error: pip install azure-identity azure-keyvault-secrets (the runtime's `azure` extra)"
        ) from None
    name = f"{args.provider}-api-key"
    with DefaultAzureCredential() as credential, SecretClient(url, credential) as client:
        client.set_secret(name, key, content_type="text/plain", tags={"provider": args.provider})
    print(f"stored secret {name} in {url} (the app picks it up on its next cold start)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
