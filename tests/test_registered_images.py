"""A code may register an image instead of an archive, but only one the operator allows: any
image on a runner host would otherwise do, another project's private one included."""

from __future__ import annotations

import json

from tests.helpers import auth, create_project


def register(api, project: dict, image: str):
    return api.post(
        f"/2/projects/{project['id']}/codes",
        data={"data": json.dumps({"name": "img", "image": image, "command": "true"})},
        headers=auth(project["token"]),
        content_type="multipart/form-data",
    )


def test_only_allowed_images_may_be_registered(api):
    project = create_project(api)
    refused = register(api, project, "someone-else/secret-app:latest")
    assert refused.status_code == 400 and "not one this installation allows" in refused.json["msg"]
    assert register(api, project, "ironworks/stack-sh:latest").status_code == 200


def test_a_runner_that_no_longer_allows_an_image_refuses_its_tasks(fresh_platform):
    fresh_platform.start("api")
    fresh_platform.start("scheduler")
    fresh_platform.start("runner", "runner", allowed_images="nothing-is-allowed/*")
    fresh_platform.wait_healthy()
    project = fresh_platform.new_project()
    project._request(
        "POST", f"/2/projects/{project.project_id}/codes",
        files={"data": (None, json.dumps({"name": "img", "image": "ironworks/stack-sh:latest",
                                          "command": "true"}))},
    )  # fmt: skip
    task = project.wait(project.queue("img"), timeout_s=60)
    assert task["status"] == "error" and "no longer allowed" in task["msg"]
