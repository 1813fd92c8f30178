"""Semantic checks: Lambda's and SQS's documented limits, runtimes, names, environment variables, code paths.

Each `check_*` takes resolved properties and a `report(path, message, severity)` callback, so
it knows nothing about lines or files; `resolve.Builder` calls them while building the model and
`pipeline.validate_template()` runs the whole pipeline and returns every problem found.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Callable, Mapping

Report = Callable[[tuple[Any, ...], str, str], None]

SUPPORTED_RUNTIMES = tuple(
    [f"python3.{minor}" for minor in range(8, 15)]
    + ["nodejs18.x", "nodejs20.x", "nodejs22.x", "nodejs24.x", "provided.al2", "provided.al2023"]
)

# Real Lambda runtimes samlite has no interpreter for: valid CloudFormation, so the function is
# deployed (a warning, not an error) and invoking it fails with Runtime.InvalidRuntime.
NOT_EMULATED_RUNTIME = re.compile(r"java\d+(\.al2)?|dotnet(core)?\d+(\.\d+)?|ruby\d+\.\d+|go1\.x|python2\.7")


def not_emulated_runtime(runtime: str, why: str = "") -> str:
    """The warning for a function whose runtime cannot run here (one wording everywhere)."""
    return (f"runtime {runtime} is not emulated by samlite: the function is deployed but cannot be invoked "
            f"locally{why}")


def without_bootstrap(runtime: Any, code_path: str | None) -> bool:
    """A provided.* function whose code folder has no executable `bootstrap` (a Go or Rust source
    folder that SAM would compile): samlite cannot run it."""
    if not (isinstance(runtime, str) and runtime.startswith("provided") and code_path):
        return False
    path = Path(code_path)
    bootstrap = path / "bootstrap"
    return path.is_dir() and not (bootstrap.is_file() and os.access(bootstrap, os.X_OK))


# Variables the runtime sets; a function may not set them.
RESERVED_ENV_KEYS = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})
ENV_LIMIT_BYTES = 4096
ENV_KEY = re.compile(r"[a-zA-Z][a-zA-Z0-9_]+")
FUNCTION_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")


def as_int(value: Any) -> int | None:
    """An integer property value (CloudFormation accepts "128" too); None if not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def as_bool(value: Any, default: bool = False) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def check_range(report: Report, props: Mapping[str, Any], key: str, low: int | None,
                high: int | None, path: tuple[Any, ...] = ()) -> int | None:
    """Report a property outside [low, high]; return its integer value (or None if absent)."""
    if not isinstance(props, Mapping) or key not in props or props[key] is None:
        return None
    value = as_int(props[key])
    if value is None:
        report(path + (key,), f"must be an integer, not {props[key]!r}", "error")
        return None
    if (low is not None and value < low) or (high is not None and value > high):
        if high is None:
            report(path + (key,), f"{value} is out of range: must be at least {low:,}", "error")
        else:
            report(path + (key,), f"{value} is out of range: must be {low:,}-{high:,}", "error")
    return value


def check_function(report: Report, props: Mapping[str, Any]) -> None:
    """Lambda limits for a function's (Globals-merged, resolved) properties."""
    package_type = props.get("PackageType", "Zip")
    runtime = props.get("Runtime")
    if package_type == "Zip":
        if runtime is None:
            report(("Runtime",), "Runtime is required for Zip functions (set it here or in "
                   "Globals.Function)", "error")
        elif runtime not in SUPPORTED_RUNTIMES and not (isinstance(runtime, str) and
                                                        NOT_EMULATED_RUNTIME.fullmatch(runtime)):
            report(("Runtime",), f"unsupported runtime '{runtime}'; samlite runs "
                   f"{', '.join(SUPPORTED_RUNTIMES)}", "error")
        if not props.get("Handler"):
            report(("Handler",), "Handler is required for Zip functions", "error")
        if props.get("CodeUri") is None and props.get("InlineCode") is None:
            report((), "either CodeUri or InlineCode must be set", "error")
        if props.get("CodeUri") is not None and props.get("InlineCode") is not None:
            report(("InlineCode",), "CodeUri and InlineCode cannot both be set", "error")
    check_range(report, props, "MemorySize", 128, 10240)
    check_range(report, props, "Timeout", 1, 900)
    storage = props.get("EphemeralStorage")
    if isinstance(storage, Mapping):
        check_range(report, storage, "Size", 512, 10240, ("EphemeralStorage",))
    check_range(report, props, "ReservedConcurrentExecutions", 0, None)
    name = props.get("FunctionName")
    if isinstance(name, str) and not FUNCTION_NAME.fullmatch(name):
        report(("FunctionName",), f"invalid function name '{name}': 1-64 characters of "
               "a-z, A-Z, 0-9, - and _", "error")
    layers = props.get("Layers")
    if isinstance(layers, list) and len(layers) > 5:
        report(("Layers",), f"{len(layers)} layers; a function can use at most 5", "error")
    env = props.get("Environment")
    if isinstance(env, Mapping) and isinstance(env.get("Variables"), Mapping):
        check_environment(report, env["Variables"])
    archs = props.get("Architectures")
    if isinstance(archs, list) and (len(archs) != 1 or archs[0] not in ("x86_64", "arm64")):
        report(("Architectures",), f"Architectures must be [x86_64] or [arm64], not {archs}",
               "error")
    eic = props.get("EventInvokeConfig")
    if isinstance(eic, Mapping):
        check_event_invoke_config(report, eic, ("EventInvokeConfig",))
    durable = props.get("DurableConfig")
    if durable is not None:
        check_durable_config(report, durable)
    dlq = props.get("DeadLetterQueue")
    if isinstance(dlq, Mapping):
        if dlq.get("Type") not in ("SQS", "SNS"):
            report(("DeadLetterQueue", "Type"), "must be SQS or SNS", "error")
        if not dlq.get("TargetArn"):
            report(("DeadLetterQueue", "TargetArn"), "TargetArn is required", "error")


