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


def _pages(client: Any, method: str, key: str, **args: Any) -> list[Any]:
    if client.can_paginate(method):
        return [item for page in client.get_paginator(method).paginate(**args) for item in page.get(key, [])]
    return getattr(client, method)(**args).get(key, [])
