"""Deploy, update, delete, guided deploy with samconfig.toml, atomicity and crash safety."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from samlite.testing import EngineHandle, wait_for

BASIC = Path(__file__).parent / "stacks" / "basic"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    dest = tmp_path / "project"
    shutil.copytree(BASIC, dest)
    return dest


def resources(engine: EngineHandle, stack: str) -> dict[str, dict]:
    rows = json.loads(engine.cli("list", "resources", "--stack-name", stack, "--output", "json", check=True).stdout)
    return {r["logical_id"]: r for r in rows}


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def test_deploy_update_and_delete(samlite_engine: EngineHandle, project: Path) -> None:
    first = samlite_engine.deploy(project / "template.yaml", "app")
    assert "Add" in first.stderr and "HelloFunction" in first.stderr
    assert "Table" in first.stderr and "not emulated" not in first.stderr  # tables run on the moto backend
    res = resources(samlite_engine, "app")
    assert set(res) == {"HelloFunction", "HelloFunctionRole", "WorkQueue", "Table"}
    assert res["Table"]["status"] == "CREATE_COMPLETE"
    assert res["Table"]["physical_id"] in samlite_engine.client("dynamodb").list_tables()["TableNames"]
    assert res["HelloFunction"]["physical_id"].startswith("app-HelloFunction-")

    outputs = samlite_engine.outputs("app")
    queue_url = outputs["QueueUrl"]
    assert queue_url.startswith(samlite_engine.aws_url + "/123456789012/app-WorkQueue-")
    stacks = json.loads(samlite_engine.cli("list", "stacks", "--output", "json", check=True).stdout)
    assert [s["stack"] for s in stacks] == ["app"] and stacks[0]["status"] == "CREATE_COMPLETE"

    # A message in the queue must survive an update that does not replace the queue.
    sqs = samlite_engine.client("sqs")
    sqs.send_message(QueueUrl=queue_url, MessageBody="keep me")

    # Update: add a queue, modify the function, remove the table.
    template = project / "template.yaml"
    edit(template, "    MemorySize: 128\n", "    MemorySize: 256\n")
    edit(template, "  Table:\n    Type: AWS::DynamoDB::Table\n", "  Extra:\n    Type: AWS::SQS::Queue\n  OldTable:\n    Type: AWS::DynamoDB::Table\n")
    text = template.read_text()
    start = text.index("  OldTable:")
    end = text.index("Outputs:")
    template.write_text(text[:start] + text[end:])
    second = samlite_engine.deploy(template, "app")
    assert "Modify" in second.stderr and "Remove" in second.stderr and "Extra" in second.stderr
    res = resources(samlite_engine, "app")
    assert "Extra" in res and "Table" not in res
    assert not samlite_engine.client("dynamodb").list_tables()["TableNames"]  # removed with the stack
    stacks = json.loads(samlite_engine.cli("list", "stacks", "--output", "json", check=True).stdout)
    assert stacks[0]["status"] == "UPDATE_COMPLETE"
    got = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1)
    assert [m["Body"] for m in got.get("Messages", [])] == ["keep me"]

    # No change: the change set is empty and the deploy still succeeds.
    third = samlite_engine.deploy(template, "app")
    assert "No changes" in third.stderr

    deleted = samlite_engine.cli("delete", "--stack-name", "app", "--no-prompts")
    assert deleted.returncode == 0, deleted.stderr
    assert json.loads(samlite_engine.cli("list", "stacks", "--output", "json").stdout) == []
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])


def test_code_only_change_is_a_modify(samlite_engine: EngineHandle, project: Path) -> None:
    samlite_engine.deploy(project / "template.yaml", "app")
    edit(project / "src" / "app.py", '"greeting"', '"greeting2"')
    result = samlite_engine.deploy(project / "template.yaml", "app")
    assert "Modify" in result.stderr and "HelloFunction" in result.stderr


def test_invalid_template_changes_nothing(samlite_engine: EngineHandle, project: Path) -> None:
    samlite_engine.deploy(project / "template.yaml", "app")
    before = resources(samlite_engine, "app")
    edit(project / "template.yaml", "    MemorySize: 128\n", "    MemorySize: 99999\n")
    edit(project / "template.yaml", "Type: AWS::SQS::Queue", "Type: AWS::SQS::Queu")
    result = samlite_engine.cli("deploy", "-t", str(project / "template.yaml"), "--stack-name", "app",
                                "--no-confirm-changeset")
    assert result.returncode == 3, result.stderr
    assert "MemorySize" in result.stderr
    assert resources(samlite_engine, "app") == before


def test_failed_apply_changes_nothing(samlite_engine: EngineHandle, project: Path, tmp_path: Path) -> None:
    """A deploy that fails on deployed state (another stack's queue) leaves the old stack as it was."""
    samlite_engine.deploy(project / "template.yaml", "app")
    before = resources(samlite_engine, "app")
    outputs_before = samlite_engine.outputs("app")
    other = tmp_path / "other"
    other.mkdir()
    (other / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Short:\n    Type: AWS::SQS::Queue\n"
        "    Properties:\n      QueueName: short-queue\n      VisibilityTimeout: 5\n")
    samlite_engine.deploy(other / "template.yaml", "other")
    # The function's timeout (30 s) exceeds that queue's visibility timeout (5 s): AWS refuses the mapping.
    edit(project / "template.yaml", "    Timeout: 5\n", "    Timeout: 30\n")
    edit(project / "template.yaml", "      Handler: app.handler\n",
         "      Handler: app.handler\n      Events:\n        Work:\n          Type: SQS\n"
         "          Properties:\n            Queue: arn:aws:sqs:us-east-1:123456789012:short-queue\n")
    result = samlite_engine.cli("deploy", "-t", str(project / "template.yaml"), "--stack-name", "app",
                                "--no-confirm-changeset")
    assert result.returncode == 1, result.stderr
    assert "Queue visibility timeout: 5 seconds is less than Function timeout: 30 seconds" in result.stderr
    assert resources(samlite_engine, "app") == before
    assert samlite_engine.outputs("app") == outputs_before


def test_guided_deploy_writes_samconfig_that_later_runs_read(samlite_engine: EngineHandle, project: Path) -> None:
    # Stack name, region, parameter Greeting, confirm, save, file, env: Enter accepts defaults.
    answers = "guided-app\n\nhowdy\nn\ny\n\n\n"
    result = samlite_engine.cli("deploy", "--guided", cwd=project, input=answers)
    assert result.returncode == 0, result.stderr + samlite_engine.log_tail()
    assert "Stack Name" in result.stderr and "Parameter Greeting" in result.stderr

    config = tomllib.loads((project / "samconfig.toml").read_text())
    assert config["version"] == 0.1
    params = config["default"]["deploy"]["parameters"]
    assert params["stack_name"] == "guided-app"
    assert params["region"] == "us-east-1"
    assert params["capabilities"] == "CAPABILITY_IAM"
    assert params["parameter_overrides"] == 'Greeting="howdy"'
    assert params["confirm_changeset"] is False  # kept, so that later deploys do not ask
    assert config["default"]["global"]["parameters"]["region"] == "us-east-1"

    # A plain deploy reads samconfig.toml; a later --parameter-overrides flag wins over it.
    again = samlite_engine.cli("deploy", cwd=project)
    assert again.returncode == 0, again.stderr
    assert "No changes" in again.stderr
    flag = samlite_engine.cli("deploy", "--parameter-overrides", "Greeting=hello", cwd=project)
    assert flag.returncode == 0, flag.stderr
    assert "Modify" in flag.stderr


def test_guided_deploy_accepts_every_default(samlite_engine: EngineHandle, project: Path) -> None:
    result = samlite_engine.cli("deploy", "--guided", cwd=project, input="\n" * 10)
    assert result.returncode == 0, result.stderr
    # The proposed name comes from the project folder, not SAM's shared `sam-app`.
    assert tomllib.loads((project / "samconfig.toml").read_text())["default"]["deploy"]["parameters"]["stack_name"] == "project"
    assert [s["stack"] for s in json.loads(samlite_engine.cli("list", "stacks", "--output", "json").stdout)] == ["project"]


def test_guided_deploy_rejects_a_value_outside_allowed_values(samlite_engine: EngineHandle, project: Path) -> None:
    # "bonjour" is not allowed: click asks again; then "hello" is accepted.
    result = samlite_engine.cli("deploy", "--guided", cwd=project, input="app\n\nbonjour\nhello\nn\nn\n")
    assert result.returncode == 0, result.stderr
    assert "bonjour" in result.stderr and "not one of" in result.stderr


def test_exports_and_imports_across_stacks(samlite_engine: EngineHandle, project: Path, tmp_path: Path) -> None:
    samlite_engine.deploy(project / "template.yaml", "producer")
    consumer = tmp_path / "consumer"
    consumer.mkdir()
    (consumer / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Topic:\n    Type: AWS::SQS::Queue\n"
        "Outputs:\n  Imported:\n    Value: !ImportValue producer-QueueUrl\n")
    samlite_engine.deploy(consumer / "template.yaml", "consumer")
    assert samlite_engine.outputs("consumer")["Imported"] == samlite_engine.outputs("producer")["QueueUrl"]
    refused = samlite_engine.cli("delete", "--stack-name", "producer", "--no-prompts")
    assert refused.returncode == 1 and "imports" in refused.stderr


def test_bad_stack_names_and_flags(samlite_engine: EngineHandle, project: Path) -> None:
    bad = samlite_engine.cli("deploy", "--stack-name", "1-bad_name!", "--no-confirm-changeset", cwd=project)
    assert bad.returncode == 2 and "invalid stack name" in bad.stderr
    overrides = samlite_engine.cli("deploy", "--stack-name", "ok", "--parameter-overrides", "NoEquals",
                                   "--no-confirm-changeset", cwd=project)
    assert overrides.returncode == 2
    missing = samlite_engine.cli("delete", "--stack-name", "ghost", "--no-prompts")
    assert missing.returncode == 1 and "not deployed" in missing.stderr
    (project / "samconfig.toml").write_text("version = [unclosed")
    broken = samlite_engine.cli("deploy", cwd=project)
    assert broken.returncode == 2 and "samconfig.toml" in broken.stderr


def _without_ports(outputs: dict[str, str]) -> dict[str, str]:
    import re

    return {key: re.sub(r"^(http://127\.0\.0\.1):\d+/", r"\1:PORT/", value) for key, value in outputs.items()}


def _deploy_in_background(engine: EngineHandle, template: Path, stack: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "samlite", "deploy", "-t", str(template), "--stack-name", stack,
         "--no-confirm-changeset"], env=engine.env, cwd=template.parent, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)


