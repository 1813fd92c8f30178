"""JSON Schema of the SAM subset samlite understands, and the check that applies it.

The schema checks shapes (sections, property names and types, event types); ranges and
cross-references are semantic checks in `validate.py`, which can name AWS's own limits. Any value
may be an intrinsic function (`{"Ref": ...}`, `{"Fn::...": ...}`), so typed properties accept one.
jsonschema is imported only when a template is checked, and the validator is built once.
"""

from __future__ import annotations

from typing import Any, Iterator

INTRINSIC = {"$ref": "#/definitions/intrinsic"}


def _t(*types: str) -> dict[str, Any]:
    """A property of the given JSON types, or an intrinsic function."""
    return {"anyOf": [{"type": list(types) if len(types) > 1 else types[0]}, INTRINSIC]}


STR = _t("string")
INT = {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": r"^\s*-?[0-9]+\s*$"}, INTRINSIC]}
BOOL = {"anyOf": [{"type": "boolean"}, {"type": "string", "enum": ["true", "false", "True", "False"]},
                  INTRINSIC]}
OBJ = _t("object")
LIST = _t("array")
ANY: dict[str, Any] = {}
STR_LIST = {"anyOf": [{"type": "array", "items": STR}, INTRINSIC]}


def _obj(props: dict[str, Any], required: tuple[str, ...] = (), extra: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props,
                              "additionalProperties": extra}
    if required:
        schema["required"] = list(required)
    return {"anyOf": [schema, INTRINSIC]} if not required else schema


CORS_URL = _obj({"AllowOrigins": STR_LIST, "AllowMethods": STR_LIST, "AllowHeaders": STR_LIST,
                 "ExposeHeaders": STR_LIST, "AllowCredentials": BOOL, "MaxAge": INT})
DESTINATION = _obj({"Type": {"enum": ["SQS", "SNS", "Lambda", "EventBridge", "S3"]},
                    "Destination": ANY})
EVENT_INVOKE = _obj({"MaximumEventAgeInSeconds": INT, "MaximumRetryAttempts": INT,
                     "DestinationConfig": _obj({"OnSuccess": DESTINATION, "OnFailure": DESTINATION})})
ENVIRONMENT = _obj({"Variables": {"anyOf": [
    {"type": "object", "additionalProperties": _t("string", "number", "boolean")}, INTRINSIC]}})

FUNCTION_COMMON = {
    "Handler": STR, "Runtime": STR, "CodeUri": _t("string", "object"), "InlineCode": STR,
    "DeadLetterQueue": _obj({"Type": {"enum": ["SQS", "SNS"]}, "TargetArn": ANY}),
    "Description": STR, "MemorySize": INT, "Timeout": INT, "Environment": ENVIRONMENT,
    "Tags": OBJ, "Tracing": STR, "AutoPublishAlias": STR, "AutoPublishCodeSha256": STR,
    "AutoPublishAliasAllProperties": BOOL, "Layers": LIST, "ReservedConcurrentExecutions": INT,
    "EventInvokeConfig": EVENT_INVOKE, "Architectures": LIST, "EphemeralStorage": _obj({"Size": INT}),
    "FunctionUrlConfig": _obj({"AuthType": {"anyOf": [{"enum": ["NONE", "AWS_IAM"]}, INTRINSIC]},
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

API_EVENT = _obj({"Path": STR, "Method": STR, "RestApiId": ANY, "Auth": OBJ,
                  "RequestParameters": LIST, "RequestModel": OBJ, "TimeoutInMillis": INT,
                  "Stage": ANY}, required=("Path", "Method"))
HTTP_EVENT = _obj({"Path": STR, "Method": STR, "ApiId": ANY, "PayloadFormatVersion": STR,
                   "TimeoutInMillis": INT, "Auth": OBJ, "RouteSettings": OBJ})
SQS_EVENT = _obj({"Queue": ANY, "BatchSize": INT, "Enabled": BOOL,
                  "MaximumBatchingWindowInSeconds": INT,
                  "FilterCriteria": _obj({"Filters": {"anyOf": [
                      {"type": "array", "items": _obj({"Pattern": ANY})}, INTRINSIC]}}),
                  "FunctionResponseTypes": LIST, "ScalingConfig": _obj({"MaximumConcurrency": INT}),
                  "KmsKeyArn": ANY, "MetricsConfig": OBJ, "ProvisionedPollerConfig": OBJ},
                 required=("Queue",))
SCHEDULE_EVENT = _obj({"Schedule": STR, "Input": STR, "Enabled": BOOL, "State": STR, "Name": STR,
                       "Description": STR, "DeadLetterConfig": OBJ, "RetryPolicy": OBJ,
                       "RoleArn": ANY}, required=("Schedule",))
OTHER_EVENT_TYPES = ["S3", "SNS", "Kinesis", "DynamoDB", "CloudWatchEvent", "EventBridgeRule",
                     "CloudWatchLogs", "IoTRule", "AlexaSkill", "Cognito", "MSK", "MQ",
                     "SelfManagedKafka", "DocumentDB", "ScheduleV2"]


def _event(type_name: str, props: dict[str, Any] | None) -> dict[str, Any]:
    schema: dict[str, Any] = {"properties": {"Type": {"const": type_name}}}
    if props is not None:
        schema["properties"]["Properties"] = props
    if props is not None and "required" in props:
        schema["required"] = ["Type", "Properties"]
    return {"if": {"properties": {"Type": {"const": type_name}}}, "then": schema}


EVENT = {
    "type": "object",
    "required": ["Type"],
    "properties": {"Type": {"enum": ["Api", "HttpApi", "SQS", "Schedule", *OTHER_EVENT_TYPES]},
                   "Properties": {"type": "object"}},
    "additionalProperties": False,
    "allOf": [_event("Api", API_EVENT), _event("HttpApi", HTTP_EVENT), _event("SQS", SQS_EVENT),
              _event("Schedule", SCHEDULE_EVENT)],
}

FUNCTION = _obj({**FUNCTION_COMMON, "FunctionName": STR, "Role": ANY, "Policies": ANY,
                 "RolePath": STR, "Events": {"type": "object", "additionalProperties": EVENT}})

API_COMMON = {"Auth": OBJ, "Cors": _t("string", "object"), "BinaryMediaTypes": LIST,
              "OpenApiVersion": STR, "Variables": OBJ, "Name": STR, "EndpointConfiguration": ANY,
              "MethodSettings": LIST, "AccessLogSetting": OBJ, "TracingEnabled": BOOL,
              "CacheClusterEnabled": BOOL, "CacheClusterSize": STR, "CanarySetting": OBJ,
              "Domain": OBJ, "GatewayResponses": OBJ, "MinimumCompressionSize": INT,
              "Models": OBJ, "Tags": OBJ, "DisableExecuteApiEndpoint": BOOL, "Mode": STR,
              "AlwaysDeploy": BOOL, "PropagateTags": BOOL, "ApiKeySourceType": STR,
              "MergeDefinitions": BOOL, "FailOnWarnings": BOOL}
API = _obj({**API_COMMON, "StageName": STR, "DefinitionBody": ANY, "DefinitionUri": ANY,
            "Description": STR, "Policy": ANY}, required=("StageName",))
HTTP_API_COMMON = {"Auth": OBJ, "CorsConfiguration": _t("boolean", "object"),
                   "StageVariables": OBJ, "Tags": OBJ, "RouteSettings": OBJ,
                   "DefaultRouteSettings": OBJ, "AccessLogSettings": OBJ, "Domain": OBJ,
                   "FailOnWarnings": BOOL, "DisableExecuteApiEndpoint": BOOL, "PropagateTags": BOOL}
HTTP_API = _obj({**HTTP_API_COMMON, "StageName": STR, "DefinitionBody": ANY, "DefinitionUri": ANY,
                 "Description": STR, "Name": STR})
QUEUE = _obj({"QueueName": STR, "VisibilityTimeout": INT, "MessageRetentionPeriod": INT,
              "DelaySeconds": INT, "MaximumMessageSize": INT, "ReceiveMessageWaitTimeSeconds": INT,
              "RedrivePolicy": _t("object", "string"), "RedriveAllowPolicy": _t("object", "string"),
              "FifoQueue": BOOL, "ContentBasedDeduplication": BOOL, "DeduplicationScope": STR,
              "FifoThroughputLimit": STR, "KmsMasterKeyId": ANY, "KmsDataKeyReusePeriodSeconds": INT,
              "SqsManagedSseEnabled": BOOL, "Tags": LIST})
ESM = _obj({"EventSourceArn": ANY, "FunctionName": ANY, "BatchSize": INT, "Enabled": BOOL,
            "MaximumBatchingWindowInSeconds": INT, "FilterCriteria": OBJ,
            "FunctionResponseTypes": LIST, "ScalingConfig": OBJ, "StartingPosition": STR,
            "StartingPositionTimestamp": ANY, "Tags": LIST, "KmsKeyArn": ANY,
            "MetricsConfig": OBJ, "ProvisionedPollerConfig": OBJ, "DestinationConfig": OBJ,
            "MaximumRecordAgeInSeconds": INT, "MaximumRetryAttempts": INT,
            "BisectBatchOnFunctionError": BOOL, "ParallelizationFactor": INT, "Queues": LIST,
            "SourceAccessConfigurations": LIST, "TumblingWindowInSeconds": INT, "Topics": LIST,
            "SelfManagedEventSource": OBJ, "AmazonManagedKafkaEventSourceConfig": OBJ,
            "SelfManagedKafkaEventSourceConfig": OBJ, "DocumentDBEventSourceConfig": OBJ},
           required=("FunctionName",))
LAYER = _obj({"ContentUri": _t("string", "object"), "LayerName": STR, "Description": STR,
              "CompatibleRuntimes": LIST, "CompatibleArchitectures": LIST, "LicenseInfo": STR,
              "RetentionPolicy": STR}, required=("ContentUri",))
URL = _obj({"TargetFunctionArn": ANY, "AuthType": STR, "Cors": OBJ, "InvokeMode": STR,
            "Qualifier": STR}, required=("TargetFunctionArn", "AuthType"))

RESOURCE_PROPERTIES = {
    "AWS::Serverless::Function": FUNCTION,
    "AWS::Serverless::Api": API,
    "AWS::Serverless::HttpApi": HTTP_API,
    "AWS::SQS::Queue": QUEUE,
    "AWS::Lambda::EventSourceMapping": ESM,
    "AWS::Serverless::LayerVersion": LAYER,
    "AWS::Lambda::Url": URL,
}

RESOURCE_ATTRIBUTES = {
    "Type": {"type": "string"}, "Properties": {"anyOf": [{"type": "object"}, INTRINSIC]},
    "DependsOn": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
    "Condition": {"type": "string"}, "Metadata": {"type": "object"},
    "DeletionPolicy": ANY, "UpdateReplacePolicy": ANY, "UpdatePolicy": ANY,
    "CreationPolicy": ANY, "Version": ANY, "IgnoreGlobals": ANY,
    # Not a CloudFormation attribute, but real templates carry it and SAM ignores it.
    "Description": ANY,
}


def _resource_schema() -> dict[str, Any]:
    clauses = [{"if": {"properties": {"Type": {"const": name}}},
                "then": {"properties": {"Properties": props}}}
               for name, props in RESOURCE_PROPERTIES.items()]
    return {"type": "object", "required": ["Type"], "properties": RESOURCE_ATTRIBUTES,
            "additionalProperties": False, "allOf": clauses}


def _globals_function() -> dict[str, Any]:
    return {"type": "object", "properties": {k: v for k, v in FUNCTION_COMMON.items()},
            "additionalProperties": False}


TEMPLATE_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "samlite SAM template subset",
    "definitions": {
        "intrinsic": {
            "type": "object", "minProperties": 1, "maxProperties": 1,
            "propertyNames": {"pattern": r"^(Ref|Condition|Fn::[A-Za-z0-9]+)$"},
        },
    },
    "type": "object",
    "required": ["Resources"],
    "additionalProperties": False,
    "properties": {
        "AWSTemplateFormatVersion": {"type": "string", "enum": ["2010-09-09"]},
        "Transform": {"anyOf": [{"type": "string"}, {"type": "array"}, {"type": "object"}]},
        "Description": {"type": "string"},
        "Metadata": {"type": "object"},
        "Parameters": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["Type"], "additionalProperties": False,
            "properties": {"Type": {"type": "string"}, "Default": ANY,
                           "AllowedValues": {"type": "array"}, "AllowedPattern": {"type": "string"},
                           "MinLength": INT, "MaxLength": INT, "MinValue": _t("number", "string"),
                           "MaxValue": _t("number", "string"), "NoEcho": BOOL,
                           "Description": {"type": "string"},
                           "ConstraintDescription": {"type": "string"}}}},
        "Mappings": {"type": "object", "additionalProperties": {
            "type": "object", "additionalProperties": {"type": "object"}}},
        "Conditions": {"type": "object"},
        "Rules": {"type": "object"},
        "Globals": {"type": "object", "additionalProperties": False, "properties": {
            "Function": _globals_function(),
            "Api": {"type": "object", "properties": API_COMMON, "additionalProperties": False},
            "HttpApi": {"type": "object", "properties": HTTP_API_COMMON,
                        "additionalProperties": False},
            "SimpleTable": {"type": "object"}, "LayerVersion": {"type": "object"},
            "StateMachine": {"type": "object"}, "CapacityProvider": {"type": "object"},
        }},
        "Resources": {"type": "object", "minProperties": 1,
                      "propertyNames": {"pattern": "^[A-Za-z0-9]+$"},
                      "additionalProperties": _resource_schema()},
        "Outputs": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["Value"], "additionalProperties": False,
            "properties": {"Value": ANY, "Description": ANY, "Condition": {"type": "string"},
                           "Export": {"type": "object", "required": ["Name"],
                                      "properties": {"Name": ANY}, "additionalProperties": False}}}},
    },
}

