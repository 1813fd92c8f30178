"""Semantic validation: every range and rule reports file:line: LogicalId.Path: message."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from samlite.errors import TemplateError
from samlite.template import load_stack, parse_parameter_overrides, validate_template
from samlite.template.model import Context
from samlite.template.problems import Problem

HEAD = "AWSTemplateFormatVersion: '2010-09-09'\nTransform: AWS::Serverless-2016-10-31\n"


def write(tmp_path: Path, body: str, code: bool = True) -> Path:
    if code:
        (tmp_path / "src").mkdir(exist_ok=True)
        (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return 1\n")
    path = tmp_path / "template.yaml"
    path.write_text(HEAD + textwrap.dedent(body))
    return path


def function(props: str = "", events: str = "", extra: str = "") -> str:
    body = "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
    body += "      Runtime: python3.12\n      Handler: app.handler\n      CodeUri: src\n"
    body += textwrap.indent(textwrap.dedent(props), "      ")
    if events:
        body += "      Events:\n" + textwrap.indent(textwrap.dedent(events), "        ")
    return body + textwrap.dedent(extra)


def errors(path: Path, **kwargs: object) -> list[str]:
    return [str(p) for p in validate_template(path, **kwargs) if p.severity == "error"]  # type: ignore[arg-type]


def warnings(path: Path) -> list[str]:
    return [str(p) for p in validate_template(path) if p.severity == "warning"]


def one_error(path: Path) -> str:
    found = errors(path)
    assert len(found) == 1, found
    return found[0]


def test_problem_format() -> None:
    problem = Problem("t.yaml", 7, "Fn", "Properties.MemorySize", "too big")
    assert str(problem) == "t.yaml:7: Fn.Properties.MemorySize: too big"
    assert str(Problem("t.yaml", None, "", "", "empty")) == "t.yaml: empty"


def test_valid_function_has_no_problems(tmp_path: Path) -> None:
    assert validate_template(write(tmp_path, function())) == []


@pytest.mark.parametrize("props, fragment", [
    ("MemorySize: 64\n", "Fn.Properties.MemorySize: 64 is out of range: must be 128-10,240"),
    ("MemorySize: 10241\n", "MemorySize: 10241 is out of range"),
    ("Timeout: 0\n", "Timeout: 0 is out of range: must be 1-900"),
    ("Timeout: 901\n", "Timeout: 901 is out of range"),
    ("EphemeralStorage: {Size: 511}\n", "EphemeralStorage.Size: 511 is out of range: must be 512-10,240"),
    ("ReservedConcurrentExecutions: -1\n", "ReservedConcurrentExecutions: -1 is out of range: must be at least 0"),
    ("FunctionName: 'has space'\n", "invalid function name 'has space'"),
    ("FunctionName: " + "x" * 65 + "\n", "invalid function name"),
    ("Layers: [a, b, c, d, e, f]\n", "6 layers; a function can use at most 5"),
    ("Environment: {Variables: {AWS_REGION: x}}\n", "Reserved keys used in this request: AWS_REGION"),
    ("Environment: {Variables: {1BAD: x}}\n", "invalid environment variable name '1BAD'"),
    ("Environment: {Variables: {BIG: " + "x" * 4100 + "}}\n", "exceeded the 4KB limit. String measured: {\"BIG\""),
    ("EventInvokeConfig: {MaximumRetryAttempts: 3}\n", "MaximumRetryAttempts: 3 is out of range: must be 0-2"),
    ("EventInvokeConfig: {MaximumEventAgeInSeconds: 59}\n", "MaximumEventAgeInSeconds: 59 is out of range: must be 60-21,600"),
    ("EventInvokeConfig: {DestinationConfig: {OnFailure: {Type: Lambda}}}\n", "Destination is required for type Lambda"),
    ("Architectures: [arm64, x86_64]\n", "Architectures must be [x86_64] or [arm64]"),
    ("Runtme: python3.12\n", "unknown property 'Runtme'; did you mean 'Runtime'?"),
    ("MemorySize: lots\n", "MemorySize: must be an integer"),
])
def test_function_limits(tmp_path: Path, props: str, fragment: str) -> None:
    message = one_error(write(tmp_path, function(props)))
    assert fragment in message
    assert message.startswith(str(tmp_path / "template.yaml") + ":")


def test_error_lines_point_at_the_property(tmp_path: Path) -> None:
    path = write(tmp_path, function("MemorySize: 64\n"))
    (problem,) = [p for p in validate_template(path) if p.severity == "error"]
    assert problem.line == 10 and problem.logical_id == "Fn" and problem.path == "Properties.MemorySize"


@pytest.mark.parametrize("runtime, ok", [
    ("python3.8", True), ("python3.14", True), ("nodejs22.x", True), ("provided.al2023", True),
    ("python3.7", False), ("java2l", False), ("nodejs16.x", False), ("python3.15", False),
])
def test_runtimes(tmp_path: Path, runtime: str, ok: bool) -> None:
    body = function().replace("python3.12", runtime)
    found = errors(write(tmp_path, body))
    assert (found == []) is ok, found
    if not ok:
        assert f"unsupported runtime '{runtime}'" in found[0]


@pytest.mark.parametrize("runtime", ["java25", "java8.al2", "dotnet8", "dotnetcore3.1", "ruby3.3", "go1.x"])
def test_real_runtimes_samlite_cannot_run_are_warnings(tmp_path: Path, runtime: str) -> None:
    path = write(tmp_path, function().replace("python3.12", runtime))
    problems = validate_template(path)
    assert [p.message for p in problems if p.severity == "error"] == []
    assert f"runtime {runtime} is not emulated by samlite: the function is deployed but cannot be invoked " \
           "locally" in [p.message for p in problems]


def test_provided_runtime_needs_an_executable_bootstrap(tmp_path: Path) -> None:
    path = write(tmp_path, function().replace("python3.12", "provided.al2023"))
    assert any("no executable bootstrap" in p.message and p.severity == "warning" for p in validate_template(path))
    bootstrap = tmp_path / "src" / "bootstrap"
    bootstrap.write_text("#!/bin/sh\n")
    bootstrap.chmod(0o755)
    assert not any("bootstrap" in p.message for p in validate_template(path))


def test_missing_runtime_unless_globals(tmp_path: Path) -> None:
    body = function().replace("      Runtime: python3.12\n", "")
    assert "Runtime is required" in one_error(write(tmp_path, body))
    assert errors(write(tmp_path, "Globals:\n  Function:\n    Runtime: python3.13\n" + body)) == []


def test_globals_reject_unsupported_keys(tmp_path: Path) -> None:
    body = "Globals:\n  Function:\n    Events: {}\n    FunctionName: x\n    Policies: []\n" + function()
    found = errors(write(tmp_path, body))
    assert any("Globals.Function.Events: 'Events' is not supported in Globals.Function" in f for f in found)
    assert any("'FunctionName' is not supported" in f for f in found)
    assert any("'Policies' is not supported" in f for f in found)
    assert any("'StageName' is not supported in Globals.Api" in f for f in
               errors(write(tmp_path, "Globals:\n  Api:\n    StageName: x\n" + function())))


SQS = """\
Q:
  Type: SQS
  Properties:
    Queue: !GetAtt Queue.Arn
