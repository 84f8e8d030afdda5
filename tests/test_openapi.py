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


def test_the_document_says_which_routes_need_a_token_as_the_api_does(api):
    """A route documented as public answers without a token; every other one refuses (401)."""
    for path, ops in api.get("/openapi.json").json["paths"].items():
        url = re.sub(r"{\w+}", "0" * 24, path)
        for method, op in ops.items():
            status = api.open(url, method=method.upper()).status_code
            if op.get("security") == []:
                assert status != 401, (method, path)
            else:
                assert status == 401, (method, path, status)


def test_a_method_the_route_does_not_take_is_a_405_with_allow(api):
    answer = api.put("/healthz")
    assert answer.status_code == 405
    assert set(answer.headers["Allow"].split(", ")) >= {"GET"}
    assert answer.json["msg"]
    # tasks/replay is a route of its own, never a task's id: GET is not among its methods.
    answer = api.get(f"/2/projects/{'0' * 24}/tasks/replay")
    assert answer.status_code == 405
    assert set(answer.headers["Allow"].split(", ")) == {"OPTIONS", "POST"}


def test_whole_numbers_written_with_a_point_are_integers_as_the_document_says(api):
    """JSON Schema's `integer` takes 44.0; the API takes what its document allows."""
    from api import bodies

    item = bodies.read(bodies.TaskItem, {"code_name": "w", "delay": 44.0, "priority": 1.0})
    assert (item.delay, item.priority) == (44, 1)
    for bad in (44.5, True, "44"):
        with pytest.raises(Exception, match="'delay' must be an integer"):
            bodies.read(bodies.TaskItem, {"code_name": "w", "delay": bad})
