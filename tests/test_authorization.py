"""Every route × {own token, another project's token, no token, admin token}, and foreign ids.

The routes come from the OpenAPI document, which tests/test_openapi.py holds to the URL map,
so a new route is covered here without anyone remembering to add it."""

from __future__ import annotations

import re

import pytest

from api.openapi import ROUTES
from tests.harness import ADMIN_TOKEN
from tests.helpers import auth, create_project, queue, upload

PUBLIC = {"/healthz", "/readyz", "/openapi.json", "/2/stacks"}
# A project's settings that are the operator's, not the tenant's.
ADMIN_ONLY = {("patch", "/2/projects/{project_id}"), ("put", "/2/projects/{project_id}/egress")}
PROJECT_ROUTES = [
    (m, p)
    for m, p, _, _ in ROUTES
    if p.startswith("/2/projects/{project_id}") and (m, p) not in ADMIN_ONLY
]


def objects_of(api, name: str) -> dict:
    project = create_project(api, name)
    code = upload(api, project, {"name": "w", "command": "true"}).json
    task = queue(api, project, {"code_name": "w"}).json["tasks"][0]
    schedules = api.post(
        f"/2/projects/{project['id']}/schedules",
        json={"schedules": [{"code_name": "w", "run_every": 3600}]},
        headers=auth(project["token"]),
    ).json["schedules"]
    hook = api.post(
        f"/2/projects/{project['id']}/webhooks",
        json={"url": "https://hooks.example.com/hook"},
        headers=auth(project["token"]),
    ).json
    secret = name.upper().replace("-", "_") + "_KEY"  # each project's own name
    api.put(f"/2/projects/{project['id']}/secrets/{secret}", json={"value": "v4lue"},
            headers=auth(project["token"]))  # fmt: skip
    batch = api.post(
        f"/2/projects/{project['id']}/batches",
        json={"code_name": "w", "payloads": ["x"]},
        headers=auth(project["token"]),
    ).json
    return {
        "batch_id": batch["id"],
        "hook_id": hook["id"],
        "token": project["token"],
        "project_id": project["id"],
        "code_id": code["id"],
        "task_id": task["id"],
        "schedule_id": schedules[0]["id"],
        "name": secret,
    }


# Setting a secret by a name the project lacks creates it: no other project's object to find.
CREATES_BY_NAME = {("put", "/2/projects/{project_id}/secrets/{name}")}

# How every store says an object is not there ("Webhook not found", "Code 'x' not found"):
# to a caller that may not see it, the answer is the same as for one that does not exist.
ACCESS_DENIED = re.compile(r"^[A-Z][a-z]+( .+)? not found$")


def call(api, method: str, path: str, ids: dict, token: str | None):
    headers = auth(token) if token else {}
    response = getattr(api, method)(path.format(**ids), json={}, headers=headers)
    response.get_data()  # read it all (a download streams a file) and let it go
    response.close()
    return response


def reached(response) -> bool:
    """Not turned away: any answer but 401, a 'not found' of the object itself, or a crash."""
    if response.status_code in (401, 500):
        return False
    msg = (response.json or {}).get("msg", "")
    return response.status_code != 404 or not ACCESS_DENIED.match(msg)


@pytest.mark.parametrize("method,path", PROJECT_ROUTES, ids=[f"{m} {p}" for m, p in PROJECT_ROUTES])
def test_only_the_owner_and_the_admin_reach_a_projects_objects(api, method, path):
    owner, other, second_owner = (objects_of(api, n) for n in ("owner", "other", "owner-2"))

    assert call(api, method, path, owner, None).status_code == 401
    assert call(api, method, path, owner, "not-a-token").status_code == 401
    foreign = call(api, method, path, owner, other["token"])
    assert foreign.status_code == 404 and foreign.json["msg"] == "Project not found"
    # Fresh objects for the admin: the owner's call may have deleted or cancelled its own.
    for ids, token in ((owner, owner["token"]), (second_owner, ADMIN_TOKEN)):
        allowed = call(api, method, path, ids, token)
        assert reached(allowed), (token, allowed.status_code, allowed.get_data()[:200])
    if path.count("{") > 1 and (method, path) not in CREATES_BY_NAME:
        # the owner's project, another project's object: not found
        mixed = other | {"project_id": owner["project_id"]}
        assert call(api, method, path, mixed, owner["token"]).status_code == 404


@pytest.mark.parametrize("method,path", sorted(ADMIN_ONLY))
def test_a_projects_operator_settings_are_for_the_admin_only(api, method, path):
    owner = objects_of(api, "owner")
    for token in (None, owner["token"]):
        assert call(api, method, path, owner, token).status_code == 401
    assert reached(call(api, method, path, owner, ADMIN_TOKEN))


def test_creating_projects_is_for_the_admin_only(api):
    owner = objects_of(api, "owner")
    for token in (None, owner["token"]):
        assert call(api, "post", "/2/projects", {}, token).status_code == 401
    assert call(api, "post", "/2/projects", {}, ADMIN_TOKEN).status_code == 400  # no name


@pytest.mark.parametrize("path", sorted(PUBLIC))
def test_public_routes_need_no_token(api, path):
    assert api.get(path).status_code == 200


QUEUEING = [
    ("/tasks", {"tasks": [{"code_name": "w"}, {"code_name": "w"}]}),
    ("/tasks/webhook?code_name=w", {"event": "push"}),
    ("/batches", {"code_name": "w", "payloads": ["a", "b"]}),
]


@pytest.mark.parametrize("path,body", QUEUEING, ids=[p for p, _ in QUEUEING])
def test_queueing_with_a_wrong_token_queues_nothing(api, path, body):
    """The routes that queue look their token up in their first read: a well-formed body
    with an invalid or another project's token is turned away there, and nothing is queued;
    a malformed one with the project's token is still a 400."""
    owner, other = objects_of(api, "owner"), objects_of(api, "other")
    url = f"/2/projects/{owner['project_id']}{path}"

    def tasks() -> list:
        listing = api.get(f"/2/projects/{owner['project_id']}/tasks?per_page=100",
                          headers=auth(owner["token"]))  # fmt: skip
        return listing.json["tasks"]

    before = tasks()
    assert api.post(url, json=body, headers=auth("not-a-token")).status_code == 401
    foreign = api.post(url, json=body, headers=auth(other["token"]))
    assert foreign.status_code == 404 and foreign.json["msg"] == "Project not found"
    if "webhook" not in path:  # any body is a webhook's payload
        malformed = api.post(url, json={"bad": 1}, headers=auth(owner["token"]))
        assert malformed.status_code == 400, malformed.json
    assert tasks() == before
    assert api.post(url, json=body, headers=auth(owner["token"])).status_code in (200, 201)
    assert len(tasks()) > len(before)
