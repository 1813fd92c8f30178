"""Deploy handlers for the moto-backed resource types: create, update and delete them with the stack.

Resources are made through the AWS endpoint with boto3, exactly as a user's code would (so they
are journalled like any call), under the names and ids the template layer already resolved
Ref/GetAtt to (samlite.template.types.cloud). Runs before the deploy's store transaction: a failure
(a non-empty bucket to delete, an invalid table) aborts the deploy with a clear error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from samlite.config import ACCESS_KEY_ID, SECRET_ACCESS_KEY
from samlite.errors import DeployError
from samlite.template.model import Resource, Stack
from samlite.template.types import cloud

if TYPE_CHECKING:
    from samlite.services.moto_backend.backend import MotoBackend

log = logging.getLogger("samlite.engine")

# Creation order (dependencies first); deletion runs in reverse.
ORDER = [
    "AWS::SNS::Topic", "AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::Serverless::SimpleTable",
    "AWS::SecretsManager::Secret", "AWS::SSM::Parameter", "AWS::Kinesis::Stream", "AWS::KinesisFirehose::DeliveryStream",
    "AWS::SNS::Subscription", "AWS::Events::EventBus", "AWS::Events::Rule", "AWS::StepFunctions::StateMachine",
    "AWS::Serverless::StateMachine", "AWS::Cognito::UserPool", "AWS::Cognito::UserPoolClient",
    "AWS::Scheduler::ScheduleGroup", "AWS::Scheduler::Schedule",
]
# Generated resources that are real ones (function events, an async destination's topic); the
# rest stand for SAM wiring samlite does not need (roles, permissions).
GENERATED_REAL = frozenset({"AWS::SNS::Topic", "AWS::SNS::Subscription", "AWS::Events::Rule",
                            "AWS::Scheduler::Schedule"})
RANK = {t: i for i, t in enumerate(ORDER)}


def _cloud(stack: Stack | None) -> dict[str, Resource]:
    if stack is None:
        return {}
    return {lid: r for lid, r in stack.resources.items() if r.type in cloud.TYPES and r.emulated
            and (not r.generated or r.type in GENERATED_REAL)}


async def apply(backend: "MotoBackend", new: Stack, old: Stack | None) -> None:
    """Bring the stack's cloud resources from `old` to `new`."""
    if _cloud(new) or _cloud(old):
        await asyncio.to_thread(_Handlers(backend, asyncio.get_running_loop(), new).apply, new, old)


async def delete(backend: "MotoBackend", old: Stack | None) -> None:
    """Delete the stack's cloud resources, except those with DeletionPolicy: Retain."""
    if old is not None and _cloud(old):
        await asyncio.to_thread(_Handlers(backend, asyncio.get_running_loop(), old).apply, None, old)


