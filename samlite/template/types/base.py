"""What one resource type tells the template pipeline, and what the pipeline offers it.

`ResourceType` is the handler a type module registers; its defaults are the behaviour of a type
samlite knows nothing special about (CloudFormation's generated name, Ref is that name, GetAtt a
plausible placeholder). `Pipeline` is the part of `resolve.Builder` a handler may use, `Assembly`
the part of `assemble.Assembler`: both are protocols, so type modules import neither.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol

from samlite.template import model
from samlite.template.intrinsics import is_intrinsic

if TYPE_CHECKING:
    from samlite.template.intrinsics import Resolver
    from samlite.template.problems import Problems

Report = Callable[..., None]

# Assembly phases: the model objects a phase builds exist before later phases refer to them.
LAYERS_AND_QUEUES = 10   # layers and template queues
GENERATED_QUEUES = 20    # SAM's queues (EventInvokeConfig destinations)
FUNCTIONS = 30           # functions, their SAM events, URLs and generated resources
MAPPINGS = 40            # explicit event source mappings and function URLs (need functions)
ROUTES = 50              # raw API Gateway methods and routes (need functions)
APIS = 60                # APIs (need every route)


@dataclass
class Entry:
    """One resource on its way through the pipeline."""

    logical_id: str
    type: str
    raw: dict[str, Any]
    generated: bool = False
    source: str | None = None  # generated: the resource that produced it
    depends_on: list[str] = field(default_factory=list)
    resolved: dict[str, Any] | None = None
    emulated: bool = True
    deletion_policy: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)  # the resource's Metadata (BuildMethod, ...)


class Pipeline(Protocol):
    """What a handler reads and calls of the resolver (`resolve.Builder`)."""

    entries: dict[str, Entry]
    context: model.Context
    problems: Problems
    doc: Any
    check_code: bool
    base_dir: Path

    def reporter(self, section: str | None, lid: str, prefix: tuple[Any, ...] = ()) -> Report: ...
    def resolver(self, section: str | None, lid: str, prefix: tuple[Any, ...] = ()) -> Resolver: ...
    def resolve_property(self, lid: str, key: str) -> Any: ...
    def warn_not_emulated(self, lid: str, message: str,
                          where: tuple[str, tuple[Any, ...]] | None = None) -> None: ...
    def generate(self, lid: str, rtype: str, source: str, raw: dict[str, Any] | None = None) -> Entry: ...
    def physical_name(self, lid: str) -> str: ...
    def ref_value(self, lid: str) -> Any: ...
    def getatt_value(self, lid: str, attr: str) -> Any: ...
    def api_id(self, lid: str) -> str: ...
    def url_id(self, lid: str) -> str: ...


class Assembly(Protocol):
    """What a handler reads and fills of the model assembly (`assemble.Assembler`)."""

    @property
    def b(self) -> Pipeline: ...
    @property
    def ctx(self) -> model.Context: ...

    functions: dict[str, model.Function]
    layers: dict[str, model.Layer]
    queues: dict[str, model.Queue]
    mappings: dict[str, model.EventSourceMapping]
    apis: dict[str, model.Api]
    urls: dict[str, model.FunctionUrl]
    routes: dict[str, list[model.Route]]
    generated_props: dict[str, dict[str, Any]]
    memo: dict[str, Any]  # per-run scratch space shared by a type's handlers

    def report(self, lid: str, prefix: tuple[Any, ...] = ("Properties",)) -> Report: ...
    def cannot(self, lid: str, exc: Exception) -> None: ...
    def function_by_ref(self, value: Any) -> str | None: ...
    def queue_by_arn(self, arn: Any) -> model.Queue | None: ...
    def local_path(self, value: Any) -> str | None: ...


class ResourceType:
    """A resource type's whole story in the template layer; override what differs."""

    type_name: str = ""
    # JSON Schema (Draft 7 subset, built from `schema_parts`) of the Properties; None: unchecked.
    schema: dict[str, Any] | None = None
    # SAM Globals section merged into this type's properties, and its schema.
    globals_section: str | None = None
    globals_schema: dict[str, Any] | None = None
    name_property: str | None = None          # the property that names the resource
    attributes: frozenset[str] | None = None  # GetAtt attributes; None: any (we cannot know all)
    emulated: bool = True                     # samlite runs it (else: a "not emulated" warning)
    invocable: bool = False                   # a function: others name it by name, ARN or logical id
    dependency_exclude: tuple[str, ...] = ()  # properties whose references are no dependency
    phase: int | None = None                  # assembly phase of a template resource
    generated_phase: int | None = None        # assembly phase of a SAM-generated one

    def claims(self, type_name: str) -> bool:
        """For a family registered by pattern (`Custom::*`): whether it handles this name."""
        return False

    def default_name(self, b: Pipeline, entry: Entry) -> str:
        """The physical name when the name property is not set: CloudFormation's generated one."""
        return model.physical_name(b.context.stack_name, entry.logical_id, 64)

    def ref(self, b: Pipeline, entry: Entry) -> Any:
        return b.physical_name(entry.logical_id)

    def get_att(self, b: Pipeline, entry: Entry, attr: str) -> Any:
        return placeholder_attribute(b, entry, attr)

    def physical_id(self, b: Pipeline, entry: Entry) -> str:
        """The physical id the stack listing shows."""
        value = b.ref_value(entry.logical_id)
        return value if isinstance(value, str) else json.dumps(value)

    def expand(self, b: Pipeline, entry: Entry) -> None:
        """SAM's expansion: generate the implicit resources (logical ids known before resolving)."""

    def check(self, asm: Assembly, entry: Entry) -> None:
        """Semantic checks of a template resource's resolved properties (AWS's limits)."""

    def assemble(self, asm: Assembly, entry: Entry) -> None:
        """Build the model objects, in `phase` (or `generated_phase`)."""


