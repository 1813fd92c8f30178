"""AWS::Serverless::Function and AWS::Lambda::Function: functions samlite runs in its workers.

One module for both: the SAM type is the Lambda type with a local CodeUri, Globals and SAM's
expansion (its Events are in `function_events`), and both become one `model.Function`. Here too:
Lambda's documented limits (memory, timeout, names, environment variables, runtimes) and the
code-folder checks.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Mapping

from samlite.template import model
from samlite.template.intrinsics import IntrinsicError
from samlite.template.schema_parts import ANY, BOOL, INT, INTRINSIC, LIST, OBJ, STR, STR_LIST, obj, typed
from samlite.template.types.base import (
    FUNCTIONS,
    Assembly,
    Entry,
    Pipeline,
    Report,
    ResourceType,
    alnum,
    as_dict,
    attributes,
    hex_of,
    plain_dict,
)
from samlite.template.types.function_events import EVENT, assemble_events, expand_events
from samlite.template.types.function_url import add_url, strs
from samlite.template.types.layer import build_metadata
from samlite.template.types.registry import register
from samlite.template.validate import as_int, check_range

CORS_URL = obj({"AllowOrigins": STR_LIST, "AllowMethods": STR_LIST, "AllowHeaders": STR_LIST,
                "ExposeHeaders": STR_LIST, "AllowCredentials": BOOL, "MaxAge": INT})
DESTINATION = obj({"Type": {"enum": ["SQS", "SNS", "Lambda", "EventBridge", "S3"]},
                   "Destination": ANY})
EVENT_INVOKE = obj({"MaximumEventAgeInSeconds": INT, "MaximumRetryAttempts": INT,
                    "DestinationConfig": obj({"OnSuccess": DESTINATION, "OnFailure": DESTINATION})})
ENVIRONMENT = obj({"Variables": {"anyOf": [
    {"type": "object", "additionalProperties": typed("string", "number", "boolean")}, INTRINSIC]}})

FUNCTION_COMMON = {
    "Handler": STR, "Runtime": STR, "CodeUri": typed("string", "object"), "InlineCode": STR,
    "DeadLetterQueue": obj({"Type": {"enum": ["SQS", "SNS"]}, "TargetArn": ANY}),
    "Description": STR, "MemorySize": INT, "Timeout": INT, "Environment": ENVIRONMENT,
    "Tags": OBJ, "Tracing": STR, "AutoPublishAlias": STR, "AutoPublishCodeSha256": STR,
    "AutoPublishAliasAllProperties": BOOL, "Layers": LIST, "ReservedConcurrentExecutions": INT,
    "EventInvokeConfig": EVENT_INVOKE, "Architectures": LIST, "EphemeralStorage": obj({"Size": INT}),
    "FunctionUrlConfig": obj({"AuthType": {"anyOf": [{"enum": ["NONE", "AWS_IAM"]}, INTRINSIC]},
                              "Cors": CORS_URL, "InvokeMode": STR}),
    "VpcConfig": OBJ, "LoggingConfig": OBJ, "KmsKeyArn": ANY, "PermissionsBoundary": ANY,
    "ProvisionedConcurrencyConfig": OBJ, "DeploymentPreference": OBJ, "AssumeRolePolicyDocument": OBJ,
    "PackageType": STR, "ImageConfig": OBJ, "ImageUri": ANY, "SnapStart": OBJ,
    "RuntimeManagementConfig": OBJ, "RecursiveLoop": STR, "PropagateTags": BOOL,
    "SourceKMSKeyArn": ANY, "FileSystemConfigs": LIST, "CodeSigningConfigArn": ANY,
    "CapacityProviderConfig": OBJ, "FunctionScalingConfig": OBJ, "DurableConfig": OBJ,
    "PublishToLatestPublished": ANY, "TenancyConfig": OBJ, "VersionDeletionPolicy": ANY,
    "VersionDescription": STR,
}
FUNCTION = obj({**FUNCTION_COMMON, "FunctionName": STR, "Role": ANY, "Policies": ANY,
                "RolePath": STR, "Events": {"type": "object", "additionalProperties": EVENT}})


# ---------------------------------------------------------------------- Lambda's limits

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


# ---------------------------------------------------------------------- the handlers

def _int(value: Any, default: int) -> int:
    number = as_int(value)
    return default if number is None else number


class LambdaFunction(ResourceType):
    type_name = "AWS::Lambda::Function"
    name_property = "FunctionName"
    attributes = attributes("Arn SnapStartResponse.ApplyOn SnapStartResponse.OptimizationStatus")
    invocable = True
    phase = FUNCTIONS
    sam = False

    def get_att(self, b: Pipeline, entry: Entry, attr: str) -> Any:
        lid = entry.logical_id
        arn = b.context.function_arn(b.physical_name(lid))
        if attr == "Arn":
            return arn
        alias = entry.raw.get("AutoPublishAlias")
        if not isinstance(alias, str):
            raise IntrinsicError(f"'{lid}.{attr}' needs AutoPublishAlias on the function")
        return arn + (f":{alias}" if attr == "Alias" else ":1")

    def code(self, asm: Assembly, props: Mapping[str, Any]) -> tuple[str | None, Any]:
        """(local code path, inline code) of the resolved properties."""
        code = as_dict(props.get("Code"))
        code_uri = asm.local_path(props.get("Code")) if isinstance(props.get("Code"), str) else None
        return code_uri, code.get("ZipFile")

    def limits_view(self, props: Mapping[str, Any]) -> Mapping[str, Any]:
        """The properties as `check_function` reads them (SAM's names)."""
        code = as_dict(props.get("Code"))
        lambda_props = dict(props)
        lambda_props.setdefault("PackageType", "Zip")
        if code:
            lambda_props["CodeUri"] = "s3" if code.get("S3Bucket") else None
            lambda_props["InlineCode"] = code.get("ZipFile")
        if not code and isinstance(props.get("Code"), str):
            lambda_props["CodeUri"] = props["Code"]
        return lambda_props

    def check(self, asm: Assembly, entry: Entry) -> None:
        lid = entry.logical_id
        props = entry.resolved or {}
        report = asm.report(lid)
        check_function(report, self.limits_view(props))
        code_uri, inline = self.code(asm, props)
        runtime = props.get("Runtime")
        # A BuildMethod (esbuild, makefile, cargo-lambda, ...) makes the handler: the build checks it.
        method = entry.metadata.get("BuildMethod")
        built_by_method = isinstance(method, str) and not re.fullmatch(r"python\d+\.\d+|nodejs\d+\.x", method)
        if isinstance(runtime, str) and NOT_EMULATED_RUNTIME.fullmatch(runtime):
            asm.b.warn_not_emulated(lid, not_emulated_runtime(runtime), (lid, ("Properties", "Runtime")))
        elif isinstance(runtime, str) and inline is None and not built_by_method and \
                without_bootstrap(runtime, code_uri):
            asm.b.warn_not_emulated(lid, not_emulated_runtime(
                runtime, f" (no executable bootstrap in {code_uri})"), (lid, ("Properties", "Runtime")))
        if code_uri and inline is None and props.get("PackageType", "Zip") == "Zip" and not built_by_method:
            check_code(report, props, code_uri, "error" if asm.b.check_code else "warning")

    def assemble(self, asm: Assembly, entry: Entry) -> None:
        lid = entry.logical_id
        props = entry.resolved or {}
        code_uri, inline = self.code(asm, props)
        name = asm.b.physical_name(lid)
        env_vars = as_dict(as_dict(props.get("Environment")).get("Variables"))
        storage = as_dict(props.get("EphemeralStorage"))
        logging = as_dict(props.get("LoggingConfig"))
        tags = props.get("Tags")
        if isinstance(tags, list):
            tags = {str(t.get("Key")): str(t.get("Value")) for t in tags if isinstance(t, dict)}
        durable = props.get("DurableConfig")
        function = model.Function(
            logical_id=lid, name=name, arn=asm.ctx.function_arn(name),
            runtime=props.get("Runtime") if isinstance(props.get("Runtime"), str) else None,
            handler=props.get("Handler") if isinstance(props.get("Handler"), str) else None,
            code_uri=None if inline is not None else code_uri,
            inline_code=inline if isinstance(inline, str) else None,
            package_type=str(props.get("PackageType", "Zip")),
            memory_size=_int(props.get("MemorySize"), 128), timeout=_int(props.get("Timeout"), 3),
            ephemeral_storage=_int(storage.get("Size"), 512),
            environment={str(k): env_string(v) for k, v in env_vars.items()},
            architectures=strs(props.get("Architectures")) or ("x86_64",), layers=_layers(asm, entry),
            reserved_concurrency=as_int(props.get("ReservedConcurrentExecutions")),
            dead_letter_queue=_dlq(props), event_invoke_config=_event_invoke_config(asm, entry, props),
            auto_publish_alias=props.get("AutoPublishAlias")
            if isinstance(props.get("AutoPublishAlias"), str) else None,
            description=str(props.get("Description") or ""),
            tags={str(k): str(v) for k, v in as_dict(tags).items()},
            log_format=str(logging.get("LogFormat", "Text")),
            application_log_level=logging.get("ApplicationLogLevel"),
            not_emulated=(f"PackageType Image is not emulated by samlite: function {lid} is deployed but "
                          "cannot be invoked locally") if props.get("PackageType") == "Image" else None,
            durable_execution_timeout=_int(as_dict(durable).get("ExecutionTimeout"), 86400)
            if isinstance(durable, dict) else None,
            durable_retention_days=_int(as_dict(durable).get("RetentionPeriodInDays"), 14)
            if isinstance(durable, dict) else None,
            **build_metadata(entry))
        asm.functions[lid] = function
        if self.sam:
            assemble_events(asm, entry, function)
            config = props.get("FunctionUrlConfig")
            if isinstance(config, dict):
                add_url(asm, f"{lid}Url", lid, config)
                asm.generated_props[f"{lid}Url"] = {"TargetFunctionArn": function.arn, **config}
            _generated_resources(asm, entry, function)


class ServerlessFunction(LambdaFunction):
    type_name = "AWS::Serverless::Function"
    schema = FUNCTION
    globals_section = "Function"
    globals_schema = {"type": "object", "properties": dict(FUNCTION_COMMON.items()), "additionalProperties": False}
    attributes = attributes("Arn Alias Version")
    # Events are wired by SAM through separate resources (permissions, mappings), so
    # `RestApiId: !Ref MyApi` is no dependency of the function itself.
    dependency_exclude = ("Events",)
    sam = True

    def code(self, asm: Assembly, props: Mapping[str, Any]) -> tuple[str | None, Any]:
        return asm.local_path(props.get("CodeUri")), props.get("InlineCode")

    def limits_view(self, props: Mapping[str, Any]) -> Mapping[str, Any]:
        return props

    def expand(self, b: Pipeline, entry: Entry) -> None:
        lid = entry.logical_id
        props = entry.raw
        if props.get("Role") is None:
            b.generate(f"{lid}Role", "AWS::IAM::Role", lid)
        expand_events(b, entry)
        if props.get("FunctionUrlConfig") is not None:
            b.generate(f"{lid}Url", "AWS::Lambda::Url", lid)
            auth = plain_dict(props.get("FunctionUrlConfig")).get("AuthType")
            if auth == "NONE":
                b.generate(f"{lid}UrlPublicPermissions", "AWS::Lambda::Permission", lid)
        eic = plain_dict(props.get("EventInvokeConfig"))
        if eic:
            b.generate(f"{lid}EventInvokeConfig", "AWS::Lambda::EventInvokeConfig", lid)
            for which in ("OnSuccess", "OnFailure"):
                dest = plain_dict(plain_dict(eic.get("DestinationConfig")).get(which))
                if dest.get("Destination") is None and dest.get("Type") == "SQS":
                    b.generate(f"{lid}EventInvokeConfig{which}Queue", "AWS::SQS::Queue", lid)
                elif dest.get("Destination") is None and dest.get("Type") == "SNS":
                    b.generate(f"{lid}EventInvokeConfig{which}Topic", "AWS::SNS::Topic", lid)
        alias = props.get("AutoPublishAlias")
        if isinstance(alias, str):
            b.generate(f"{lid}Version{hex_of(lid, 10)}", "AWS::Lambda::Version", lid).emulated = False
            b.generate(f"{lid}Alias{alnum(alias)}", "AWS::Lambda::Alias", lid).emulated = False


def _layers(asm: Assembly, entry: Entry) -> tuple[str, ...]:
    raw = entry.raw.get("Layers")
    resolved = (entry.resolved or {}).get("Layers")
    if not isinstance(resolved, list):
        return ()
    out = []
    raw_items = raw if isinstance(raw, list) else []
    for index, value in enumerate(resolved):
        item = raw_items[index] if index < len(raw_items) else None
        if isinstance(item, dict) and isinstance(item.get("Ref"), str) and item["Ref"] in asm.layers:
            out.append(item["Ref"])
            continue
        local = next((layer.logical_id for layer in asm.layers.values() if layer.arn == value), None)
        out.append(local or str(value))
    return tuple(out)


def _dlq(props: Mapping[str, Any]) -> model.Destination | None:
    dlq = as_dict(props.get("DeadLetterQueue") or props.get("DeadLetterConfig"))
    arn = dlq.get("TargetArn")
    if not arn:
        return None
    kind = dlq.get("Type") or ("SQS" if str(arn).startswith("arn:aws:sqs") else "SNS")
    return model.Destination(str(kind), str(arn))


def _event_invoke_config(asm: Assembly, entry: Entry, props: Mapping[str, Any]) -> model.EventInvokeConfig | None:
    eic = as_dict(props.get("EventInvokeConfig"))
    if not eic:
        return None
    lid = entry.logical_id
    config = as_dict(eic.get("DestinationConfig"))
    dests: dict[str, model.Destination | None] = {}
    for which in ("OnSuccess", "OnFailure"):
        dest = as_dict(config.get(which))
        kind = dest.get("Type")
        arn = dest.get("Destination")
        if not kind:
            dests[which] = None
            continue
        if not arn and kind == "SQS":
            arn = asm.queues[f"{lid}EventInvokeConfig{which}Queue"].arn
        elif not arn and kind == "SNS":
            arn = asm.b.getatt_value(f"{lid}EventInvokeConfig{which}Topic", "TopicArn")
        dests[which] = model.Destination(str(kind), str(arn or ""))
    result = model.EventInvokeConfig(
        maximum_event_age_seconds=_int(eic.get("MaximumEventAgeInSeconds"), 21600),
        maximum_retry_attempts=_int(eic.get("MaximumRetryAttempts"), 2),
        on_success=dests["OnSuccess"], on_failure=dests["OnFailure"])
    asm.generated_props[f"{lid}EventInvokeConfig"] = {
        "FunctionName": asm.b.physical_name(lid), "Qualifier": "$LATEST",
        "MaximumEventAgeInSeconds": result.maximum_event_age_seconds,
        "MaximumRetryAttempts": result.maximum_retry_attempts,
        "DestinationConfig": {k: {"Destination": v.arn} for k, v in dests.items() if v}}
    return result


def _generated_resources(asm: Assembly, entry: Entry, function: model.Function) -> None:
    """The properties of SAM's generated role and permissions, for the stack listing."""
    lid = entry.logical_id
    props = entry.resolved or {}
    entries = asm.b.entries
    if f"{lid}Role" in entries and entries[f"{lid}Role"].generated:
        managed = ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]
        if any(as_dict(e).get("Type") == "SQS" for e in as_dict(props.get("Events")).values()):
            managed.append("arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole")
        asm.generated_props[f"{lid}Role"] = {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": ["sts:AssumeRole"],
                "Principal": {"Service": ["lambda.amazonaws.com"]}}]},
            "ManagedPolicyArns": managed, "Policies": props.get("Policies", [])}
    for other, gen in entries.items():
        if gen.generated and gen.source == lid and gen.type == "AWS::Lambda::Permission":
            asm.generated_props[other] = {"Action": "lambda:InvokeFunction",
                                          "FunctionName": function.name}


register(ServerlessFunction())
register(LambdaFunction())
