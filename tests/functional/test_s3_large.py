"""Large S3 objects: a body stored while it arrives (and hashed on the way) is the object moto
serves and the journal's blob. ETag, checksum, ranges, copies, multipart and overwrites behave as
on AWS, the bytes survive a SIGKILL and a snapshot, and an upload cut off mid-body leaves nothing. aws-chunked uploads are decoded, their trailer checksum
checked, and a malformed one is a 400 that stores nothing."""

from __future__ import annotations

import base64
import hashlib
import http.client
import random
import socket
import zlib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from samlite.testing import EngineHandle, signed_headers, wait_for

MB = 1024 * 1024
BIG = random.Random(17).randbytes(12 * MB)  # over moto's 5 MB in-memory limit for a key
PART = random.Random(18).randbytes(5 * MB)
# A signature of any key passes (SAMLITE_VERIFY_SIGV4 is not 1).
AUTH = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00"


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
        conn.sendall(b"PUT /cut-off/partial HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n"
                     b"Authorization: %s\r\n\r\n" % (8 * MB, AUTH.encode()))
        conn.sendall(BIG[:2 * MB])
        wait_for(lambda: _incoming(samlite_engine), timeout=30, message="the body being stored")
    wait_for(lambda: not _incoming(samlite_engine), timeout=30, message="the partial body removed")
    assert s3.list_objects_v2(Bucket="cut-off")["KeyCount"] == 0
    # The endpoint still answers.
    s3.put_object(Bucket="cut-off", Key="whole", Body=BIG[:2 * MB])
    assert s3.get_object(Bucket="cut-off", Key="whole")["Body"].read() == BIG[:2 * MB]


def _chunked_put(engine: EngineHandle, key: str, body: bytes, decoded_length: int) -> tuple[int, bytes]:
    """A streamed upload as the JavaScript SDK sends it: aws-chunked with a CRC32 trailer."""
    conn = http.client.HTTPConnection("127.0.0.1", urlsplit(engine.aws_url).port, timeout=60)
    conn.request("PUT", f"/chunked/{key}", body=body, headers={
        "Authorization": AUTH, "Content-Encoding": "aws-chunked",
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "x-amz-trailer": "x-amz-checksum-crc32",
        "x-amz-decoded-content-length": str(decoded_length), "x-amz-sdk-checksum-algorithm": "CRC32"})
    resp = conn.getresponse()
    return resp.status, resp.read()


def test_aws_chunked_uploads_are_decoded_and_checked(samlite_engine: EngineHandle) -> None:
    s3 = samlite_engine.client("s3")
    s3.create_bucket(Bucket="chunked")
    data = BIG[:3 * MB]
    status, _ = _chunked_put(samlite_engine, "ok", encode_chunked(data, {"x-amz-checksum-crc32": _crc32(data)}),
                             len(data))
    assert status == 200
    got = s3.get_object(Bucket="chunked", Key="ok", ChecksumMode="ENABLED")
    assert got["Body"].read() == data and got["ChecksumCRC32"] == _crc32(data)
    assert got["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'

    bad = [
        (b"zz\r\nabc\r\n0\r\n\r\n", 3, "InvalidRequest"),  # malformed framing
        (encode_chunked(data)[:-5000], len(data), "IncompleteBody"),  # cut short
        (encode_chunked(data), len(data) + 1, "IncompleteBody"),  # x-amz-decoded-content-length disagrees
        (encode_chunked(data, {"x-amz-checksum-crc32": _crc32(b"other")}), len(data), "BadDigest"),
    ]
    for n, (body, length, code) in enumerate(bad):
        status, answer = _chunked_put(samlite_engine, f"bad-{n}", body, length)
        assert status == 400 and f"<Code>{code}</Code>".encode() in answer, (n, answer)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="chunked")["Contents"]] == ["ok"]
    # Journalled as the plain request moto saw: a replay stores the same bytes.
    samlite_engine.kill()
    samlite_engine.start()
    assert samlite_engine.client("s3").get_object(Bucket="chunked", Key="ok")["Body"].read() == data


def encode_chunked(data: bytes, trailers: dict[str, str] | None = None, size: int = 64 * 1024) -> bytes:
    pieces = [b"%x\r\n%s\r\n" % (len(data[i:i + size]), data[i:i + size]) for i in range(0, len(data), size)]
    pieces.append(b"0\r\n" + b"".join(f"{k}:{v}\r\n".encode() for k, v in (trailers or {}).items()) + b"\r\n")
    return b"".join(pieces)


