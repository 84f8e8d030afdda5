"""Request bodies, each described once as a pydantic model: a route reads its body through
`read`, which answers a bad one with a 400 and the platform's usual message, and
/openapi.json describes each body from the same model (api/openapi.py), so the document and
the validation cannot drift apart (tests/test_bodies.py generates bodies from the document).

Bounds that are the operator's settings (the longest timeout or delay, the largest memory
or payload) are checked by the route after the model; the document states the fixed ones.
Absent and null are alike; fields the API does not know are ignored, as IronWorker does.

Over 300 lines: every request body of the API is here, small and alike, so that one module
is the document's source; the rest is the one translation of pydantic's complaints.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, create_model
from pydantic.fields import FieldInfo

from ironworks.errors import BadRequest
from ironworks.lanes import MAX_KEY_LENGTH
from ironworks.model import MAX_IDEMPOTENCY_TTL_S, MAX_RETRIES, PRIORITIES, TaskStatus
from ironworks.replays import MAX_REPLAYS

MAX_TASKS_PER_REQUEST = 1000
MAX_SCHEDULES_PER_REQUEST = 100
MAX_BATCH_ITEMS = 100_000
MAX_DEPENDENCIES = 100
MAX_RETENTION_S = 10 * 365 * 24 * 3600
MAX_RATE_PERIOD_S = 24 * 3600

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
CLUSTER_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
# name[:tag][@digest], as Docker spells image references; in ASCII classes, not \w, whose
# other letters regex engines disagree on.
IMAGE_PATTERN = (
    r"^[a-z0-9]+([._/-][a-z0-9]+)*"
    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
    r"(@sha256:[0-9a-f]{64})?$"
)
# What a field that does not match its pattern is told, by field name.
PATTERN_HINTS = {
    "name": "'name' may hold letters, digits, '_', '.', '-' (max 64)",
    "cluster": "'cluster' may hold lower-case letters, digits, '_' and '-'",
    "image": "'image' is not a valid image reference",
    "value": "a secret's value cannot hold a NUL character (environment variables)",
}


def _whole(value: object) -> object:
    """44.0 is the integer 44, as JSON Schema's `integer` says (and JSON cannot tell them
    apart); 44.5 is still refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# On every integer field: strict (no "1", no true), but a whole number written with a point
# counts. After the field's Field(...), so that its bounds still reach the JSON schema.
WHOLE = BeforeValidator(_whole)


def text(max_length: int, pattern: str | None = None, required: bool = False) -> Any:
    return Field(min_length=1 if required else None, max_length=max_length, pattern=pattern)


# One limit per field, wherever it is taken (bodies here, query parameters in api/queries.py).
CODE_NAME_MAX, LABEL_MAX, CLUSTER_MAX = 64, 100, 32
CodeName = Annotated[str, text(CODE_NAME_MAX, required=True)]
MaybeCodeName = Annotated[str | None, text(CODE_NAME_MAX)]
Label = Annotated[str | None, text(LABEL_MAX)]
Cluster = Annotated[str | None, text(CLUSTER_MAX, CLUSTER_PATTERN)]


Priority = Annotated[int | None, Field(ge=min(PRIORITIES), le=max(PRIORITIES)), WHOLE]
# Read by api.parsing.time_value; the schema (TIME_SCHEMA) is what it takes.
TIME_SCHEMA = {"anyOf": [{"type": "number"}, {"type": "string", "format": "date-time"}]}
Time = Annotated[
    float | str | None,
    Field(
        description="unix seconds or an ISO 8601 time",
        json_schema_extra={"anyOf": [*TIME_SCHEMA["anyOf"], {"type": "null"}]},
    ),
]


class Body(BaseModel):
    # Strict: "1" is not 1 and true is not 1, as JSON's types say.
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class NewProject(Body):
    name: Annotated[str, text(100, required=True)]
    max_concurrency: Annotated[int | None, Field(ge=1), WHOLE] = None
    task_retention_s: Annotated[int | None, Field(ge=60, le=MAX_RETENTION_S), WHOLE] = None


