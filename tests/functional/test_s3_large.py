"""Large S3 objects: a body stored while it arrives (and hashed on the way) is the object moto
serves and the journal's blob. ETag, checksum, ranges, copies, multipart and overwrites behave as
on AWS, the bytes survive a SIGKILL and a snapshot, and an upload cut off mid-body leaves nothing."""

from __future__ import annotations

import base64
import hashlib
import random
import socket
import zlib
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from samlite.testing import EngineHandle, wait_for

MB = 1024 * 1024
BIG = random.Random(17).randbytes(12 * MB)  # over moto's 5 MB in-memory limit for a key
PART = random.Random(18).randbytes(5 * MB)


def _incoming(engine: EngineHandle) -> list[Path]:
    return list((engine.home / "cloud" / "blobs").glob("incoming-*"))


def _write(engine: EngineHandle) -> str:
    s3 = engine.client("s3")
    s3.create_bucket(Bucket="large")
    put = s3.put_object(Bucket="large", Key="big", Body=BIG)
    assert put["ETag"] == f'"{hashlib.md5(BIG).hexdigest()}"'
    # boto3 sends a CRC32 of the body; S3 answers with it.
    assert put["ChecksumCRC32"] == base64.b64encode(zlib.crc32(BIG).to_bytes(4, "big")).decode()
    s3.copy_object(Bucket="large", Key="copy", CopySource={"Bucket": "large", "Key": "big"})
    s3.put_object(Bucket="large", Key="shrunk", Body=BIG)
    s3.put_object(Bucket="large", Key="shrunk", Body=b"small now")  # a stored body replaced
    upload = s3.create_multipart_upload(Bucket="large", Key="multi")["UploadId"]
    parts = [{"PartNumber": n, "ETag": s3.upload_part(Bucket="large", Key="multi", UploadId=upload, PartNumber=n,
                                                      Body=body)["ETag"]}
             for n, body in ((1, PART), (2, BIG))]
    done = s3.complete_multipart_upload(Bucket="large", Key="multi", UploadId=upload,
                                        MultipartUpload={"Parts": parts})
    assert done["ETag"].endswith('-2"')
    return str(done["ETag"])


def _check(engine: EngineHandle, multi_etag: str) -> None:
    s3 = engine.client("s3")
    got = s3.get_object(Bucket="large", Key="big")
    assert got["Body"].read() == BIG and got["ContentLength"] == len(BIG)
    assert got["ETag"] == f'"{hashlib.md5(BIG).hexdigest()}"'
    ranged = s3.get_object(Bucket="large", Key="big", Range="bytes=7000000-7000999")["Body"].read()
    assert ranged == BIG[7_000_000:7_001_000]
    assert s3.get_object(Bucket="large", Key="copy")["Body"].read() == BIG
    assert s3.get_object(Bucket="large", Key="shrunk")["Body"].read() == b"small now"
    multi = s3.get_object(Bucket="large", Key="multi")
    assert multi["Body"].read() == PART + BIG and multi["ETag"] == multi_etag
    assert not _incoming(engine)


@pytest.mark.parametrize("compact_every", ["100000", "3"], ids=["journal", "snapshot"])
def test_large_objects_round_trip_and_survive_sigkill(tmp_path: Path, compact_every: str) -> None:
    engine = EngineHandle(tmp_path / "home", {"SAMLITE_CLOUD_COMPACT_ENTRIES": compact_every}).start()
    try:
        multi_etag = _write(engine)
        _check(engine, multi_etag)
        engine.kill()
        engine.start()
        _check(engine, multi_etag)
        # After a restart the replayed objects are still replaced and copied like any other.
        engine.client("s3").put_object(Bucket="large", Key="big", Body=PART)
        engine.stop()
        engine.start()
        assert engine.client("s3").get_object(Bucket="large", Key="big")["Body"].read() == PART
        assert engine.client("s3").get_object(Bucket="large", Key="copy")["Body"].read() == BIG
    finally:
        engine.close()


def test_upload_cut_off_mid_body_stores_nothing(samlite_engine: EngineHandle) -> None:
    s3 = samlite_engine.client("s3")
    s3.create_bucket(Bucket="cut-off")
    port = urlsplit(samlite_engine.aws_url).port
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        # A signature of any key passes (SAMLITE_VERIFY_SIGV4 is not 1).
        conn.sendall(b"PUT /cut-off/partial HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n"
                     b"Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, "
                     b"SignedHeaders=host, Signature=00\r\n\r\n" % (8 * MB))
        conn.sendall(BIG[:2 * MB])
        wait_for(lambda: _incoming(samlite_engine), timeout=30, message="the body being stored")
    wait_for(lambda: not _incoming(samlite_engine), timeout=30, message="the partial body removed")
    assert s3.list_objects_v2(Bucket="cut-off")["KeyCount"] == 0
    # The endpoint still answers.
    s3.put_object(Bucket="cut-off", Key="whole", Body=BIG[:2 * MB])
    assert s3.get_object(Bucket="cut-off", Key="whole")["Body"].read() == BIG[:2 * MB]
