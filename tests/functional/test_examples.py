"""Both examples end to end through the CLI, exactly as docs/walkthrough.md shows them.

Each test copies an example into tmp_path and runs the walkthrough's commands in that folder
against an isolated engine: `samlite deploy --guided` (Enter at every prompt), then
`send-message`, `logs --tail`, `invoke`, HTTP against the printed Output URL, `list queues` and
`samlite delete --no-prompts` (which reads the stack name from the saved samconfig.toml).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from samlite.testing import EngineHandle, wait_for

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# Enter at each guided prompt: stack name, region, parameters, confirm, save, file, environment.
ENTER_FOR_DEFAULTS = "\n" * 8


def copy_example(name: str, tmp_path: Path, folder: str | None = None) -> Path:
    dest = tmp_path / (folder or name)
    shutil.copytree(EXAMPLES / name, dest, ignore=shutil.ignore_patterns(".samlite", "__pycache__", "samconfig.toml"))
    return dest


def guided_deploy(engine: EngineHandle, project: Path) -> subprocess.CompletedProcess[str]:
    engine.env["COLUMNS"] = "200"  # a terminal wide enough that tables do not fold URLs
    result = engine.cli("deploy", "--guided", input=ENTER_FOR_DEFAULTS, cwd=project, check=True)
    # The proposed stack name is the project folder's.
    assert f"Stack Name [{project.name}]" in result.stderr
    assert f"Successfully deployed stack {project.name}" in result.stderr
    saved = (project / "samconfig.toml").read_text()
    assert f'stack_name = "{project.name}"' in saved and "version = 0.1" in saved
    return result


def queue_row(engine: EngineHandle, project: Path, logical_id: str) -> dict[str, Any]:
    rows = json.loads(engine.cli("list", "queues", "--output", "json", cwd=project, check=True).stdout)
    return next(r for r in rows if r["logical_id"] == logical_id)


def test_sqs_lambda_walkthrough(samlite_engine: EngineHandle, tmp_path: Path) -> None:
    engine = samlite_engine
    project = copy_example("sqs-lambda", tmp_path, "my-queue-app")  # as `samlite init my-queue-app` makes it
    deployed = guided_deploy(engine, project)
    assert re.search(r"QueueUrl\s+http://127\.0\.0\.1:\d+/123456789012/my-queue-app-MessagesQueue-\w+",
                     deployed.stdout)
    assert "FunctionName" in deployed.stdout

    # Follow the logs first, then send: every message must show up in the live tail.
    tail = engine.spawn("logs", "-n", "ProcessorFunction", "--tail", cwd=project)
    try:
        # The tail starts at "now" once its first poll answers; until then a message may be
        # processed before it looks. So send again until one shows up, within a deadline.
        deadline = time.monotonic() + 15
        while True:
            sent = engine.cli("send-message", "MessagesQueue", "--body", "hello from the walkthrough",
                              cwd=project, check=True)
            message_id = sent.stdout.strip()
            assert re.fullmatch(r"[0-9a-f-]{36}", message_id), sent.stdout
            try:
                wait_for(lambda m=message_id: f"processed message {m}: hello from the walkthrough" in tail.text,
                         timeout=1.5, message="the message in `samlite logs --tail`")
                break
            except AssertionError:
                if time.monotonic() > deadline or tail.proc.poll() is not None:
                    raise
        # A body containing "fail" is reported as a batch item failure: it stays in the queue.
        failing = engine.cli("send-message", "MessagesQueue", "--body", "please fail", cwd=project,
                             check=True).stdout.strip()
        wait_for(lambda: f"FAILED message {failing}: please fail" in tail.text, timeout=15,
                 message="the failure in the tail")
        assert tail.proc.poll() is None, "logs --tail must keep following"
        assert tail.interrupt() == 0
    finally:
        tail.close()
    assert "REPORT RequestId:" in tail.text
    # The failed message is in flight (invisible for the 30 s visibility timeout), not deleted.
    row = wait_for(lambda: (r := queue_row(engine, project, "MessagesQueue"))["in_flight"] == 1 and r,
                   timeout=10, message="one failed message in flight")
    assert row["visible"] == 0

    invoked = engine.cli("invoke", "ProcessorFunction", "-e", "events/event.json", cwd=project, check=True)
    assert json.loads(invoked.stdout) == {"batchItemFailures": [{"itemIdentifier": "2e1424d4-f796-459a-8184-9c92662be6da"}]}
    assert "processed message 059f36b4-87a3-44ab-83d2-661975830a7d: hello from the sample event" in invoked.stderr

    listed = engine.cli("list", "queues", cwd=project, check=True)
    assert "MessagesQueue" in listed.stdout and "DeadLetterQueue" in listed.stdout

    # The README's shortcut to the dead-letter step: a 5 s visibility timeout, the message kept.
    engine.cli("deploy", "--parameter-overrides", "VisibilityTimeout=5", "--no-confirm-changeset", cwd=project,
               check=True)
    queue_url = engine.outputs("my-queue-app")["QueueUrl"]
    attributes = engine.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "5"
    assert int(attributes["ApproximateNumberOfMessagesNotVisible"]) + int(attributes["ApproximateNumberOfMessages"]) == 1
    too_short = engine.cli("deploy", "--parameter-overrides", "VisibilityTimeout=4", "--no-confirm-changeset",
                           cwd=project)
    assert too_short.returncode == 3 and "4 is less than MinValue 5" in too_short.stderr, too_short.stderr

    deleted = engine.cli("delete", "--no-prompts", cwd=project, check=True)
    assert "Deleted stack my-queue-app" in deleted.stderr
    assert json.loads(engine.cli("list", "stacks", "--output", "json", check=True).stdout) == []


def post(url: str, body: bytes) -> tuple[int, dict[str, Any], str]:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read()), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), exc.headers.get("Content-Type", "")


def test_apigw_comprehend_walkthrough(samlite_engine: EngineHandle, tmp_path: Path) -> None:
    engine = samlite_engine
    project = copy_example("apigw-comprehend", tmp_path)
    deployed = guided_deploy(engine, project)
    match = re.search(r"SentimentApiUrl\s+(http://127\.0\.0\.1:\d+/\S+/dev/detect_sentiment)", deployed.stdout)
    assert match, deployed.stdout
    url = match.group(1)
    assert engine.outputs("apigw-comprehend")["SentimentApiUrl"] == url

    # The README's exact curl lines (urllib stands in where curl is not installed).
    status, body, content_type = post(url, json.dumps({"input": "I love strawberry cake!"}).encode())
    assert (status, body["sentiment"]) == (200, "POSITIVE")
    if shutil.which("curl"):
        out = subprocess.run(["curl", "-s", "-d", '{"input": "I hate chocolate cake!"}',
                              "-H", "Content-Type: application/json", url],
                             capture_output=True, text=True, timeout=30, check=True).stdout
        assert json.loads(out)["sentiment"] == "NEGATIVE"
    assert content_type.startswith("application/json")
    scores = body["confidence_scores"]
    assert set(scores) == {"Positive", "Negative", "Neutral", "Mixed"}
    assert abs(sum(scores.values()) - 1) < 0.01 and scores["Positive"] == max(scores.values())

    status, body, _ = post(url, json.dumps({"input": "I hate chocolate cake!"}).encode())
    assert (status, body["sentiment"]) == (200, "NEGATIVE")

    # Bad input gets the handler's 400, not a crash.
    for bad in (b'{"text": "wrong key"}', b"not json", b'{"input": ""}'):
        status, body, _ = post(url, bad)
        assert status == 400 and "error" in body, (bad, status, body)

    invoked = engine.cli("invoke", "SentimentFunction", "-e", "events/event.json", cwd=project, check=True)
    response = json.loads(invoked.stdout)
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["sentiment"] == "POSITIVE"

    logs = engine.cli("logs", "-n", "SentimentFunction", cwd=project, check=True)
    assert logs.stdout.count("REPORT RequestId:") >= 6

    engine.cli("delete", "--no-prompts", cwd=project, check=True)
    status_after = post_status_only(url)
    assert status_after in (403, 404), status_after


def post_status_only(url: str) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=b"{}", method="POST"), timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_send_message_to_unknown_queue_fails_clearly(samlite_engine: EngineHandle, tmp_path: Path) -> None:
    project = copy_example("sqs-lambda", tmp_path)
    samlite_engine.deploy(project / "template.yaml", "sam-app")
    result = samlite_engine.cli("send-message", "NoSuchQueue", "--stack-name", "sam-app", "--body", "x",
                                cwd=project)
    assert result.returncode == 1
    assert "no queue 'NoSuchQueue'" in result.stderr and result.stdout == ""
    rows = json.loads(samlite_engine.cli("list", "queues", "--output", "json", check=True).stdout)
    assert all(r["visible"] == 0 and r["in_flight"] == 0 for r in rows), rows


@pytest.mark.parametrize("name", ["sqs-lambda", "apigw-comprehend"])
def test_example_templates_validate(name: str) -> None:
    result = subprocess.run([sys.executable, "-m", "samlite", "validate", "-t", str(EXAMPLES / name / "template.yaml")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "is a valid SAM template" in result.stdout


def test_example_project_tests_run_with_the_pytest_plugin(tmp_path: Path) -> None:
    # The apigw-comprehend project ships its own integration test using the `samlite_engine`
    # fixture: run it as a user would, with plain `pytest` in the project folder.
    project = copy_example("apigw-comprehend", tmp_path)
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
