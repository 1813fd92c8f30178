"""Integration test of this project against an isolated samlite engine.

`pip install samlite pytest`, then run `pytest` in the project folder: samlite's pytest plugin
provides the `samlite_engine` fixture (a real engine with its state in a temporary folder).
"""

import json
import urllib.error
import urllib.request
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]


def post(url, payload):
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_detect_sentiment(samlite_engine):
    samlite_engine.deploy(PROJECT / "template.yaml", "sentiment-test")
    url = samlite_engine.outputs("sentiment-test")["SentimentApiUrl"]

    status, body = post(url, {"input": "What a wonderful day, I love it!"})
    assert status == 200
    assert body["sentiment"] == "POSITIVE"

    status, body = post(url, {"text": "the wrong key"})
    assert status == 400
