"""Fan-out from inside a task: the platform's API on a socket in the container, scoped to
that task (runner/task_api.py, api/routes/project_scope.py). Real processes, real Docker;
`make test` runs this file again with warm start on."""

from __future__ import annotations

import json
import os

from tests.harness import ADMIN_TOKEN, wait_until, zip_files

# A sh task's way to its API: `api GET /tasks/ID` (curl over the socket), the project's paths.
API = (
    'api() { m=$1; p=$2; shift 2; curl -s --unix-socket "$IRONWORKS_API_SOCKET" -X "$m"'
    ' -H "Content-Type: application/json" "$@"'
    ' "http://task/2/projects/$IRONWORKS_PROJECT_ID$p"; }\n'
    'code() { m=$1; p=$2; shift 2; curl -s -o /dev/null -w "%{http_code}"'
    ' --unix-socket "$IRONWORKS_API_SOCKET" -X "$m" -H "Content-Type: application/json" "$@"'
    ' "http://task/2/projects/$IRONWORKS_PROJECT_ID$p"; }\n'
)
# Wait until task $1 has ended (held 10 s at a time by the API).
WAIT = (
    'wait_for() { while ! api GET "/tasks/$1?wait=10" | grep -Eq'
    ' \'"status":"(complete|error|cancelled|killed|timeout)"\'; do :; done; }\n'
)


def sh(project, name: str, script: str) -> dict:
    return project.upload_code(
        zip_files({"run.sh": API + WAIT + script}),
        {"name": name, "stack": "sh", "command": "sh run.sh"},
    )


def python(project, name: str, script: str) -> dict:
    return project.upload_code(
        zip_files({"main.py": script}),
        {"name": name, "stack": "python", "command": "python3 main.py"},
    )


def limits(platform, project, **fields) -> None:
    from ironworks.client import Client

    Client(platform.url, ADMIN_TOKEN)._request(
        "PATCH", f"/2/projects/{project.project_id}", json=fields
    )


def ids_in(text: str) -> list[str]:
    return [t["id"] for t in json.loads(text)["tasks"]]


def test_a_parent_spawns_children_and_gathers_their_results_with_the_sdk(platform):
    project = platform.new_project("sdk")
    python(project, "square", (
        "import json, os\n"
        "n = json.load(open(os.environ['PAYLOAD_FILE']))\n"
        "json.dump({'square': n * n}, open(os.environ['RESULT_FILE'], 'w'))\n"
    ))  # fmt: skip
    python(project, "master", (
        "import json, os\n"
        "from ironworks import task\n"
        "ids = task.spawn('square', range(1, 6))\n"
        "results = task.gather(ids)\n"
        "json.dump({'sum': sum(r['square'] for r in results), 'ids': ids},"
        " open(os.environ['RESULT_FILE'], 'w'))\n"
    ))  # fmt: skip
    parent_id = project.queue("master")
    parent = project.wait(parent_id, timeout_s=120)
    assert parent["status"] == "complete", (parent, project.log(parent_id))
    result = json.loads(parent["result"])
    assert result["sum"] == 1 + 4 + 9 + 16 + 25
    assert parent["children"] == 5 and parent["parent_id"] is None and parent["depth"] == 0
    for child_id in result["ids"]:
        child = project.task(child_id)
        assert (child["parent_id"], child["depth"], child["status"]) == (parent_id, 1, "complete")


def test_a_parent_waiting_for_its_children_does_not_starve_them_at_max_concurrency_1(platform):
    project = platform.new_project("one-at-a-time", max_concurrency=1)
    sh(project, "child", "echo child done\n")
    sh(project, "parent", (
        "ids=$(api POST /tasks -d '{\"tasks\": [{\"code_name\": \"child\"},"
        " {\"code_name\": \"child\"}, {\"code_name\": \"child\"}]}'"
        " | grep -o '\"id\":\"[0-9a-f]*\"' | cut -d'\"' -f4)\n"
        "for id in $ids; do wait_for $id; done\n"
        "echo \"{\\\"children\\\": \\\"$(echo $ids)\\\"}\" > \"$RESULT_FILE\"\n"
    ))  # fmt: skip
    parent_id = project.queue("parent", timeout=120)
    parent = project.wait(parent_id, timeout_s=150)
    assert parent["status"] == "complete", (parent, project.log(parent_id))
    children = json.loads(parent["result"])["children"].split()
    assert len(children) == 3
    assert all(project.task(c)["status"] == "complete" for c in children)


