"""Resource types served by the moto backend (S3, DynamoDB, Secrets Manager, ...) and the inert
ones recorded without local effect: their names, Ref and GetAtt values.

These are many types that differ only in a name property, a GetAtt list and an ARN pattern, so
they are table-driven here (one handler per row) rather than one module each; a type that needs
its own expansion, checks or model object gets its own module.

Every identifier is derived deterministically from the stack and logical id, so Ref/GetAtt
resolve to the real values before anything exists, and a redeploy keeps them. The deploy
handlers (samlite.services.moto_backend.deploy_handlers) create each resource under exactly
these identifiers.
"""

from __future__ import annotations

import datetime
import string
from typing import Any

from samlite.template import model
from samlite.template.types.base import Entry, Pipeline, ResourceType
from samlite.template.types.registry import register

# type -> its name property
NAME_PROPERTY = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Serverless::SimpleTable": "TableName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::SSM::Parameter": "Name",
    "AWS::Kinesis::Stream": "Name",
    "AWS::KinesisFirehose::DeliveryStream": "DeliveryStreamName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::SNS::Subscription": "",
    "AWS::Events::EventBus": "Name",
    "AWS::Events::Rule": "Name",
    "AWS::Scheduler::Schedule": "Name",
    "AWS::Scheduler::ScheduleGroup": "Name",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::Serverless::StateMachine": "Name",
    "AWS::Cognito::UserPool": "UserPoolName",
    "AWS::Cognito::UserPoolClient": "ClientName",
}
TYPES = frozenset(NAME_PROPERTY)

# Types with no local effect: recorded with plausible physical ids, no warning.
INERT_TYPES = frozenset({
    "AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::SecurityGroup", "AWS::EC2::SecurityGroupIngress",
    "AWS::EC2::SecurityGroupEgress", "AWS::EC2::InternetGateway", "AWS::EC2::VPCGatewayAttachment",
    "AWS::EC2::RouteTable", "AWS::EC2::Route", "AWS::EC2::SubnetRouteTableAssociation",
    "AWS::EC2::NatGateway", "AWS::EC2::EIP", "AWS::EC2::VPCEndpoint",
    "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy",
    "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy", "AWS::S3::BucketPolicy",
    "AWS::CloudWatch::Alarm",
})

ATTRIBUTES = {k: frozenset(v.split()) for k, v in {
    "AWS::SecretsManager::Secret": "Id",
    "AWS::SSM::Parameter": "Type Value",
    "AWS::Kinesis::Stream": "Arn",
    "AWS::KinesisFirehose::DeliveryStream": "Arn",
    "AWS::Events::EventBus": "Arn Name Policy",
    "AWS::Cognito::UserPool": "Arn ProviderName ProviderURL UserPoolId",
    "AWS::Cognito::UserPoolClient": "ClientId ClientSecret Name",
    "AWS::SNS::Subscription": "Arn",
    "AWS::Scheduler::Schedule": "Arn",
    "AWS::Scheduler::ScheduleGroup": "Arn CreationDate LastModificationDate State",
    "AWS::SNS::Topic": "TopicArn TopicName",
    "AWS::Events::Rule": "Arn",
    "AWS::DynamoDB::Table": "Arn StreamArn",
    "AWS::Serverless::SimpleTable": "Arn StreamArn",
    "AWS::S3::Bucket": "Arn DomainName DualStackDomainName RegionalDomainName WebsiteURL",
    "AWS::StepFunctions::StateMachine": "Arn Name StateMachineRevisionId",
    "AWS::Serverless::StateMachine": "Arn Name",
}.items()}

_MIXED = string.ascii_letters + string.digits


def default_name(stack: str, lid: str, rtype: str) -> str:
    """CloudFormation's generated name; lowercase for buckets."""
    if rtype == "AWS::S3::Bucket":
        return model.physical_name(stack, lid, 63).lower()
    return model.physical_name(stack, lid, 64)


def secret_arn(region: str, account: str, stack: str, lid: str, name: str) -> str:
    return f"arn:aws:secretsmanager:{region}:{account}:secret:{name}-{model.stable_id(f'{stack}/{lid}/secret', 6, _MIXED)}"


def user_pool_id(region: str, stack: str, lid: str) -> str:
    return f"{region}_{model.stable_id(f'{stack}/{lid}/pool', 9, _MIXED)}"


def client_id(stack: str, lid: str) -> str:
    return model.stable_id(f"{stack}/{lid}/client", 26)


def subscription_id(stack: str, lid: str) -> str:
    raw = model.stable_id(f"{stack}/{lid}/subscription", 32, "0123456789abcdef")
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


def stream_clock(stack: str, lid: str) -> float:
    """The moment a table's stream is created under, which fixes its label (and StreamArn)."""
    seconds = int(model.stable_id(f"{stack}/{lid}/stream", 7, "0123456789"))
    return 1704067200 + seconds + 0.123  # 2024-01-01 plus up to ~116 days


def stream_label(stack: str, lid: str) -> str:
    ts = datetime.datetime.fromtimestamp(stream_clock(stack, lid), datetime.timezone.utc)
    return ts.replace(tzinfo=None).isoformat()


