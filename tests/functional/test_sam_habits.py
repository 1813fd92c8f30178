"""A SAM CLI user's habits: SAM's spellings, commands and flags work the way SAM's do."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from samlite.testing import EngineHandle

TWO_PARAMS = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage:
    Type: String
    AllowedValues: [dev, prod]
  Owner:
    Type: String
Resources:
  Queue:
    Type: AWS::SQS::Queue
Outputs:
  Seen:
    Value: !Sub "${Stage}/${Owner}"
"""


def samlite(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "samlite", *args], capture_output=True, text=True,
                          timeout=60, cwd=cwd, env=env, input=input)


@pytest.fixture
def two_params(tmp_path: Path) -> Path:
    project = tmp_path / "params"
    project.mkdir()
    (project / "template.yaml").write_text(TWO_PARAMS)
    return project


@pytest.mark.parametrize("form", [
    ["Stage=prod", "Owner=ada"],                      # several arguments, as SAM CLI takes them
    ["Stage=prod Owner=ada"],                         # one string
    ['Stage="prod" Owner="ada"'],                     # as samconfig.toml writes it
    ["ParameterKey=Stage,ParameterValue=prod", "ParameterKey=Owner,ParameterValue=ada"],
])
def test_validate_takes_every_parameter_overrides_form(two_params: Path, form: list[str]) -> None:
    result = samlite("validate", "--parameter-overrides", *form, "-o", "json", cwd=two_params)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["warnings"] == []


def test_bad_parameter_overrides_are_usage_errors(two_params: Path) -> None:
    for form in (["Stage=prod", "Owner"], ["Stage=prod", "B@d=1"], ["'unclosed"]):
        result = samlite("validate", "--parameter-overrides", *form, cwd=two_params)
        assert result.returncode == 2, (form, result.stderr)
        assert "Traceback" not in result.stderr
    out_of_range = samlite("validate", "--parameter-overrides", "Stage=qa", "Owner=ada", cwd=two_params)
    assert out_of_range.returncode == 3 and "AllowedValues" in out_of_range.stderr


def test_deploy_with_several_parameter_overrides(samlite_engine: EngineHandle, two_params: Path) -> None:
    result = samlite_engine.cli("deploy", "--stack-name", "params", "--parameter-overrides", "Stage=prod",
                                "Owner=ada", "--no-confirm-changeset", cwd=two_params)
    assert result.returncode == 0, result.stderr
    assert samlite_engine.outputs("params")["Seen"] == "prod/ada"
    # Flags after the pairs are still flags; the last value of a key wins, as in SAM.
    again = samlite_engine.cli("deploy", "--parameter-overrides", "ParameterKey=Stage,ParameterValue=dev",
                               "Owner=bob", "--stack-name", "params", "--no-confirm-changeset", cwd=two_params)
    assert again.returncode == 0, again.stderr
    assert samlite_engine.outputs("params")["Seen"] == "dev/bob"


HELLO = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      CodeUri: src/
      Events:
        Get:
          Type: HttpApi
          Properties:
            Path: /hello
            Method: get
