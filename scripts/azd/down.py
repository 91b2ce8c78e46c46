"""azd `predown` hook: `pulumi destroy` of the environment's stack, then purge the soft-deleted Key Vault.

azure.yaml runs it as `python3 <repo>/scripts/azd/down.py --project-dir .` from azd's project folder, before
`azd down` clears the (empty) Bicep deployment.
Purging frees the vault name at once, so `azd up` can re-create the environment; it is skipped when the stack
has purge protection on (the vault then stays recoverable for its retention period).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from pulumi_hook import (
    INFRA_DIR,
    environ,
    find_pulumi,
    main,
    pulumi_environment,
    require_environment,
    run,
    select_stack,
    stack_outputs,
)


def purge_protection_on(pulumi: str, env: dict[str, str], stack: str) -> bool:
    """Whether the stack's vault has purge protection (then it cannot be purged, only left soft-deleted)."""
    import subprocess

    result = subprocess.run(
        [
            pulumi,
            "config",
            "get",
            "azurefunctions-agents:keyVaultPurgeProtection",
            "--stack",
            stack,
            "--cwd",
            str(INFRA_DIR),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    # Unset means the program's default, which is on; only an explicit false turns it off.
    explicitly_off = result.returncode == 0 and result.stdout.strip().lower() in ("false", "0", "no")
    return not explicitly_off


def destroy(project: Path) -> int:
    env_in = environ()
    values = require_environment(env_in)
    pulumi = find_pulumi(env_in)
    env = pulumi_environment(env_in, values, project)
    stack = values["AZURE_ENV_NAME"]
    cwd = str(INFRA_DIR)

    select_stack(pulumi, env, stack)
    outputs = stack_outputs(pulumi, env, stack)
    keep_vault = purge_protection_on(pulumi, env, stack)
    run([pulumi, "destroy", "--yes", "--skip-preview", "--stack", stack, "--non-interactive", "--cwd", cwd], env)

    vault = outputs.get("AZURE_KEY_VAULT_NAME")
    location = outputs.get("AZURE_LOCATION") or values["AZURE_LOCATION"]
    if not vault:
        return 0
    if keep_vault:
        print(f"Key Vault {vault} has purge protection: it stays soft-deleted until its retention period ends.")
        return 0
    az = shutil.which("az", path=env_in.get("PATH"))
    purge = [
        "keyvault",
        "purge",
        "--name",
        vault,
        "--location",
        location,
        "--subscription",
        values["AZURE_SUBSCRIPTION_ID"],
    ]
    if az is None:
        print(f"To reuse the vault name now, purge it: az {' '.join(purge)}")
        return 0
    run([az, *purge], env_in)
    return 0


if __name__ == "__main__":
    sys.exit(main(destroy, "azd predown hook: pulumi destroy, then purge the soft-deleted Key Vault"))