def test_depth_and_children_limits_refuse_with_a_plain_msg(platform):
    project = platform.new_project("limits")
    limits(platform, project, max_task_depth=1, max_task_children=2)
    sh(project, "grandchild", "true\n")
    sh(project, "child", (
        "c=$(code POST /tasks -d '{\"tasks\": [{\"code_name\": \"grandchild\"}]}')\n"
        "echo \"{\\\"deeper\\\": $c}\" > \"$RESULT_FILE\"\n"
    ))  # fmt: skip
    sh(project, "parent", (
        "three='{\"tasks\": [{\"code_name\": \"child\"}, {\"code_name\": \"child\"},"
        " {\"code_name\": \"child\"}]}'\n"
        "too_many=$(code POST /tasks -d \"$three\")\n"
        "api POST /tasks -d \"$three\" >&2\n"
        "ids=$(api POST /tasks -d '{\"tasks\": [{\"code_name\": \"child\"}]}'"
        " | grep -o '\"id\":\"[0-9a-f]*\"' | cut -d'\"' -f4)\n"
        "wait_for $ids\n"
        "echo \"{\\\"too_many\\\": $too_many, \\\"child\\\": \\\"$ids\\\"}\" > \"$RESULT_FILE\"\n"
    ))  # fmt: skip
    parent_id = project.queue("parent")
    parent = project.wait(parent_id, timeout_s=120)
    assert parent["status"] == "complete", (parent, project.log(parent_id))
    result = json.loads(parent["result"])
    assert result["too_many"] == 429
    assert "a task may queue at most 2 tasks" in project.log(parent_id)
    child = project.task(result["child"])
    assert json.loads(child["result"]) == {"deeper": 400}  # depth 2 > 1
    assert project.tasks(code_name="grandchild") == []


def test_cancelling_a_task_cancels_its_unfinished_descendants(platform):
    project = platform.new_project("cancel-tree")
    sh(project, "leaf", "sleep 300\n")
    sh(project, "middle", 'api POST /tasks -d \'{"tasks": [{"code_name": "leaf"}]}\'\nsleep 300\n')
    sh(project, "root", 'api POST /tasks -d \'{"tasks": [{"code_name": "middle"}]}\'\nsleep 300\n')
    root_id = project.queue("root")
    leaves = wait_until(lambda: project.tasks(code_name="leaf"), timeout_s=90, what="a grandchild")
    (middle,) = project.tasks(code_name="middle")
    answer = project.cancel(root_id)
    assert answer["descendants_cancelled"] == 2
    for task_id in (middle["id"], leaves[0]["id"]):
        task = project.wait(task_id, timeout_s=30)
        assert task["status"] == "cancelled"
        assert task["msg"] == f"Cancelled: its ancestor {root_id} was cancelled"


def test_a_parent_that_ends_cancels_only_the_children_it_queued_with_cascade(platform):
    project = platform.new_project("cascade")
    sh(project, "sleeper", "sleep 300\n")
    sh(project, "parent", (
        "api POST /tasks -d '{\"tasks\": [{\"code_name\": \"sleeper\", \"label\": \"bound\","
        " \"cascade\": true}, {\"code_name\": \"sleeper\", \"label\": \"free\"}]}'\n"
    ))  # fmt: skip
    parent_id = project.queue("parent")
    assert project.wait(parent_id, timeout_s=90)["status"] == "complete"
    (bound,) = project.tasks(label="bound")
    bound = project.wait(bound["id"], timeout_s=30)
    assert bound["status"] == "cancelled"
    assert bound["msg"] == f"Cancelled: its parent {parent_id} ended complete"
    (free,) = project.tasks(label="free")
    assert free["status"] in ("queued", "running")
    project.cancel(free["id"])


def test_the_socket_serves_only_the_task_itself(platform):
    project = platform.new_project("scoped")
    sh(project, "sleeper", "sleep 300\n")
    sh(project, "owner", 'api POST /tasks -d \'{"tasks": [{"code_name": "sleeper"}]}\'\n')
    owner = project.wait(project.queue("owner"), timeout_s=90)
    (child,) = project.tasks(code_name="sleeper")
    sh(project, "prober", (
        "c=$(cat \"$PAYLOAD_FILE\")\n"
        "echo \"{\\\"other_child\\\": $(code GET /tasks/$c),"
        " \\\"codes\\\": $(code GET /codes),"
        " \\\"cancel\\\": $(code POST /tasks/$c/cancel),"
        " \\\"token\\\": $(code POST /token),"
        " \\\"others_progress\\\": $(code POST /tasks/$c/progress -d '{\"percent\": 5}'),"
        " \\\"own_progress\\\": $(code POST /tasks/$TASK_ID/progress -d '{\"percent\": 5}'),"
        " \\\"other_project\\\": $(curl -s -o /dev/null -w '%{http_code}'"
        " --unix-socket \"$IRONWORKS_API_SOCKET\" http://task/2/projects/0/tasks),"
        " \\\"no_token\\\": \\\"$(env | grep -ci token)\\\"}\" > \"$RESULT_FILE\"\n"
    ))  # fmt: skip
    prober = project.wait(project.queue("prober", child["id"]), timeout_s=90)
    assert prober["status"] == "complete", prober
    assert json.loads(prober["result"]) == {
        "other_child": 404, "codes": 403, "cancel": 403, "token": 403, "others_progress": 404,
        "own_progress": 200, "other_project": 403, "no_token": "0",
    }  # fmt: skip
    assert project.task(child["id"])["status"] in ("queued", "running")
    assert owner["children"] == 1
    project.cancel(child["id"])