"""


def hello_project(root: Path, version: str = "v1") -> Path:
    from samlite.testing import write_project

    return write_project(root, HELLO, {
        "src/app.py": f"def handler(event, context):\n    return {{'statusCode': 200, 'body': '{version}'}}\n"}).parent


def test_sam_commands_without_a_samlite_twin_get_a_one_line_pointer() -> None:
    for args, needle in ((["package"], "samlite build"), (["pipeline", "init"], "real AWS"),
                         (["start-api"], "samlite local start-api"), (["deploy", "--profile", "dev"], "credentials"),
                         (["deploy", "--s3-prefix", "x"], "no S3 upload"), (["nope"], "samlite --help"),
                         (["local", "nope"], "samlite local --help")):
        result = samlite(*args)
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert needle in result.stderr and len(lines) <= 2 and "Usage:" not in result.stderr, (args, result.stderr)


def test_local_invoke_runs_the_template_code(tmp_path: Path) -> None:
    project = hello_project(tmp_path / "hello")
    # FUNCTION may be left out when there is one function, as in SAM.
    for args in (["local", "invoke"], ["local", "invoke", "Hello", "--no-event"], ["local", "invoke", "Hello", "-e", "-"]):
        result = samlite(*args, cwd=project, input="{}")
        assert result.returncode == 0, (args, result.stderr)
        assert json.loads(result.stdout)["body"] == "v1"
    missing = samlite("local", "invoke", "Nope", cwd=project)
    assert missing.returncode == 1 and "Hello" in missing.stderr
    event = samlite("local", "generate-event", "sqs", "receive-message", "--body", "x")
    assert event.returncode == 0 and json.loads(event.stdout)["Records"][0]["body"] == "x"


def test_invoke_with_t_runs_local_code_not_the_deployed_stack(samlite_engine: EngineHandle, tmp_path: Path) -> None:
    project = hello_project(tmp_path / "hello")
    samlite_engine.deploy(project / "template.yaml", "hello")
    (project / "src" / "app.py").write_text("def handler(event, context):\n    return {'body': 'edited'}\n")
    local = samlite_engine.cli("invoke", "Hello", "-t", "template.yaml", cwd=project)
    assert local.returncode == 0, local.stderr
    assert json.loads(local.stdout)["body"] == "edited"
    deployed = samlite_engine.cli("invoke", "Hello", "--stack-name", "hello", cwd=project)
    assert json.loads(deployed.stdout)["body"] == "v1"


def test_list_stack_outputs_is_list_outputs(samlite_engine: EngineHandle, two_params: Path) -> None:
    samlite_engine.deploy(two_params / "template.yaml", "params", "--parameter-overrides", "Stage=dev Owner=x")
    sam = samlite_engine.cli("list", "stack-outputs", "--stack-name", "params", "-o", "json")
    assert sam.returncode == 0, sam.stderr
    assert json.loads(sam.stdout) == json.loads(samlite_engine.cli("list", "outputs", "--stack-name", "params",
                                                                   "--output", "json").stdout)


def test_sam_deploy_flags(samlite_engine: EngineHandle, two_params: Path) -> None:
    base = ["deploy", "--stack-name", "flags", "--parameter-overrides", "Stage=dev", "Owner=x"]
    dry = samlite_engine.cli(*base, "--no-execute-changeset", "--resolve-s3", "--s3-bucket", "b", cwd=two_params)
    assert dry.returncode == 0, dry.stderr
    assert "Add" in dry.stderr and "not executed" in dry.stderr
    assert json.loads(samlite_engine.cli("list", "stacks", "-o", "json").stdout) == []
    samlite_engine.cli(*base, "--no-confirm-changeset", cwd=two_params, check=True)
    empty = samlite_engine.cli(*base, "--no-confirm-changeset", "--fail-on-empty-changeset", cwd=two_params)
    assert empty.returncode == 1 and "No changes to deploy" in empty.stderr
    quiet = samlite_engine.cli(*base, "--no-confirm-changeset", "--no-fail-on-empty-changeset", cwd=two_params)
    assert quiet.returncode == 0, quiet.stderr


def test_sam_build_flags_and_samconfig_written_by_sam(samlite_engine: EngineHandle, tmp_path: Path) -> None:
    project = hello_project(tmp_path / "hello")
    (project / "samconfig.toml").write_text('''version = 0.1
[default.global.parameters]
stack_name = "sam-hello"
[default.build.parameters]
cached = true
parallel = true
[default.validate.parameters]
lint = true
[default.deploy.parameters]
capabilities = "CAPABILITY_IAM"
confirm_changeset = false
resolve_s3 = true
s3_prefix = "sam-hello"
region = "us-east-1"
image_repositories = []
[default.package.parameters]
resolve_s3 = true
[default.sync.parameters]
watch = true
[default.local_start_api.parameters]
warm_containers = "EAGER"
''')
    built = samlite_engine.cli("build", "--cached", "--parallel", "--use-container", "-o", "json", cwd=project)
    assert built.returncode == 0, built.stderr
    assert json.loads(built.stdout)[0]["logical_id"] == "Hello"
    assert samlite_engine.cli("validate", cwd=project).returncode == 0
    deployed = samlite_engine.cli("deploy", cwd=project)
    assert deployed.returncode == 0, deployed.stderr
    assert "sam-hello" in deployed.stderr
    synced = samlite_engine.cli("sync", cwd=project)
    assert synced.returncode == 0 and "No changes" in synced.stderr, synced.stderr
    assert samlite_engine.cli("delete", "--no-prompts", cwd=project).returncode == 0


def test_guided_confirm_changeset_is_saved_and_honoured(samlite_engine: EngineHandle, two_params: Path) -> None:
    import tomllib

    # Stack name, region, Stage, Owner, confirm=yes, save, file, env.
    guided = samlite_engine.cli("deploy", "--guided", cwd=two_params, input="\n\ndev\nada\ny\ny\n\n\ny\n")
    assert guided.returncode == 0, guided.stderr
    saved = tomllib.loads((two_params / "samconfig.toml").read_text())["default"]["deploy"]["parameters"]
    assert saved["confirm_changeset"] is True and saved["stack_name"] == "params"
    # A later plain deploy asks (no terminal needed): answering "n" changes nothing.
    (two_params / "template.yaml").write_text(TWO_PARAMS.replace("Outputs:", "  Extra:\n    Type: AWS::SQS::Queue\nOutputs:"))
    asked = samlite_engine.cli("deploy", cwd=two_params, input="n\n")
    assert asked.returncode == 0 and "Deploy this change set?" in asked.stderr and "cancelled" in asked.stderr


def test_validate_lint(two_params: Path) -> None:
    import shutil

    result = samlite("validate", "--lint", "--parameter-overrides", "Stage=dev", "Owner=x", cwd=two_params)
    assert result.returncode == 0, result.stderr
    if shutil.which("cfn-lint") is None:
        assert "cfn-lint is not installed" in result.stderr
    else:
        (two_params / "template.yaml").write_text(TWO_PARAMS.replace("    Type: AWS::SQS::Queue\n",
                                                  "    Type: AWS::SQS::Queue\n    Properties:\n      Nope: 1\n"))
        bad = samlite("validate", "--lint", "-o", "json", "--parameter-overrides", "Stage=dev", "Owner=x",
                      cwd=two_params)
        assert bad.returncode == 3
        assert any("cfn-lint E" in e["message"] for e in json.loads(bad.stdout)["errors"])


def _get(url: str) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_local_start_api_serves_until_ctrl_c_then_removes_its_stack(samlite_engine: EngineHandle,
                                                                    tmp_path: Path) -> None:
    import re

    from samlite.testing import wait_for

    project = hello_project(tmp_path / "hello")
    server = samlite_engine.spawn("local", "start-api", "--warm-containers", "EAGER", cwd=project)
    try:
        server.wait_output("Serving stack hello-local", timeout=30)
        route = re.search(r"GET\s+(http://\S+/hello)", server.text)
        assert route, server.text
        assert _get(route.group(1)) == (200, "v1")
        # Saved code is served without a restart, as `sam local start-api` does.
        (project / "src" / "app.py").write_text("def handler(event, context):\n    return {'statusCode': 200, 'body': 'v2'}\n")
        wait_for(lambda: _get(route.group(1)) == (200, "v2"), timeout=15, message="the edited code served")
        assert server.interrupt() == 0
    finally:
        server.close()
    assert "Stack hello-local removed" in server.text
    assert json.loads(samlite_engine.cli("list", "stacks", "-o", "json").stdout) == []


def test_local_start_lambda_prints_the_endpoint(samlite_engine: EngineHandle, tmp_path: Path) -> None:
    project = hello_project(tmp_path / "hello")
    server = samlite_engine.spawn("local", "start-lambda", "--stack-name", "lam", cwd=project)
    try:
        server.wait_output("aws lambda invoke", timeout=30)
        assert samlite_engine.aws_url in server.text and "Hello: lam-Hello-" in server.text
        name = next(f["FunctionName"] for f in samlite_engine.client("lambda").list_functions()["Functions"])
        payload = samlite_engine.client("lambda").invoke(FunctionName=name)["Payload"].read()
        assert json.loads(payload)["body"] == "v1"
        assert server.interrupt() == 0
    finally:
        server.close()
    assert json.loads(samlite_engine.cli("list", "stacks", "-o", "json").stdout) == []


def test_sync_watch_is_the_dev_loop(samlite_engine: EngineHandle, tmp_path: Path) -> None:
    project = hello_project(tmp_path / "hello")
    loop = samlite_engine.spawn("sync", "--watch", "--stack-name", "synced", cwd=project)
    try:
        loop.wait_output("Watching", timeout=30)
        assert "samlite dev" in loop.text
        assert loop.interrupt() == 0
    finally:
        loop.close()
    assert "stays deployed" in loop.text
    assert [s["stack"] for s in json.loads(samlite_engine.cli("list", "stacks", "-o", "json").stdout)] == ["synced"]


def test_start_api_port_must_be_a_port(tmp_path: Path) -> None:
    project = hello_project(tmp_path / "hello")
    for port in ("-1", "70000", "http"):
        result = samlite("local", "start-api", "--port", port, cwd=project)
        assert result.returncode == 2 and "--port" in result.stderr, result.stderr


QUEUE_PROJECT = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Inbox:
    Type: AWS::SQS::Queue
Outputs:
  InboxUrl:
    Value: !Ref Inbox
"""


