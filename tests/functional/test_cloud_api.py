"""The services moto answers behind the AWS endpoint: a boto3 round trip per service, S3's
addressing styles and presigned URLs, error shapes, size limits and unknown operations."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from samlite.testing import EngineHandle, signed_headers


def test_s3_round_trip_and_presigned_urls(engine: EngineHandle) -> None:
    s3 = engine.client("s3")
    s3.create_bucket(Bucket="rt-bucket")
    s3.put_object(Bucket="rt-bucket", Key="dir/a b.txt", Body=b"hello", ContentType="text/plain")
    got = s3.get_object(Bucket="rt-bucket", Key="dir/a b.txt")
    assert got["Body"].read() == b"hello" and got["ContentType"] == "text/plain"
    assert s3.head_object(Bucket="rt-bucket", Key="dir/a b.txt")["ContentLength"] == 5
    with pytest.raises(ClientError) as missing:  # a HEAD's 404 has no body: still a 404, not "not implemented"
        s3.head_object(Bucket="rt-bucket", Key="no-such-key")
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="rt-bucket", Prefix="dir/")["Contents"]] == ["dir/a b.txt"]
    assert "rt-bucket" in [b["Name"] for b in s3.list_buckets()["Buckets"]]

    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": "rt-bucket", "Key": "signed"})
    assert requests.put(put_url, data=b"via presigned", timeout=30).status_code == 200
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": "rt-bucket", "Key": "signed"})
    r = requests.get(get_url, timeout=30)
    assert r.status_code == 200 and r.content == b"via presigned"

    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket="rt-bucket", Key="missing")
    assert err.value.response["Error"]["Code"] == "NoSuchKey"


def test_s3_virtual_hosted_style(engine: EngineHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    """Virtual-hosted style: `<bucket>.localhost:PORT`, signed and presigned."""
    real = socket.getaddrinfo

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        # This machine's resolver does not map *.localhost to loopback (many do); the client's concern.
        return real("127.0.0.1" if str(host).endswith(".localhost") else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    port = urlsplit(engine.aws_url).port
    s3 = boto3.client("s3", endpoint_url=f"http://localhost:{port}", region_name="us-east-1",
                      aws_access_key_id="samlite", aws_secret_access_key="samlite-secret",
                      config=Config(s3={"addressing_style": "virtual"}))
    s3.create_bucket(Bucket="vhost-bucket")
    s3.put_object(Bucket="vhost-bucket", Key="obj.txt", Body=b"virtual")
    assert s3.get_object(Bucket="vhost-bucket", Key="obj.txt")["Body"].read() == b"virtual"
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "vhost-bucket", "Key": "obj.txt"})
    assert urlsplit(url).hostname == "vhost-bucket.localhost"
    assert requests.get(url, timeout=30).content == b"virtual"
    # The same object, path style.
    assert engine.client("s3").get_object(Bucket="vhost-bucket", Key="obj.txt")["Body"].read() == b"virtual"


def test_s3_errors_are_s3_xml(engine: EngineHandle) -> None:
    url = engine.aws_url + "/no-such-bucket-here/key"
    r = requests.get(url, headers=signed_headers("GET", url, service="s3"), timeout=30)
    assert r.status_code == 404 and b"<Code>NoSuchBucket</Code>" in r.content
    # Unsigned, it is refused before it reaches S3, as every unsigned call to the endpoint is.
    assert requests.get(url, timeout=30).status_code == 403
    # A declared size over S3's 5 GB single-PUT limit is refused before any body is read.
    port = urlsplit(engine.aws_url).port
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.putrequest("PUT", "/rt-big/huge")
    conn.putheader("Content-Length", str(6 * 1024**3))
    # A signature of any key passes (SAMLITE_VERIFY_SIGV4 is not 1); the size is what is refused.
    conn.putheader("Authorization", "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, "
                                    "SignedHeaders=host, Signature=00")
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 400 and b"<Code>EntityTooLarge</Code>" in resp.read()


def test_dynamodb_round_trip_and_streams(engine: EngineHandle) -> None:
    ddb = engine.client("dynamodb")
    ddb.create_table(
        TableName="rt-table", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    ddb.put_item(TableName="rt-table", Item={"pk": {"S": "a"}, "n": {"N": "1"}})
    assert ddb.get_item(TableName="rt-table", Key={"pk": {"S": "a"}})["Item"]["n"] == {"N": "1"}
    assert ddb.scan(TableName="rt-table")["Count"] == 1
    stream_arn = ddb.describe_table(TableName="rt-table")["Table"]["LatestStreamArn"]

    streams = engine.client("dynamodbstreams")
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard,
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = streams.get_records(ShardIterator=it)["Records"]
    assert records[0]["eventName"] == "INSERT"

    with pytest.raises(ClientError) as err:
        ddb.put_item(TableName="rt-table", Item={"pk": {"S": "big"}, "blob": {"S": "x" * 410_000}})
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert "size" in err.value.response["Error"]["Message"].lower()


def test_json_protocol_errors_and_unknown_operations(engine: EngineHandle) -> None:
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.NoSuchThing",
               "Authorization": "AWS4-HMAC-SHA256 Credential=samlite/20240101/us-east-1/dynamodb/aws4_request, "
                                "SignedHeaders=host, Signature=00"}
    r = requests.post(engine.aws_url + "/", data=b"{}", headers=headers, timeout=30)
    assert r.status_code == 400 and "UnknownOperation" in r.json()["__type"]
    headers["X-Amz-Target"] = "DynamoDB_20120810.GetItem"
    r = requests.post(engine.aws_url + "/", data=b"{not json", headers=headers, timeout=30)
    assert 400 <= r.status_code < 500 and "__type" in r.json()
    # The engine is still fine.
    assert engine.client("dynamodb").list_tables()["TableNames"] is not None


def test_query_protocol_unknown_action(engine: EngineHandle) -> None:
    r = requests.post(engine.aws_url + "/", data={"Action": "NoSuchAction", "Version": "2010-03-31"}, timeout=30,
                      headers={"Authorization": "AWS4-HMAC-SHA256 Credential=samlite/20240101/us-east-1/sns/"
                                                "aws4_request, SignedHeaders=host, Signature=00"})
    assert r.status_code == 400 and b"<Code>InvalidAction</Code>" in r.content


def test_secrets_ssm_kms_sts(engine: EngineHandle) -> None:
    sm = engine.client("secretsmanager")
    arn = sm.create_secret(Name="rt/secret", SecretString="s3cr3t")["ARN"]
    assert sm.get_secret_value(SecretId=arn)["SecretString"] == "s3cr3t"
    ssm = engine.client("ssm")
    ssm.put_parameter(Name="/rt/param", Value="v1", Type="String")
    assert ssm.get_parameter(Name="/rt/param")["Parameter"]["Value"] == "v1"
    kms = engine.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"plain")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"plain"
    assert engine.client("sts").get_caller_identity()["Account"] == "123456789012"


def test_kinesis_firehose_sns_events(engine: EngineHandle) -> None:
    kinesis = engine.client("kinesis")
    kinesis.create_stream(StreamName="rt-stream", ShardCount=1)
    kinesis.put_record(StreamName="rt-stream", Data=b"rec", PartitionKey="p")
    shard = kinesis.describe_stream(StreamName="rt-stream")["StreamDescription"]["Shards"][0]["ShardId"]
    it = kinesis.get_shard_iterator(StreamName="rt-stream", ShardId=shard,
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert kinesis.get_records(ShardIterator=it)["Records"][0]["Data"] == b"rec"

    engine.client("s3").create_bucket(Bucket="rt-firehose-dest")
    firehose = engine.client("firehose")
    firehose.create_delivery_stream(DeliveryStreamName="rt-fh", ExtendedS3DestinationConfiguration={
        "RoleARN": "arn:aws:iam::123456789012:role/fh", "BucketARN": "arn:aws:s3:::rt-firehose-dest"})
    firehose.put_record(DeliveryStreamName="rt-fh", Record={"Data": b"line\n"})
    assert "rt-fh" in firehose.list_delivery_streams()["DeliveryStreamNames"]

    sns = engine.client("sns")
    topic = sns.create_topic(Name="rt-topic")["TopicArn"]
    assert sns.publish(TopicArn=topic, Message="hi")["MessageId"]
    assert topic in [t["TopicArn"] for t in sns.list_topics()["Topics"]]

    events = engine.client("events")
    events.create_event_bus(Name="rt-bus")
    events.put_rule(Name="rt-rule", EventBusName="rt-bus", EventPattern=json.dumps({"source": ["app"]}))
    out = events.put_events(Entries=[{"Source": "app", "DetailType": "t", "Detail": "{}", "EventBusName": "rt-bus"}])
    assert out["FailedEntryCount"] == 0
    assert [r["Name"] for r in events.list_rules(EventBusName="rt-bus")["Rules"]] == ["rt-rule"]


def test_stepfunctions_ses_cognito(engine: EngineHandle) -> None:
    sfn = engine.client("stepfunctions")
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
    arn = sfn.create_state_machine(name="rt-sm", definition=definition,
                                   roleArn="arn:aws:iam::123456789012:role/sfn")["stateMachineArn"]
    assert sfn.describe_state_machine(stateMachineArn=arn)["definition"] == definition

    ses = engine.client("ses")
    ses.verify_email_identity(EmailAddress="from@example.com")
    ses.send_email(Source="from@example.com", Destination={"ToAddresses": ["to@example.com"]},
                   Message={"Subject": {"Data": "Hi"}, "Body": {"Text": {"Data": "Body"}}})
    assert ses.get_send_quota()["SentLast24Hours"] >= 1  # the mail itself: test_cli_listings

    idp = engine.client("cognito-idp")
    pool = idp.create_user_pool(PoolName="rt-pool")["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(UserPoolId=pool, ClientName="web")["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=pool, Username="alice")
    assert [u["Username"] for u in idp.list_users(UserPoolId=pool)["Users"]] == ["alice"]
    assert client_id


def test_samlite_services_still_answer(engine: EngineHandle) -> None:
    """The fallback must not take samlite's own services."""
    sqs = engine.client("sqs")
    url = sqs.create_queue(QueueName="rt-own-queue")["QueueUrl"]
    assert url.endswith("/rt-own-queue")
    assert engine.client("lambda").list_functions()["Functions"] == []


