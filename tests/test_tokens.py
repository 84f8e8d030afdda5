"""Tokens: rotated and revoked, kept out of logs, and a webhook token that can do one thing."""

from __future__ import annotations

import re

import requests

from tests.harness import ADMIN_TOKEN, wait_until
from tests.helpers import auth, create_project, upload


def rotate(api, project_id: str, token: str):
    return api.post(f"/2/projects/{project_id}/token", headers=auth(token))


def can_list_codes(api, project_id: str, token: str) -> bool:
    status = api.get(f"/2/projects/{project_id}/codes", headers=auth(token)).status_code
    assert status in (200, 401), status
    return status == 200


def test_a_rotated_token_is_revoked_at_once(api):
    project = create_project(api)
    rotated = rotate(api, project["id"], project["token"])
    assert rotated.status_code == 200
    new_token = rotated.json["token"]
    assert can_list_codes(api, project["id"], new_token)
    assert not can_list_codes(api, project["id"], project["token"])

    # The admin can rotate too (a leaked token whose holder is gone): the current one dies.
    by_admin = rotate(api, project["id"], ADMIN_TOKEN).json["token"]
    assert not can_list_codes(api, project["id"], new_token)
    assert can_list_codes(api, project["id"], by_admin)


def test_another_projects_token_cannot_rotate(api):
    mine, theirs = create_project(api, "mine"), create_project(api, "theirs")
    assert rotate(api, mine["id"], theirs["token"]).status_code == 404
    assert can_list_codes(api, mine["id"], mine["token"])


def webhook_token(api, project: dict, code_id: str) -> dict:
    path = f"/2/projects/{project['id']}/codes/{code_id}/webhook_token"
    response = api.post(path, headers=auth(project["token"]))
    assert response.status_code == 200, response.json
    return response.json


def inbound(api, project: dict, code_name: str, token: str):
    return api.post(
        f"/2/projects/{project['id']}/tasks/webhook",
        query_string={"code_name": code_name, "oauth": token},
        data="{}",
    )


def test_a_webhook_token_queues_tasks_of_its_code_and_does_nothing_else(api):
    project = create_project(api)
    hooked = upload(api, project, {"name": "hooked", "command": "true"}).json
    upload(api, project, {"name": "other", "command": "true"})
    issued = webhook_token(api, project, hooked["id"])
    token = issued["token"]
    assert project["token"] not in issued["url"] and token in issued["url"]

    assert inbound(api, project, "hooked", token).status_code == 200
    assert inbound(api, project, "other", token).status_code == 401
    assert not can_list_codes(api, project["id"], token)
    assert api.post(f"/2/projects/{project['id']}/tasks", json={"tasks": [
        {"code_name": "hooked"}]}, headers=auth(token)).status_code == 401  # fmt: skip
    assert inbound(api, project, "hooked", project["token"]).status_code == 200  # IronWorker's way

    renewed = webhook_token(api, project, hooked["id"])["token"]
    assert inbound(api, project, "hooked", token).status_code == 401
    assert inbound(api, project, "hooked", renewed).status_code == 200


def test_a_dashboard_session_ends_when_its_token_is_rotated(api):
    project = create_project(api)
    form = api.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    api.post("/login", data={"token": project["token"], "csrf": csrf})
    assert api.get("/").status_code == 200
    rotate(api, project["id"], project["token"])
    assert api.get("/").headers["Location"].startswith("/login")


def test_the_dashboard_rotates_and_shows_the_new_token_once(api):
    project = create_project(api)
    form = api.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    api.post("/login", data={"token": project["token"], "csrf": csrf})
    page = api.get("/").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    shown = api.post("/token", data={"csrf": csrf}).get_data(as_text=True)
    new_token = re.search(r'<code id="new-token">([^<]+)</code>', shown).group(1)
    assert can_list_codes(api, project["id"], new_token)
    assert not can_list_codes(api, project["id"], project["token"])
    assert api.get("/").status_code == 200  # still signed in, now on the new token


def test_tokens_in_urls_never_reach_the_access_log(platform):
    secret = "leaky-token-0123456789"
    requests.get(f"{platform.url}/2/projects/nope/tasks?oauth={secret}&page=1", timeout=10)
    requests.post(f"{platform.url}/2/projects/nope/tasks/webhook?oauth={secret}", timeout=10)
    wait_until(lambda: "/webhook" in platform.log_text(), what="both requests to be logged")
    log = platform.log_text()
    assert "oauth=REDACTED&page=1" in log and secret not in log