def check_durable_config(report: Report, durable: Any) -> None:
    """Lambda's limits for DurableConfig: an execution runs at most a year (ExecutionTimeout,
    1-31,622,400 s) and is kept 1-90 days after it ends (RetentionPeriodInDays)."""
    path = ("DurableConfig",)
    if not isinstance(durable, Mapping):
        report(path, "DurableConfig must be an object with ExecutionTimeout and RetentionPeriodInDays", "error")
        return
    for key in durable:
        if key not in ("ExecutionTimeout", "RetentionPeriodInDays", "KMSKeyArn"):
            report(path + (key,), f"unknown property '{key}' (DurableConfig has ExecutionTimeout, "
                   "RetentionPeriodInDays and KMSKeyArn)", "error")
    check_range(report, durable, "ExecutionTimeout", 1, 31622400, path)
    check_range(report, durable, "RetentionPeriodInDays", 1, 90, path)


def check_environment(report: Report, variables: Mapping[str, Any]) -> None:
    path = ("Environment", "Variables")
    reserved = [k for k in variables if k in RESERVED_ENV_KEYS]
    if reserved:
        report(path, "Lambda was unable to configure your environment variables because the "
               "environment variables you have provided contains reserved keys that are currently "
               f"not supported for modification. Reserved keys used in this request: "
               f"{', '.join(reserved)}", "error")
    for key in variables:
        if key not in RESERVED_ENV_KEYS and not ENV_KEY.fullmatch(str(key)):
            report(path + (key,), f"invalid environment variable name '{key}': must match "
                   "[a-zA-Z][a-zA-Z0-9_]+", "error")
    measured = json.dumps({str(k): env_string(v) for k, v in variables.items()},
                          separators=(",", ":"), ensure_ascii=False)
    if len(measured.encode()) > ENV_LIMIT_BYTES:
        report(path, "Lambda was unable to configure your environment variables because the "
               "environment variables you have provided exceeded the 4KB limit. String measured: "
               f"{measured[:200]}{'...' if len(measured) > 200 else ''}", "error")


def env_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def check_event_invoke_config(report: Report, eic: Mapping[str, Any], path: tuple[Any, ...]) -> None:
    check_range(report, eic, "MaximumRetryAttempts", 0, 2, path)
    check_range(report, eic, "MaximumEventAgeInSeconds", 60, 21600, path)
    config = eic.get("DestinationConfig")
    if not isinstance(config, Mapping):
        return
    for which in ("OnSuccess", "OnFailure"):
        dest = config.get(which)
        if not isinstance(dest, Mapping):
            continue
        kind = dest.get("Type")
        where = path + ("DestinationConfig", which)
        if kind not in ("SQS", "SNS", "Lambda", "EventBridge", "S3"):
            report(where + ("Type",), f"destination type must be SQS, SNS, Lambda, EventBridge or "
                   f"S3, not {kind!r}", "error")
        elif kind == "S3" and which == "OnSuccess":
            report(where + ("Type",), "S3 is only supported as an OnFailure destination", "error")
        elif kind in ("Lambda", "EventBridge", "S3") and not dest.get("Destination"):
            report(where, f"Destination is required for type {kind}", "error")


