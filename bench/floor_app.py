"""The same-stack floor for the front door (#27): the least an enqueue must do, on the stack
Ironworks' API runs on (Flask under gunicorn gthread, redis-py): look the token up in Redis,
write one hash and push one id per task in a MULTI, answer with the ids. No platform could
accept tasks faster on this stack; bench/frontdoor.py measures Ironworks beside it.

    FLOOR_REDIS_URL=redis://... gunicorn -k gthread -w 2 --threads 4 bench.floor_app:app
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


@app.post("/2/projects/<project_id>/tasks")
def queue(project_id: str):
    token = request.headers.get("Authorization", "").partition(" ")[2]
    if redis.hget("floor:tokens", hashlib.sha256(token.encode()).hexdigest()) != project_id:
        return jsonify(msg="Invalid token"), 401
    tasks = request.get_json()["tasks"]
    ids = [secrets.token_hex(12) for _ in tasks]
    with redis.pipeline(transaction=True) as pipe:
        for task_id, task in zip(ids, tasks, strict=True):
            pipe.hset(f"floor:task:{task_id}", mapping={
                "project_id": project_id, "code_name": task["code_name"],
                "payload": task.get("payload", ""), "status": "queued",
            })  # fmt: skip
            pipe.lpush(f"floor:queue:{project_id}", task_id)
        pipe.execute()
    return jsonify(msg="Queued up", tasks=[{"id": i} for i in ids])


@app.get("/2/projects/<project_id>/tasks/<task_id>")
def get_task(project_id: str, task_id: str):
    token = request.headers.get("Authorization", "").partition(" ")[2]
    if redis.hget("floor:tokens", hashlib.sha256(token.encode()).hexdigest()) != project_id:
        return jsonify(msg="Invalid token"), 401
    task = redis.hgetall(f"floor:task:{task_id}")
    if task.get("project_id") != project_id:
        return jsonify(msg="Task not found"), 404
    return jsonify(dict(task, id=task_id))