_validators: dict[str, Any] = {}
_DEFINITIONS = TEMPLATE_SCHEMA["definitions"]


def _validator(key: str) -> Any:
    """Validators are built once per process: the top level, and one per resource type.

    Checking each resource against its own type's schema (dispatching in Python) is much faster
    than jsonschema's if/then over every type, and gives the same answers as TEMPLATE_SCHEMA.
    """
    validator = _validators.get(key)
    if validator is None:
        from jsonschema import Draft7Validator

        if key == "":
            top = dict(TEMPLATE_SCHEMA)
            top["properties"] = dict(top["properties"])
            resources = dict(top["properties"]["Resources"])
            generic = _resource_schema()
            generic.pop("allOf")
            resources["additionalProperties"] = generic
            top["properties"]["Resources"] = resources
            validator = Draft7Validator(top)
        else:
            validator = Draft7Validator({"definitions": _DEFINITIONS, **RESOURCE_PROPERTIES[key]})
        _validators[key] = validator
    return validator


def check_schema(doc: Any) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Yield (path, message) for each schema violation, most specific first per location."""
    for error in _validator("").iter_errors(doc):
        yield from _explain(error)
    resources = doc.get("Resources") if isinstance(doc, dict) else None
    if not isinstance(resources, dict):
        return
    for lid, resource in resources.items():
        rtype = resource.get("Type") if isinstance(resource, dict) else None
        if not isinstance(rtype, str) or rtype not in RESOURCE_PROPERTIES:
            continue
        props = resource.get("Properties", {})
        for error in _validator(resource["Type"]).iter_errors(props):
            for path, message in _explain(error):
                yield ("Resources", lid, "Properties") + path, message


def _explain(error: Any) -> Iterator[tuple[tuple[Any, ...], str]]:
    path = tuple(error.absolute_path)
    if error.validator == "anyOf" and (error.schema is INT or error.schema is BOOL):
        word = "an integer" if error.schema is INT else "a boolean"
        yield path, f"must be {word}, not {_json_type(error.instance)} {error.instance!r}"[:200]
        return
    if error.validator in ("anyOf", "oneOf") and error.context:
        # The branch that is not "an intrinsic" says what was expected.
        branches_schema = error.schema[error.validator]
        specific = [e for e in error.context
                    if branches_schema[e.relative_schema_path[0]] is not INTRINSIC]
        if specific:
            types = sorted({_expected(e) for e in specific if e.validator == "type"} - {""})
            if types and len(types) == len([e for e in specific if e.validator == "type"]):
                yield path, f"must be {' or '.join(types)}, not {_json_type(error.instance)}"
                return
            # Report every failure of the one non-intrinsic branch (e.g. all bad properties).
            branches = {e.relative_schema_path[0] for e in specific if e.relative_schema_path}
            if len(branches) == 1:
                for sub in specific:
                    yield from _explain(sub)
                return
            deepest = max(specific, key=lambda e: len(e.absolute_path))
            yield from _explain(deepest)
            return
    if error.validator == "additionalProperties":
        props = error.schema.get("properties", {})
        extras = [k for k in error.instance if k not in props]
        for key in extras:
            yield path + (key,), _unknown_property(key, list(props))
        return
    if error.validator == "required":
        yield path, error.message.replace("is a required property", "is required")
        return
    if error.validator == "propertyNames":
        yield path, f"invalid name: {error.message}"
        return
    if error.validator == "type":
        yield path, f"must be {_expected(error)}, not {_json_type(error.instance)}"
        return
    if error.validator in ("enum", "const"):
        allowed = error.validator_value if error.validator == "enum" else [error.validator_value]
        yield path, f"{error.instance!r} is not one of {', '.join(map(str, allowed))}"
        return
    yield path, error.message


def _expected(error: Any) -> str:
    value = error.validator_value
    names = value if isinstance(value, list) else [value]
    words = {"object": "a mapping", "array": "a list", "string": "a string",
             "integer": "an integer", "number": "a number", "boolean": "a boolean"}
    return " or ".join(words.get(n, n) for n in names)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (int, float)):
        return "a number"
    return "null" if value is None else type(value).__name__


def _unknown_property(key: Any, known: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(str(key), known, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown property '{key}'{hint}"
