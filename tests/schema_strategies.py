"""Hypothesis strategies for the values a JSON schema of /openapi.json accepts: the subset
of JSON Schema the API's bodies use (types, bounds, lengths, patterns, anyOf, enum, $ref).
hypothesis-jsonschema would do this, but does not run on the Hypothesis schemathesis pins."""

from __future__ import annotations

from hypothesis import strategies as st

SCALARS = {"boolean": st.booleans(), "null": st.none()}


def values(schema: dict, components: dict) -> st.SearchStrategy:
    if "$ref" in schema:
        return values(components["schemas"][schema["$ref"].rsplit("/", 1)[1]], components)
    if schema.get("anyOf") and "properties" in schema:  # an object that needs one of some
        return st.one_of([  # fields (not null): each choice is the object with those required
            values(schema | {"anyOf": None, "required": [*schema.get("required", ()),
                                                        *option["required"]]}, components)
            .filter(lambda body, need=option["required"]: all(body[f] is not None for f in need))
            for option in schema["anyOf"]
        ])  # fmt: skip
    if schema.get("anyOf"):
        return st.one_of([values(option, components) for option in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind in SCALARS:
        return SCALARS[kind]
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "number":
        low, high = schema.get("minimum"), schema.get("maximum")
        return st.floats(low, high, allow_nan=False, allow_infinity=False)
    if kind == "string":
        return _strings(schema)
    if kind == "array":
        items = values(schema.get("items", {}), components)
        return st.lists(items, min_size=schema.get("minItems", 0),
                        max_size=min(schema.get("maxItems", 3), 3))  # fmt: skip
    if kind == "object":
        return _objects(schema, components)
    return st.none() | st.booleans() | st.integers() | st.text(max_size=5)  # any JSON


def _strings(schema: dict) -> st.SearchStrategy:
    low, high = schema.get("minLength", 0), min(schema.get("maxLength", 20), 20)
    if "pattern" in schema:
        return st.from_regex(schema["pattern"], fullmatch=True).filter(
            lambda s: low <= len(s) <= schema.get("maxLength", len(s))
        )
    return st.text(min_size=low, max_size=max(low, high))


def _objects(schema: dict, components: dict) -> st.SearchStrategy:
    properties = schema.get("properties", {})
    required = set(schema.get("required", ()))
    if not properties:  # a free-form object (a map of values)
        extra = schema.get("additionalProperties", {})
        return st.dictionaries(st.text(max_size=5), values(extra if extra is not True else {},
                                                            components), max_size=3)  # fmt: skip
    fields = {name: values(s, components) for name, s in properties.items()}
    return st.fixed_dictionaries(
        {name: fields[name] for name in required},
        optional={name: fields[name] for name in fields if name not in required},
    )
