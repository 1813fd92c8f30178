"""SAM function events that become other services' resources: S3, SNS, Schedule, ScheduleV2,
CloudWatchEvent and EventBridgeRule, expanded as SAM's translator does.

- `S3`: the referenced bucket (it must be in the template) gets one LambdaConfiguration per event
  in its NotificationConfiguration, plus a `<Fn><Event>Permission`;
- `SNS`: an AWS::SNS::Subscription `<Fn><Event>` (protocol lambda) with FilterPolicy,
  FilterPolicyScope and RedrivePolicy;
- `Schedule`, `CloudWatchEvent`, `EventBridgeRule`: an AWS::Events::Rule `<Fn><Event>` whose target
  `<Fn><Event>LambdaTarget` is the function, with Input, InputPath or InputTransformer;
- `ScheduleV2`: an AWS::Scheduler::Schedule `<Fn><Event>` (and `<Fn><Event>Role` without RoleArn).

`expand` runs while SAM's implicit resources are made (names known before anything resolves);
`generated` gives the generated resources their resolved properties. The deploy handlers create
them in the moto backend, where the event bridge delivers from.
"""

from __future__ import annotations

from typing import Any, Protocol

from samlite.template import model
from samlite.template.intrinsics import is_intrinsic


class Builder(Protocol):
    """What the expansion reads and calls of the template pipeline's `resolve.Builder`."""

    entries: dict[str, Any]
    context: model.Context
    problems: Any

    def physical_name(self, lid: str) -> str: ...
    def _generate(self, lid: str, rtype: str, source: str, raw: dict[str, Any] | None = None) -> Any: ...
    def _warn_not_emulated(self, lid: str, message: str, where: Any = None) -> None: ...

TYPES = ("S3", "SNS", "Schedule", "ScheduleV2", "CloudWatchEvent", "EventBridgeRule")
_RULE_EVENTS = ("Schedule", "CloudWatchEvent", "EventBridgeRule")


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) and not is_intrinsic(value) else {}


def _plain(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def expand(b: Builder, fn: Any, event_name: str, etype: str, eprops: dict[str, Any]) -> None:
    lid = fn.logical_id
    gen = f"{lid}{event_name}"
    where = (lid, ("Properties", "Events", event_name, "Properties"))
    if etype == "S3":
        _s3(b, fn, event_name, eprops, where)
    elif etype == "SNS":
        b._generate(gen, "AWS::SNS::Subscription", lid, {"TopicArn": eprops.get("Topic")})  # for its Ref (ARN)
        if eprops.get("SqsSubscription") not in (None, False, "false"):
            b._warn_not_emulated(lid, f"SNS event '{event_name}': SqsSubscription is not emulated; the function "
                                 "is subscribed to the topic directly", where)
    elif etype in _RULE_EVENTS:
        name = _plain(eprops.get("RuleName") if etype != "Schedule" else eprops.get("Name"))
        b._generate(gen, "AWS::Events::Rule", lid, {"Name": name} if name else None)
    elif etype == "ScheduleV2":
        name = _plain(eprops.get("Name"))
        b._generate(gen, "AWS::Scheduler::Schedule", lid, {"Name": name} if name else None)
        if eprops.get("RoleArn") is None:
            b._generate(f"{gen}Role", "AWS::IAM::Role", lid)
    if etype != "ScheduleV2":
        b._generate(f"{gen}Permission", "AWS::Lambda::Permission", lid)


def _s3(b: Builder, fn: Any, event_name: str, eprops: dict[str, Any], where: Any) -> None:
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


def generated(b: Builder, fn_lid: str, function_arn: str, event_name: str, etype: str,
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