def test_a_second_project_with_the_same_stack_name_does_not_silently_replace_the_first(
        samlite_engine: EngineHandle, tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for project in (first, second):
        project.mkdir()
    (first / "template.yaml").write_text(QUEUE_PROJECT)
    (second / "template.yaml").write_text(TWO_PARAMS)
    samlite_engine.deploy(first / "template.yaml", "sam-app")
    inbox = samlite_engine.outputs("sam-app")["InboxUrl"]
    samlite_engine.client("sqs").send_message(QueueUrl=inbox, MessageBody="in flight")

    args = ["deploy", "--stack-name", "sam-app", "--no-confirm-changeset", "--parameter-overrides", "Stage=dev",
            "Owner=x"]
    refused = samlite_engine.cli(*args, cwd=second)
    assert refused.returncode == 1, refused.stderr
    assert f"was deployed from {first / 'template.yaml'}" in refused.stderr
    assert "queue Inbox" in refused.stderr and "holds 1 message(s)" in refused.stderr and "--force" in refused.stderr
    assert samlite_engine.outputs("sam-app")["InboxUrl"] == inbox  # nothing changed
    # Asked for "anyway?" on a terminal only; a script needs --force.
    forced = samlite_engine.cli(*args, "--force", cwd=second)
    assert forced.returncode == 0, forced.stderr
    assert "Seen" in samlite_engine.outputs("sam-app")
    # The same project redeploying its own stack is never asked.
    again = samlite_engine.cli(*args, cwd=second)
    assert again.returncode == 0 and "No changes" in again.stderr, again.stderr


def test_removing_a_queue_with_messages_needs_force(samlite_engine: EngineHandle, tmp_path: Path) -> None:
    project = tmp_path / "q"
    project.mkdir()
    (project / "template.yaml").write_text(QUEUE_PROJECT)
    samlite_engine.deploy(project / "template.yaml", "q")
    samlite_engine.client("sqs").send_message(QueueUrl=samlite_engine.outputs("q")["InboxUrl"], MessageBody="x")
    (project / "template.yaml").write_text(QUEUE_PROJECT.replace("Inbox", "Outbox"))
    refused = samlite_engine.cli("deploy", "--stack-name", "q", "--no-confirm-changeset", cwd=project)
    assert refused.returncode == 1 and "queue Inbox" in refused.stderr
    assert samlite_engine.cli("deploy", "--stack-name", "q", "--force", "--no-confirm-changeset",
                              cwd=project).returncode == 0
    assert set(samlite_engine.outputs("q")) == {"OutboxUrl"}


def test_list_outputs_shows_the_urls_of_the_engine_that_runs(samlite_engine: EngineHandle, tmp_path: Path) -> None:
    project = hello_project(tmp_path / "hello")
    (project / "template.yaml").write_text(HELLO + QUEUE_PROJECT.split("Resources:\n")[1].replace(
        "Outputs:\n", "Outputs:\n  ApiUrl:\n    Value: !Sub 'https://${ServerlessHttpApi}.execute-api.${AWS::Region}"
                      ".amazonaws.com/hello'\n"))
    samlite_engine.deploy(project / "template.yaml", "urls")
    before = samlite_engine.outputs("urls")
    assert before["ApiUrl"].startswith(samlite_engine.gateway_url)
    samlite_engine.stop()
    samlite_engine.start()  # port 0: the restarted engine listens on other ports
    after = samlite_engine.outputs("urls")
    assert after["ApiUrl"] == before["ApiUrl"].replace(before["ApiUrl"].split("/_api/")[0], samlite_engine.gateway_url)
    assert after["InboxUrl"].startswith(samlite_engine.aws_url + "/123456789012/")
    assert _get(after["ApiUrl"]) == (200, "v1")
    listed = samlite_engine.cli("list", "stack-outputs", "--stack-name", "urls")
    assert after["InboxUrl"] in listed.stdout


def test_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    import os
    import socket

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        for variable, args in (("SAMLITE_GATEWAY_PORT", ["engine", "start"]),
                               ("SAMLITE_AWS_PORT", ["engine", "start", "--foreground"])):
            env = {**os.environ, "SAMLITE_HOME": str(tmp_path / variable), "SAMLITE_GATEWAY_PORT": "0",
                   "SAMLITE_AWS_PORT": "0", variable: str(port)}
            result = samlite(*args, env=env)
            assert result.returncode == 1, result.stderr
            assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
            assert f"port {port}" in result.stderr and variable in result.stderr
    finally:
        holder.close()


def _in_a_terminal(args: list[str], env: dict[str, str], cwd: Path) -> bytes:
    """Run samlite on a pseudo-terminal (colour is only ever drawn on one) and return what it drew."""
    import os
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child: become samlite
        os.chdir(cwd)
        os.execvpe(sys.executable, [sys.executable, "-m", "samlite", *args], env)
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.waitpid(pid, 0)
    os.close(fd)
    return out


def test_no_color_and_dumb_terminals(samlite_engine: EngineHandle, tmp_path: Path) -> None:
    project = tmp_path / "colours"
    project.mkdir()
    # A skipped resource gives a yellow warning; success is green; tables have bold headers.
    (project / "template.yaml").write_text(QUEUE_PROJECT.replace(
        "Outputs:", "  Table:\n    Type: AWS::AppSync::GraphQLApi\nOutputs:"))
    env = {k: v for k, v in samlite_engine.env.items() if k not in ("NO_COLOR", "TERM", "FORCE_COLOR")}
    deploy = ["deploy", "--stack-name", "colours", "--no-confirm-changeset"]
    coloured = _in_a_terminal(deploy, {**env, "TERM": "xterm-256color"}, project)
    assert b"not emulated" in coloured and b"\x1b[33m" in coloured  # the control case: yellow is drawn
    samlite_engine.cli("delete", "--stack-name", "colours", "--no-prompts", check=True)
    no_color = _in_a_terminal(deploy, {**env, "TERM": "xterm-256color", "NO_COLOR": "1"}, project)
    assert b"Successfully deployed" in no_color
    import re
    # Styles (bold, italic) are allowed; colour parameters (30-49, 90-107) are not.
    params = [int(p) for codes in re.findall(rb"\x1b\[([0-9;]*)m", no_color) for p in codes.split(b";") if p]
    assert not [p for p in params if 30 <= p <= 49 or 90 <= p <= 107], params
    samlite_engine.cli("delete", "--stack-name", "colours", "--no-prompts", check=True)
    dumb = _in_a_terminal(deploy, {**env, "TERM": "dumb"}, project)
    assert b"Successfully deployed" in dumb and b"\x1b" not in dumb


def test_a_python_version_that_is_not_installed_is_said_once_per_function(samlite_engine: EngineHandle,
                                                                         tmp_path: Path) -> None:
    from samlite import pythons

    missing = next(f"python3.{minor}" for minor in range(14, 8, -1) if pythons.find_python(f"python3.{minor}") is None)
    project = hello_project(tmp_path / "hello")
    (project / "template.yaml").write_text(HELLO.replace("python3.12", missing))
    deployed = samlite_engine.cli("deploy", "--stack-name", "old", "--no-confirm-changeset", cwd=project)
    assert deployed.returncode == 0, deployed.stderr
    assert deployed.stderr.count(f"Hello: runtime {missing}: no Python {missing[6:]} found") == 1, deployed.stderr
    for args in (["invoke", "Hello", "--stack-name", "old"], ["local", "invoke", "Hello"]):
        invoked = samlite_engine.cli(*args, cwd=project)
        assert invoked.returncode == 0, invoked.stderr
        assert invoked.stderr.count(f"runtime {missing}: no Python") == 1, (args, invoked.stderr)
    # An installed version is silent, and really runs that version.
    (project / "template.yaml").write_text(HELLO)
    (project / "src" / "app.py").write_text("import sys\ndef handler(event, context):\n"
                                            "    return '%d.%d' % sys.version_info[:2]\n")
    if pythons.find_python("python3.12"):
        ran = samlite_engine.cli("local", "invoke", "Hello", cwd=project)
        assert ran.returncode == 0 and json.loads(ran.stdout) == "3.12" and "no Python" not in ran.stderr, ran.stderr


def test_tracebacks_point_at_the_project_source(samlite_engine: EngineHandle, tmp_path: Path) -> None:
    project = hello_project(tmp_path / "hello")
    source = project / "src" / "app.py"
    source.write_text("def handler(event, context):\n    raise ValueError('boom')\n")
    samlite_engine.deploy(project / "template.yaml", "tb")
    home = str(samlite_engine.home)
    for args in (["invoke", "Hello", "--stack-name", "tb"], ["local", "invoke", "Hello"]):
        failed = samlite_engine.cli(*args, cwd=project)
        assert failed.returncode == 4, failed.stderr
        trace = json.loads(failed.stdout)["stackTrace"]
        assert any(f'File "{source}", line 2' in line for line in trace), (args, trace)
        assert f'File "{source}", line 2' in failed.stderr, failed.stderr  # the log tail
        assert home + "/code/" not in failed.stdout + failed.stderr
    logs = samlite_engine.cli("logs", "-n", "Hello", "--stack-name", "tb")
    assert f'File "{source}", line 2' in logs.stdout and home + "/code/" not in logs.stdout, logs.stdout
