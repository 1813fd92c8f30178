"""`samlite list buckets|tables|secrets|parameters|streams|topics|subscriptions|rules|schedules|
state-machines|user-pools|emails`: what the moto backend holds, read through the AWS endpoint's
public APIs (sent mail, which SES has no API to list, is read from moto's SES backend)."""

from __future__ import annotations

from typing import Any, Callable

KINDS = ("buckets", "tables", "secrets", "parameters", "streams", "topics", "subscriptions", "rules", "schedules",
         "state-machines", "user-pools", "emails")


def rows(kind: str, client: Callable[[str], Any]) -> list[dict[str, Any]]:
    if kind == "buckets":
        s3 = client("s3")
        out = []
        for b in s3.list_buckets()["Buckets"]:
            listed = s3.list_objects_v2(Bucket=b["Name"])
            out.append({"name": b["Name"], "objects": listed.get("KeyCount", 0),
                        "bytes": sum(o["Size"] for o in listed.get("Contents", [])),
                        "created": b["CreationDate"].isoformat()})
        return out
    if kind == "tables":
        ddb = client("dynamodb")
        out = []
        for name in _pages(ddb, "list_tables", "TableNames"):
            t = ddb.describe_table(TableName=name)["Table"]
            out.append({"name": name, "items": t.get("ItemCount", 0), "keys": " ".join(
                f"{k['AttributeName']}({k['KeyType']})" for k in t["KeySchema"]),
                "stream_arn": t.get("LatestStreamArn"), "arn": t["TableArn"]})
        return out
    if kind == "secrets":
        return [{"name": s["Name"], "arn": s["ARN"], "description": s.get("Description", "")}
                for s in _pages(client("secretsmanager"), "list_secrets", "SecretList")]
    if kind == "parameters":
        return [{"name": p["Name"], "type": p["Type"], "version": p.get("Version")}
                for p in _pages(client("ssm"), "describe_parameters", "Parameters")]
    if kind == "streams":
        kinesis = client("kinesis")
        out = []
        for name in _pages(kinesis, "list_streams", "StreamNames"):
            s = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
            out.append({"name": name, "shards": s.get("OpenShardCount"), "status": s["StreamStatus"],
                        "arn": s["StreamARN"]})
        return out
    if kind == "topics":
        sns = client("sns")
        return [{"arn": t["TopicArn"], "name": t["TopicArn"].rsplit(":", 1)[1],
                 "subscriptions": len(sns.list_subscriptions_by_topic(TopicArn=t["TopicArn"])["Subscriptions"])}
                for t in _pages(sns, "list_topics", "Topics")]
    if kind == "subscriptions":
        return [{"arn": s["SubscriptionArn"], "topic": s["TopicArn"].rsplit(":", 1)[1], "protocol": s["Protocol"],
                 "endpoint": s["Endpoint"]} for s in _pages(client("sns"), "list_subscriptions", "Subscriptions")]
    if kind == "rules":
        events = client("events")
        out = []
        for bus in _pages(events, "list_event_buses", "EventBuses"):
            for rule in _pages(events, "list_rules", "Rules", EventBusName=bus["Name"]):
                targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus["Name"])["Targets"]
                out.append({"name": rule["Name"], "arn": rule["Arn"], "bus": bus["Name"], "state": rule["State"],
                            "schedule": rule.get("ScheduleExpression"), "targets": len(targets)})
        return out
    if kind == "schedules":
        scheduler = client("scheduler")
        return [{"name": s["Name"], "arn": s["Arn"], "group": s["GroupName"], "state": s["State"],
                 "target": s["Target"]["Arn"]} for s in _pages(scheduler, "list_schedules", "Schedules")]
    if kind == "state-machines":
        return [{"name": m["name"], "arn": m["stateMachineArn"], "type": m["type"]}
                for m in _pages(client("stepfunctions"), "list_state_machines", "stateMachines")]
    if kind == "user-pools":
        idp = client("cognito-idp")
        out = []
        for pool in idp.list_user_pools(MaxResults=60)["UserPools"]:
            clients = idp.list_user_pool_clients(UserPoolId=pool["Id"], MaxResults=60)["UserPoolClients"]
            out.append({"name": pool["Name"], "id": pool["Id"], "clients": " ".join(c["ClientId"] for c in clients)})
        return out
    raise ValueError(f"unknown listing {kind!r}")


def sent_emails(account: str, region: str) -> list[dict[str, Any]]:
    """Mail sent through SES (moto thread): moto records it, AWS has no API to read it back."""
    from moto.ses.models import ses_backends

    out = []
    for message in ses_backends[account][region].sent_messages:
        dest = getattr(message, "destinations", {}) or {}
        to = dest.get("ToAddresses", []) if isinstance(dest, dict) else list(dest)
        out.append({"id": message.id, "source": message.source, "to": " ".join(to),
                    "subject": getattr(message, "subject", None), "body": getattr(message, "body", None)})
    return out


def _pages(client: Any, method: str, key: str, **kwargs: Any) -> list[Any]:
    if client.can_paginate(method):
        return [item for page in client.get_paginator(method).paginate(**kwargs) for item in page.get(key, [])]
    return getattr(client, method)(**kwargs).get(key, [])


