"""/openapi.json describes exactly the routes the app serves."""

from __future__ import annotations

import re


def test_openapi_document_matches_the_url_map(api):
    served = {
        (method.lower(), re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule))
        for rule in api.application.url_map.iter_rules()
        if not rule.endpoint.startswith("dashboard.")  # web pages, not the REST API
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    document = api.get("/openapi.json").json
    described = {(m, path) for path, ops in document["paths"].items() for m in ops}
    assert described == served
    assert document["openapi"].startswith("3.")
    for path, ops in document["paths"].items():
        for op in ops.values():
            assert {p["name"] for p in op["parameters"]} == set(re.findall(r"{(\w+)}", path))