def test_sigkill_in_the_middle_of_a_deploy_leaves_the_old_stack(project: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    engine = EngineHandle(home).start()
    try:
        engine.deploy(project / "template.yaml", "app")
        before = resources(engine, "app")
        outputs_before = engine.outputs("app")
        engine.stop()

        paused = EngineHandle(home, {"SAMLITE_FAULT_DEPLOY_HOLD": "4", "SAMLITE_FAULT_DEPLOY_PAUSE": "60"}).start()
        edit(project / "template.yaml", "  WorkQueue:\n", "  NewQueue:\n    Type: AWS::SQS::Queue\n  WorkQueue:\n")
        proc = _deploy_in_background(paused, project / "template.yaml", "app")
        log = home / "engine.log"
        wait_for(lambda: "holding the deploy" in log.read_text(), timeout=30, message="the deploy to start")

        # A second deploy of the same stack meanwhile is refused.
        second = paused.cli("deploy", "-t", str(project / "template.yaml"), "--stack-name", "app",
                            "--no-confirm-changeset")
        assert second.returncode == 1 and "being deployed" in second.stderr, second.stderr

        wait_for(lambda: "inside the deploy transaction" in log.read_text(), timeout=30,
                 message="the deploy to reach its transaction")

        paused.kill()
        proc.wait(30)
        assert proc.returncode != 0

        engine = EngineHandle(home).start()
        assert resources(engine, "app") == before
        # The restarted engine listens on other ports; outputs show its URLs, otherwise unchanged.
        assert _without_ports(engine.outputs("app")) == _without_ports(outputs_before)
        # and the stack can be deployed normally afterwards
        engine.deploy(project / "template.yaml", "app")
        assert "NewQueue" in resources(engine, "app")
    finally:
        engine.stop()


def test_every_listing_has_its_columns(samlite_engine: EngineHandle, project: Path) -> None:
    """The text table shows exactly the keys of the JSON rows, for every `samlite list` kind."""
    from samlite.cli.listing import LISTINGS

    samlite_engine.deploy(project / "template.yaml", "app")
    for name, (_, columns) in LISTINGS.items():
        rows = json.loads(samlite_engine.cli("list", name, "--output", "json", check=True).stdout)
        assert isinstance(rows, list), name
        for row in rows:
            missing = [c for c in columns if c not in row]
            assert not missing, f"list {name}: columns {missing} are not in {sorted(row)}"
        text = samlite_engine.cli("list", name, check=True).stdout
        assert text.split()[: len(columns)] == list(columns), name