class ProjectChanges(Body):
    """Only the fields sent change; null sets a field back to the installation's default."""

    max_concurrency: Annotated[int | None, Field(ge=1), WHOLE] = None
    task_retention_s: Annotated[int | None, Field(ge=60, le=MAX_RETENTION_S), WHOLE] = None
    max_task_depth: Annotated[int | None, Field(ge=0, le=100), WHOLE] = None
    max_task_children: Annotated[int | None, Field(ge=0, le=10_000_000), WHOLE] = None


class RateLimit(Body):
    model_config = ConfigDict(extra="forbid")
    count: Annotated[int, Field(ge=1, le=1_000_000), WHOLE]
    period_s: Annotated[int, Field(ge=1, le=MAX_RATE_PERIOD_S), WHOLE]
    per_key: bool | None = None


class CodeData(Body):
    """The `data` part of a code upload (JSON)."""

    name: Annotated[str, text(CODE_NAME_MAX, NAME_PATTERN, required=True)]
    stack: Annotated[str | None, text(32)] = None
    command: Annotated[str | None, text(4096)] = None
    runtime: Annotated[str | None, text(32)] = None  # IronWorker's legacy runtime + file_name
    file_name: Annotated[str | None, text(255)] = None
    image: Annotated[str | None, text(255, IMAGE_PATTERN)] = None
    max_concurrency: Annotated[int | None, Field(ge=-1, description="-1: unlimited"), WHOLE] = None
    timeout: Annotated[int | None, Field(ge=1), WHOLE] = None
    env_vars: Annotated[
        dict[str, str] | None, Field(description="Settings that are not secret (see 'secrets')")
    ] = None
    secrets: Annotated[
        list[Annotated[str, text(128)]] | None,
        Field(max_length=100, description="Names of the project's secrets its tasks get"),
    ] = None
    retries: Annotated[int | None, Field(ge=0, le=MAX_RETRIES), WHOLE] = None
    retries_delay: Annotated[int | None, Field(ge=0), WHOLE] = None
    memory: Annotated[int | None, Field(ge=16, description="MB"), WHOLE] = None
    cpus: Annotated[float | None, Field(ge=0.01)] = None
    disk: Annotated[int | None, Field(ge=1, description="MB of tmpfs"), WHOLE] = None
    log_max_bytes: Annotated[int | None, Field(ge=1024), WHOLE] = None
    network: bool | None = None
    warm: bool | None = None
    config: dict[str, Any] | None = None
    default_priority: Priority = None
    concurrency_key: Annotated[
        str | None, text(MAX_KEY_LENGTH), Field(description="A template: '{customer_id}'")
    ] = None
    max_concurrency_per_key: Annotated[int | None, Field(ge=1), WHOLE] = None
    rate_limit: RateLimit | None = None


class Egress(Body):
    allow: Annotated[
        list[Annotated[str, text(64)]],
        Field(max_length=100, description="'CIDR:PORT' each (TCP), e.g. '10.1.2.3/32:5432'"),
    ]


class SecretValue(Body):
    # An environment variable's value cannot hold a NUL.
    value: Annotated[str, Field(max_length=64 * 1024, pattern=r"^[^\x00]*$",
                                description="At most 64 KB")]  # fmt: skip


class Rollback(Body):
    revision: Annotated[int, Field(ge=1), WHOLE]


class TaskItem(Body):
    code_name: CodeName
    payload: str | None = None
    priority: Priority = None
    timeout: Annotated[int | None, Field(ge=1), WHOLE] = None
    delay: Annotated[int | None, Field(ge=0), WHOLE] = None
    cluster: Cluster = None
    label: Label = None
    concurrency_key: Annotated[
        str | None, text(MAX_KEY_LENGTH), Field(description="Instead of the code's template")
    ] = None
    depends_on: Annotated[
        list[Annotated[str, text(64)]] | None,
        Field(max_length=MAX_DEPENDENCIES, description="Admitted once these are complete"),
    ] = None
    idempotency_key: Annotated[
        str | None,
        text(256),
        Field(description="A repeat within idempotency_ttl_s returns the first task"),
    ] = None
    idempotency_ttl_s: Annotated[int | None, Field(ge=1, le=MAX_IDEMPOTENCY_TTL_S), WHOLE] = None
    cascade: Annotated[
        bool | None, Field(description="Queued from inside a task: cancelled when it ends")
    ] = None


