"""Template resources served by the moto backend: a stack with a bucket, a table (stream on), a
secret, a parameter and a Kinesis stream deploys with no "not emulated" warning; its function
uses each through the injected AWS_ENDPOINT_URL; update, delete, Retain and a non-empty bucket."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from samlite.testing import EngineHandle, write_project

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      NotificationConfiguration:
        TopicConfigurations:
          - {Event: 's3:ObjectCreated:*', Topic: !Ref Topic}
  Topic:
    Type: AWS::SNS::Topic
  Table:
    Type: AWS::DynamoDB::Table
    DeletionPolicy: Retain
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: pk, AttributeType: S}
        - {AttributeName: sk, AttributeType: S}
        - {AttributeName: gsi, AttributeType: S}
      KeySchema:
        - {AttributeName: pk, KeyType: HASH}
        - {AttributeName: sk, KeyType: RANGE}
      GlobalSecondaryIndexes:
        - IndexName: byGsi
          KeySchema: [{AttributeName: gsi, KeyType: HASH}]
          Projection: {ProjectionType: ALL}
      StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}
      TimeToLiveSpecification: {AttributeName: expires, Enabled: true}
  Secret:
    Type: AWS::SecretsManager::Secret
    Properties:
      GenerateSecretString:
        SecretStringTemplate: '{"username": "admin"}'
        GenerateStringKey: password
        PasswordLength: 20
        ExcludePunctuation: true
  Param:
    Type: AWS::SSM::Parameter
    Properties: {Type: String, Value: PARAM_VALUE}
  Stream:
    Type: AWS::Kinesis::Stream
    Properties: {ShardCount: 1}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src/
      Timeout: 30
      Environment:
        Variables:
          BUCKET: !Ref Bucket
          TABLE: !Ref Table
          STREAM_ARN: !GetAtt Table.StreamArn
          SECRET: !Ref Secret
          PARAM: !Ref Param
          KINESIS: !Ref Stream
Outputs:
  BucketName: {Value: !Ref Bucket}
  TableStreamArn: {Value: !GetAtt Table.StreamArn}
  SecretArn: {Value: !Ref Secret}
  KinesisArn: {Value: !GetAtt Stream.Arn}
"""

# Plain boto3 as on Lambda: no endpoint in the code, the runtime's AWS_ENDPOINT_URL points it here.
APP = """\
import json, os
import boto3

def handler(event, context):
    s3, ddb = boto3.client("s3"), boto3.client("dynamodb")
    s3.put_object(Bucket=os.environ["BUCKET"], Key="from-fn.txt", Body=b"written by the function")
    body = s3.get_object(Bucket=os.environ["BUCKET"], Key="from-fn.txt")["Body"].read().decode()
    ddb.put_item(TableName=os.environ["TABLE"], Item={"pk": {"S": "a"}, "sk": {"S": "1"}, "gsi": {"S": "g"}})
    item = ddb.get_item(TableName=os.environ["TABLE"], Key={"pk": {"S": "a"}, "sk": {"S": "1"}})["Item"]
    stream = ddb.describe_table(TableName=os.environ["TABLE"])["Table"]["LatestStreamArn"]
    secret = json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=os.environ["SECRET"])["SecretString"])
    param = boto3.client("ssm").get_parameter(Name=os.environ["PARAM"])["Parameter"]["Value"]
    seq = boto3.client("kinesis").put_record(StreamName=os.environ["KINESIS"], Data=b"x", PartitionKey="p")
    return {"body": body, "item": item["gsi"]["S"], "stream_matches": stream == os.environ["STREAM_ARN"],
            "username": secret["username"], "password_len": len(secret["password"]), "param": param,
            "kinesis_shard": seq["ShardId"]}
"""


