"""The OpenAPI description shows each typed agent's output schema, nested models included."""

from __future__ import annotations

from openapi_spec_validator import validate
from pydantic import BaseModel

from azurefunctions.agents.hosting.openapi import build_openapi
from azurefunctions.agents.http.routes import STANDARD_ROUTES
from azurefunctions.agents.structured_output import StructuredOutput


class Customer(BaseModel):
    name: str


class Ticket(BaseModel):
    customer: Customer
    urgent: bool


def test_output_schemas_with_nested_models_are_components_and_the_document_is_valid() -> None:
    document = build_openapi(list(STANDARD_ROUTES), {}, title="t", version="1", server_url="/",
                             agent_names=["Triage", "Colours"],
                             output_schemas={"Triage": StructuredOutput(Ticket).schema,
                                             "Colours": StructuredOutput(list[str]).schema})
    validate(document)
    schemas = document["components"]["schemas"]
    assert schemas["Output_Triage"]["properties"]["customer"] == {
        "$ref": "#/components/schemas/Output_Triage_Customer"}
    assert schemas["Output_Triage_Customer"]["required"] == ["name"]
    assert schemas["Output_Colours"] == {"type": "array", "items": {"type": "string"}}
    assert schemas["ChatResponse"]["properties"]["output"]["anyOf"] == [
        {"$ref": "#/components/schemas/Output_Triage"}, {"$ref": "#/components/schemas/Output_Colours"},
        {"type": "null"}]


def test_without_typed_agents_the_response_has_no_output_property() -> None:
    document = build_openapi(list(STANDARD_ROUTES), {}, title="t", version="1", server_url="/", agent_names=[])
    assert "output" not in document["components"]["schemas"]["ChatResponse"]["properties"]
