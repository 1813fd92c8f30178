"""The resolved stack: frozen dataclasses that every later stage (build, deploy, engine) reads.

`load_stack()` (in `samlite.template`) produces a `Stack` with Globals merged, parameters,
conditions and intrinsics resolved, and SAM's implicit resources made explicit. Nothing here has
side effects; identifiers are derived deterministically so that a redeploy keeps them.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import hashlib
import json
import string
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Mapping

_ALNUM_UPPER = string.ascii_uppercase + string.digits
_ALNUM_LOWER = string.ascii_lowercase + string.digits


def stable_id(seed: str, length: int, alphabet: str = _ALNUM_LOWER) -> str:
    """A deterministic pseudo-random id: stable across redeploys of the same stack."""
    digest = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big")
    out = []
    for _ in range(length):
        digest, index = divmod(digest, len(alphabet))
        out.append(alphabet[index])
    return "".join(out)


def physical_name(stack_name: str, logical_id: str, max_length: int = 64) -> str:
    """CloudFormation's generated name: `<stack>-<LogicalId>-<SUFFIX>`, truncated to fit."""
    suffix = stable_id(f"{stack_name}/{logical_id}", 12, _ALNUM_UPPER)
    head = f"{stack_name}-{logical_id}"
    return f"{head[: max_length - len(suffix) - 1]}-{suffix}"


@dataclass(frozen=True)
class Context:
    """What a template is resolved against: the account, region, stack and local endpoints."""

    stack_name: str = "sam-app"
    region: str = "us-east-1"
    account_id: str = "123456789012"
    # Base URL of the engine's AWS endpoint; queue URLs are built on it.
    aws_url: str = "http://127.0.0.1:3001"
    # Export name -> value of other stacks' Outputs, for Fn::ImportValue.
    exports: Mapping[str, str] = field(default_factory=dict)

    @property
    def stack_id(self) -> str:
        uid = stable_id(f"stack/{self.stack_name}", 32, "0123456789abcdef")
        uuid = f"{uid[:8]}-{uid[8:12]}-{uid[12:16]}-{uid[16:20]}-{uid[20:32]}"
        return f"arn:aws:cloudformation:{self.region}:{self.account_id}:stack/{self.stack_name}/{uuid}"

    def function_arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}"

    def queue_arn(self, name: str) -> str:
        return f"arn:aws:sqs:{self.region}:{self.account_id}:{name}"

    def queue_url(self, name: str) -> str:
        return f"{self.aws_url.rstrip('/')}/{self.account_id}/{name}"


@dataclass(frozen=True)
class Destination:
    """An async destination or DLQ target. `type` is SQS, SNS, Lambda, EventBridge or S3."""

    type: str
    arn: str


@dataclass(frozen=True)
class EventInvokeConfig:
    maximum_event_age_seconds: int = 21600
    maximum_retry_attempts: int = 2
    on_success: Destination | None = None
    on_failure: Destination | None = None


@dataclass(frozen=True)
class Cors:
    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    allow_credentials: bool = False
    max_age: int | None = None


@dataclass(frozen=True)
class Function:
    logical_id: str
    name: str  # physical function name
    arn: str
    runtime: str | None
    handler: str | None
    code_uri: str | None  # absolute path to a folder or .zip; None with inline code or images
    inline_code: str | None = None
    package_type: str = "Zip"
    memory_size: int = 128
    timeout: int = 3
    ephemeral_storage: int = 512
    environment: Mapping[str, str] = field(default_factory=dict)
    architectures: tuple[str, ...] = ("x86_64",)
    layers: tuple[str, ...] = ()  # layer logical ids (local) or layer version ARNs
    reserved_concurrency: int | None = None
    dead_letter_queue: Destination | None = None
    event_invoke_config: EventInvokeConfig | None = None
    auto_publish_alias: str | None = None
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    log_format: str = "Text"  # LoggingConfig.LogFormat
    application_log_level: str | None = None
    build_method: str | None = None  # Metadata.BuildMethod (esbuild, makefile, rust-cargolambda, ...)
    build_properties: Mapping[str, Any] = field(default_factory=dict)  # Metadata.BuildProperties
    # Why the function cannot run here (an image, a toolchain that is missing): it is deployed,
    # and invoking it returns this reason as the error.
    not_emulated: str | None = None
    # DurableConfig: a durable function (every invocation starts a durable execution), its
    # ExecutionTimeout in seconds and RetentionPeriodInDays. None: not durable.
    durable_execution_timeout: int | None = None
    durable_retention_days: int | None = None

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.name}"


@dataclass(frozen=True)
class Layer:
    logical_id: str
    name: str
    arn: str
    content_uri: str  # absolute path to a folder or .zip
    compatible_runtimes: tuple[str, ...] = ()
    build_method: str | None = None
    build_properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RedrivePolicy:
    dead_letter_target_arn: str
    max_receive_count: int


