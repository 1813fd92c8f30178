"""Handlers for the gateway functional tests."""

import base64
import json
import os
import time

_calls = {"n": 0}


def echo(event, context):
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(event)}


def _mode(event):
    return (event.get("queryStringParameters") or {}).get("mode", "")


def behave(event, context):
    mode = _mode(event)
    if mode == "malformed":
        return {"statusCode": 200, "body": {"not": "a string"}, "extra": 1}
    if mode == "error":
        raise ValueError("boom")
    if mode == "crash":
        os._exit(3)
    if mode == "echo":
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(event)}
    if mode == "sleep":
        time.sleep(2)
        return {"statusCode": 200, "body": "slept"}
    if mode == "binary":
        return {"statusCode": 200, "headers": {"Content-Type": "image/png"},
                "body": base64.b64encode(b"\x89PNG\x00\xff").decode(), "isBase64Encoded": True}
    if mode == "roundtrip":
        return {"statusCode": 200, "headers": {"Content-Type": "image/png"}, "body": event["body"],
                "isBase64Encoded": event["isBase64Encoded"]}
    if mode == "cookies":
        return {"statusCode": 201, "cookies": ["a=1", "b=2"], "headers": {"x-custom": "v"}, "body": "c"}
    if mode == "string":
        return "plain text"
    if mode == "dict":
        return {"hello": "world"}
    if mode == "multi":
        return {"statusCode": 200, "headers": {"X-One": "h", "X-Both": "single"},
                "multiValueHeaders": {"X-Both": ["m1", "m2"]}, "body": "m"}
    if mode == "badheaders":
        return {"statusCode": 200, "headers": {"X-Bad": "a\r\nX-Injected: 1", "Bad Name": "x", "X-Euro": "5 \u20ac",
                                               "Content-Length": "999", "X-Good": "ok"}, "body": "b"}
    if mode == "large":
        return {"statusCode": 200, "body": "x" * (7 * 1024 * 1024)}
    if mode == "cors":
        return {"statusCode": 200, "headers": {"Access-Control-Allow-Origin": "https://evil.example"}, "body": "x"}
    return {"statusCode": 200, "body": "ok"}


def authorize(event, context):
    """TOKEN / REQUEST (REST) and simple-response (HTTP API) authorizer."""
    _calls["n"] += 1
    if "routeArn" in event:  # HTTP API, payload 2.0, simple responses
        return {"isAuthorized": event["headers"].get("authorization") == "letmein",
                "context": {"who": "http-user"}}
    if event["type"] == "TOKEN":
        token = event["authorizationToken"]
    else:
        token = "Bearer " + event["headers"].get("X-User", "")
    if token == "Bearer boom":
        return {"nonsense": True}
    if token not in ("Bearer allow", "Bearer deny"):
        raise Exception("Unauthorized")
    effect = "Allow" if token == "Bearer allow" else "Deny"
    arn = event["methodArn"].split("/", 1)[0] + "/*"
    return {"principalId": "user-1",
            "policyDocument": {"Version": "2012-10-17",
                               "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": arn}]},
            "context": {"calls": _calls["n"], "flag": True}}
