"""The local host behind ``python -m azurefunctions.agents serve``: runs a Function App without Core Tools."""