@dataclass(frozen=True)
class Queue:
    logical_id: str
    name: str
    url: str
    arn: str
    fifo: bool = False
    visibility_timeout: int = 30
    message_retention_period: int = 345600
    delay_seconds: int = 0
    maximum_message_size: int = 1048576
    receive_message_wait_time_seconds: int = 0
    content_based_deduplication: bool = False
    redrive_policy: RedrivePolicy | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EventSourceMapping:
    logical_id: str  # `<Fn><Event>` for SAM SQS events
    uuid: str
    function: str  # logical id of the target function
    event_source_arn: str
    batch_size: int = 10
    maximum_batching_window_seconds: int = 0
    enabled: bool = True
    filter_patterns: tuple[str, ...] = ()  # each a JSON pattern string
    function_response_types: tuple[str, ...] = ()
    maximum_concurrency: int | None = None
    # DynamoDB/Kinesis sources: StartingPosition, MaximumRetryAttempts, ... (the Lambda API's names)
    stream: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Authorizer:
    name: str
    function_arn: str
    function: str | None  # logical id when the authorizer is a function of this stack
    type: str = "TOKEN"  # TOKEN | REQUEST (REST); REQUEST (HTTP API)
    identity_header: str = "Authorization"
    identity_sources: tuple[str, ...] = ()  # e.g. ("header:Authorization", "query:token")
    validation_expression: str | None = None
    ttl_seconds: int = 300
    payload_format: str = "1.0"  # HTTP API authorizers: "1.0" | "2.0"
    simple_responses: bool = False


@dataclass(frozen=True)
class Route:
    method: str  # upper case, or "ANY"
    path: str  # "/items/{id}", "/{proxy+}", or "$default" (HTTP API catch-all)
    function: str  # logical id
    event_name: str = ""
    payload_format: str = "1.0"  # REST: 1.0; HTTP API: "2.0" unless set to "1.0"
    api_key_required: bool = False
    authorizer: str | None = None  # authorizer name, None = no authorizer
    timeout_ms: int = 29000


@dataclass(frozen=True)
class Api:
    logical_id: str
    kind: str  # "rest" | "http"
    api_id: str
    stage_name: str  # "Prod" for the implicit REST API, "$default" for the implicit HTTP API
    routes: tuple[Route, ...] = ()
    cors: Cors | None = None
    authorizers: Mapping[str, Authorizer] = field(default_factory=dict)
    api_key_required: bool = False
    binary_media_types: tuple[str, ...] = ()
    stage_variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FunctionUrl:
    logical_id: str  # `<Fn>Url`
    function: str  # logical id
    url_id: str  # 32 lowercase alphanumerics
    auth_type: str = "NONE"  # NONE | AWS_IAM
    cors: Cors | None = None
    invoke_mode: str = "BUFFERED"


@dataclass(frozen=True)
class Output:
    key: str
    value: str
    description: str = ""
    export_name: str | None = None


@dataclass(frozen=True)
class Resource:
    """One logical resource as CloudFormation would list it, used for change sets.

    `properties` are the resolved properties; `emulated` says whether the engine runs it.
    """

    logical_id: str
    type: str
    properties: Mapping[str, Any]
    physical_id: str
    emulated: bool = True
    generated: bool = False  # an implicit SAM resource (Role, ServerlessRestApi, mapping, ...)
    deletion_policy: str | None = None  # DeletionPolicy as written (Delete, Retain, Snapshot, ...)

    @property
    def properties_hash(self) -> str:
        blob = json.dumps(self.properties, sort_keys=True, default=str, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class Warning:
    logical_id: str
    message: str


@dataclass(frozen=True)
class Stack:
    name: str
    region: str
    account_id: str
    template_path: str
    project_dir: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    resources: Mapping[str, Resource] = field(default_factory=dict)
    functions: Mapping[str, Function] = field(default_factory=dict)
    layers: Mapping[str, Layer] = field(default_factory=dict)
    queues: Mapping[str, Queue] = field(default_factory=dict)
    mappings: Mapping[str, EventSourceMapping] = field(default_factory=dict)
    apis: Mapping[str, Api] = field(default_factory=dict)
    function_urls: Mapping[str, FunctionUrl] = field(default_factory=dict)
    outputs: tuple[Output, ...] = ()
    imports: tuple[str, ...] = ()  # export names this stack imports (Fn::ImportValue)
    warnings: tuple[Warning, ...] = ()
    no_echo_parameters: tuple[str, ...] = ()  # parameters declared NoEcho: show them as ****


# --- serialisation: the engine stores deployed stacks as JSON and reads them back -------------
def to_dict(obj: Any) -> Any:
    """A JSON-ready copy of a model object (dataclasses, mappings and tuples, recursively)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_dict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    return obj


def from_dict(cls: type, data: Any) -> Any:
    """Rebuild a model dataclass from `to_dict` output, guided by the field annotations."""
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            kwargs[f.name] = _from_value(hints[f.name], data[f.name])
    return cls(**kwargs)


def _from_value(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            if arg is not type(None):
                return _from_value(arg, value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return from_dict(hint, value)
    if origin is tuple:
        return tuple(_from_value(args[0], v) for v in value) if args else tuple(value)
    if origin in (Mapping, dict, collections.abc.Mapping):
        return {k: _from_value(args[1], v) for k, v in value.items()} if args else dict(value)
    return value
