"""POST /detect_sentiment: {"input": "text"} -> {"sentiment": ..., "confidence_scores": {...}}.

The Comprehend client is created once per execution environment and reused by warm invocations.
"""

import json

import boto3
from botocore.exceptions import ClientError

comprehend = boto3.client("comprehend")


def lambda_handler(event, context):
    try:
        body = json.loads(event.get("body") or "{}")
    except ValueError:
        return _response(400, {"error": "the request body must be JSON"})
    text = body.get("input") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text.strip():
        return _response(400, {"error": 'missing "input": send a JSON body like {"input": "some text"}'})

    try:
        result = comprehend.detect_sentiment(Text=text, LanguageCode="en")
    except ClientError as exc:
        error = exc.response["Error"]
        if error.get("Code") in ("TextSizeLimitExceededException", "InvalidRequestException"):
            return _response(400, {"error": error.get("Message", error["Code"])})
        raise
    return _response(200, {
        "sentiment": result["Sentiment"],
        "confidence_scores": result["SentimentScore"],
    })


def _response(status, payload):
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(payload),
    }
