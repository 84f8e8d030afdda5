"""/openapi.json describes exactly the routes the app serves."""

from __future__ import annotations

import re

import pytest

from api import queries


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
            in_path = {p["name"] for p in op["parameters"] if p["in"] == "path"}
            assert in_path == set(re.findall(r"{(\w+)}", path))


def test_query_parameters_are_described_and_a_view_reads_only_those(api):
    operations = api.get("/openapi.json").json["paths"]
    listed = {p["name"] for p in operations["/2/projects/{project_id}/tasks"]["get"]["parameters"]}
    assert {"page", "per_page", "status", "error", "code_name", "from_time"} <= listed
    wait = operations["/2/projects/{project_id}/tasks/{task_id}"]["get"]["parameters"]
    assert [p["schema"]["maximum"] for p in wait if p["name"] == "wait"] == [10]


def test_reading_an_undeclared_query_parameter_is_refused(api):
    """GET codes declares only paging: reading ?revision there is a mistake in the view."""
    with api.application.test_request_context("/2/projects/p/codes?revision=2&page=3"):
        assert queries.PAGE.read() == 3
        with pytest.raises(LookupError):
            queries.REVISION.read()
