"""A SAM function's Events: their schema, SAM's expansion and their model objects.

- `Api`, `HttpApi`: a `<Fn><Event>Permission` (and SAM's implicit API when no API is named), and
  a route of the API;
- `SQS`, `DynamoDB`, `Kinesis`: an AWS::Lambda::EventSourceMapping `<Fn><Event>` samlite polls;
- the ones that become other services' resources (S3, SNS, Schedule, ScheduleV2,
  CloudWatchEvent and EventBridgeRule), expanded as SAM's translator does:

- `S3`: the referenced bucket (it must be in the template) gets one LambdaConfiguration per event
  in its NotificationConfiguration, plus a `<Fn><Event>Permission`;
- `SNS`: an AWS::SNS::Subscription `<Fn><Event>` (protocol lambda) with FilterPolicy,
  FilterPolicyScope and RedrivePolicy;
- `Schedule`, `CloudWatchEvent`, `EventBridgeRule`: an AWS::Events::Rule `<Fn><Event>` whose target
  `<Fn><Event>LambdaTarget` is the function, with Input, InputPath or InputTransformer;
- `ScheduleV2`: an AWS::Scheduler::Schedule `<Fn><Event>` (and `<Fn><Event>Role` without RoleArn).

`expand_events` runs while SAM's implicit resources are made (names known before anything
resolves); `assemble_events` builds the mappings and routes and gives the generated resources
their resolved properties. The deploy handlers create the other services' resources in the moto
backend, where the event bridge delivers from.
"""

from __future__ import annotations

import re
from typing import Any

from samlite.template import model, streams
from samlite.template.intrinsics import is_intrinsic
from samlite.template.schema_parts import ANY, BOOL, INT, INTRINSIC, LIST, OBJ, STR, obj
from samlite.template.types.api import (
    HTTP_TIMEOUT_MS,
    HTTP_TYPES,
    REST_TIMEOUT_MS,
    REST_TYPES,
    implicit_http_api,
    implicit_rest_api,
)
from samlite.template.types.base import Assembly, Entry, Pipeline, Report, as_dict, plain_dict
from samlite.template.types.event_source_mapping import check_visibility, fifo_arn, sqs_mapping
from samlite.template.validate import as_bool, as_int, check_sqs_mapping

API_EVENT = obj({"Path": STR, "Method": STR, "RestApiId": ANY, "Auth": OBJ,
                 "RequestParameters": LIST, "RequestModel": OBJ, "TimeoutInMillis": INT,
                 "Stage": ANY}, required=("Path", "Method"))
HTTP_EVENT = obj({"Path": STR, "Method": STR, "ApiId": ANY, "PayloadFormatVersion": STR,
                  "TimeoutInMillis": INT, "Auth": OBJ, "RouteSettings": OBJ})
SQS_EVENT = obj({"Queue": ANY, "BatchSize": INT, "Enabled": BOOL,
                 "MaximumBatchingWindowInSeconds": INT,
                 "FilterCriteria": obj({"Filters": {"anyOf": [
                     {"type": "array", "items": obj({"Pattern": ANY})}, INTRINSIC]}}),
                 "FunctionResponseTypes": LIST, "ScalingConfig": obj({"MaximumConcurrency": INT}),
                 "KmsKeyArn": ANY, "MetricsConfig": OBJ, "ProvisionedPollerConfig": OBJ},
                required=("Queue",))
