"""Comprehend on the AWS endpoint: boto3, the aws CLI, and raw bad input (never a 500)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from samlite.testing import EngineHandle, signed_headers


@pytest.fixture(scope="module")
def comprehend(engine: EngineHandle) -> Any:
    return engine.client("comprehend")


def _raw(engine: EngineHandle, action: str, body: bytes | str) -> requests.Response:
    return requests.post(engine.aws_url, data=body, timeout=10, headers=signed_headers("POST", engine.aws_url, body, {
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"Comprehend_20171127.{action}"}, "comprehend"))


def test_detect_sentiment(comprehend: Any) -> None:
    pos = comprehend.detect_sentiment(Text="I love strawberry cake!", LanguageCode="en")
    neg = comprehend.detect_sentiment(Text="I hate chocolate cake!", LanguageCode="en")
    assert pos["Sentiment"] == "POSITIVE" and neg["Sentiment"] == "NEGATIVE"
    for r in (pos, neg):
        scores = r["SentimentScore"]
        assert set(scores) == {"Positive", "Negative", "Neutral", "Mixed"}
        assert math.isclose(sum(scores.values()), 1.0, abs_tol=1e-6)
    assert comprehend.detect_sentiment(Text="The box is on the table.", LanguageCode="en")["Sentiment"] == "NEUTRAL"
    assert comprehend.detect_sentiment(Text="Great location, terrible room.", LanguageCode="en")["Sentiment"] == "MIXED"
    # Every Comprehend language is accepted (scored with the English model).
    assert comprehend.detect_sentiment(Text="Hola", LanguageCode="es")["Sentiment"] in ("NEUTRAL", "POSITIVE")


def test_text_size_limit_counts_utf8_bytes(comprehend: Any) -> None:
    comprehend.detect_sentiment(Text="a" * 5000, LanguageCode="en")
    with pytest.raises(comprehend.exceptions.TextSizeLimitExceededException) as exc:
        comprehend.detect_sentiment(Text="é" * 2501, LanguageCode="en")  # 5,002 bytes
    assert "5002 bytes" in exc.value.response["Error"]["Message"]


def test_unsupported_language(comprehend: Any) -> None:
    with pytest.raises(comprehend.exceptions.UnsupportedLanguageException):
        comprehend.detect_sentiment(Text="hallo", LanguageCode="nl")


def test_batch_detect_sentiment(engine: EngineHandle, comprehend: Any) -> None:
    r = comprehend.batch_detect_sentiment(TextList=["I love it", "I hate it", "x" * 5001], LanguageCode="en")
    assert [(i["Index"], i["Sentiment"]) for i in r["ResultList"]] == [(0, "POSITIVE"), (1, "NEGATIVE")]
    assert [(e["Index"], e["ErrorCode"]) for e in r["ErrorList"]] == [(2, "TextSizeLimitExceededException")]
    with pytest.raises(comprehend.exceptions.BatchSizeLimitExceededException):
        comprehend.batch_detect_sentiment(TextList=["ok"] * 26, LanguageCode="en")
    # An empty document (botocore refuses it client-side) is a per-item error on the wire.
    raw = _raw(engine, "BatchDetectSentiment", json.dumps({"TextList": ["fine", ""], "LanguageCode": "en"}))
    assert raw.status_code == 200
    assert raw.json()["ErrorList"][0]["Index"] == 1


def test_detect_dominant_language(comprehend: Any) -> None:
    langs = comprehend.detect_dominant_language(Text="Ceci est une phrase écrite dans la langue de Molière")
    assert langs["Languages"][0]["LanguageCode"] == "fr"
    assert 0 < langs["Languages"][0]["Score"] <= 1
    assert comprehend.detect_dominant_language(Text="これは日本語です")["Languages"][0]["LanguageCode"] == "ja"


@pytest.mark.parametrize("action, body, code", [
    ("DetectSentiment", b"{not json", "SerializationException"),
    ("DetectSentiment", b"[1, 2]", "SerializationException"),
    ("DetectSentiment", b'{"LanguageCode": "en"}', "ValidationException"),
    ("DetectSentiment", b'{"Text": "hi"}', "ValidationException"),
    ("DetectSentiment", b'{"Text": 42, "LanguageCode": "en"}', "SerializationException"),
    ("DetectSentiment", b'{"Text": {"a": 1}, "LanguageCode": "en"}', "SerializationException"),
    ("DetectSentiment", b'{"Text": "", "LanguageCode": "en"}', "InvalidRequestException"),
    ("DetectSentiment", b'{"Text": "   ", "LanguageCode": "en"}', "InvalidRequestException"),
    ("BatchDetectSentiment", b'{"TextList": "one", "LanguageCode": "en"}', "SerializationException"),
    ("BatchDetectSentiment", b'{"TextList": [], "LanguageCode": "en"}', "ValidationException"),
    ("BatchDetectSentiment", b'{"TextList": [1], "LanguageCode": "en"}', "SerializationException"),
    ("DetectEntitiesPlease", b"{}", "UnknownOperationException"),
])
def test_bad_input_gets_aws_errors(engine: EngineHandle, action: str, body: bytes, code: str) -> None:
    r = _raw(engine, action, body)
    assert r.status_code == 400, r.text
    assert r.json()["__type"] == code
    assert r.json()["Message"]


def test_invalid_request_carries_reason(engine: EngineHandle) -> None:
    r = _raw(engine, "DetectSentiment", b'{"Text": "", "LanguageCode": "en"}')
    assert r.json()["Reason"] == "INVALID_DOCUMENT"


def test_boto3_parses_modelled_errors(comprehend: Any) -> None:
    with pytest.raises(ClientError) as exc:
        comprehend.detect_sentiment(Text=" ", LanguageCode="en")
    assert exc.value.response["Error"]["Code"] == "InvalidRequestException"
    assert exc.value.response["Reason"] == "INVALID_DOCUMENT"


def test_aws_cli_detect_sentiment(engine: EngineHandle) -> None:
    env = {**os.environ, "AWS_ENDPOINT_URL": engine.aws_url, "AWS_ACCESS_KEY_ID": "test",
           "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
    env.pop("AWS_PROFILE", None)
    aws = str(Path(sys.executable).with_name("aws"))
    r = subprocess.run([aws, "comprehend", "detect-sentiment", "--text", "I love strawberry cake!",
                        "--language-code", "en"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["Sentiment"] == "POSITIVE"
