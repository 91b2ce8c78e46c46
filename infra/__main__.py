"""Entry point of `pulumi up` in infra/: validate the config, build the stack, export its outputs."""

import pulumi
from agents_infra import config, program

try:
    stack_config = config.load()
except config.ConfigError as error:
    raise pulumi.RunError(str(error)) from None

for name, value in program.build(stack_config).items():
    pulumi.export(name, value)