def arn(rtype: str, region: str, account: str, stack: str, lid: str, name: str) -> str:
    return {
        "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
        "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{region}:{account}:table/{name}",
        "AWS::Serverless::SimpleTable": f"arn:aws:dynamodb:{region}:{account}:table/{name}",
        "AWS::SecretsManager::Secret": secret_arn(region, account, stack, lid, name),
        "AWS::SSM::Parameter": f"arn:aws:ssm:{region}:{account}:parameter/{name.lstrip('/')}",
        "AWS::Kinesis::Stream": f"arn:aws:kinesis:{region}:{account}:stream/{name}",
        "AWS::KinesisFirehose::DeliveryStream": f"arn:aws:firehose:{region}:{account}:deliverystream/{name}",
        "AWS::SNS::Topic": f"arn:aws:sns:{region}:{account}:{name}",
        "AWS::Events::EventBus": f"arn:aws:events:{region}:{account}:event-bus/{name}",
        "AWS::Events::Rule": f"arn:aws:events:{region}:{account}:rule/{name}",
        "AWS::Scheduler::ScheduleGroup": f"arn:aws:scheduler:{region}:{account}:schedule-group/{name}",
        "AWS::StepFunctions::StateMachine": f"arn:aws:states:{region}:{account}:stateMachine:{name}",
        "AWS::Serverless::StateMachine": f"arn:aws:states:{region}:{account}:stateMachine:{name}",
        "AWS::Cognito::UserPool":
            f"arn:aws:cognito-idp:{region}:{account}:userpool/{user_pool_id(region, stack, lid)}",
    }.get(rtype, "")


# --- the resolver's hooks ------------------------------------------------------------------
def ref(b: Pipeline, lid: str) -> Any:
    entry = b.entries[lid]
    ctx = b.context
    rtype = entry.type
    if rtype == "AWS::SecretsManager::Secret":
        return secret_arn(ctx.region, ctx.account_id, ctx.stack_name, lid, b.physical_name(lid))
    if rtype == "AWS::Cognito::UserPool":
        return user_pool_id(ctx.region, ctx.stack_name, lid)
    if rtype == "AWS::Cognito::UserPoolClient":
        return client_id(ctx.stack_name, lid)
    if rtype in ("AWS::SNS::Topic", "AWS::StepFunctions::StateMachine", "AWS::Serverless::StateMachine"):
        return getatt(b, lid, "Arn")
    if rtype == "AWS::SNS::Subscription":
        return getatt(b, lid, "Arn")
    return b.physical_name(lid)


def getatt(b: Pipeline, lid: str, attr: str) -> Any:
    entry = b.entries[lid]
    ctx = b.context
    rtype = entry.type
    name = b.physical_name(lid)
    the_arn = arn(rtype, ctx.region, ctx.account_id, ctx.stack_name, lid, name)
    if rtype == "AWS::SNS::Subscription":
        topic = (entry.resolved or {}).get("TopicArn") or b.resolve_property(lid, "TopicArn")
        return f"{topic}:{subscription_id(ctx.stack_name, lid)}"
    if rtype == "AWS::Scheduler::Schedule" and attr == "Arn":
        group = b.resolve_property(lid, "GroupName")
        return f"arn:aws:scheduler:{ctx.region}:{ctx.account_id}:schedule/{group or 'default'}/{name}"
    if attr in ("Arn", "TopicArn"):
        return the_arn
    if attr == "StreamArn":
        return f"{the_arn}/stream/{stream_label(ctx.stack_name, lid)}"
    if attr in ("Name", "TopicName"):
        return name
    if attr == "Id":
        return ref(b, lid)
    if rtype == "AWS::S3::Bucket":
        if attr == "WebsiteURL":
            return f"http://{name}.s3-website-{ctx.region}.amazonaws.com"
        return f"{name}.s3.{ctx.region}.amazonaws.com" if attr == "RegionalDomainName" else f"{name}.s3.amazonaws.com"
    if rtype == "AWS::SSM::Parameter":
        value = b.resolve_property(lid, attr)
        return value if attr == "Value" else (value or "String")
    if rtype == "AWS::Cognito::UserPool":
        pool = user_pool_id(ctx.region, ctx.stack_name, lid)
        url = f"cognito-idp.{ctx.region}.amazonaws.com/{pool}"
        return {"UserPoolId": pool, "ProviderName": url, "ProviderURL": f"https://{url}"}[attr]
    if rtype == "AWS::Cognito::UserPoolClient":
        return client_id(ctx.stack_name, lid) if attr == "ClientId" else name if attr == "Name" else ""
    if rtype == "AWS::Events::EventBus" and attr == "Policy":
        return ""
    return f"{name}.{attr}"


class CloudType(ResourceType):
    """A moto-backed type: deterministic names and identifiers (one row of the tables above)."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name
        self.name_property = NAME_PROPERTY[type_name] or None
        self.attributes = ATTRIBUTES.get(type_name)

    def default_name(self, b: Pipeline, entry: Entry) -> str:
        return default_name(b.context.stack_name, entry.logical_id, self.type_name)

    def ref(self, b: Pipeline, entry: Entry) -> Any:
        return ref(b, entry.logical_id)

    def get_att(self, b: Pipeline, entry: Entry, attr: str) -> Any:
        return getatt(b, entry.logical_id, attr)


class InertType(ResourceType):
    """Recorded with a plausible physical id and no local effect, without a warning."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name


for _type in sorted(TYPES):
    register(CloudType(_type))
for _type in sorted(INERT_TYPES):
    register(InertType(_type))