"""


def queue(props: str = "", fifo: bool = False) -> str:
    text = "  Queue:\n    Type: AWS::SQS::Queue\n    Properties:\n      VisibilityTimeout: 60\n"
    if fifo:
        text += "      FifoQueue: true\n"
    return text + textwrap.indent(textwrap.dedent(props), "      ")


@pytest.mark.parametrize("event_props, fifo, fragment", [
    ("BatchSize: 0\n", False, "BatchSize: 0 is out of range: must be 1-10,000"),
    ("BatchSize: 10001\nMaximumBatchingWindowInSeconds: 1\n", False, "BatchSize: 10001 is out of range"),
    ("BatchSize: 11\n", True, "BatchSize: 11 is out of range: must be 1-10"),
    ("BatchSize: 50\n", False, "must be at least 1 when BatchSize is greater than 10"),
    ("MaximumBatchingWindowInSeconds: 301\n", False, "MaximumBatchingWindowInSeconds: 301 is out of range: must be 0-300"),
    ("MaximumBatchingWindowInSeconds: 1\n", True, "not supported for FIFO queues"),
    ("ScalingConfig: {MaximumConcurrency: 1}\n", False, "MaximumConcurrency: 1 is out of range: must be 2-1,000"),
    ("FilterCriteria: {Filters: [{Pattern: '{}'}, {Pattern: '{}'}, {Pattern: '{}'}, {Pattern: '{}'}, {Pattern: '{}'}, {Pattern: '{}'}]}\n",
     False, "6 filters; at most 5"),
    ("FunctionResponseTypes: [Nope]\n", False, "only ReportBatchItemFailures"),
])
def test_sqs_event_limits(tmp_path: Path, event_props: str, fifo: bool, fragment: str) -> None:
    events = SQS + textwrap.indent(event_props, "    ")
    body = function(events=events) + queue(fifo=fifo)
    message = one_error(write(tmp_path, body))
    assert fragment in message and "Fn.Properties.Events.Q.Properties." in message


def test_visibility_timeout_shorter_than_function_timeout(tmp_path: Path) -> None:
    body = function("Timeout: 120\n", events=SQS) + queue()
    assert "Queue visibility timeout: 60 seconds is less than Function timeout: 120 seconds" in \
        one_error(write(tmp_path, body))


@pytest.mark.parametrize("props, fifo, fragment", [
    ("DelaySeconds: 901\n", False, "DelaySeconds: 901 is out of range: must be 0-900"),
    ("MessageRetentionPeriod: 59\n", False, "MessageRetentionPeriod: 59 is out of range"),
    ("MaximumMessageSize: 1048577\n", False, "MaximumMessageSize: 1048577 is out of range"),
    ("ReceiveMessageWaitTimeSeconds: 21\n", False, "ReceiveMessageWaitTimeSeconds: 21 is out of range"),
    ("QueueName: 'bad name'\n", False, "invalid queue name 'bad name'"),
    ("QueueName: " + "q" * 81 + "\n", False, "invalid queue name"),
    ("QueueName: plain\n", True, "must end in .fifo"),
    ("QueueName: x.fifo\n", False, "ends in .fifo but FifoQueue is not true"),
    ("ContentBasedDeduplication: true\n", False, "only FIFO queues support content-based"),
    ("RedrivePolicy: {deadLetterTargetArn: arn:aws:sqs:us-east-1:1:d, maxReceiveCount: 1001}\n", False,
     "maxReceiveCount: 1001 is out of range: must be 1-1,000"),
])
def test_queue_limits(tmp_path: Path, props: str, fifo: bool, fragment: str) -> None:
    body = "Resources:\n" + queue(props, fifo)
    assert fragment in one_error(write(tmp_path, body))


def test_queue_visibility_range(tmp_path: Path) -> None:
    body = "Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n    Properties:\n      VisibilityTimeout: 43201\n"
    assert "VisibilityTimeout: 43201 is out of range: must be 0-43,200" in one_error(write(tmp_path, body))


def test_unknown_refs_getatts_and_attributes(tmp_path: Path) -> None:
    props = """\
