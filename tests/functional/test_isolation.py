"""Local security: what a function leaves behind, and who else can read the state."""

from __future__ import annotations

import json
from pathlib import Path

from samlite.procs import process_running
from samlite.testing import EngineHandle, wait_for, write_project

ESCAPER = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Escaper:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: escaper
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src/
      Timeout: 1
"""
ESCAPER_CODE = """\
import subprocess
import time


def handler(event, context):
    # A child in a session of its own: not in the worker's process group.
    child = subprocess.Popen(["sleep", "300"], start_new_session=True)
    print("CHILD", child.pid, flush=True)
    if event.get("hang"):
        time.sleep(30)
    return {"child": child.pid}
"""


def test_children_in_their_own_session_die_with_the_environment(samlite_engine: EngineHandle,
                                                                 tmp_path: Path) -> None:
    samlite_engine.deploy(write_project(tmp_path / "p", ESCAPER, {"src/app.py": ESCAPER_CODE}), "escaper")
    lam = samlite_engine.client("lambda")
    # 1. the invocation times out: its environment is destroyed, with everything it started
    timed_out = lam.invoke(FunctionName="escaper", Payload=json.dumps({"hang": True}).encode(), LogType="Tail")
    assert timed_out.get("FunctionError") == "Unhandled"
    import base64

    tail = base64.b64decode(timed_out["LogResult"]).decode()
    first = int(tail.split("CHILD ", 1)[1].split()[0])
    wait_for(lambda: not process_running(first), timeout=10, message=f"child {first} of the timed-out environment")
    # 2. engine stop ends the warm environment and its children too
    second = json.loads(lam.invoke(FunctionName="escaper", Payload=b"{}")["Payload"].read())["child"]
    assert process_running(second)
    samlite_engine.cli("engine", "stop", check=True)
    wait_for(lambda: not process_running(second), timeout=10, message=f"child {second} after engine stop")


def test_state_is_private_to_its_user(tmp_path: Path) -> None:
    import os
    import stat

    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)  # a home made by an older version
    handle = EngineHandle(home).start()
    try:
        handle.deploy(write_project(tmp_path / "p", ESCAPER, {"src/app.py": ESCAPER_CODE}), "escaper")
        handle.client("lambda").invoke(FunctionName="escaper", Payload=b"{}")
        handle.client("sqs").create_queue(QueueName="later")
        open_to_others = []
        for root, dirs, files in os.walk(home):
            for name in [*dirs, *files]:
                path = Path(root) / name
                if stat.S_IMODE(path.lstat().st_mode) & 0o077 and not path.is_symlink():
                    open_to_others.append(f"{oct(stat.S_IMODE(path.lstat().st_mode))} {path}")
        assert stat.S_IMODE(home.stat().st_mode) == 0o700
        assert not open_to_others, "\n".join(open_to_others[:20])
    finally:
        handle.close()


def test_aws_endpoint_refuses_browsers_and_unsigned_requests(samlite_engine: EngineHandle, tmp_path: Path) -> None:
    import requests

    from samlite.testing import signed_headers

    sqs = samlite_engine.client("sqs")  # boto3 signs: unaffected
    url = sqs.create_queue(QueueName="target")["QueueUrl"]
    aws = samlite_engine.aws_url
    form = {"Action": "SendMessage", "QueueUrl": url, "MessageBody": "from a web page"}
    # what a web page can send without a preflight: a form post or text/plain, with no Authorization
    attempts = [
        requests.post(aws, data=form, headers={"Origin": "https://evil.example"}),
        requests.post(aws, data=form, headers={"Sec-Fetch-Site": "cross-site"}),
        requests.post(aws, data=form, headers={"Content-Type": "text/plain"}),
        requests.post(aws, data=form),
        # even signed, a request a browser marks as cross-origin is refused
        requests.post(aws, data=form, headers=signed_headers("POST", aws, form, {
            "Content-Type": "application/x-www-form-urlencoded", "Origin": "http://localhost:8080"})),
    ]
    for r in attempts:
        assert r.status_code == 403, r.text
        assert "SAMLITE_VERIFY_SIGV4=0" in r.text
    assert "MissingAuthenticationToken" in attempts[3].text
    assert int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
               ["Attributes"]["ApproximateNumberOfMessages"]) == 0
    ok = requests.post(aws, data=form, headers=signed_headers("POST", aws, form, {
        "Content-Type": "application/x-www-form-urlencoded"}))
    assert ok.status_code == 200, ok.text


def test_unsigned_requests_when_the_user_opts_out(tmp_path: Path) -> None:
    import requests

    handle = EngineHandle(tmp_path / "home", extra_env={"SAMLITE_VERIFY_SIGV4": "0"}).start()
    try:
        r = requests.post(handle.aws_url, data={"Action": "ListQueues"}, headers={"Origin": "http://localhost"})
        assert r.status_code == 200, r.text
    finally:
        handle.close()