class _Handlers:
    def __init__(self, backend: "MotoBackend", loop: asyncio.AbstractEventLoop, stack: Stack) -> None:
        self.backend = backend
        self.loop = loop
        self.region = backend.region
        self.account = backend.account_id
        self.stack_name = stack.name
        self.project_dir = Path(stack.project_dir)
        self._clients: dict[str, Any] = {}
        self.clock: float | None = None

    # --- plumbing ----------------------------------------------------------------------------
    def client(self, service: str) -> Any:
        if service not in self._clients:
            import boto3
            from botocore.config import Config

            c = boto3.client(service, endpoint_url=self.backend.aws_url, region_name=self.region,
                             aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=SECRET_ACCESS_KEY,
                             config=Config(retries={"max_attempts": 1}, read_timeout=300))
            c.meta.events.register("before-send", self._pin_clock)
            self._clients[service] = c
        return self._clients[service]

    def _pin_clock(self, request: Any, **_: Any) -> None:
        if self.clock is not None:
            request.headers["x-samlite-clock"] = repr(self.clock)

    def fixup(self, fix: str, **args: Any) -> None:
        args.update(account=self.account, region=self.region)
        asyncio.run_coroutine_threadsafe(self.backend.fixup(fix, args), self.loop).result()

    def name(self, r: Resource) -> str:
        prop = cloud.NAME_PROPERTY.get(r.type)
        value = r.properties.get(prop) if prop else None
        return value if isinstance(value, str) and value else cloud.default_name(self.stack_name, r.logical_id, r.type)

    # --- the diff ----------------------------------------------------------------------------
    def apply(self, new: Stack | None, old: Stack | None) -> None:
        from botocore.exceptions import ClientError, ParamValidationError

        wanted, before = _cloud(new), _cloud(old)
        step = ""
        try:
            for lid, r in sorted(wanted.items(), key=lambda kv: RANK[kv[1].type]):
                prev = before.get(lid)
                step = lid
                if prev is None or prev.type != r.type or self.name(prev) != self.name(r):
                    self._handler("create", r.type)(r, None)
                elif prev.properties_hash != r.properties_hash:
                    self._handler("update", r.type)(r, prev)
            gone = [r for lid, r in before.items()
                    if lid not in wanted or wanted[lid].type != r.type or self.name(wanted[lid]) != self.name(r)]
            for r in sorted(gone, key=lambda r: RANK[r.type], reverse=True):
                step = r.logical_id
                if r.deletion_policy == "Retain":
                    log.info("stack %s: %s retained (DeletionPolicy: Retain)", self.stack_name, r.logical_id)
                    continue
                self._handler("delete", r.type)(r, None)
        except ClientError as exc:
            err = exc.response.get("Error", {})
            raise DeployError(f"{step}: {err.get('Code')}: {err.get('Message')}") from None
        except KeyError as exc:  # a property CloudFormation requires (a table's KeySchema, ...)
            raise DeployError(f"{step}: the required property {exc.args[0]} is missing") from None
        except ParamValidationError as exc:  # a property of the wrong shape
            raise DeployError(f"{step}: {exc}") from None

    def _handler(self, verb: str, rtype: str) -> Callable[[Resource, Resource | None], None]:
        family = rtype.split("::", 2)[1].lower() + "_" + rtype.rsplit("::", 1)[1].lower()
        fn = getattr(self, f"{verb}_{family}", None)
        if fn is None and verb == "update":
            fn = getattr(self, f"create_{family}")  # create handlers are idempotent upserts
        return fn  # type: ignore[return-value]

    # --- S3 ----------------------------------------------------------------------------------
    def create_s3_bucket(self, r: Resource, prev: Resource | None) -> None:
        s3, p, name = self.client("s3"), r.properties, self.name(r)
        args: dict[str, Any] = {"Bucket": name}
        if self.region != "us-east-1":
            args["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            s3.create_bucket(**args)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        if isinstance(p.get("VersioningConfiguration"), dict):
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={
                "Status": p["VersioningConfiguration"].get("Status", "Enabled")})
        if p.get("Tags"):
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": _tags(p["Tags"])})
        cors = (p.get("CorsConfiguration") or {}).get("CorsRules")
        if cors:
            s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": [_drop_none({
                "AllowedMethods": c.get("AllowedMethods"), "AllowedOrigins": c.get("AllowedOrigins"),
                "AllowedHeaders": c.get("AllowedHeaders"), "ExposeHeaders": c.get("ExposedHeaders"),
                "MaxAgeSeconds": _int(c.get("MaxAge"))}) for c in cors]})
        if isinstance(p.get("NotificationConfiguration"), dict) or prev is not None:
            s3.put_bucket_notification_configuration(
                Bucket=name, NotificationConfiguration=_notification(p.get("NotificationConfiguration") or {}))

    def delete_s3_bucket(self, r: Resource, _: Resource | None) -> None:
        s3, name = self.client("s3"), self.name(r)
        try:
            listed = s3.list_object_versions(Bucket=name, MaxKeys=1)
        except s3.exceptions.NoSuchBucket:
            return
        if listed.get("Versions") or listed.get("DeleteMarkers"):
            raise DeployError(f"{r.logical_id}: bucket {name!r} is not empty; AWS refuses to delete a non-empty "
                              "bucket (BucketNotEmpty)",
                              hint="Empty it first (`aws s3 rm --recursive`), or set DeletionPolicy: Retain.")
        s3.delete_bucket(Bucket=name)

    # --- DynamoDB ----------------------------------------------------------------------------
    def _table_args(self, r: Resource) -> dict[str, Any]:
        p = r.properties
        if r.type == "AWS::Serverless::SimpleTable":
            key = p.get("PrimaryKey") or {"Name": "id", "Type": "String"}
            kind = {"String": "S", "Number": "N", "Binary": "B"}.get(key.get("Type", "String"), "S")
            p = {"KeySchema": [{"AttributeName": key["Name"], "KeyType": "HASH"}],
                 "AttributeDefinitions": [{"AttributeName": key["Name"], "AttributeType": kind}],
                 "ProvisionedThroughput": p.get("ProvisionedThroughput"), "Tags": p.get("Tags")}
        args: dict[str, Any] = {"TableName": self.name(r), "KeySchema": p["KeySchema"],
                                "AttributeDefinitions": p["AttributeDefinitions"]}
        throughput = _throughput(p.get("ProvisionedThroughput"))
        args["BillingMode"] = p.get("BillingMode") or ("PROVISIONED" if throughput else "PAY_PER_REQUEST")
        if throughput and args["BillingMode"] == "PROVISIONED":
            args["ProvisionedThroughput"] = throughput
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if p.get(key):
                args[key] = [_drop_none({**ix, "ProvisionedThroughput": _throughput(ix.get("ProvisionedThroughput")),
                                         "ContributorInsightsSpecification": None}) for ix in p[key]]
        view = (p.get("StreamSpecification") or {}).get("StreamViewType")
        if view:
            args["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view}
        if isinstance(p.get("Tags"), list) and p["Tags"]:
            args["Tags"] = _tags(p["Tags"])
        elif isinstance(p.get("Tags"), dict) and p["Tags"]:
            args["Tags"] = [{"Key": k, "Value": str(v)} for k, v in p["Tags"].items()]
        return args

    def create_dynamodb_table(self, r: Resource, prev: Resource | None) -> None:
        ddb, args = self.client("dynamodb"), self._table_args(r)
        self.clock = cloud.stream_clock(self.stack_name, r.logical_id)  # the StreamArn the template resolved
        try:
            try:
                current = ddb.describe_table(TableName=args["TableName"])["Table"]
            except ddb.exceptions.ResourceNotFoundException:
                current = None
            if current is not None and current["KeySchema"] != args["KeySchema"]:
                ddb.delete_table(TableName=args["TableName"])  # a key change replaces the table
                current = None
            if current is None:
                ddb.create_table(**args)
            else:
                stream = args.get("StreamSpecification") or {"StreamEnabled": False}
                enabled = bool(current.get("StreamSpecification", {}).get("StreamEnabled"))
                if stream["StreamEnabled"] != enabled or (enabled and stream.get("StreamViewType") !=
                                                          current["StreamSpecification"].get("StreamViewType")):
                    if enabled:
                        ddb.update_table(TableName=args["TableName"], StreamSpecification={"StreamEnabled": False})
                    if stream["StreamEnabled"]:
                        ddb.update_table(TableName=args["TableName"], StreamSpecification=stream)
                if args["BillingMode"] != current.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED"):
                    ddb.update_table(TableName=args["TableName"], BillingMode=args["BillingMode"],
                                     **({"ProvisionedThroughput": args["ProvisionedThroughput"]}
                                        if "ProvisionedThroughput" in args else {}))
        finally:
            self.clock = None
        ttl = r.properties.get("TimeToLiveSpecification")
        if isinstance(ttl, dict) and ttl.get("AttributeName"):
            ddb.update_time_to_live(TableName=args["TableName"], TimeToLiveSpecification={
                "AttributeName": ttl["AttributeName"], "Enabled": _bool(ttl.get("Enabled", True))})

    create_serverless_simpletable = create_dynamodb_table

    def delete_dynamodb_table(self, r: Resource, _: Resource | None) -> None:
        ddb = self.client("dynamodb")
        try:
            ddb.delete_table(TableName=self.name(r))
        except ddb.exceptions.ResourceNotFoundException:
            pass

    delete_serverless_simpletable = delete_dynamodb_table

    # --- Secrets Manager, SSM ----------------------------------------------------------------
    def _secret_value(self, p: Any) -> str | None:
        if "SecretString" in p:
            return str(p["SecretString"])
        gen = p.get("GenerateSecretString")
        if not isinstance(gen, dict):
            return None
        args = {"PasswordLength": _int(gen.get("PasswordLength")) or 32,
                "ExcludeCharacters": gen.get("ExcludeCharacters", "")}
        for key in ("ExcludePunctuation", "ExcludeUppercase", "ExcludeLowercase", "ExcludeNumbers",
                    "IncludeSpace", "RequireEachIncludedType"):
            if key in gen:
                args[key] = _bool(gen[key])
        password = self.client("secretsmanager").get_random_password(**args)["RandomPassword"]
        if gen.get("SecretStringTemplate") and gen.get("GenerateStringKey"):
            data = json.loads(gen["SecretStringTemplate"])
            data[gen["GenerateStringKey"]] = password
            return json.dumps(data)
        return password

    def create_secretsmanager_secret(self, r: Resource, prev: Resource | None) -> None:
        sm, p, name = self.client("secretsmanager"), r.properties, self.name(r)
        arn = cloud.secret_arn(self.region, self.account, self.stack_name, r.logical_id, name)
        try:
            sm.describe_secret(SecretId=name)
            exists = True
        except sm.exceptions.ResourceNotFoundException:
            exists = False
        if not exists:
            args = _drop_none({"Name": name, "SecretString": self._secret_value(p), "Description": p.get("Description"),
                               "KmsKeyId": p.get("KmsKeyId"), "Tags": _tags(p.get("Tags"))})
            sm.create_secret(**args)
        else:
            before = prev.properties if prev else {}
            # A generated value is kept across deploys unless its recipe changed, as on CloudFormation.
            if p.get("SecretString") != before.get("SecretString") or \
                    p.get("GenerateSecretString") != before.get("GenerateSecretString"):
                value = self._secret_value(p)
                if value is not None:
                    sm.put_secret_value(SecretId=name, SecretString=value)
            if p.get("Description") is not None:
                sm.update_secret(SecretId=name, Description=p["Description"])
        self.fixup("secret_arn", name=name, arn=arn)

    def delete_secretsmanager_secret(self, r: Resource, _: Resource | None) -> None:
        sm = self.client("secretsmanager")
        try:
            sm.delete_secret(SecretId=self.name(r), ForceDeleteWithoutRecovery=True)
        except sm.exceptions.ResourceNotFoundException:
            pass

    def create_ssm_parameter(self, r: Resource, prev: Resource | None) -> None:
        p = r.properties
        args = _drop_none({"Name": self.name(r), "Value": str(p.get("Value", "")), "Type": p.get("Type", "String"),
                           "Description": p.get("Description"), "AllowedPattern": p.get("AllowedPattern"),
                           "Tier": p.get("Tier"), "DataType": p.get("DataType"), "Overwrite": True})
        self.client("ssm").put_parameter(**args)

    def delete_ssm_parameter(self, r: Resource, _: Resource | None) -> None:
        ssm = self.client("ssm")
        try:
            ssm.delete_parameter(Name=self.name(r))
        except ssm.exceptions.ParameterNotFound:
            pass

    # --- Kinesis, Firehose -------------------------------------------------------------------
    def create_kinesis_stream(self, r: Resource, prev: Resource | None) -> None:
        kinesis, p, name = self.client("kinesis"), r.properties, self.name(r)
        mode = (p.get("StreamModeDetails") or {}).get("StreamMode", "PROVISIONED")
        shards = _int(p.get("ShardCount")) or 1
        try:
            current = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        except kinesis.exceptions.ResourceNotFoundException:
            current = None
        if current is None:
            kinesis.create_stream(StreamName=name, **({"ShardCount": shards} if mode == "PROVISIONED" else {}),
                                  StreamModeDetails={"StreamMode": mode})
        elif mode == "PROVISIONED" and current.get("OpenShardCount") != shards:
            kinesis.update_shard_count(StreamName=name, TargetShardCount=shards, ScalingType="UNIFORM_SCALING")
        hours = _int(p.get("RetentionPeriodHours"))
        if hours and hours > 24:
            kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=hours)

    def delete_kinesis_stream(self, r: Resource, _: Resource | None) -> None:
        kinesis = self.client("kinesis")
        try:
            kinesis.delete_stream(StreamName=self.name(r), EnforceConsumerDeletion=True)
        except kinesis.exceptions.ResourceNotFoundException:
            pass

    def create_kinesisfirehose_deliverystream(self, r: Resource, prev: Resource | None) -> None:
        if prev is not None:
            self.delete_kinesisfirehose_deliverystream(prev, None)  # updated by replacing it
        p = r.properties
        keys = ("S3DestinationConfiguration", "ExtendedS3DestinationConfiguration", "KinesisStreamSourceConfiguration",
                "HttpEndpointDestinationConfiguration", "RedshiftDestinationConfiguration",
                "ElasticsearchDestinationConfiguration", "SplunkDestinationConfiguration")
        args = {k: p[k] for k in keys if k in p}
        self.client("firehose").create_delivery_stream(
            DeliveryStreamName=self.name(r), DeliveryStreamType=p.get("DeliveryStreamType", "DirectPut"), **args)

    def delete_kinesisfirehose_deliverystream(self, r: Resource, _: Resource | None) -> None:
        firehose = self.client("firehose")
        try:
            firehose.delete_delivery_stream(DeliveryStreamName=self.name(r))
        except firehose.exceptions.ResourceNotFoundException:
            pass

    # --- SNS ---------------------------------------------------------------------------------
    def create_sns_topic(self, r: Resource, prev: Resource | None) -> None:
        sns, p = self.client("sns"), r.properties
        attrs = {k: str(p[k]).lower() if isinstance(p[k], bool) else str(p[k])
                 for k in ("DisplayName", "FifoTopic", "ContentBasedDeduplication", "KmsMasterKeyId") if k in p}
        arn = sns.create_topic(Name=self.name(r), Attributes=attrs, **_drop_none({"Tags": _tags(p.get("Tags"))}))["TopicArn"]
        if prev is not None and "DisplayName" in attrs:
            sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue=attrs["DisplayName"])
        existing = {(s["Protocol"], s["Endpoint"]) for s in sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]}
        for sub in p.get("Subscription") or []:
            if (sub["Protocol"], sub["Endpoint"]) not in existing:
                sns.subscribe(TopicArn=arn, Protocol=sub["Protocol"], Endpoint=sub["Endpoint"])

    def delete_sns_topic(self, r: Resource, _: Resource | None) -> None:
        self.client("sns").delete_topic(TopicArn=cloud.arn(r.type, self.region, self.account, self.stack_name,
                                                           r.logical_id, self.name(r)))

    def create_sns_subscription(self, r: Resource, prev: Resource | None) -> None:
        if prev is not None:
            self.delete_sns_subscription(prev, None)
        sns, p = self.client("sns"), r.properties
        attrs = {}
        for key in ("FilterPolicy", "RedrivePolicy", "DeliveryPolicy"):
            if key in p:
                attrs[key] = p[key] if isinstance(p[key], str) else json.dumps(p[key])
        for key in ("RawMessageDelivery", "FilterPolicyScope"):
            if key in p:
                attrs[key] = str(p[key]).lower() if isinstance(p[key], bool) else str(p[key])
        old = sns.subscribe(TopicArn=p["TopicArn"], Protocol=p["Protocol"], Endpoint=p.get("Endpoint", ""),
                            Attributes=attrs, ReturnSubscriptionArn=True)["SubscriptionArn"]
        self.fixup("subscription_arn", old=old, new=self._subscription_arn(r))

    def _subscription_arn(self, r: Resource) -> str:
        return f"{r.properties['TopicArn']}:{cloud.subscription_id(self.stack_name, r.logical_id)}"

    def delete_sns_subscription(self, r: Resource, _: Resource | None) -> None:
        sns = self.client("sns")
        try:
            sns.unsubscribe(SubscriptionArn=self._subscription_arn(r))
        except sns.exceptions.NotFoundException:
            pass

    # --- EventBridge -------------------------------------------------------------------------
    def create_events_eventbus(self, r: Resource, prev: Resource | None) -> None:
        events = self.client("events")
        try:
            events.create_event_bus(Name=self.name(r))
        except events.exceptions.ResourceAlreadyExistsException:
            pass

    def delete_events_eventbus(self, r: Resource, _: Resource | None) -> None:
        self.client("events").delete_event_bus(Name=self.name(r))

    def create_events_rule(self, r: Resource, prev: Resource | None) -> None:
        events, p, name = self.client("events"), r.properties, self.name(r)
        bus = str(p.get("EventBusName") or "default").rsplit("/", 1)[-1]
        pattern = p.get("EventPattern")
        events.put_rule(**_drop_none({
            "Name": name, "EventBusName": bus, "ScheduleExpression": p.get("ScheduleExpression"),
            "EventPattern": json.dumps(pattern) if isinstance(pattern, dict) else pattern,
            "State": p.get("State", "ENABLED"), "Description": p.get("Description"), "RoleArn": p.get("RoleArn")}))
        current = [t["Id"] for t in events.list_targets_by_rule(Rule=name, EventBusName=bus)["Targets"]]
        if current:
            events.remove_targets(Rule=name, EventBusName=bus, Ids=current)
        targets = [t for t in p.get("Targets") or [] if isinstance(t, dict) and t.get("Arn")]
        if targets:
            events.put_targets(Rule=name, EventBusName=bus, Targets=[_target(t) for t in targets])

    def delete_events_rule(self, r: Resource, _: Resource | None) -> None:
        events, name = self.client("events"), self.name(r)
        bus = str(r.properties.get("EventBusName") or "default").rsplit("/", 1)[-1]
        try:
            ids = [t["Id"] for t in events.list_targets_by_rule(Rule=name, EventBusName=bus)["Targets"]]
            if ids:
                events.remove_targets(Rule=name, EventBusName=bus, Ids=ids)
            events.delete_rule(Name=name, EventBusName=bus)
        except events.exceptions.ResourceNotFoundException:
            pass

    # --- EventBridge Scheduler -----------------------------------------------------------------
    def create_scheduler_schedulegroup(self, r: Resource, prev: Resource | None) -> None:
        scheduler = self.client("scheduler")
        with contextlib.suppress(scheduler.exceptions.ConflictException):
            scheduler.create_schedule_group(Name=self.name(r))

    def delete_scheduler_schedulegroup(self, r: Resource, _: Resource | None) -> None:
        scheduler = self.client("scheduler")
        with contextlib.suppress(scheduler.exceptions.ResourceNotFoundException):
            scheduler.delete_schedule_group(Name=self.name(r))

    def create_scheduler_schedule(self, r: Resource, prev: Resource | None) -> None:
        scheduler, p, name = self.client("scheduler"), r.properties, self.name(r)
        target = {k: v for k, v in (p.get("Target") or {}).items() if k in (
            "Arn", "RoleArn", "Input", "RetryPolicy", "DeadLetterConfig", "SqsParameters", "EventBridgeParameters")}
        retry = target.get("RetryPolicy") or {}
        if retry:
            target["RetryPolicy"] = {k: _int(v) for k, v in retry.items()}
        args = _drop_none({
            "Name": name, "GroupName": p.get("GroupName"), "ScheduleExpression": p.get("ScheduleExpression"),
            "ScheduleExpressionTimezone": p.get("ScheduleExpressionTimezone"), "State": p.get("State"),
            "FlexibleTimeWindow": _window(p.get("FlexibleTimeWindow")), "Target": target,
            "Description": p.get("Description"), "StartDate": p.get("StartDate"), "EndDate": p.get("EndDate")})
        try:
            scheduler.get_schedule(Name=name, **({"GroupName": args["GroupName"]} if "GroupName" in args else {}))
            scheduler.update_schedule(**args)
        except scheduler.exceptions.ResourceNotFoundException:
            scheduler.create_schedule(**args)

    def delete_scheduler_schedule(self, r: Resource, _: Resource | None) -> None:
        scheduler = self.client("scheduler")
        group = r.properties.get("GroupName")
        with contextlib.suppress(scheduler.exceptions.ResourceNotFoundException):
            scheduler.delete_schedule(Name=self.name(r), **({"GroupName": group} if group else {}))

    # --- Step Functions ----------------------------------------------------------------------
    def _definition(self, r: Resource) -> str:
        p = r.properties
        if isinstance(p.get("DefinitionString"), str):
            text = p["DefinitionString"]
        elif isinstance(p.get("Definition"), dict):
            text = json.dumps(p["Definition"])
        elif isinstance(p.get("DefinitionUri"), str) and not p["DefinitionUri"].startswith("s3://"):
            import yaml

            path = self.project_dir / p["DefinitionUri"]
            try:
                text = json.dumps(yaml.safe_load(path.read_text()))
            except (OSError, yaml.YAMLError) as exc:
                raise DeployError(f"{r.logical_id}: cannot read DefinitionUri {path}: {exc}") from None
        else:
            raise DeployError(f"{r.logical_id}: a state machine needs Definition, DefinitionString or a local "
                              "DefinitionUri")
        for key, value in (p.get("DefinitionSubstitutions") or {}).items():
            text = text.replace("${" + key + "}", str(value))
        return text

    def create_stepfunctions_statemachine(self, r: Resource, prev: Resource | None) -> None:
        sfn, p, name = self.client("stepfunctions"), r.properties, self.name(r)
        arn = cloud.arn(r.type, self.region, self.account, self.stack_name, r.logical_id, name)
        role = p.get("RoleArn") or p.get("Role") or f"arn:aws:iam::{self.account}:role/{name}-Role"
        definition = self._definition(r)
        try:
            sfn.describe_state_machine(stateMachineArn=arn)
            sfn.update_state_machine(stateMachineArn=arn, definition=definition, roleArn=role)
        except sfn.exceptions.StateMachineDoesNotExist:
            sfn.create_state_machine(name=name, definition=definition, roleArn=role,
                                     type=p.get("StateMachineType") or p.get("Type") or "STANDARD")

    create_serverless_statemachine = create_stepfunctions_statemachine

    def delete_stepfunctions_statemachine(self, r: Resource, _: Resource | None) -> None:
        self.client("stepfunctions").delete_state_machine(stateMachineArn=cloud.arn(
            r.type, self.region, self.account, self.stack_name, r.logical_id, self.name(r)))

    delete_serverless_statemachine = delete_stepfunctions_statemachine

    # --- Cognito -----------------------------------------------------------------------------
    def create_cognito_userpool(self, r: Resource, prev: Resource | None) -> None:
        idp, p = self.client("cognito-idp"), r.properties
        pool_id = cloud.user_pool_id(self.region, self.stack_name, r.logical_id)
        try:
            idp.describe_user_pool(UserPoolId=pool_id)
            return  # pool settings are kept; users must survive a redeploy
        except idp.exceptions.ResourceNotFoundException:
            pass
        keys = ("Policies", "AutoVerifiedAttributes", "UsernameAttributes", "AliasAttributes", "Schema",
                "MfaConfiguration", "LambdaConfig", "AdminCreateUserConfig", "UsernameConfiguration",
                "AccountRecoverySetting", "EmailConfiguration", "VerificationMessageTemplate")
        args = {k: p[k] for k in keys if k in p}
        old = idp.create_user_pool(PoolName=self.name(r), **args)["UserPool"]["Id"]
        self.fixup("user_pool_id", old=old, new=pool_id)

    def delete_cognito_userpool(self, r: Resource, _: Resource | None) -> None:
        idp = self.client("cognito-idp")
        try:
            idp.delete_user_pool(UserPoolId=cloud.user_pool_id(self.region, self.stack_name, r.logical_id))
        except idp.exceptions.ResourceNotFoundException:
            pass

    def create_cognito_userpoolclient(self, r: Resource, prev: Resource | None) -> None:
        idp, p = self.client("cognito-idp"), r.properties
        wanted = cloud.client_id(self.stack_name, r.logical_id)
        keys = ("GenerateSecret", "ExplicitAuthFlows", "AllowedOAuthFlows", "AllowedOAuthScopes", "CallbackURLs",
                "LogoutURLs", "SupportedIdentityProviders", "AllowedOAuthFlowsUserPoolClient", "RefreshTokenValidity",
                "AccessTokenValidity", "IdTokenValidity", "TokenValidityUnits", "PreventUserExistenceErrors",
                "ReadAttributes", "WriteAttributes")
        args = {k: p[k] for k in keys if k in p}
        pool = p["UserPoolId"]
        try:
            idp.describe_user_pool_client(UserPoolId=pool, ClientId=wanted)
            args.pop("GenerateSecret", None)
            idp.update_user_pool_client(UserPoolId=pool, ClientId=wanted, ClientName=self.name(r), **args)
            return
        except idp.exceptions.ResourceNotFoundException:
            pass
        old = idp.create_user_pool_client(UserPoolId=pool, ClientName=self.name(r), **args)["UserPoolClient"]["ClientId"]
        self.fixup("user_pool_client_id", pool=pool, old=old, new=wanted)

    def delete_cognito_userpoolclient(self, r: Resource, _: Resource | None) -> None:
        idp = self.client("cognito-idp")
        try:
            idp.delete_user_pool_client(UserPoolId=r.properties["UserPoolId"],
                                        ClientId=cloud.client_id(self.stack_name, r.logical_id))
        except idp.exceptions.ResourceNotFoundException:
            pass