SCHEDULE_EVENT = obj({"Schedule": STR, "Input": STR, "Enabled": BOOL, "State": STR, "Name": STR,
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

TYPES = ("S3", "SNS", "Schedule", "ScheduleV2", "CloudWatchEvent", "EventBridgeRule")
_RULE_EVENTS = ("Schedule", "CloudWatchEvent", "EventBridgeRule")


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) and not is_intrinsic(value) else {}


def _plain(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def expand(b: Pipeline, fn: Any, event_name: str, etype: str, eprops: dict[str, Any]) -> None:
    """One S3, SNS, Schedule, ScheduleV2, CloudWatchEvent or EventBridgeRule event."""
    lid = fn.logical_id
    gen = f"{lid}{event_name}"
    where = (lid, ("Properties", "Events", event_name, "Properties"))
    if etype == "S3":
        _s3(b, fn, event_name, eprops, where)
    elif etype == "SNS":
        b.generate(gen, "AWS::SNS::Subscription", lid, {"TopicArn": eprops.get("Topic")})  # for its Ref (ARN)
        if eprops.get("SqsSubscription") not in (None, False, "false"):
            b.warn_not_emulated(lid, f"SNS event '{event_name}': SqsSubscription is not emulated; the function "
                                 "is subscribed to the topic directly", where)
    elif etype in _RULE_EVENTS:
        name = _plain(eprops.get("RuleName") if etype != "Schedule" else eprops.get("Name"))
        b.generate(gen, "AWS::Events::Rule", lid, {"Name": name} if name else None)
    elif etype == "ScheduleV2":
        name = _plain(eprops.get("Name"))
        b.generate(gen, "AWS::Scheduler::Schedule", lid, {"Name": name} if name else None)
        if eprops.get("RoleArn") is None:
            b.generate(f"{gen}Role", "AWS::IAM::Role", lid)
    if etype != "ScheduleV2":
        b.generate(f"{gen}Permission", "AWS::Lambda::Permission", lid)


def _s3(b: Pipeline, fn: Any, event_name: str, eprops: dict[str, Any], where: Any) -> None:
    bucket_ref = eprops.get("Bucket")
    target = bucket_ref.get("Ref") if isinstance(bucket_ref, dict) else None
    bucket = b.entries.get(target) if isinstance(target, str) else None
    if bucket is None or bucket.type != "AWS::S3::Bucket":
        b.problems.error("Resources", where[0], where[1] + ("Bucket",),
                         f"Event with id [{event_name}] is invalid. S3 events must reference an S3 bucket in the "
                         "same template.")
        return
    events = eprops.get("Events")
    events = [events] if isinstance(events, str) else [e for e in events or [] if isinstance(e, str)] \
        if isinstance(events, list) else []
    # A literal ARN, not GetAtt: a function that names its bucket (Policies, Environment) is no cycle.
    arn = b.context.function_arn(b.physical_name(fn.logical_id))
    config = dict(_d(bucket.raw.get("NotificationConfiguration")))
    lambdas = list(config.get("LambdaConfigurations") or [])
    for event in events:
        entry: dict[str, Any] = {"Event": event, "Function": arn}
        if eprops.get("Filter") is not None:
            entry["Filter"] = eprops["Filter"]
        lambdas.append(entry)
    config["LambdaConfigurations"] = lambdas
    bucket.raw = {**bucket.raw, "NotificationConfiguration": config}


def generated(b: Pipeline, fn_lid: str, function_arn: str, event_name: str, etype: str,
              eprops: dict[str, Any], report: Any) -> dict[str, dict[str, Any]]:
    """{generated logical id: its resolved properties} for one resolved event; bad schedules and
    patterns are reported as AWS would refuse them at deploy."""
    gen = f"{fn_lid}{event_name}"
    _check(etype, eprops, report)
    if etype == "SNS":
        props = {"Protocol": "lambda", "Endpoint": function_arn, "TopicArn": eprops.get("Topic")}
        for key in ("FilterPolicy", "FilterPolicyScope", "RedrivePolicy", "Region"):
            if eprops.get(key) is not None:
                props[key] = eprops[key]
        return {gen: props}
    if etype in _RULE_EVENTS:
        target: dict[str, Any] = {"Arn": function_arn, "Id": _d(eprops.get("Target")).get("Id") or f"{gen}LambdaTarget"}
        for key in ("Input", "InputPath", "InputTransformer", "RetryPolicy"):
            if eprops.get(key) is not None:
                target[key] = eprops[key]
        dlq = _d(eprops.get("DeadLetterConfig"))
        if dlq.get("Arn"):
            target["DeadLetterConfig"] = {"Arn": dlq["Arn"]}
        state = eprops.get("State") or ("DISABLED" if eprops.get("Enabled") in (False, "false") else "ENABLED")
        props = {"State": state, "Targets": [target]}
        if etype == "Schedule":
            props["ScheduleExpression"] = eprops.get("Schedule")
            name = eprops.get("Name")
        else:
            props["EventPattern"] = eprops.get("Pattern")
            if eprops.get("EventBusName") is not None:
                props["EventBusName"] = eprops["EventBusName"]
            name = eprops.get("RuleName")
        if name:
            props["Name"] = name
        if eprops.get("Description"):
            props["Description"] = eprops["Description"]
        return {gen: props}
    if etype == "ScheduleV2":
        role = eprops.get("RoleArn") or f"arn:aws:iam::{b.context.account_id}:role/{b.physical_name(gen + 'Role')}"
        target = {"Arn": function_arn, "RoleArn": role}
        for key in ("Input", "RetryPolicy", "DeadLetterConfig"):
            if eprops.get(key) is not None:
                target[key] = eprops[key]
        props = {"ScheduleExpression": eprops.get("ScheduleExpression"),
                 "FlexibleTimeWindow": eprops.get("FlexibleTimeWindow") or {"Mode": "OFF"},
                 "State": eprops.get("State") or "ENABLED", "Target": target}
        for key in ("ScheduleExpressionTimezone", "Name", "GroupName", "StartDate", "EndDate", "Description",
                    "KmsKeyArn"):
            if eprops.get(key) is not None:
                props[key] = eprops[key]
        return {gen: props}
    return {}


def _check(etype: str, eprops: dict[str, Any], report: Any) -> None:
    import json

    from samlite.core import filters
    from samlite.services.events import cron

    key = {"Schedule": "Schedule", "ScheduleV2": "ScheduleExpression"}.get(etype)
    if key and isinstance(eprops.get(key), str):
        tz = eprops.get("ScheduleExpressionTimezone")
        try:
            cron.parse(eprops[key], tz if isinstance(tz, str) else None, scheduler=etype == "ScheduleV2")
        except cron.ScheduleError as exc:
            report((key,), f"{exc} ({eprops[key]!r})", "error")
    pattern = eprops.get("Pattern")
    if etype in ("CloudWatchEvent", "EventBridgeRule") and pattern is not None:
        try:
            filters.check_pattern(json.loads(pattern) if isinstance(pattern, str) else pattern)
        except (filters.PatternError, ValueError) as exc:
            report(("Pattern",), f"Event pattern is not valid. Reason: {exc}", "error")


# ---------------------------------------------------------------------- expansion (all events)

def expand_events(b: Pipeline, fn: Entry) -> None:
    """The resources SAM generates for each of a function's events."""
    lid = fn.logical_id
    for event_name, event in plain_dict(fn.raw.get("Events")).items():
        if not isinstance(event, dict):
            continue
        etype = event.get("Type")
        eprops = plain_dict(event.get("Properties"))
        if etype == "Api":
            if eprops.get("RestApiId") is None:
                implicit_rest_api(b)
                b.generate(f"{lid}{event_name}PermissionProd", "AWS::Lambda::Permission", lid)
            else:
                b.generate(f"{lid}{event_name}Permission", "AWS::Lambda::Permission", lid)
        elif etype == "HttpApi":
            if eprops.get("ApiId") is None:
                implicit_http_api(b)
            b.generate(f"{lid}{event_name}Permission", "AWS::Lambda::Permission", lid)
        elif etype in ("SQS", "DynamoDB", "Kinesis"):
            b.generate(f"{lid}{event_name}", "AWS::Lambda::EventSourceMapping", lid)
        elif etype in TYPES:
            expand(b, fn, event_name, etype, eprops)
        elif isinstance(etype, str):
            generated_type = {"DynamoDB": "AWS::Lambda::EventSourceMapping",
                              "Kinesis": "AWS::Lambda::EventSourceMapping"}.get(etype)
            if generated_type:
                gen = b.generate(f"{lid}{event_name}", generated_type, lid)
                gen.emulated = False
            b.generate(f"{lid}{event_name}Permission", "AWS::Lambda::Permission", lid)
            b.warn_not_emulated(f"{lid}{event_name}" if generated_type else lid,
                                f"{etype} event '{event_name}' is not emulated: "
                                "nothing triggers the function on it",
                                (lid, ("Properties", "Events", event_name)))


# ---------------------------------------------------------------------- model objects

def assemble_events(asm: Assembly, entry: Entry, function: model.Function) -> None:
    lid = entry.logical_id
    for event_name, event in as_dict((entry.resolved or {}).get("Events")).items():
        event = as_dict(event)
        etype = event.get("Type")
        eprops = as_dict(event.get("Properties"))
        report = asm.report(lid, ("Properties", "Events", event_name, "Properties"))
        if etype == "SQS":
            _sqs_event(asm, lid, event_name, eprops, function, report)
        elif etype in ("DynamoDB", "Kinesis"):
            _stream_event(asm, lid, event_name, eprops, function, report)
        elif etype in ("Api", "HttpApi"):
            _route_event(asm, entry, event_name, etype, eprops, report)
        elif etype in TYPES:
            asm.generated_props.update(generated(asm.b, lid, function.arn, event_name, etype, eprops, report))


def _sqs_event(asm: Assembly, lid: str, event_name: str, eprops: dict[str, Any],
               function: model.Function, report: Report) -> None:
    queue_arn = eprops.get("Queue")
    if isinstance(queue_arn, str) and not re.match(r"arn:aws[a-z-]*:sqs:", queue_arn) and \
            (queue_arn.startswith("arn:") or "://" in queue_arn):
        # Caught here, not at deploy: `!Ref MyQueue` is the queue's URL, `!GetAtt Fn.Arn` a function's.
        hint = " (!Ref on a queue gives its URL)" if "://" in queue_arn else ""
        report(("Queue",), f"Queue must be an SQS queue ARN such as !GetAtt MyQueue.Arn, not "
               f"'{queue_arn}'{hint}", "error")
        return
    queue = asm.queue_by_arn(queue_arn)
    check_sqs_mapping(report, eprops, queue.fifo if queue else fifo_arn(queue_arn))
    check_visibility(report, queue, function)
    mapping_lid = f"{lid}{event_name}"
    asm.mappings[mapping_lid] = sqs_mapping(asm.b, mapping_lid, lid, str(queue_arn), eprops)
    asm.generated_props[mapping_lid] = {
        "EventSourceArn": queue_arn, "FunctionName": function.name,
        **{k: v for k, v in eprops.items() if k != "Queue"}}


def _stream_event(asm: Assembly, lid: str, event_name: str, eprops: dict[str, Any],
                  function: model.Function, report: Report) -> None:
    if streams.check(report, eprops, "Stream") is None:
        return
    mapping_lid = f"{lid}{event_name}"
    asm.mappings[mapping_lid] = streams.mapping(mapping_lid, str(asm.b.ref_value(mapping_lid)), lid,
                                                str(eprops["Stream"]), eprops)
    asm.generated_props[mapping_lid] = {
        "EventSourceArn": eprops["Stream"], "FunctionName": function.name,
        **{k: v for k, v in eprops.items() if k != "Stream"}}


def _route_event(asm: Assembly, entry: Entry, event_name: str, etype: str, eprops: dict[str, Any],
                 report: Report) -> None:
    b = asm.b
    key = "RestApiId" if etype == "Api" else "ApiId"
    target = eprops.get(key)
    implicit = "ServerlessRestApi" if etype == "Api" else "ServerlessHttpApi"
    api_lid: str | None
    if target is None:
        api_lid = implicit
    else:
        raw_target = as_dict(as_dict(as_dict(entry.raw.get("Events")).get(event_name)).get("Properties")).get(key)
        api_lid = raw_target.get("Ref") \
            if isinstance(raw_target, dict) and isinstance(raw_target.get("Ref"), str) else None
        if api_lid is None or api_lid not in b.entries:
            api_lid = next((lid for lid in b.entries if b.entries[lid].type in REST_TYPES + HTTP_TYPES
                            and b.api_id(lid) == target), None)
        if api_lid is None:
            report((key,), f"{key} must refer to an API of this stack (!Ref MyApi)", "error")
            return
        want = REST_TYPES if etype == "Api" else HTTP_TYPES
        if b.entries[api_lid].type not in want:
            report((key,), f"'{api_lid}' is a {b.entries[api_lid].type}, not a "
                   f"{' or '.join(want)}", "error")
            return
    method = str(eprops.get("Method", "ANY" if etype == "HttpApi" else "")).upper()
    path = eprops.get("Path")
    if etype == "HttpApi" and path is None and "Method" not in eprops:
        path, method = "$default", "ANY"
    if method == "X-AMAZON-APIGATEWAY-ANY-METHOD":
        method = "ANY"
    if not isinstance(path, str) or (path != "$default" and not path.startswith("/")):
        report(("Path",), f"Path must start with '/': {path!r}", "error")
        return
    auth = as_dict(eprops.get("Auth"))
    authorizer = auth.get("Authorizer")
    if etype == "Api":
        payload, timeout = "1.0", REST_TIMEOUT_MS
    else:
        payload = "1.0" if str(eprops.get("PayloadFormatVersion", "2.0")) == "1.0" else "2.0"
        number = as_int(eprops.get("TimeoutInMillis"))
        timeout = HTTP_TIMEOUT_MS if number is None else number
        if not 50 <= timeout <= 30000:
            report(("TimeoutInMillis",), f"{timeout} is out of range: must be 50-30,000", "error")
    asm.routes.setdefault(api_lid, []).append(model.Route(
        method=method, path=path, function=entry.logical_id, event_name=event_name,
        payload_format=payload,
        api_key_required=as_bool(auth["ApiKeyRequired"]) if "ApiKeyRequired" in auth else None,  # type: ignore[arg-type]
        authorizer=authorizer if isinstance(authorizer, str) else "", timeout_ms=timeout))