def test_the_socket_exists_while_the_task_runs_and_is_gone_after(platform):
    project = platform.new_project("socket-life")
    sh(project, "lives", 'test -S "$IRONWORKS_API_SOCKET" && echo there\nsleep 3\n')
    task_id = project.queue("lives")
    runner_dir = platform.settings.runner_dir

    def sockets() -> list:  # the module's other tests leave no task running
        # Their task directories may still be going as this walks (rglob raised once in CI
        # when one vanished under it); os.walk passes over what went.
        return [d for d, _, files in os.walk(runner_dir) if "api.sock" in files]

    wait_until(sockets, timeout_s=60, what="the task's socket on the host")
    task = project.wait(task_id, timeout_s=60)
    assert task["status"] == "complete" and project.log(task_id) == "there\n"
    wait_until(lambda: not sockets(), timeout_s=30, what="the socket to go")


def test_a_task_flooding_its_socket_gets_one_request_at_a_time_and_others_are_unaffected(
    platform,
):
    """Four waits of 2 s sent at once on one socket are answered one after another (so a
    task cannot pile requests on the API); a second task's socket answers at once meanwhile."""
    project = platform.new_project("flood")
    sh(project, "sleeper", "sleep 300\n")
    sh(project, "flooder", (
        "c=$(api POST /tasks -d '{\"tasks\": [{\"code_name\": \"sleeper\"}]}'"
        " | grep -o '\"id\":\"[0-9a-f]*\"' | cut -d'\"' -f4)\n"
        "start=$(date +%s)\n"
        "for i in 1 2 3 4; do api GET \"/tasks/$c?wait=2\" > /dev/null & done\n"
        "wait\n"
        "echo \"{\\\"took\\\": $(( $(date +%s) - start )), \\\"child\\\": \\\"$c\\\"}\""
        " > \"$RESULT_FILE\"\n"
    ))  # fmt: skip
    sh(project, "neighbour", (
        "start=$(date +%s)\n"
        "code POST /tasks/$TASK_ID/progress -d '{\"percent\": 50}' > /dev/null\n"
        "echo \"{\\\"took\\\": $(( $(date +%s) - start ))}\" > \"$RESULT_FILE\"\n"
    ))  # fmt: skip
    flooder_id = project.queue("flooder")
    wait_until(lambda: project.tasks(code_name="sleeper"), timeout_s=60, what="the flood's child")
    neighbour = project.wait(project.queue("neighbour"), timeout_s=60)
    flooder = project.wait(flooder_id, timeout_s=60)
    assert flooder["status"] == neighbour["status"] == "complete"
    assert json.loads(flooder["result"])["took"] >= 4 * 2 - 1  # one after another (whole seconds)
    assert json.loads(neighbour["result"])["took"] <= 2  # not queued behind the flood
    assert project.task(json.loads(flooder["result"])["child"])["status"] == "running"
    project.cancel(json.loads(flooder["result"])["child"])


def test_a_registered_image_gets_the_socket_too(platform):
    project = platform.new_project("image")
    sh(project, "child", "true\n")
    # IronWorker's arguments follow the command line: `true` takes them.
    command = API + 'api POST /tasks -d \'{"tasks": [{"code_name": "child"}]}\'; true'
    project._request(
        "POST", f"/2/projects/{project.project_id}/codes",
        files={"data": (None, json.dumps({"name": "img", "image": "ironworks/stack-sh:latest",
                                          "command": command}))},
    )  # fmt: skip
    parent = project.wait(project.queue("img"), timeout_s=60)
    assert parent["status"] == "complete", (parent, project.log(parent["id"]))
    assert parent["children"] == 1
    (child,) = project.tasks(code_name="child")
    assert child["parent_id"] == parent["id"]
