"""The document and the validation agree: every request body /openapi.json describes is
accepted by the model its route reads it with, and a field of the wrong kind is a 400 that
names that field. Bodies are generated from the served document, not from the models."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api import bodies, openapi
from ironworks.errors import BadRequest
from tests.schema_strategies import values

MODELS = {model.__name__: model for *_, model in openapi.ROUTES if model is not None}
# For a field that takes a list, an object; for any other, a list in a list: no field of
# the API takes either.
WRONG = {"array": {"a list": False}, "other": [[[]]]}


@pytest.fixture
def components(api) -> dict:
    return api.get("/openapi.json").json["components"]


def test_every_body_a_route_reads_is_in_the_document(api):
    operations = api.get("/openapi.json").json["paths"]
    for method, path, _, model in openapi.ROUTES:
        content = operations[path][method].get("requestBody", {}).get("content", {})
        assert (model is None) == (not content), (method, path)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_documented_body_is_accepted(components, name):
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(values({"$ref": f"#/components/schemas/{name}"}, components))
    def accepted(body):
        bodies.read(MODELS[name], body)

    accepted()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_field_of_the_wrong_kind_is_a_400_naming_it(components, name):
    schema = components["schemas"][name]
    required = {f: values(schema["properties"][f], components) for f in schema.get("required", [])}

    @settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.fixed_dictionaries(required))
    def refused(minimal):
        bodies.read(MODELS[name], minimal)
        for field in schema["properties"]:
            wrong = WRONG["array" if "array" in _types(schema["properties"][field]) else "other"]
            with pytest.raises(BadRequest, match=f"'{field}'"):
                bodies.read(MODELS[name], minimal | {field: wrong})

    refused()


def _types(schema: dict) -> set[str]:
    return {schema.get("type")} | {o.get("type") for o in schema.get("anyOf", ())}