# --- the console's Data pages: one resource at a time, read-only ----------------------------------
OBJECTS_MAX = 200
ITEMS_MAX = 25
_NOT_FOUND = ("NoSuchBucket", "NoSuchKey", "404", "ResourceNotFoundException", "NotFound", "ParameterNotFound",
              "NotFoundException")


def _errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """botocore's ClientError as samlite's errors: a missing resource is NotFoundError, the rest UsageError."""
    import functools

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import ClientError

        from samlite.errors import NotFoundError, UsageError

        try:
            return fn(*args, **kwargs)
        except ClientError as exc:
            err = exc.response.get("Error", {})
            code, message = str(err.get("Code", "")), str(err.get("Message", "") or exc)
            if code in _NOT_FOUND:
                raise NotFoundError(f"{code}: {message}") from None
            raise UsageError(f"{code}: {message}") from None
    return call


@_errors
def bucket_objects(client: Callable[[str], Any], bucket: str, prefix: str = "",
                   limit: int = OBJECTS_MAX) -> dict[str, Any]:
    listed = client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=limit)
    return {"bucket": bucket, "prefix": prefix, "truncated": bool(listed.get("IsTruncated")),
            "objects": [{"key": o["Key"], "size": o["Size"], "last_modified": o["LastModified"].isoformat(),
                         "etag": o.get("ETag", "").strip('"')} for o in listed.get("Contents", [])]}


@_errors
def object_size(client: Callable[[str], Any], bucket: str, key: str) -> tuple[int, str]:
    head = client("s3").head_object(Bucket=bucket, Key=key)
    return int(head["ContentLength"]), str(head.get("ContentType") or "application/octet-stream")


@_errors
def object_body(client: Callable[[str], Any], bucket: str, key: str, max_bytes: int) -> bytes:
    body = client("s3").get_object(Bucket=bucket, Key=key)["Body"]
    try:
        data: bytes = body.read(max_bytes + 1)
    finally:
        body.close()
    return data


@_errors
def table_items(client: Callable[[str], Any], table: str, limit: int = ITEMS_MAX) -> dict[str, Any]:
    ddb = client("dynamodb")
    t = ddb.describe_table(TableName=table)["Table"]
    scanned = ddb.scan(TableName=table, Limit=limit)
    return {"table": table, "arn": t["TableArn"], "item_count": t.get("ItemCount", 0),
            "key_schema": [{"name": k["AttributeName"], "type": k["KeyType"]} for k in t["KeySchema"]],
            "items": [{k: plain(v) for k, v in item.items()} for item in scanned.get("Items", [])],
            "more": "LastEvaluatedKey" in scanned}


def plain(value: dict[str, Any]) -> Any:
    """A DynamoDB attribute value as plain JSON (numbers stay strings: they are decimals)."""
    import base64

    (kind, v), = value.items()
    if kind in ("S", "N", "BOOL"):
        return v
    if kind == "NULL":
        return None
    if kind == "B":
        return base64.b64encode(v).decode()
    if kind in ("SS", "NS"):
        return list(v)
    if kind == "BS":
        return [base64.b64encode(b).decode() for b in v]
    if kind == "L":
        return [plain(x) for x in v]
    if kind == "M":
        return {k: plain(x) for k, x in v.items()}
    return v


@_errors
def topics(client: Callable[[str], Any]) -> list[dict[str, Any]]:
    sns = client("sns")
    return [{"arn": t["TopicArn"], "name": t["TopicArn"].rsplit(":", 1)[1],
             "subscriptions": [{"protocol": s["Protocol"], "endpoint": s["Endpoint"], "arn": s["SubscriptionArn"]}
                               for s in _pages(sns, "list_subscriptions_by_topic", "Subscriptions",
                                               TopicArn=t["TopicArn"])]}
            for t in _pages(sns, "list_topics", "Topics")]


@_errors
def rules(client: Callable[[str], Any]) -> list[dict[str, Any]]:
    events = client("events")
    out = []
    for bus in events.list_event_buses().get("EventBuses", []):
        for r in events.list_rules(EventBusName=bus["Name"]).get("Rules", []):
            targets = events.list_targets_by_rule(Rule=r["Name"], EventBusName=bus["Name"]).get("Targets", [])
            out.append({"name": r["Name"], "arn": r["Arn"], "bus": bus["Name"], "state": r.get("State"),
                        "pattern": r.get("EventPattern"), "schedule": r.get("ScheduleExpression"),
                        "targets": [{"id": t["Id"], "arn": t["Arn"]} for t in targets]})
    return out


@_errors
def secret_value(client: Callable[[str], Any], name: str) -> dict[str, Any]:
    got = client("secretsmanager").get_secret_value(SecretId=name)
    binary = got.get("SecretBinary")
    return {"name": got["Name"], "arn": got["ARN"], "version": got.get("VersionId"),
            "string": got.get("SecretString"), "binary_bytes": len(binary) if binary is not None else None}


@_errors
def parameter_value(client: Callable[[str], Any], name: str) -> dict[str, Any]:
    p = client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]
    return {"name": p["Name"], "type": p["Type"], "version": p.get("Version"), "value": p["Value"]}