# --- property conversion -----------------------------------------------------------------------
def _tags(tags: Any) -> list[dict[str, str]] | None:
    if isinstance(tags, dict):
        return [{"Key": k, "Value": str(v)} for k, v in tags.items()] or None
    if isinstance(tags, list):
        return [{"Key": t["Key"], "Value": str(t["Value"])} for t in tags if isinstance(t, dict)] or None
    return None


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _bool(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _throughput(value: Any) -> dict[str, int] | None:
    if not isinstance(value, dict):
        return None
    return {"ReadCapacityUnits": _int(value.get("ReadCapacityUnits")) or 1,
            "WriteCapacityUnits": _int(value.get("WriteCapacityUnits")) or 1}


def _target(t: dict[str, Any]) -> dict[str, Any]:
    """A rule target in the PutTargets shape (CloudFormation's numbers may be strings)."""
    out = {k: v for k, v in t.items() if k in ("Id", "Arn", "Input", "InputPath", "RoleArn", "InputTransformer",
                                                 "SqsParameters", "DeadLetterConfig")}
    if isinstance(t.get("RetryPolicy"), dict):
        out["RetryPolicy"] = {k: _int(v) for k, v in t["RetryPolicy"].items()}
    transformer = out.get("InputTransformer")
    if isinstance(transformer, dict) and isinstance(transformer.get("InputPathsMap"), dict):
        out["InputTransformer"] = {**transformer, "InputPathsMap": {k: str(v) for k, v in
                                                                     transformer["InputPathsMap"].items()}}
    return out


def _window(value: Any) -> dict[str, Any]:
    window = dict(value) if isinstance(value, dict) else {"Mode": "OFF"}
    if "MaximumWindowInMinutes" in window:
        window["MaximumWindowInMinutes"] = _int(window["MaximumWindowInMinutes"])
    return window


def _notification(cfg: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's NotificationConfiguration in the S3 API's shape."""
    def with_filter(c: dict[str, Any], out: dict[str, Any]) -> dict[str, Any]:
        rules = ((c.get("Filter") or {}).get("S3Key") or {}).get("Rules") or []
        if rules:
            out["Filter"] = {"Key": {"FilterRules": [{"Name": x["Name"], "Value": x["Value"]} for x in rules]}}
        return out

    out: dict[str, Any] = {}
    for key, api_key, arn_key, api_arn in (("LambdaConfigurations", "LambdaFunctionConfigurations", "Function",
                                            "LambdaFunctionArn"),
                                           ("QueueConfigurations", "QueueConfigurations", "Queue", "QueueArn"),
                                           ("TopicConfigurations", "TopicConfigurations", "Topic", "TopicArn")):
        for c in cfg.get(key) or []:
            out.setdefault(api_key, []).append(with_filter(c, {api_arn: c[arn_key], "Events": [c["Event"]]}))
    if cfg.get("EventBridgeConfiguration") is not None:
        out["EventBridgeConfiguration"] = {}
    return out
