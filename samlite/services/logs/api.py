"""CloudWatch Logs reads over the JSON protocol (`X-Amz-Target: Logs_20140328.<Action>`).

DescribeLogGroups, DescribeLogStreams, GetLogEvents and FilterLogEvents over the events the
invoke service recorded (`samlite.services.logs.service`); PutRetentionPolicy,
DeleteRetentionPolicy, DeleteLogGroup and DeleteLogStream. Tokens are opaque to clients: GetLogEvents
uses `f/<id>` / `b/<id>` (a client stops paging when nextForwardToken comes back unchanged, as
with AWS), the others a position. Unknown groups -> ResourceNotFoundException; bad parameters ->
InvalidParameterException.
"""

from __future__ import annotations

import asyncio
import re
from functools import partial
from typing import Any

from samlite.core.aws_api import AwsError, Reply, json_body
from samlite.core.endpoint import ApiService
from samlite.core.http import Request
from samlite.services.logs.service import MAX_LIMIT, RETENTION_DAYS, BadFilterPattern, LogService


async def handle(logs: "LogService", request: Request, action: str) -> Reply:
    change = _CHANGES.get(action)
    if change is not None:
        await change(logs, json_body(request))
        return Reply.json({})
    op = _ACTIONS.get(action)
    if op is None:
        raise AwsError("UnknownOperationException", f"Unknown operation Logs_20140328.{action}", 400)
    # Reads run off the loop on a read-only connection (the store gives each thread its own):
    # a filter over a million events must not hold up the gateway.
    return Reply.json(await asyncio.to_thread(op, logs, json_body(request)))


def _invalid(message: str) -> AwsError:
    return AwsError("InvalidParameterException", message, 400)