Environment:
  Variables:
    AA: !Ref Nope
    BB: !GetAtt Queue.Nope
    CC: !Sub "${Missing.Arn}"
    DD: !GetAtt Queu.Arn
"""
    found = errors(write(tmp_path, function(props) + queue()))
    assert len(found) == 4, found
    assert any("Ref to 'Nope', which is not a parameter" in f for f in found)
    assert any("AWS::SQS::Queue 'Queue' has no attribute 'Nope' (it has Arn, QueueName, QueueUrl)" in f for f in found)
    assert any("names unknown resource 'Missing'" in f for f in found)
    assert any("did you mean 'Queue'" in f for f in found)


def test_circular_dependencies(tmp_path: Path) -> None:
    body = """\
Resources:
  A:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !GetAtt B.QueueName
  B:
    Type: AWS::SQS::Queue
    DependsOn: A
  C:
    Type: AWS::SQS::Queue
    DependsOn: [Nope]
"""
    found = errors(write(tmp_path, body))
    assert any("circular dependency: A -> B -> A" in f for f in found), found
    assert any("C.DependsOn: DependsOn unknown resource 'Nope'" in f for f in found)


def test_resource_types(tmp_path: Path) -> None:
    body = """\
Resources:
  Bad:
    Type: AWS::Serverless::Functon
  Typo:
    Type: AWS::SQS::Queeu
  Table:
    Type: AWS::DynamoDB::Table
  Policy:
    Type: AWS::IAM::ManagedPolicy
  Machine:
    Type: AWS::StepFunctions::Activity
  Newish:
    Type: AWS::DynamoDB::SomethingNew
  Custom:
    Type: Custom::Thing