def placeholder_attribute(b: Pipeline, entry: Entry, attr: str, arn: str | None = None) -> str:
    """Plausible values for resources samlite does not run, so templates still resolve."""
    ctx = b.context
    name = b.physical_name(entry.logical_id)
    region, account = ctx.region, ctx.account_id
    if arn is None:
        service = entry.type.split("::")[1].lower() if entry.type.count("::") >= 2 else "custom"
        kind = entry.type.rsplit("::", 1)[-1].lower()
        arn = f"arn:aws:{service}:{region}:{account}:{kind}/{name}"
    if attr in ("Arn", "TopicArn"):
        return arn
    if attr == "StreamArn":
        return f"{arn}/stream/2024-01-01T00:00:00.000"
    if attr in ("TopicName", "Name"):
        return name
    if attr in ("DomainName", "RegionalDomainName", "DualStackDomainName"):
        return f"{name}.s3.{region}.amazonaws.com"
    if attr == "WebsiteURL":
        return f"http://{name}.s3-website-{region}.amazonaws.com"
    return f"{name}.{attr}"


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def attributes(names: str) -> frozenset[str]:
    return frozenset(names.split())


def alnum(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", text)


def hex_of(seed: str, length: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


def merge_globals(globals_: dict[str, Any], props: dict[str, Any], ignore: Any) -> dict[str, Any]:
    """SAM's Globals merge: scalars - resource wins; maps merged per key; lists concatenated."""
    if ignore == "*":
        return props
    skip = set(ignore) if isinstance(ignore, list) else set()
    out = {k: v for k, v in globals_.items() if k not in skip}
    for key, value in props.items():
        out[key] = _merge_value(out[key], value, key) if key in out else value
    return out


def _merge_value(global_value: Any, value: Any, key: str) -> Any:
    if is_intrinsic(global_value) or is_intrinsic(value):
        return value
    if isinstance(global_value, dict) and isinstance(value, dict):
        merged = dict(global_value)
        for k, v in value.items():
            merged[k] = _merge_value(merged[k], v, k) if k in merged else v
        return merged
    if isinstance(global_value, list) and isinstance(value, list) and key != "Architectures":
        return global_value + value
    return value


def plain_dict(value: Any) -> dict[str, Any]:
    """A mapping that is not an intrinsic function, else {}."""
    return value if isinstance(value, dict) and not is_intrinsic(value) else {}