def deploy(engine: EngineHandle, root: Path, param: str, update: bool = False) -> Any:
    text = TEMPLATE.replace("PARAM_VALUE", param)
    if update:  # the Kinesis stream goes, an inert policy comes
        for gone in ("  Stream:\n    Type: AWS::Kinesis::Stream\n    Properties: {ShardCount: 1}\n",
                     "          KINESIS: !Ref Stream\n", "  KinesisArn: {Value: !GetAtt Stream.Arn}\n"):
            assert gone in text
            text = text.replace(gone, "")
        text = text.replace("  Fn:\n", POLICY + "  Fn:\n")
    template = write_project(root, text, {"src/app.py": APP})
    engine.cli("build", cwd=root, check=True)
    return engine.deploy(template, "cloudapp")


def invoke(engine: EngineHandle) -> dict[str, Any]:
    rows = json.loads(engine.cli("list", "functions", "--output", "json", check=True).stdout)
    name = next(r["name"] for r in rows if r["logical_id"] == "Fn")
    out = engine.client("lambda").invoke(FunctionName=name)
    payload = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, payload
    return payload


def test_cloud_stack_lifecycle(samlite_engine: EngineHandle, tmp_path: Path) -> None:
    engine = samlite_engine
    first = deploy(engine, tmp_path, "v1")
    assert "not emulated" not in first.stderr + first.stdout

    out = engine.outputs("cloudapp")
    bucket = out["BucketName"]
    assert bucket == bucket.lower() and bucket.startswith("cloudapp-bucket-")
    ddb, sm, s3 = engine.client("dynamodb"), engine.client("secretsmanager"), engine.client("s3")
    tables = [t for t in ddb.list_tables()["TableNames"] if t.startswith("cloudapp-Table-")]
    assert len(tables) == 1
    table = ddb.describe_table(TableName=tables[0])["Table"]
    assert table["LatestStreamArn"] == out["TableStreamArn"]  # Ref/GetAtt are the real values
    assert [ix["IndexName"] for ix in table["GlobalSecondaryIndexes"]] == ["byGsi"]
    assert ddb.describe_time_to_live(TableName=tables[0])["TimeToLiveDescription"]["AttributeName"] == "expires"
    assert sm.describe_secret(SecretId=out["SecretArn"])["ARN"] == out["SecretArn"]
    assert engine.client("kinesis").describe_stream_summary(
        StreamName=out["KinesisArn"].rsplit("/", 1)[1])["StreamDescriptionSummary"]["StreamARN"] == out["KinesisArn"]
    topics = s3.get_bucket_notification_configuration(Bucket=bucket)["TopicConfigurations"]
    assert topics[0]["TopicArn"].startswith("arn:aws:sns:us-east-1:123456789012:cloudapp-Topic-")

    result = invoke(engine)
    assert result == {"body": "written by the function", "item": "g", "stream_matches": True,
                      "username": "admin", "password_len": 20, "param": "v1", "kinesis_shard": "shardId-000000000000"}
    password = json.loads(sm.get_secret_value(SecretId=out["SecretArn"])["SecretString"])["password"]

    # Update: the parameter changes, the stream goes, an inert policy appears; names and the
    # generated password stay.
    second = deploy(engine, tmp_path, "v2", update=True)
    assert "not emulated" not in second.stderr + second.stdout
    assert engine.outputs("cloudapp")["BucketName"] == bucket
    assert engine.client("ssm").get_parameter(Name=param_name(engine))["Parameter"]["Value"] == "v2"
    assert json.loads(sm.get_secret_value(SecretId=out["SecretArn"])["SecretString"])["password"] == password
    assert not [s for s in engine.client("kinesis").list_streams()["StreamNames"] if s.startswith("cloudapp-")]
    rows = {r["logical_id"]: r for r in json.loads(engine.cli("list", "resources", "--output", "json",
                                                              check=True).stdout)}
    assert rows["Policy"]["status"] == "RECORDED" and rows["Table"]["status"] == "CREATE_COMPLETE"
    typed = json.loads(engine.cli("list", "resources", "--type", "S3::Bucket", "--output", "json", check=True).stdout)
    assert [r["logical_id"] for r in typed] == ["Bucket"]
    listed = json.loads(engine.cli("list", "buckets", "--stack-name", "cloudapp", "--output", "json", check=True).stdout)
    assert [(b["name"], b["stack"], b["objects"]) for b in listed] == [(bucket, "cloudapp", 1)]

    # Delete: a non-empty bucket stops it, as on AWS; emptied, the stack goes but the Retain table stays.
    failed = engine.cli("delete", "--stack-name", "cloudapp", "--no-prompts")
    assert failed.returncode != 0 and "not empty" in failed.stderr + failed.stdout
    s3.delete_object(Bucket=bucket, Key="from-fn.txt")
    engine.cli("delete", "--stack-name", "cloudapp", "--no-prompts", check=True)
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert ddb.get_item(TableName=tables[0], Key={"pk": {"S": "a"}, "sk": {"S": "1"}})["Item"]["gsi"] == {"S": "g"}
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.describe_secret(SecretId=out["SecretArn"])


