"""moto's state survives a SIGKILL: acknowledged S3 objects and DynamoDB items are there after a
restart, with the same generated ids, both from the journal alone and after a snapshot."""

from __future__ import annotations

from pathlib import Path

import pytest

from samlite.testing import EngineHandle

BIG = bytes(range(256)) * 8192  # 2 MB


def _write(engine: EngineHandle, n: int) -> tuple[str, str]:
    s3 = engine.client("s3")
    ddb = engine.client("dynamodb")
    s3.create_bucket(Bucket="durable-bucket")
    ddb.create_table(TableName="durable", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    for i in range(n):
        s3.put_object(Bucket="durable-bucket", Key=f"obj-{i}", Body=f"body-{i}".encode())
        ddb.put_item(TableName="durable", Item={"pk": {"S": f"item-{i}"}, "n": {"N": str(i)}})
    s3.put_object(Bucket="durable-bucket", Key="big", Body=BIG)  # journalled as a blob file
    s3.delete_object(Bucket="durable-bucket", Key="obj-0")
    ddb.delete_item(TableName="durable", Key={"pk": {"S": "item-0"}})
    secret_arn = engine.client("secretsmanager").create_secret(Name="durable/s", SecretString="x")["ARN"]
    stream_arn = ddb.describe_table(TableName="durable")["Table"]["LatestStreamArn"]
    return secret_arn, stream_arn


def _check(engine: EngineHandle, n: int, secret_arn: str, stream_arn: str) -> None:
    s3 = engine.client("s3")
    ddb = engine.client("dynamodb")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="durable-bucket", Prefix="obj-")["Contents"])
    assert keys == sorted(f"obj-{i}" for i in range(1, n))
    assert s3.get_object(Bucket="durable-bucket", Key=f"obj-{n - 1}")["Body"].read() == f"body-{n - 1}".encode()
    assert s3.get_object(Bucket="durable-bucket", Key="big")["Body"].read() == BIG
    assert ddb.scan(TableName="durable")["Count"] == n - 1
    assert ddb.get_item(TableName="durable", Key={"pk": {"S": "item-1"}})["Item"]["n"] == {"N": "1"}
    assert "Item" not in ddb.get_item(TableName="durable", Key={"pk": {"S": "item-0"}})
    # Generated ids come back identical: the secret's random ARN suffix, the stream's label.
    assert engine.client("secretsmanager").describe_secret(SecretId=secret_arn)["ARN"] == secret_arn
    assert ddb.describe_table(TableName="durable")["Table"]["LatestStreamArn"] == stream_arn


@pytest.mark.parametrize("compact_every", ["100000", "7"], ids=["journal", "snapshot"])
def test_sigkill_keeps_acknowledged_writes(tmp_path: Path, compact_every: str) -> None:
    engine = EngineHandle(tmp_path / "home", {"SAMLITE_CLOUD_COMPACT_ENTRIES": compact_every}).start()
    try:
        secret_arn, stream_arn = _write(engine, 12)
        engine.kill()
        if compact_every == "7":
            assert (tmp_path / "home" / "cloud" / "snapshot.pickle").exists()
        engine.start()
        _check(engine, 12, secret_arn, stream_arn)
        # Writes after a restart land on top of the replayed state, and survive a clean stop too.
        engine.client("s3").put_object(Bucket="durable-bucket", Key="after", Body=b"later")
        engine.stop()
        engine.start()
        assert engine.client("s3").get_object(Bucket="durable-bucket", Key="after")["Body"].read() == b"later"
        _check(engine, 12, secret_arn, stream_arn)
    finally:
        engine.close()


def test_engine_start_does_not_load_moto(tmp_path: Path) -> None:
    """moto is imported on the first request, not at start-up."""
    engine = EngineHandle(tmp_path / "home").start()
    try:
        assert "moto backend loaded" not in engine.log_tail(200)
        engine.client("s3").list_buckets()
        assert "moto backend loaded" in engine.log_tail(200)
    finally:
        engine.close()
