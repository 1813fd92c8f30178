"""Execution environments: what a function is to the runtime, and the worker processes running it.

`FunctionSpec` is the frozen description of one deployed function version that the engine
hands to the invoke service. `workers.py` turns specs into warm worker processes (one
execution environment each), `bootstrap.py` is the program inside a worker, `protocol.py` the
framing between them, and `interpreters.py` maps a Lambda Runtime to a local interpreter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping

# The AWS Parameters and Secrets Lambda Extension's layer, in any region, for either architecture:
# a function with it gets the extension the engine serves (extensions.py).
PARAMETERS_SECRETS_LAYER = re.compile(r":layer:AWS-Parameters-and-Secrets-Lambda-Extension(-Arm64)?:\d+$")


def wants_extension(layers: Any) -> bool:
    return any(isinstance(arn, str) and PARAMETERS_SECRETS_LAYER.search(arn) for arn in layers or ())


# What a function without a Runtime runs on (the model keeps None; Lambda's API shows this too).
DEFAULT_RUNTIME = "python3.12"


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    arn: str
    runtime: str
    handler: str
    # Unpacked code: the worker's cwd and first sys.path entry (LAMBDA_TASK_ROOT).
    code_dir: Path
    # Identifies the code + configuration version; a new value means new environments.
    code_sha: str
    memory_size: int = 128
    timeout: int = 3
    ephemeral_storage: int = 512
    # The user's Variables.
    environment: Mapping[str, str] = field(default_factory=dict)
    # Each layer dir has python/ inside (like /opt); <layer>/python goes on sys.path.
    layer_dirs: tuple[Path, ...] = ()
    architectures: tuple[str, ...] = ("x86_64",)
    version: str = "$LATEST"
    reserved_concurrency: int | None = None
    stack: str | None = None
    log_format: str = "Text"
    # Why this function cannot run here (an image, a missing toolchain); invoking it returns this.
    not_emulated: str | None = None
    # It has the AWS Parameters and Secrets Lambda Extension layer (the engine serves it).
    parameters_secrets: bool = False
    # DurableConfig.ExecutionTimeout (seconds): set for a durable function, whose every invoke
    # starts a durable execution; None for a plain function.
    durable_timeout: int | None = None
    durable_retention_days: int | None = None
    # AutoPublishAlias: the alias (and its version "1", what `!Ref Fn.Version` names) invoke
    # accepts as a qualifier for $LATEST, the one version samlite runs.
    alias: str | None = None

    # Cached: both are read for every invocation (cached_property writes the instance __dict__,
    # which a frozen dataclass allows).
    @cached_property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.name}"

    @cached_property
    def architecture(self) -> str:
        return self.architectures[0] if self.architectures else "x86_64"

    @classmethod
    def from_config(cls, c: Mapping[str, Any], code_sha: str) -> FunctionSpec:
        """The spec of a function from its deployed configuration: the template model's Function as
        a dict, plus where its code and layers were unpacked (`code_dir`, `layer_dirs`) and its
        `stack`. The one conversion, for the engine and for one-shot `samlite invoke -t`."""
        return cls(
            name=c["name"], arn=c["arn"], runtime=c.get("runtime") or DEFAULT_RUNTIME, handler=c.get("handler") or "",
            code_dir=Path(c["code_dir"]), code_sha=code_sha, memory_size=c.get("memory_size", 128),
            timeout=c.get("timeout", 3), ephemeral_storage=c.get("ephemeral_storage", 512),
            environment=dict(c.get("environment") or {}),
            layer_dirs=tuple(Path(p) for p in c.get("layer_dirs") or ()),
            architectures=tuple(c.get("architectures") or ("x86_64",)),
            reserved_concurrency=c.get("reserved_concurrency"), stack=c.get("stack"),
            log_format=c.get("log_format") or "Text", not_emulated=c.get("not_emulated"),
            parameters_secrets=wants_extension(c.get("layers")),
            durable_timeout=c.get("durable_execution_timeout"),
            durable_retention_days=c.get("durable_retention_days"),
            alias=c.get("auto_publish_alias"),
        )


__all__ = ["DEFAULT_RUNTIME", "FunctionSpec"]