class NewTasks(Body):
    tasks: Annotated[list[TaskItem], Field(min_length=1, max_length=MAX_TASKS_PER_REQUEST)]


class Progress(Body):
    percent: Annotated[int, Field(ge=0, le=100), WHOLE]
    msg: Annotated[str | None, text(500)] = None


class Retry(Body):
    delay: Annotated[int | None, Field(ge=0), WHOLE] = None


class Replay(Body):
    payload: Annotated[str | None, Field(description="Instead of the task's own")] = None


class ReplayMany(Body):
    """What to replay: a code_name or a status (or both), and a time range."""

    # The document says one of the two is needed, as the route does.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": [field], "properties": {field: {"not": {"type": "null"}}}}
                for field in ("code_name", "status")
            ]
        }
    )

    code_name: Annotated[str | None, text(CODE_NAME_MAX, required=True)] = None
    status: Annotated[TaskStatus | None, Field(strict=False)] = None  # by its value
    from_time: Time = None
    to_time: Time = None
    limit: Annotated[int | None, Field(ge=1, le=MAX_REPLAYS), WHOLE] = None


class Reduce(Body):
    code_name: CodeName
    timeout: Annotated[int | None, Field(ge=1), WHOLE] = None


class NewBatch(Body):
    code_name: CodeName
    payloads: Annotated[
        list[Any],
        Field(min_length=1, max_length=MAX_BATCH_ITEMS, description="Non-strings are encoded"),
    ]
    max_concurrency: Annotated[int | None, Field(ge=1, le=MAX_BATCH_ITEMS), WHOLE] = None
    reduce: Reduce | None = None
    reduce_on_failure: bool | None = None
    priority: Priority = None
    timeout: Annotated[int | None, Field(ge=1), WHOLE] = None
    label: Label = None


class ScheduleItem(Body):
    code_name: CodeName
    name: Annotated[str | None, text(100)] = None
    payload: Annotated[str | None, text(10**7)] = None
    run_every: Annotated[int | None, Field(ge=1), WHOLE] = None
    cron: Annotated[str | None, text(100)] = None
    timezone: Annotated[str | None, text(64)] = None
    start_at: Time = None
    end_at: Time = None
    run_times: Annotated[int | None, Field(ge=1), WHOLE] = None
    priority: Priority = None
    timeout: Annotated[int | None, Field(ge=1), WHOLE] = None
    cluster: Cluster = None
    label: Label = None


class NewSchedules(Body):
    schedules: Annotated[
        list[ScheduleItem], Field(min_length=1, max_length=MAX_SCHEDULES_PER_REQUEST)
    ]


class NewWebhook(Body):
    url: Annotated[str, text(2000, required=True)]
    code_name: MaybeCodeName = None


# Fields whose upper bound is an operator's setting, by the setting: the route checks them
# (`at_most`) and /openapi.json states this installation's values (api/openapi.py).
OPERATOR_BOUNDS = {
    "timeout": "max_timeout_s",
    "delay": "max_delay_s",
    "retries_delay": "max_delay_s",
    "memory": "max_container_memory_mb",
    "cpus": "max_container_cpus",
    "disk": "max_container_tmpfs_mb",
    "log_max_bytes": "max_log_max_bytes",
}


def at_most(value: N | None, high: float, field: str) -> N | None:
    """A value within a bound the operator sets (the model holds only the fixed ones)."""
    if value is not None and value > high:
        raise BadRequest(f"'{field}' must be at most {high} on this installation")
    return value


def field_schema(model: type[Body], name: str) -> dict[str, Any]:
    """One field's JSON schema, as the document shows it (its `null` alternative dropped)."""
    node = model.model_json_schema()["properties"][name]
    options = [o for o in node.get("anyOf", ()) if o.get("type") != "null"]
    node = options[0] if len(options) == 1 else node
    return {k: v for k, v in node.items() if k not in ("title", "default", "description")}


class Text(Body):
    """Values sent as text (a query parameter): "12" is the integer 12."""

    model_config = ConfigDict(strict=False, extra="ignore", frozen=True)