def _crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def test_large_bodies_moto_must_read_still_arrive_whole(samlite_engine: EngineHandle) -> None:
    """Most large PUTs never hold their body in memory (moto's key reads the stored file); the
    ones moto reads itself get the bytes (a checksum algorithm named without its value: moto
    computes it). A form-typed object is an object, not a form, small or large; a presigned
    upload is a plain one."""
    s3 = samlite_engine.client("s3")
    s3.create_bucket(Bucket="whole")
    data = BIG[:2 * MB]
    for key, body in (("form-small", b"a=1&uploadId=2"), ("form", data)):
        s3.put_object(Bucket="whole", Key=key, Body=body, ContentType="application/x-www-form-urlencoded")
        got = s3.get_object(Bucket="whole", Key=key)
        assert got["Body"].read() == body and got["ContentType"] == "application/x-www-form-urlencoded"

    conn = http.client.HTTPConnection("127.0.0.1", urlsplit(samlite_engine.aws_url).port, timeout=60)
    conn.request("PUT", "/whole/computed", body=data, headers={
        "Authorization": AUTH, "x-amz-sdk-checksum-algorithm": "CRC32"})
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 200 and resp.getheader("x-amz-checksum-crc32") == _crc32(data)
    assert s3.get_object(Bucket="whole", Key="computed")["Body"].read() == data

    url = s3.generate_presigned_url("put_object", Params={"Bucket": "whole", "Key": "presigned"})
    conn.request("PUT", url[len(samlite_engine.aws_url):], body=data)
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 200 and resp.getheader("etag") == f'"{hashlib.md5(data).hexdigest()}"'
    assert s3.get_object(Bucket="whole", Key="presigned")["Body"].read() == data


def test_large_put_with_signature_verification(tmp_path: Path) -> None:
    """SAMLITE_VERIFY_SIGV4=1 checks the payload hash of a large body too."""
    engine = EngineHandle(tmp_path / "home", {"SAMLITE_VERIFY_SIGV4": "1"}).start()
    try:
        s3 = engine.client("s3")
        s3.create_bucket(Bucket="verified")
        data = BIG[:2 * MB]
        s3.put_object(Bucket="verified", Key="ok", Body=data)
        assert s3.get_object(Bucket="verified", Key="ok")["Body"].read() == data
        url = engine.aws_url + "/verified/tampered"
        headers = signed_headers("PUT", url, data, service="s3")
        headers["x-amz-content-sha256"] = hashlib.sha256(data).hexdigest()
        conn = http.client.HTTPConnection("127.0.0.1", urlsplit(engine.aws_url).port, timeout=60)
        conn.request("PUT", "/verified/tampered", body=data[:-1] + b"!", headers=headers)
        resp = conn.getresponse()
        assert resp.status == 403, resp.read()
        assert [o["Key"] for o in s3.list_objects_v2(Bucket="verified")["Contents"]] == ["ok"]
        assert not _incoming(engine)
    finally:
        engine.close()


@pytest.mark.parametrize("size", [10, 2 * MB], ids=["small", "large"])
def test_integrity_headers_are_checked(samlite_engine: EngineHandle, size: int) -> None:
    """Content-MD5 and x-amz-checksum-* must match the body, as on S3: a mismatch is a 400 and
    nothing is stored (a large body is checked by the thread that stores it)."""
    s3 = samlite_engine.client("s3")
    s3.create_bucket(Bucket="integrity")
    data = BIG[:size]
    md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
    s3.put_object(Bucket="integrity", Key="ok", Body=data, ContentMD5=md5)
    sha = base64.b64encode(hashlib.sha256(data).digest()).decode()
    s3.put_object(Bucket="integrity", Key="sha", Body=data, ChecksumSHA256=sha)
    bad = [({"ContentMD5": base64.b64encode(hashlib.md5(b"other").digest()).decode()}, "BadDigest"),
           ({"ContentMD5": "not-an-md5"}, "InvalidDigest"),
           ({"ChecksumCRC32": _crc32(b"other")}, "BadDigest"),
           ({"ChecksumSHA256": base64.b64encode(hashlib.sha256(b"other").digest()).decode()}, "BadDigest")]
    for n, (extra, code) in enumerate(bad):
        with pytest.raises(ClientError) as err:
            s3.put_object(Bucket="integrity", Key=f"bad-{n}", Body=data, **extra)
        assert err.value.response["Error"]["Code"] == code, extra
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="integrity")["Contents"])
    assert keys == ["ok", "sha"]
    assert not _incoming(samlite_engine)


def test_full_object_checksum_of_a_multipart_upload_is_not_the_request_body(samlite_engine: EngineHandle) -> None:
    """CompleteMultipartUpload's x-amz-checksum-crc32 names the whole object, not its XML body."""
    s3 = samlite_engine.client("s3")
    s3.create_bucket(Bucket="full-object")
    upload = s3.create_multipart_upload(Bucket="full-object", Key="k", ChecksumAlgorithm="CRC32",
                                        ChecksumType="FULL_OBJECT")["UploadId"]
    parts = []
    for n, body in ((1, PART), (2, b"tail")):
        answer = s3.upload_part(Bucket="full-object", Key="k", UploadId=upload, PartNumber=n, Body=body,
                                ChecksumAlgorithm="CRC32")
        parts.append({"PartNumber": n, "ETag": answer["ETag"], "ChecksumCRC32": answer["ChecksumCRC32"]})
    s3.complete_multipart_upload(Bucket="full-object", Key="k", UploadId=upload, MultipartUpload={"Parts": parts},
                                 ChecksumCRC32=_crc32(PART + b"tail"), ChecksumType="FULL_OBJECT")
    assert s3.get_object(Bucket="full-object", Key="k")["Body"].read() == PART + b"tail"