def check_queue(report: Report, props: Mapping[str, Any]) -> None:
    """SQS attribute ranges and names."""
    check_range(report, props, "VisibilityTimeout", 0, 43200)
    check_range(report, props, "MessageRetentionPeriod", 60, 1209600)
    check_range(report, props, "DelaySeconds", 0, 900)
    check_range(report, props, "MaximumMessageSize", 1024, 1048576)
    check_range(report, props, "ReceiveMessageWaitTimeSeconds", 0, 20)
    fifo = as_bool(props.get("FifoQueue"))
    name = props.get("QueueName")
    if isinstance(name, str):
        base = name[:-5] if name.endswith(".fifo") else name
        if len(name) > 80 or not QUEUE_NAME.fullmatch(base or "-"):
            report(("QueueName",), f"invalid queue name '{name}': 1-80 characters of A-Z, a-z, "
                   "0-9, - and _ (FIFO names end in .fifo)", "error")
        elif fifo and not name.endswith(".fifo"):
            report(("QueueName",), f"the name of a FIFO queue must end in .fifo: '{name}'", "error")
        elif not fifo and name.endswith(".fifo"):
            report(("QueueName",), f"'{name}' ends in .fifo but FifoQueue is not true", "error")
    if "ContentBasedDeduplication" in props and as_bool(props["ContentBasedDeduplication"]) and not fifo:
        report(("ContentBasedDeduplication",), "only FIFO queues support content-based "
               "deduplication", "error")
    redrive = props.get("RedrivePolicy")
    if isinstance(redrive, str):
        try:
            redrive = json.loads(redrive)
        except ValueError:
            report(("RedrivePolicy",), "RedrivePolicy is not valid JSON", "error")
            return
    if isinstance(redrive, Mapping):
        if not redrive.get("deadLetterTargetArn"):
            report(("RedrivePolicy",), "deadLetterTargetArn is required", "error")
        if "maxReceiveCount" not in redrive:
            report(("RedrivePolicy",), "maxReceiveCount is required", "error")
        check_range(report, redrive, "maxReceiveCount", 1, 1000, ("RedrivePolicy",))


def check_sqs_mapping(report: Report, props: Mapping[str, Any], fifo: bool | None,
                      path: tuple[Any, ...] = ()) -> None:
    """Event source mapping parameters for an SQS source (SAM SQS event or explicit)."""
    batch = check_range(report, props, "BatchSize", 1, 10 if fifo else 10000, path)
    window = check_range(report, props, "MaximumBatchingWindowInSeconds", 0, 300, path)
    if fifo and window is not None:
        report(path + ("MaximumBatchingWindowInSeconds",), "MaximumBatchingWindowInSeconds is "
               "not supported for FIFO queues", "error")
    elif not fifo and batch is not None and batch > 10 and not window:
        report(path + ("MaximumBatchingWindowInSeconds",), "MaximumBatchingWindowInSeconds must "
               f"be at least 1 when BatchSize is greater than 10 (BatchSize is {batch})", "error")
    scaling = props.get("ScalingConfig")
    if isinstance(scaling, Mapping):
        check_range(report, scaling, "MaximumConcurrency", 2, 1000, path + ("ScalingConfig",))
    types = props.get("FunctionResponseTypes")
    if isinstance(types, list):
        for index, item in enumerate(types):
            if item != "ReportBatchItemFailures":
                report(path + ("FunctionResponseTypes", index), f"unknown response type {item!r}; "
                       "only ReportBatchItemFailures is supported", "error")
    criteria = props.get("FilterCriteria")
    if isinstance(criteria, Mapping):
        filters = criteria.get("Filters")
        if isinstance(filters, list):
            if len(filters) > 5:
                report(path + ("FilterCriteria", "Filters"), f"{len(filters)} filters; at most 5 "
                       "are allowed", "error")
            for index, item in enumerate(filters):
                pattern = item.get("Pattern") if isinstance(item, Mapping) else None
                if isinstance(pattern, str):
                    try:
                        json.loads(pattern)
                    except ValueError:
                        report(path + ("FilterCriteria", "Filters", index, "Pattern"),
                               "the filter pattern is not valid JSON", "error")
                    if len(pattern) > 4096:
                        report(path + ("FilterCriteria", "Filters", index, "Pattern"),
                               "a filter pattern may be at most 4096 characters", "error")


def check_code(report: Report, props: Mapping[str, Any], code_path: str | None,
               severity: str) -> None:
    """The function's code folder/zip exists and, for Python, holds the handler's module."""
    if code_path is None:
        return
    path = Path(code_path)
    if not path.exists():
        report(("CodeUri",), f"code not found: {code_path}", severity)
        return
    runtime = props.get("Runtime")
    handler = props.get("Handler")
    if path.is_dir() and isinstance(runtime, str) and runtime.startswith("python") and \
            isinstance(handler, str):
        module, dot, _ = handler.rpartition(".")
        if not dot or not module:
            report(("Handler",), f"bad handler '{handler}': expected module.function", severity)
            return
        rel = module.replace("/", ".").replace(".", "/")
        if not (path / f"{rel}.py").is_file() and not (path / rel / "__init__.py").is_file():
            report(("Handler",), f"handler module '{module}' not found: no {rel}.py or "
                   f"{rel}/__init__.py in {code_path}", severity)