def text_field(name: str, annotation: Any, field: FieldInfo | None = None) -> type[Text]:
    """A one-field model for a value sent as text, so that a query parameter is checked, and
    its complaint worded, as a body's field is (api/queries.py)."""
    fields: dict[str, Any] = {name: (annotation, field or Field(default=None))}
    model: type[Text] = create_model(f"Query_{name}", __base__=Text, **fields)
    return model


def read_text(model: type[Text], name: str, raw: str | None) -> Any:
    """The value of the field `name` of a text_field model, or a 400 naming it."""
    return getattr(read(model, {} if raw is None else {name: raw}), name)


B = TypeVar("B", bound=Body)
N = TypeVar("N", int, float)


def read(model: type[B], raw: object) -> B:
    """The body as `model`, or a 400 that names the field and what is wrong with it."""
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        raise BadRequest(_message(model, e.errors()[0])) from e


def _message(model: type[Body], error: Any) -> str:
    """The platform's message for pydantic's first complaint."""
    field, schema, within = _field_at(model.model_json_schema(), error["loc"])
    kind, ctx = error["type"], error.get("ctx", {})
    if kind == "missing" or (kind == "string_too_short" and ctx.get("min_length") == 1):
        return f"'{field}' is required"
    if kind in ELEMENTS and within:
        return f"'{field}' must be {within} of {ELEMENTS[kind]}"
    if kind in ("greater_than_equal", "less_than_equal"):
        return f"'{field}' must be {_range(schema.get('minimum'), schema.get('maximum'))}"
    if "anyOf" in schema and "description" in schema:  # a choice of types, said in words
        return f"'{field}' must be {schema['description']}"
    if kind in ("too_short", "too_long"):
        low, high = schema.get("minItems", 0), schema.get("maxItems")
        return f"'{field}' must be a list of {low} to {high} items"
    if kind == "string_pattern_mismatch":
        return PATTERN_HINTS.get(field, f"'{field}' is not in the expected form")
    message = MESSAGES.get(kind, "'{field}' is not valid: {msg}")
    return message.format(field=field, msg=error["msg"], **ctx)


MESSAGES = {
    "string_type": "'{field}' must be a string",
    "string_too_long": "'{field}' is longer than {max_length} characters",
    "int_type": "'{field}' must be an integer",
    "int_parsing": "'{field}' must be an integer",
    "float_type": "'{field}' must be a number",
    "bool_type": "'{field}' must be true or false",
    "list_type": "'{field}' must be a list",
    "dict_type": "'{field}' must be a JSON object",
    "model_type": "'{field}' must be a JSON object",
    "enum": "'{field}' must be one of {expected}",
    "extra_forbidden": "'{field}' is not a field this object takes",
}
# What a list's items or an object's values must be, by the complaint about one of them.
ELEMENTS = {
    "string_type": "strings",
    "int_type": "integers",
    "dict_type": "JSON objects",
    "model_type": "JSON objects",
}


def _range(low: float | None, high: float | None) -> str:
    if high is None:
        return f"at least {low}"
    return f"at most {high}" if low is None else f"between {low} and {high}"


def _field_at(schema: dict, loc: tuple) -> tuple[str, dict, str | None]:
    """The field a location names, its schema, and whether the location is an item of it
    ("a list") or a value in it ("an object"), followed through the model's JSON schema."""
    definitions = schema.get("$defs", {})
    field, node, within = "body", schema, None
    for part in loc:
        node = _plain(node, definitions)
        if isinstance(part, str) and part in node.get("properties", {}):
            field, node, within = part, node["properties"][part], None
        elif isinstance(node.get("items"), dict):
            node, within = node["items"], "a list"
        elif isinstance(node.get("additionalProperties"), dict):
            node, within = node["additionalProperties"], "an object"
        elif "anyOf" in node:  # pydantic names the member of a union it tried: stay put
            continue
        else:  # a field the object does not take
            return str(part), {}, None
    return field, _plain(node, definitions), within


def _plain(node: dict, definitions: dict) -> dict:
    """A schema node with its reference followed and its `null` alternative dropped."""
    if "$ref" in node:
        node = definitions[node["$ref"].rsplit("/", 1)[1]]
    options = [o for o in node.get("anyOf", ()) if o.get("type") != "null"]
    return _plain(options[0], definitions) if len(options) == 1 else node