"""
    path = write(tmp_path, body)
    found = errors(path)
    assert any("Bad.Type: unknown resource type 'AWS::Serverless::Functon'; did you mean "
               "'AWS::Serverless::Function'?" in f for f in found), found
    assert any("did you mean 'AWS::SQS::Queue'" in f for f in found)
    assert len(found) == 2
    warned = warnings(path)
    # Tables run on the moto backend; managed policies are inert; activities are not emulated.
    assert not any("Table:" in w or "Policy:" in w for w in warned), warned
    assert any("Machine: AWS::StepFunctions::Activity is not emulated" in w for w in warned)
    assert any("Newish:" in w for w in warned) and any("Custom:" in w for w in warned)


def test_sam_types_need_the_transform(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
                    "      Runtime: python3.12\n      Handler: a.b\n      InlineCode: x\n")
    assert "need 'Transform: AWS::Serverless-2016-10-31'" in one_error(path)


PARAMS = """\
Parameters:
  Env:
    Type: String
    Default: dev
    AllowedValues: [dev, prod]
  Name:
    Type: String
    Default: abc
    AllowedPattern: "[a-z]+"
    MinLength: 2
    MaxLength: 5
  Size:
    Type: Number
    Default: 5
    MinValue: 1
    MaxValue: 10
  Required:
    Type: String
"""


def test_parameter_constraints(tmp_path: Path) -> None:
    path = write(tmp_path, PARAMS + function())
    found = validate_template(path)
    assert [p.severity for p in found] == ["warning"]  # Required has no value: a warning here
    assert "has no Default and no value was given" in found[0].message
    overrides = {"Env": "qa", "Name": "abc1", "Size": "11", "Required": "x"}
    found_errors = errors(path, parameter_overrides=overrides)
    assert any("'qa' is not one of the AllowedValues" in f for f in found_errors)
    assert any("does not match AllowedPattern" in f for f in found_errors)
    assert any("11 is greater than MaxValue 10" in f for f in found_errors)
    assert len(found_errors) == 3
    assert any("is not a number" in f for f in errors(path, parameter_overrides={"Size": "x", "Required": "x"}))
    assert any("longer than MaxLength 5" in f for f in errors(path, parameter_overrides={"Name": "abcdef", "Required": "x"}))
    with pytest.raises(TemplateError, match="Required"):
        load_stack(path, Context())


def test_conditions_are_checked(tmp_path: Path) -> None:
    body = """\
Conditions:
  Bad: !Equals [a]
  Loop: !Not [!Condition Loop]
Resources:
  Q:
    Type: AWS::SQS::Queue
    Condition: Nope
"""
    found = errors(write(tmp_path, body))
    assert any("Bad: Fn::Equals takes a list of 2 items" in f for f in found), found
    assert any("circular condition" in f for f in found)
    assert any("Q.Condition: unknown condition 'Nope'" in f for f in found)


def test_ref_to_resource_dropped_by_condition(tmp_path: Path) -> None:
    body = """\
Conditions:
  Never: !Equals [a, b]
Resources:
  Gone:
    Type: AWS::SQS::Queue
    Condition: Never
  Q:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !GetAtt Gone.QueueName