POLICY = """\
  Policy:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument: {Version: '2012-10-17', Statement: []}
"""


def param_name(engine: EngineHandle) -> str:
    rows = json.loads(engine.cli("list", "resources", "--output", "json", check=True).stdout)
    return next(r["physical_id"] for r in rows if r["logical_id"] == "Param")


FAMILIES = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Simple:
    Type: AWS::Serverless::SimpleTable
    Properties:
      PrimaryKey: {Name: orderId, Type: String}
  Topic:
    Type: AWS::SNS::Topic
    Properties: {DisplayName: Orders}
  Sub:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref Topic
      Protocol: email
      Endpoint: ops@example.com
      FilterPolicy: {kind: [big]}
  Bus:
    Type: AWS::Events::EventBus
    Properties: {Name: orders-bus}
  Rule:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !Ref Bus
      EventPattern: {source: [orders]}
      Targets: [{Id: fn, Arn: !GetAtt Fn.Arn}]
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: machine.json
      DefinitionSubstitutions: {FnArn: !GetAtt Fn.Arn}
  RawMachine:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      RoleArn: arn:aws:iam::123456789012:role/sfn
      Definition: {StartAt: P, States: {P: {Type: Pass, End: true}}}
  Pool:
    Type: AWS::Cognito::UserPool
    Properties: {UserPoolName: orders-users, AutoVerifiedAttributes: [email]}
  PoolClient:
    Type: AWS::Cognito::UserPoolClient
    Properties: {UserPoolId: !Ref Pool, ExplicitAuthFlows: [ALLOW_USER_PASSWORD_AUTH, ALLOW_REFRESH_TOKEN_AUTH]}
  Archive:
    Type: AWS::S3::Bucket
  Firehose:
    Type: AWS::KinesisFirehose::DeliveryStream
    Properties:
      DeliveryStreamType: DirectPut
      ExtendedS3DestinationConfiguration:
        BucketARN: !GetAtt Archive.Arn
        RoleARN: arn:aws:iam::123456789012:role/firehose
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: 10.0.0.0/16}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src/
      Events:
        Nightly:
          Type: Schedule
          Properties: {Schedule: rate(1 day)}
Outputs:
  Topic: {Value: !Ref Topic}
  Sub: {Value: !Ref Sub}
  Machine: {Value: !Ref Machine}
  Pool: {Value: !Ref Pool}
  PoolClient: {Value: !Ref PoolClient}
  Firehose: {Value: !GetAtt Firehose.Arn}
  Simple: {Value: !Ref Simple}
