"""Small helpers shared by the API tests."""

from __future__ import annotations

import io
import json

from tests.conftest import ADMIN_TOKEN, zip_files


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"OAuth {token}"}


def create_project(api, name: str = "acme", max_concurrency: int | None = None) -> dict:
    response = api.post(
        "/2/projects",
        json={"name": name, "max_concurrency": max_concurrency},
        headers=auth(ADMIN_TOKEN),
    )
    assert response.status_code == 201, response.json
    return response.json


def upload(
    api, project: dict, data: dict, files: dict[str, str] | None = None, archive: bytes = b""
):
    """Upload a code made of `files` (or the given `archive`'s bytes, as they are)."""
    archive = archive or zip_files(files or {"run.sh": "echo hi\n"})
    return api.post(
        f"/2/projects/{project['id']}/codes",
        data={"data": json.dumps(data), "file": (io.BytesIO(archive), "code.zip")},
        headers=auth(project["token"]),
        content_type="multipart/form-data",
    )


def queue(api, project: dict, *tasks: dict):
    return api.post(
        f"/2/projects/{project['id']}/tasks",
        json={"tasks": list(tasks)},
        headers=auth(project["token"]),
    )