"""
    assert "does not exist because its condition 'Never' is false" in one_error(write(tmp_path, body))


def test_code_checks_are_warnings_in_validate_errors_in_load(tmp_path: Path) -> None:
    body = function().replace("app.handler", "missing.handler")
    path = write(tmp_path, body)
    assert errors(path) == []
    assert any("handler module 'missing' not found" in w for w in warnings(path))
    load_stack(path, Context())  # without check_code the code is not looked at
    with pytest.raises(TemplateError, match="handler module 'missing' not found"):
        load_stack(path, Context(), check_code=True)
    path = write(tmp_path, function().replace("CodeUri: src", "CodeUri: nowhere"))
    assert any("code not found" in w for w in warnings(path))
    with pytest.raises(TemplateError, match="code not found"):
        load_stack(path, Context(), check_code=True)


def test_package_module_handler_is_found(tmp_path: Path) -> None:
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "__init__.py").write_text("def handler(e, c): pass\n")
    path = write(tmp_path, function().replace("app.handler", "pkg.handler"))
    load_stack(path, Context(), check_code=True)


def test_import_value_warning_in_validate_error_in_load(tmp_path: Path) -> None:
    path = write(tmp_path, function("Environment: {Variables: {XX: !ImportValue other-stack-out}}\n"))
    assert errors(path) == []
    assert any("no stack exports 'other-stack-out'" in w for w in warnings(path))
    with pytest.raises(TemplateError, match="no stack exports"):
        load_stack(path, Context())
    stack = load_stack(path, Context(exports={"other-stack-out": "v"}))
    assert stack.functions["Fn"].environment["XX"] == "v" and stack.imports == ("other-stack-out",)


def test_everything_is_reported_in_one_run(tmp_path: Path) -> None:
    body = function("MemorySize: 1\nTimeout: 1000\nRuntime: cobol\n").replace(
        "      Runtime: python3.12\n", "", 1) + "  Other:\n    Type: AWS::Serverless::Functon\n"
    found = errors(write(tmp_path, body))
    assert len(found) == 4, found


def test_api_event_checks(tmp_path: Path) -> None:
    events = """\
A:
  Type: Api
  Properties:
    Path: nope
    Method: get
B:
  Type: Api
  Properties:
    Path: /x
    Method: get
    RestApiId: !Ref Queue
C:
  Type: Api
  Properties:
    Path: /y
    Method: get
    Auth:
      Authorizer: Missing
"""
    found = errors(write(tmp_path, function(events=events) + queue()))
    assert any("Path must start with '/'" in f for f in found), found
    assert any("'Queue' is a AWS::SQS::Queue" in f for f in found)
    assert any("authorizer 'Missing' is not defined" in f for f in found)


def test_parse_parameter_overrides_forms() -> None:
    assert parse_parameter_overrides(["A=1", "B=x=y"]) == {"A": "1", "B": "x=y"}
    assert parse_parameter_overrides(['Stage="dev" QueueName="orders q"']) == \
        {"Stage": "dev", "QueueName": "orders q"}
    assert parse_parameter_overrides(["ParameterKey=Env,ParameterValue=prod"]) == {"Env": "prod"}
    from samlite.errors import UsageError

    with pytest.raises(UsageError):
        parse_parameter_overrides(["novalue"])
    with pytest.raises(UsageError):
        parse_parameter_overrides(["bad-name=1"])


def test_cli_json_and_text_output(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = write(tmp_path, function("MemorySize: 1\n"))
    result = subprocess.run([sys.executable, "-m", "samlite", "validate", "-t", str(tmp_path),
                             "--output", "json"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 3
    data = json.loads(result.stdout)
    assert data["valid"] is False
    assert data["errors"][0] == {"file": str(path), "line": 10, "logical_id": "Fn",
                                 "path": "Properties.MemorySize",
                                 "message": "1 is out of range: must be 128-10,240"}
    result = subprocess.run([sys.executable, "-m", "samlite", "validate", "-t", str(path)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 3 and f"{path}:10: Fn.Properties.MemorySize: 1 is out" in result.stderr
    write(tmp_path, function())
    result = subprocess.run([sys.executable, "-m", "samlite", "validate"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and "template.yaml is a valid SAM template" in result.stdout
    result = subprocess.run([sys.executable, "-m", "samlite", "validate", "--parameter-overrides",
                             "bad"], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "bad parameter override" in result.stderr


# ------------------------------------------------------------------ robustness: never a crash

_GARBAGE = [None, 1, -5, "x", [], {}, [1, {"a": None}], {"Ref": "Nope"}, {"Fn::GetAtt": "A"},
            {"Fn::Sub": 3}, {"Fn::If": [1]}, True, {"Fn::Join": None}, {"Fn::Select": ["a", 3]},
            {"Condition": 5}, {"Ref": "AWS::NoValue"}, 1.5, "arn:aws:sqs:us-east-1:1:q"]


def _mutate(doc: object, edits: list[tuple[int, object]]) -> None:
    """Replace the values at the chosen paths (index modulo the number of paths) in place."""
    import copy

    for index, value in edits:
        paths = _paths(doc)
        path = paths[index % len(paths)]
        node = doc
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = copy.deepcopy(value)


def _paths(node: object, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, prefix + (index,))
    return out


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=120, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(_GARBAGE)), min_size=1, max_size=3))
def test_mutated_templates_never_crash(tmp_path_factory: pytest.TempPathFactory,
                                       edits: list[tuple[int, object]]) -> None:
    from samlite.template.loader import load_template

    golden = Path(__file__).parents[1] / "golden" / "valid" / "full.yaml"
    doc = json.loads(json.dumps(load_template(golden)))
    _mutate(doc, edits)
    target = tmp_path_factory.mktemp("fuzz") / "template.json"
    target.write_text(json.dumps(doc))
    validate_template(target)
    try:
        load_stack(target, Context())
    except TemplateError:
        pass


def test_duplicate_routes_and_external_fifo_queue(tmp_path: Path) -> None:
    events = """\