"""


def test_every_resource_family(samlite_engine: EngineHandle, tmp_path: Path) -> None:
    engine = samlite_engine
    machine = {"StartAt": "Call", "States": {"Call": {"Type": "Task", "Resource": "${FnArn}", "End": True}}}
    template = write_project(tmp_path, FAMILIES, {"src/app.py": "def handler(e, c):\n    return 1\n",
                                                  "machine.json": json.dumps(machine)})
    engine.cli("build", cwd=tmp_path, check=True)
    engine.deploy(template, "families")
    out = engine.outputs("families")

    assert engine.client("dynamodb").describe_table(TableName=out["Simple"])["Table"]["KeySchema"] == [
        {"AttributeName": "orderId", "KeyType": "HASH"}]
    sns = engine.client("sns")
    subs = sns.list_subscriptions_by_topic(TopicArn=out["Topic"])["Subscriptions"]
    assert [(s["SubscriptionArn"], s["Endpoint"]) for s in subs] == [(out["Sub"], "ops@example.com")]
    events = engine.client("events")
    targets = events.list_targets_by_rule(Rule=resource(engine, "families", "Rule"), EventBusName="orders-bus")
    assert targets["Targets"][0]["Arn"].startswith("arn:aws:lambda:us-east-1:123456789012:function:families-Fn-")
    sfn = engine.client("stepfunctions")
    definition = json.loads(sfn.describe_state_machine(stateMachineArn=out["Machine"])["definition"])
    assert definition["States"]["Call"]["Resource"].startswith("arn:aws:lambda:")  # substituted
    assert len(sfn.list_state_machines()["stateMachines"]) == 2
    idp = engine.client("cognito-idp")
    assert idp.describe_user_pool(UserPoolId=out["Pool"])["UserPool"]["Name"] == "orders-users"
    client = idp.describe_user_pool_client(UserPoolId=out["Pool"], ClientId=out["PoolClient"])["UserPoolClient"]
    assert "ALLOW_USER_PASSWORD_AUTH" in client["ExplicitAuthFlows"]
    firehose = engine.client("firehose")
    name = out["Firehose"].rsplit("/", 1)[1]
    assert firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"][
        "DeliveryStreamARN"] == out["Firehose"]
    assert resource_row(engine, "families", "Vpc")["status"] == "RECORDED"

    # The same state after a restart (journal replay, fixups included), then a clean delete.
    engine.kill()
    engine.start()
    idp = engine.client("cognito-idp")  # the restarted engine listens on a new port
    assert idp.describe_user_pool_client(UserPoolId=out["Pool"], ClientId=out["PoolClient"]) is not None
    assert [s["SubscriptionArn"] for s in engine.client("sns").list_subscriptions_by_topic(
        TopicArn=out["Topic"])["Subscriptions"]] == [out["Sub"]]
    engine.cli("delete", "--stack-name", "families", "--no-prompts", check=True)
    assert engine.client("stepfunctions").list_state_machines()["stateMachines"] == []
    assert engine.client("cognito-idp").list_user_pools(MaxResults=10)["UserPools"] == []
    assert engine.client("dynamodb").list_tables()["TableNames"] == []


def resource_row(engine: EngineHandle, stack: str, lid: str) -> dict[str, Any]:
    rows = json.loads(engine.cli("list", "resources", "--stack-name", stack, "--output", "json", check=True).stdout)
    return next(r for r in rows if r["logical_id"] == lid)


def resource(engine: EngineHandle, stack: str, lid: str) -> str:
    return resource_row(engine, stack, lid)["physical_id"]


@pytest.mark.parametrize("properties, message", [
    ("{}", "the required property KeySchema is missing"),
    ("{KeySchema: [{AttributeName: pk, KeyType: HASH}], AttributeDefinitions: pk}", "AttributeDefinitions"),
])
def test_a_malformed_table_fails_the_deploy_clearly(samlite_engine: EngineHandle, tmp_path: Path,
                                                    properties: str, message: str) -> None:
    template = write_project(tmp_path, "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Table:\n"
                                       f"    Type: AWS::DynamoDB::Table\n    Properties: {properties}\n", {})
    result = samlite_engine.cli("deploy", "-t", str(template), "--stack-name", "badtable", "--no-confirm-changeset")
    assert result.returncode == 1
    assert "Table:" in result.stderr and message in result.stderr and "Traceback" not in result.stderr
    assert "Table" not in samlite_engine.cli("list", "tables", "-o", "json", check=True).stdout
