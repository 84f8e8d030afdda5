"""Project secrets through the API against a real Redis: write-only, sealed at rest (no plain
text in any key, the AOF or a response), checked at upload, audited; and the sealing and
masking rules on their own."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys

import pytest
import redis

from api import create_app
from ironworks import secrets
from ironworks.errors import BadRequest
from ironworks.secrets import Masker, Vault, masker_for
from ironworks.settings import Settings
from ironworks.store import Store
from tests.harness import ADMIN_TOKEN, SECRETS_KEY, free_port, wait_until
from tests.helpers import auth, create_project, sign_in, upload

VALUE = "postgres://app:s3cr3t-pa55@10.1.2.3:5432/orders"


def put(api, project: dict, name: str, value: str, token: str | None = None):
    return api.put(f"/2/projects/{project['id']}/secrets/{name}", json={"value": value},
                   headers=auth(token or project["token"]))  # fmt: skip


def test_a_secret_is_write_only_and_listed_by_name_and_time(api):
    project = create_project(api)
    created = put(api, project, "DB_URL", VALUE)
    assert created.status_code == 200 and created.json["created"] is True
    assert VALUE not in created.get_data(True)
    assert put(api, project, "DB_URL", VALUE + "2").json["created"] is False
    listed = api.get(f"/2/projects/{project['id']}/secrets", headers=auth(project["token"]))
    assert [s["name"] for s in listed.json["secrets"]] == ["DB_URL"]
    assert listed.json["secrets"][0]["updated_at"].endswith("Z")
    assert VALUE not in listed.get_data(True)

    assert (
        upload(api, project, {"name": "w", "command": "true", "secrets": ["DB_URL"]}).status_code
        == 200
    )
    codes = api.get(f"/2/projects/{project['id']}/codes", headers=auth(project["token"]))
    assert codes.json["codes"][0]["secrets"] == ["DB_URL"] and VALUE not in codes.get_data(True)

    path = f"/2/projects/{project['id']}/secrets/DB_URL"
    assert api.delete(path, headers=auth(project["token"])).status_code == 200
    again = api.delete(path, headers=auth(project["token"]))
    assert again.status_code == 404 and "DB_URL" in again.json["msg"]


@pytest.mark.parametrize(
    ("name", "value", "why"),
    [
        ("1ST", "x", "environment variable name"),
        ("DB-URL", "x", "environment variable name"),
        ("A" * 129, "x", "environment variable name"),
        ("PAYLOAD_FILE", "x", "set by the platform"),
        ("BIG", "x" * (64 * 1024 + 1), "65536"),
        ("NUL", "a\0b", "NUL"),
    ],
    ids=["digit first", "dash", "too long", "reserved", "value too big", "NUL"],
)
def test_a_bad_name_or_value_is_a_400_that_says_why(api, name, value, why):
    project = create_project(api)
    response = put(api, project, name, value)
    assert response.status_code == 400 and why in response.json["msg"], response.json


def test_another_projects_token_cannot_touch_a_projects_secrets(api):
    mine, theirs = create_project(api, "mine"), create_project(api, "theirs")
    put(api, mine, "KEY", VALUE)
    assert put(api, mine, "KEY", "stolen", token=theirs["token"]).status_code == 404
    listed = api.get(f"/2/projects/{mine['id']}/secrets", headers=auth(theirs["token"]))
    assert listed.status_code == 404
    assert put(api, mine, "KEY", "by the admin", token=ADMIN_TOKEN).status_code == 200


def test_a_code_naming_a_secret_the_project_lacks_is_refused(api):
    project = create_project(api)
    response = upload(api, project, {"name": "w", "command": "true", "secrets": ["NOPE"]})
    assert response.status_code == 400 and "NOPE" in response.json["msg"]
    bad = upload(api, project, {"name": "w", "command": "true", "secrets": ["no-pe"]})
    assert bad.status_code == 400


def test_every_change_is_audited_with_who_and_names_never_values(api):
    project = create_project(api)
    put(api, project, "A_KEY", VALUE)
    put(api, project, "A_KEY", VALUE, token=ADMIN_TOKEN)
    api.delete(f"/2/projects/{project['id']}/secrets/A_KEY", headers=auth(project["token"]))
    own = api.get(f"/2/projects/{project['id']}/audit", headers=auth(project["token"]))
    entries = own.json["entries"]
    assert [(e["action"], e["name"]) for e in entries] == [
        ("secret.delete", "A_KEY"), ("secret.set", "A_KEY"), ("secret.set", "A_KEY"),
    ]  # fmt: skip
    token_id = entries[0]["actor"]
    assert token_id.startswith("token:") and project["token"] not in own.get_data(True)
    assert entries[1]["actor"] == "admin" and VALUE not in own.get_data(True)
    admin = api.get(f"/2/audit?project_id={project['id']}", headers=auth(ADMIN_TOKEN))
    assert admin.json["entries"] == entries
    assert api.get("/2/audit", headers=auth(project["token"])).status_code == 401


def test_no_plain_text_of_a_secret_in_redis_its_aof_or_a_response(tmp_path):
    """A Redis of its own with an append-only file: every key's serialized value and every
    file Redis wrote are searched for the value (and its base64)."""
    port = free_port()
    server = subprocess.Popen(
        [shutil.which("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "yes", "--appendfsync", "always", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"redis://127.0.0.1:{port}/0"
        wait_until(lambda: _pings(url), what="the Redis")
        settings = Settings(redis_url=url, admin_token=ADMIN_TOKEN, secrets_key=SECRETS_KEY,
                            data_dir=tmp_path / "data")  # fmt: skip
        api = create_app(settings, Store.connect(settings)).test_client()
        project = create_project(api)
        put(api, project, "DB_URL", VALUE)
        upload(api, project, {"name": "w", "command": "true", "secrets": ["DB_URL"]})
        raw = redis.Redis.from_url(url)
        dumped = b"".join(raw.dump(key) or b"" for key in raw.scan_iter())
        files = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
        for needle in (VALUE.encode(), base64.b64encode(VALUE.encode()), b"s3cr3t-pa55"):
            assert needle not in dumped and needle not in files
        assert b"DB_URL" in files  # the search does see what Redis wrote
    finally:
        server.terminate()
        server.wait()


def test_without_a_key_secrets_are_a_503_that_says_so(settings, store):
    app = create_app(Settings(**{**settings.__dict__, "secrets_key": ""}), store)
    api = app.test_client()
    project = create_project(api)
    response = put(api, project, "DB_URL", VALUE)
    assert response.status_code == 503 and "IRONWORKS_SECRETS_KEY" in response.json["msg"]


def _pings(url: str) -> bool:
    try:
        return redis.Redis.from_url(url).ping()
    except redis.ConnectionError:
        return False


# -- sealing ---------------------------------------------------------------------------------


def test_a_sealed_value_opens_only_for_its_own_project_and_name():
    vault = Vault(SECRETS_KEY)
    sealed = vault.seal("p1", "DB_URL", VALUE)
    assert VALUE not in sealed and vault.open("p1", "DB_URL", sealed) == VALUE
    for project, name in (("p2", "DB_URL"), ("p1", "OTHER")):
        with pytest.raises(secrets.SecretsUnavailable):
            vault.open(project, name, sealed)


def test_rotation_reseals_with_the_first_key_and_the_old_key_can_then_go(store):
    old, new = SECRETS_KEY, secrets.new_key()
    project_id = "p-rotate"
    store.redis.sadd(store.keys.projects(), project_id)
    store.secrets.put(project_id, "DB_URL", Vault(old).seal(project_id, "DB_URL", VALUE), 1.0)
    assert secrets.rotate(store, Vault(f"{new},{old}")) == 1
    assert secrets.rotate(store, Vault(f"{new},{old}")) == 0  # all current now
    sealed = store.secrets.sealed(project_id, ["DB_URL"])["DB_URL"]
    assert Vault(new).open(project_id, "DB_URL", sealed) == VALUE
    with pytest.raises(secrets.SecretsUnavailable, match="lacks"):
        Vault(old).open(project_id, "DB_URL", sealed)


def test_a_key_that_is_not_32_bytes_of_base64_is_refused():
    with pytest.raises(Exception, match="32 bytes"):
        Vault(base64.b64encode(b"short").decode())


# -- masking ---------------------------------------------------------------------------------


def feed_all(masker: Masker, chunks: list[str]) -> str:
    return "".join(masker.feed(c) for c in chunks) + masker.flush()


@pytest.mark.parametrize("cut", range(1, len(VALUE)))
def test_a_value_split_across_two_writes_is_masked(cut):
    chunks = ["before ", VALUE[:cut], VALUE[cut:], " after\n"]
    assert feed_all(Masker([VALUE]), chunks) == "before *** after\n"


def test_without_secrets_the_text_passes_byte_for_byte():
    text = ["line one\n", "ünïcode ✓\r\n", "", "no newline"]
    assert feed_all(Masker([]), text) == "".join(text)
    assert feed_all(Masker(["ab"]), text) == "".join(text)  # too short to mask


def test_the_longest_value_wins_and_repeats_are_all_masked():
    masker = Masker(["abcd", "abcdefgh"])
    assert feed_all(masker, ["xabcdefghx", "abcd", "abcd"]) == "x***x******"


def test_a_result_masks_the_json_escaped_form_too():
    value = 'pa"ss\\word'
    assert masker_for([value], json_text=True).mask('{"v": "pa\\"ss\\\\word"}') == '{"v": "***"}'


def test_a_secret_name_is_checked_like_an_environment_variable():
    assert secrets.check_name("DB_URL_2") == "DB_URL_2"
    with pytest.raises(BadRequest):
        secrets.check_name("HOME")


def test_the_dashboard_shows_secret_names_and_never_values(api):
    project = create_project(api)
    put(api, project, "DB_URL", VALUE)
    code = upload(api, project, {"name": "w", "command": "true", "secrets": ["DB_URL"]}).json
    sign_in(api, project["token"])
    listing = api.get("/codes").get_data(True)
    assert "<code>DB_URL</code>" in listing and VALUE not in listing
    page = api.get(f"/codes/{code['id']}").get_data(True)
    assert 'id="code-secrets"' in page and "DB_URL" in page and VALUE not in page


def test_the_rotate_key_command_reseals_every_secret_with_the_new_key(settings, store):
    project_id = "p-cli-rotate"
    store.redis.sadd(store.keys.projects(), project_id)
    store.secrets.put(project_id, "TOKEN", Vault(SECRETS_KEY).seal(project_id, "TOKEN", VALUE), 1)
    new = secrets.new_key()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IRONWORKS_")}
    env |= {"IRONWORKS_REDIS_URL": settings.redis_url,
            "IRONWORKS_SECRETS_KEY": f"{new},{SECRETS_KEY}"}  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "ironworks.cli", "secret", "rotate-key"],
                          env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0 and "Sealed 1 secret(s)" in done.stdout, done.stderr
    sealed = store.secrets.sealed(project_id, ["TOKEN"])["TOKEN"]
    assert Vault(new).open(project_id, "TOKEN", sealed) == VALUE
