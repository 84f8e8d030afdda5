"""The same-stack floor for the front door (#27): the least an enqueue must do, on the stack
Ironworks' API runs on (Flask under gunicorn gthread, redis-py): look the token up in Redis,
write one hash and push one id per task in a MULTI, answer with the ids (for POST tasks, the
inbound webhook and POST batches); read one hash for GET tasks/{id}. No platform could
accept tasks faster on this stack; bench/frontdoor.py measures Ironworks beside it.

    FLOOR_REDIS_URL=redis://... gunicorn -k gthread -w 2 --threads 4 --reuse-port \
        bench.floor_app:app
"""

from __future__ import annotations

import hashlib
import os
import secrets

from flask import Flask, jsonify, request
from redis import Redis

app = Flask(__name__)
redis = Redis.from_url(os.environ.get("FLOOR_REDIS_URL", "redis://127.0.0.1:6379/0"),
                       decode_responses=True)  # fmt: skip


def add_project(project_id: str, token: str) -> None:
    redis.hset("floor:tokens", hashlib.sha256(token.encode()).hexdigest(), project_id)


def _authorized(project_id: str) -> bool:
    token = request.headers.get("Authorization", "").partition(" ")[2]
    return redis.hget("floor:tokens", hashlib.sha256(token.encode()).hexdigest()) == project_id


def _store(project_id: str, tasks: list[tuple[str, str]]) -> list[str]:
    """(code name, payload) each: a hash and a push per task, in a MULTI."""
    ids = [secrets.token_hex(12) for _ in tasks]
    with redis.pipeline(transaction=True) as pipe:
        for task_id, (code_name, payload) in zip(ids, tasks, strict=True):
            pipe.hset(f"floor:task:{task_id}", mapping={
                "project_id": project_id, "code_name": code_name, "payload": payload,
                "status": "queued",
            })  # fmt: skip
            pipe.lpush(f"floor:queue:{project_id}", task_id)
        pipe.execute()
    return ids


@app.post("/2/projects/<project_id>/tasks")
def queue(project_id: str):
    if not _authorized(project_id):
        return jsonify(msg="Invalid token"), 401
    tasks = request.get_json()["tasks"]
    ids = _store(project_id, [(t["code_name"], t.get("payload", "")) for t in tasks])
    return jsonify(msg="Queued up", tasks=[{"id": i} for i in ids])


@app.post("/2/projects/<project_id>/tasks/webhook")
def webhook(project_id: str):
    """The raw body is the payload of one task of the code named in the query."""
    if not _authorized(project_id):
        return jsonify(msg="Invalid token"), 401
    (task_id,) = _store(project_id, [(request.args["code_name"], request.get_data(as_text=True))])
    return jsonify(msg="Queued up", id=task_id)


@app.post("/2/projects/<project_id>/batches")
def batch(project_id: str):
    """One task per payload, all in one MULTI."""
    if not _authorized(project_id):
        return jsonify(msg="Invalid token"), 401
    body = request.get_json()
    ids = _store(project_id, [(body["code_name"], p) for p in body["payloads"]])
    return jsonify(msg="Queued up", tasks=[{"id": i} for i in ids]), 201


@app.get("/2/projects/<project_id>/tasks/<task_id>")
def get_task(project_id: str, task_id: str):
    if not _authorized(project_id):
        return jsonify(msg="Invalid token"), 401
    task = redis.hgetall(f"floor:task:{task_id}")
    if task.get("project_id") != project_id:
        return jsonify(msg="Task not found"), 404
    return jsonify(dict(task, id=task_id))