def _get(body: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise AwsError("SerializationException", f"Unexpected type for {key}", 400)
    return value


def _limit(body: dict[str, Any], default: int, maximum: int) -> int:
    limit = _get(body, "limit", int, default)
    if not 1 <= limit <= maximum:
        raise _invalid(f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: "
                       f"Member must have value {'less than or equal to ' + str(maximum) if limit > 1 else 'greater than or equal to 1'}")
    return limit


def _group(service: LogService, body: dict[str, Any]) -> str:
    name = _get(body, "logGroupName", str)
    ident = _get(body, "logGroupIdentifier", str)
    if name and ident:
        raise _invalid("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
    if ident:
        # An ARN (arn:aws:logs:region:acct:log-group:NAME[:*]) or a plain name.
        m = re.fullmatch(r"arn:aws[\w-]*:logs:[\w-]+:\d+:log-group:(.+?)(?::\*)?", ident)
        name = m.group(1) if m else ident
    if not name:
        raise _invalid("Should provide either a log group name or a log group ARN.")
    if not service.group_exists(name):
        raise AwsError("ResourceNotFoundException", "The specified log group does not exist.", 400)
    return name


def _arn(service: LogService, group: str) -> str:
    return f"arn:aws:logs:{service.region}:{service.account_id}:log-group:{group}"


def _position(token: str | None) -> int:
    if token is None:
        return 0
    if not re.fullmatch(r"p/\d+", token):
        raise _invalid("The specified nextToken is invalid.")
    return int(token[2:])


def describe_log_groups(service: LogService, body: dict[str, Any]) -> dict[str, Any]:
    prefix = _get(body, "logGroupNamePrefix", str)
    pattern = _get(body, "logGroupNamePattern", str)
    if prefix and pattern:
        raise _invalid("LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.")
    limit = _limit(body, 50, 50)
    start = _position(_get(body, "nextToken", str))
    groups = [g for g in service.groups(prefix) if not pattern or pattern.lower() in g["name"].lower()]
    page = groups[start:start + limit]
    out: dict[str, Any] = {"logGroups": [
        {"logGroupName": g["name"], "creationTime": g["created"], "metricFilterCount": 0,
         "arn": _arn(service, g["name"]) + ":*", "logGroupArn": _arn(service, g["name"]),
         "storedBytes": g["bytes"], "logGroupClass": "STANDARD",
         **({"retentionInDays": g["retention"]} if g["retention"] is not None else {})} for g in page]}
    if start + limit < len(groups):
        out["nextToken"] = f"p/{start + limit}"
    return out


def describe_log_streams(service: LogService, body: dict[str, Any]) -> dict[str, Any]:
    group = _group(service, body)
    order_by = _get(body, "orderBy", str, "LogStreamName")
    if order_by not in ("LogStreamName", "LastEventTime"):
        raise _invalid(f"1 validation error detected: Value '{order_by}' at 'orderBy' failed to satisfy constraint: "
                       "Member must satisfy enum value set: [LogStreamName, LastEventTime]")
    prefix = _get(body, "logStreamNamePrefix", str)
    if prefix and order_by == "LastEventTime":
        raise _invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
    descending = _get(body, "descending", bool, False)
    limit = _limit(body, 50, 50)
    start = _position(_get(body, "nextToken", str))
    streams = service.streams(group, prefix, order_by, descending)
    page = streams[start:start + limit]
    out: dict[str, Any] = {"logStreams": [
        {"logStreamName": s["name"], "creationTime": s["created"], "firstEventTimestamp": s["first"],
         "lastEventTimestamp": s["last"], "lastIngestionTime": s["ingested"] or s["last"],
         "arn": f"{_arn(service, group)}:log-stream:{s['name']}", "storedBytes": 0} for s in page]}
    if start + limit < len(streams):
        out["nextToken"] = f"p/{start + limit}"
    return out


def _times(body: dict[str, Any]) -> tuple[int | None, int | None]:
    start = _get(body, "startTime", int)
    end = _get(body, "endTime", int)
    for key, value in (("startTime", start), ("endTime", end)):
        if value is not None and value < 0:
            raise _invalid(f"1 validation error detected: Value '{value}' at '{key}' failed to satisfy constraint: "
                           "Member must have value greater than or equal to 0")
    return start, end


def get_log_events(service: LogService, body: dict[str, Any]) -> dict[str, Any]:
    group = _group(service, body)
    stream = _get(body, "logStreamName", str)
    if not stream:
        raise AwsError("ValidationException", "1 validation error detected: Value null at 'logStreamName' failed to "
                       "satisfy constraint: Member must not be null", 400)
    if not any(s["name"] == stream for s in service.streams(group, stream)):
        raise AwsError("ResourceNotFoundException", "The specified log stream does not exist.", 400)
    start, end = _times(body)
    limit = _limit(body, MAX_LIMIT, MAX_LIMIT)
    token = _get(body, "nextToken", str)
    head = _get(body, "startFromHead", bool, False)
    common: dict[str, Any] = {"streams": [stream], "start_ms": start, "end_ms": end, "limit": limit}
    if token is not None:
        m = re.fullmatch(r"([fb])/(\d+)", token)
        if not m:
            raise _invalid("The specified nextToken is invalid.")
        anchor = int(m.group(2))
        if m.group(1) == "f":
            events = service.events(group, after_id=anchor, **common)
        else:
            events = service.events(group, before_id=anchor, newest_first=True, **common)
    elif head:
        anchor = 0
        events = service.events(group, **common)
    else:
        anchor = service.last_id() + 1
        events = service.events(group, newest_first=True, **common)
    # With no events the tokens stay where they were, so a client paging forward sees the same
    # token again and stops (AWS's contract).
    if events:
        forward, backward = events[-1].id, events[0].id
    elif token is not None and token[0] == "b" or token is None and not head:
        forward, backward = anchor - 1, anchor
    else:
        forward, backward = anchor, anchor + 1
    return {
        "events": [{"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingestion} for e in events],
        "nextForwardToken": f"f/{forward:056d}",
        "nextBackwardToken": f"b/{backward:056d}",
    }


def filter_log_events(service: LogService, body: dict[str, Any]) -> dict[str, Any]:
    group = _group(service, body)
    names = _get(body, "logStreamNames", list)
    prefix = _get(body, "logStreamNamePrefix", str)
    if names is not None and prefix:
        raise _invalid("logStreamNames and logStreamNamePrefix are mutually exclusive parameters.")
    if names is not None and (not names or not all(isinstance(n, str) for n in names)):
        raise _invalid("logStreamNames must be a non-empty list of stream names.")
    start, end = _times(body)
    limit = _limit(body, MAX_LIMIT, MAX_LIMIT)
    pattern = _get(body, "filterPattern", str)
    token = _get(body, "nextToken", str)
    after = 0
    if token is not None:
        if not re.fullmatch(r"n/\d+", token):
            raise _invalid("The specified nextToken is invalid.")
        after = int(token[2:])
    try:
        events = service.events(group, streams=names, stream_prefix=prefix, start_ms=start, end_ms=end,
                                filter_pattern=pattern, after_id=after, limit=limit + 1)
    except BadFilterPattern as exc:
        raise _invalid(f"Invalid filter pattern: {exc}") from None
    more = len(events) > limit
    events = events[:limit]
    searched = names if names is not None else [s["name"] for s in service.streams(group, prefix)]
    out: dict[str, Any] = {
        "events": [{"logStreamName": e.stream, "timestamp": e.timestamp, "message": e.message,
                    "ingestionTime": e.ingestion, "eventId": f"{e.id:056d}"} for e in events],
        "searchedLogStreams": [{"logStreamName": n, "searchedCompletely": not more} for n in searched],
    }
    if more:
        out["nextToken"] = f"n/{events[-1].id}"
    return out


async def put_retention_policy(service: LogService, body: dict[str, Any]) -> None:
    group = _group(service, body)
    days = _get(body, "retentionInDays", int)
    if days is None:
        raise AwsError("ValidationException", "1 validation error detected: Value null at 'retentionInDays' failed "
                       "to satisfy constraint: Member must not be null", 400)
    if days not in RETENTION_DAYS:
        raise _invalid(f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy "
                       f"constraint: Member must satisfy enum value set: [{', '.join(map(str, RETENTION_DAYS))}]")
    service.set_retention(group, days)


async def delete_retention_policy(service: LogService, body: dict[str, Any]) -> None:
    service.set_retention(_group(service, body), None)


async def delete_log_group(service: LogService, body: dict[str, Any]) -> None:
    await service.delete_group(_group(service, body))


async def delete_log_stream(service: LogService, body: dict[str, Any]) -> None:
    group = _group(service, body)
    stream = _get(body, "logStreamName", str)
    if not stream or not any(s["name"] == stream for s in service.streams(group, stream)):
        raise AwsError("ResourceNotFoundException", "The specified log stream does not exist.", 400)
    await service.delete_stream(group, stream)


_CHANGES = {
    "PutRetentionPolicy": put_retention_policy,
    "DeleteRetentionPolicy": delete_retention_policy,
    "DeleteLogGroup": delete_log_group,
    "DeleteLogStream": delete_log_stream,
}

_ACTIONS = {
    "DescribeLogGroups": describe_log_groups,
    "DescribeLogStreams": describe_log_streams,
    "GetLogEvents": get_log_events,
    "FilterLogEvents": filter_log_events,
}


def api(logs: LogService) -> ApiService:
    return ApiService("logs", partial(handle, logs), targets=("Logs_20140328",))
