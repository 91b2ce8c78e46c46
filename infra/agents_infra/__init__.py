"""The Pulumi program of the Azure Functions Agent Framework, one concern a module.

`program.build` creates every resource from a validated `StackConfig`; `__main__.py` (next to this package)
is what `pulumi up` runs. Nothing here imports the runtime package: the setting names the Function App
receives are literal strings, and the infrastructure tests compare them with the runtime's settings module.
"""
