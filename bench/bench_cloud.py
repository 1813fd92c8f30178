"""The moto-backed services through the AWS endpoint: DynamoDB PutItem/GetItem and S3 1 KB
Put/Get latency (boto3, one client, sequential), how they grow with table size and object count,
50 MB PutObject and GetObject throughput, and the lazy load of the backend. moto's standalone server (the same
library, no journal) is the peer, measured in the same run."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_sqs import _client, start_engine, start_moto
from bench.common import Row, pct, print_table, vm_rss_mb


def _table(ddb: Any, name: str) -> None:
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])


def _fill(ddb: Any, table: str, start: int, end: int) -> None:
    for base in range(start, end, 25):
        ddb.batch_write_item(RequestItems={table: [
            {"PutRequest": {"Item": {"pk": {"S": f"fill-{i}"}, "v": {"S": "x" * 100}}}}
            for i in range(base, min(end, base + 25))]})


def _p50(fn: Any, n: int) -> tuple[float, float]:
    """(p50 ms, ops/s) of n sequential calls after a short warm-up."""
    for i in range(20):
        fn(-1 - i)
    times = []
    started = time.perf_counter()
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - t) * 1000)
    return pct(times, 0.5), n / (time.perf_counter() - started)


def dynamodb(url: str, sizes: list[int], n: int) -> dict[int, tuple[float, float, float, float]]:
    """table size -> (put p50, put ops/s, get p50, get ops/s)."""
    ddb = _client("dynamodb", url)
    name = f"bench-{int(time.time() * 1000)}"
    _table(ddb, name)
    out: dict[int, tuple[float, float, float, float]] = {}
    filled = 0
    for size in sizes:
        _fill(ddb, name, filled, size)
        filled = size
        put = _p50(lambda i, size=size: ddb.put_item(TableName=name, Item={"pk": {"S": f"k{size}-{i}"}, "v": {"S": "x" * 100}}), n)
        get = _p50(lambda i, size=size: ddb.get_item(TableName=name, Key={"pk": {"S": f"fill-{abs(i) % size}"}}), n)
        out[size] = (*put, *get)
    return out


def s3(url: str, counts: list[int], n: int, big_mb: int,
       big_reps: int) -> tuple[dict[int, tuple[float, float]], float, float]:
    """object count -> (put p50, get p50); and the median PutObject and GetObject MB/s of one big
    object (each rep a new key; GetObject reads the whole body)."""
    client = _client("s3", url)
    bucket = f"bench-{int(time.time() * 1000)}"
    client.create_bucket(Bucket=bucket)
    body = os.urandom(1024)
    out: dict[int, tuple[float, float]] = {}
    have = 0
    for count in counts:
        for i in range(have, count):
            client.put_object(Bucket=bucket, Key=f"fill/{i}", Body=body)
        have = count
        put = _p50(lambda i, count=count: client.put_object(Bucket=bucket, Key=f"k/{count}/{i}", Body=body), n)[0]
        get = _p50(lambda i, count=count: client.get_object(Bucket=bucket, Key=f"fill/{abs(i) % count}")["Body"].read(), n)[0]
        out[count] = (put, get)
    big = os.urandom(big_mb * 1024 * 1024)
    puts, gets = [], []
    for r in range(big_reps):
        t = time.perf_counter()
        client.put_object(Bucket=bucket, Key=f"big/{r}", Body=big)
        puts.append(big_mb / (time.perf_counter() - t))
        t = time.perf_counter()
        got = client.get_object(Bucket=bucket, Key=f"big/{r}")["Body"].read()
        gets.append(big_mb / (time.perf_counter() - t))
        assert len(got) == len(big)
    return out, sorted(puts)[len(puts) // 2], sorted(gets)[len(gets) // 2]


def run(quick: bool = False) -> list[Row]:
    n = 200 if quick else 500
    sizes = [1000] if quick else [1000, 100_000]
    counts = [100] if quick else [1000, 10_000]
    home = Path(tempfile.mkdtemp(prefix="bench-cloud-home-"))
    proc, info = start_engine(home)
    url = info["aws_url"]
    try:
        idle_rss = vm_rss_mb(proc.pid)
        t = time.perf_counter()
        _client("sts", url).get_caller_identity()
        first_call = (time.perf_counter() - t) * 1000
        ours = dynamodb(url, sizes, n)
        ours_s3, ours_big, ours_big_get = s3(url, counts, n, 50, 1 if quick else 5)
        loaded_rss = vm_rss_mb(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        shutil.rmtree(home, ignore_errors=True)
    peer = start_moto()
    theirs = theirs_s3 = None
    theirs_big = theirs_big_get = None
    if peer is not None:
        mproc, murl = peer
        try:
            theirs = dynamodb(murl, sizes[:1], n)
            theirs_s3, theirs_big, theirs_big_get = s3(murl, counts[:1], n, 50, 1 if quick else 5)
        finally:
            mproc.terminate()
            mproc.wait(10)
    size0, count0 = sizes[0], counts[0]
    peer_name = "moto server" if peer else ""

    def ratio(a: float | None, b: float | None) -> str:
        return f"{a / b:.1f}×" if a and b else ""

    put_p50, put_rate, get_p50, get_rate = ours[size0]
    tp = theirs[size0] if theirs else None
    rows = [
        Row("DynamoDB PutItem via boto3, p50", put_p50, "ms", "≤ 2 ms", put_p50 <= 2, peer_name,
            tp[0] if tp else None, ratio(put_rate, tp[1] if tp else None) + (" ops/s" if tp else ""),
            f"table of {size0:,} items; journalled before the answer; ratio = sequential ops/s"),
        Row("DynamoDB GetItem via boto3, p50", get_p50, "ms", "≤ 2 ms", get_p50 <= 2, peer_name,
            tp[2] if tp else None, ratio(get_rate, tp[3] if tp else None) + (" ops/s" if tp else ""),
            f"table of {size0:,} items"),
    ]
    for size in sizes[1:]:
        p, _, g, _ = ours[size]
        rows.append(Row(f"DynamoDB PutItem / GetItem p50 at {size:,} items", p, "ms", "", None,
                        note=f"GetItem {g:.3g} ms (at {size0:,}: {put_p50:.3g} / {get_p50:.3g} ms)"))
    sp, sg = ours_s3[count0]
    tsp, tsg = theirs_s3[count0] if theirs_s3 else (None, None)
    rows += [
        Row("S3 PutObject 1 KB via boto3, p50", sp, "ms", "≤ 3 ms", sp <= 3, peer_name, tsp,
            ratio(tsp, sp), f"bucket of {count0:,} objects; journalled"),
        Row("S3 GetObject 1 KB via boto3, p50", sg, "ms", "≤ 3 ms", sg <= 3, peer_name, tsg, ratio(tsg, sg)),
    ]
    for count in counts[1:]:
        p, g = ours_s3[count]
        rows.append(Row(f"S3 PutObject / GetObject 1 KB p50 at {count:,} objects", p, "ms", "", None,
                        note=f"GetObject {g:.3g} ms"))
    rows += [
        Row("S3 PutObject 50 MB", ours_big, "MB/s", "≥ 200 MB/s", ours_big >= 200, peer_name, theirs_big,
            ratio(ours_big, theirs_big), "median of 5 PutObjects; body stored as the journal's blob while it arrives"),
        Row("S3 GetObject 50 MB", ours_big_get, "MB/s", "", None, peer_name, theirs_big_get,
            ratio(ours_big_get, theirs_big_get), "median of 5, whole body read by boto3"),
        Row("first call to a moto service (lazy load)", first_call, "ms", "", None,
            note=f"engine RSS idle {idle_rss:.0f} MB, after the bench {loaded_rss:.0f} MB"),
    ]
    return rows


def main() -> None:
    print_table(run(quick="--quick" in sys.argv), "moto-backed services")


if __name__ == "__main__":
    main()