def _aws(engine: EngineHandle, *args: str, cwd: Any = None) -> str:
    result = subprocess.run([sys.executable, "-m", "awscli", "--endpoint-url", engine.aws_url, *args],
                            env=engine.env, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_aws_cli_s3_and_dynamodb(engine: EngineHandle, tmp_path: Any) -> None:
    (tmp_path / "up.txt").write_text("from the aws cli")
    _aws(engine, "s3", "mb", "s3://cli-bucket")
    _aws(engine, "s3", "cp", str(tmp_path / "up.txt"), "s3://cli-bucket/dir/up.txt")
    assert "dir/up.txt" in _aws(engine, "s3", "ls", "--recursive", "s3://cli-bucket")
    _aws(engine, "s3", "cp", "s3://cli-bucket/dir/up.txt", str(tmp_path / "down.txt"))
    assert (tmp_path / "down.txt").read_text() == "from the aws cli"

    _aws(engine, "dynamodb", "create-table", "--table-name", "cli-table", "--billing-mode", "PAY_PER_REQUEST",
         "--key-schema", "AttributeName=id,KeyType=HASH", "--attribute-definitions", "AttributeName=id,AttributeType=S")
    _aws(engine, "dynamodb", "put-item", "--table-name", "cli-table", "--item", '{"id": {"S": "1"}, "v": {"N": "7"}}')
    got = json.loads(_aws(engine, "dynamodb", "get-item", "--table-name", "cli-table", "--key", '{"id": {"S": "1"}}'))
    assert got["Item"]["v"] == {"N": "7"}


def test_cli_listings(engine: EngineHandle) -> None:
    engine.client("s3").create_bucket(Bucket="listed-bucket")
    engine.client("s3").put_object(Bucket="listed-bucket", Key="k", Body=b"12345")
    buckets = json.loads(engine.cli("list", "buckets", "--output", "json", check=True).stdout)
    row = next(b for b in buckets if b["name"] == "listed-bucket")
    assert (row["objects"], row["bytes"], row["stack"]) == (1, 5, None)
    tables = json.loads(engine.cli("list", "tables", "--output", "json", check=True).stdout)
    assert all("name" in t and "keys" in t for t in tables)
    ses = engine.client("ses")
    ses.verify_email_identity(EmailAddress="list@example.com")
    ses.send_email(Source="list@example.com", Destination={"ToAddresses": ["someone@example.com"]},
                   Message={"Subject": {"Data": "Listed"}, "Body": {"Text": {"Data": "Body"}}})
    emails = json.loads(engine.cli("list", "emails", "--output", "json", check=True).stdout)
    assert any(e["subject"] == "Listed" and e["to"] == "someone@example.com" for e in emails), emails
    text = engine.cli("list", "buckets", check=True).stdout
    assert "listed-bucket" in text


def test_backend_failure_is_a_500_with_request_id(engine: EngineHandle) -> None:
    """A call moto fails on (here: PutItem without Item) answers 500 with a request id and a log
    line; the engine keeps serving."""
    engine.client("dynamodb").create_table(
        TableName="crash-table", BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.PutItem",
               "Authorization": "AWS4-HMAC-SHA256 Credential=samlite/20240101/us-east-1/dynamodb/aws4_request, "
                                "SignedHeaders=host, Signature=00"}
    r = requests.post(engine.aws_url + "/", data=b'{"TableName": "crash-table"}', headers=headers, timeout=30)
    rid = r.headers["x-amzn-requestid"]
    assert r.status_code == 500 and r.json()["__type"] == "InternalFailure" and rid in r.json()["message"]
    assert f"request id {rid}" in engine.log_tail(400)
    assert "crash-table" in engine.client("dynamodb").list_tables()["TableNames"]


def test_sigv4_verified_when_enabled(tmp_path: Any) -> None:
    """With SAMLITE_VERIFY_SIGV4 the moto-backed services check signatures too."""
    handle = EngineHandle(tmp_path / "home", extra_env={"SAMLITE_VERIFY_SIGV4": "1"}).start()
    try:
        s3 = handle.client("s3")
        s3.create_bucket(Bucket="signed-bucket")
        s3.put_object(Bucket="signed-bucket", Key="k", Body=b"v")
        # Only SigV4 is verified: presign with s3v4 (boto3's S3 default presigner is SigV2).
        v4 = boto3.client("s3", endpoint_url=handle.aws_url, region_name="us-east-1", aws_access_key_id="samlite",
                          aws_secret_access_key="samlite-secret", config=Config(signature_version="s3v4"))
        url = v4.generate_presigned_url("get_object", Params={"Bucket": "signed-bucket", "Key": "k"})
        assert requests.get(url, timeout=30).content == b"v"
        bad = boto3.client("dynamodb", endpoint_url=handle.aws_url, region_name="us-east-1",
                           aws_access_key_id="samlite", aws_secret_access_key="wrong",
                           config=Config(retries={"max_attempts": 1}))
        with pytest.raises(ClientError) as err:
            bad.list_tables()
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert requests.get(handle.aws_url + "/signed-bucket/k", timeout=30).status_code == 403
    finally:
        handle.close()
