"""The Azure Functions layer: ``AgentFunctionApp``, its routes, validation, errors and HTTP adapters."""