A:
  Type: Api
  Properties: {Path: /x, Method: get}
B:
  Type: Api
  Properties: {Path: /x, Method: GET}
Q:
  Type: SQS
  Properties:
    Queue: arn:aws:sqs:us-east-1:123456789012:outside.fifo
    BatchSize: 20
"""
    found = errors(write(tmp_path, function(events=events)))
    assert any("route GET /x of ServerlessRestApi is already defined by Fn.Events.A" in f for f in found), found
    assert any("BatchSize: 20 is out of range: must be 1-10" in f for f in found)
    assert len(found) == 2


# ------------------------------------------------------------------ schema engine equivalence

def _schema_docs() -> list[dict]:
    from samlite.template.loader import load_template

    root = Path(__file__).parents[1]
    files = sorted((root / "golden").glob("*/*.yaml")) + sorted(
        (root.parent / ".." / "shared" / "corpus").glob("*/template.y*ml"))
    return [json.loads(json.dumps(load_template(f))) for f in files]


_DOCS = _schema_docs()
_SCHEMA_GARBAGE = _GARBAGE + [2.0, "true", "12", {"Type": "SQS"}, {"Type": "Api", "Properties": {}},
                              {"Type": "AWS::Serverless::Api"}, {"Ref": "x", "Fn::Sub": "y"}]


@settings(max_examples=150, deadline=None)
@given(st.integers(0, len(_DOCS) - 1),
       st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(_SCHEMA_GARBAGE)), max_size=4))
def test_mini_validator_agrees_with_jsonschema(doc_index: int, edits: list[tuple[int, object]]) -> None:
    import copy

    from samlite.template.schema import check_schema

    doc = copy.deepcopy(_DOCS[doc_index])
    _mutate(doc, edits)
    assert sorted(map(str, check_schema(doc))) == sorted(map(str, check_schema(doc, "jsonschema")))


def test_cli_parameter_overrides_sam_style(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = write(tmp_path, PARAMS + function())
    base = [sys.executable, "-m", "samlite", "validate", "-t", str(path), "--output", "json"]
    result = subprocess.run(base + ["--parameter-overrides", "Env=prod", "Required=x"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and json.loads(result.stdout)["warnings"] == []
    result = subprocess.run(base + ["--parameter-overrides", "ParameterKey=Env,ParameterValue=qa"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 3
    assert "'qa' is not one of the AllowedValues" in json.loads(result.stdout)["errors"][0]["message"]
