"""load_stack(): the resolved model (Globals, implicit resources, events, names, outputs)."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from samlite.errors import TemplateError
from samlite.template import load_stack
from samlite.template.model import Context, physical_name

GOLDEN = Path(__file__).parents[1] / "golden" / "valid"
CTX = Context(stack_name="app")


@pytest.fixture(scope="module")
def full() -> object:
    return load_stack(GOLDEN / "full.yaml", CTX, check_code=True)


def test_globals_merge(full: object) -> None:
    hello = full.functions["HelloFunction"]  # type: ignore[attr-defined]
    worker = full.functions["WorkerFunction"]  # type: ignore[attr-defined]
    # Maps merge per key (resource wins), scalars from Globals, lists concatenated.
    assert hello.environment["SHARED"] == "mine" and worker.environment["SHARED"] == "global"
    assert hello.environment["STAGE"] == "dev"
    assert "MAYBE" not in hello.environment  # Fn::If -> AWS::NoValue removed the key
    assert hello.tags == {"team": "core", "app": "hello"}
    assert hello.timeout == 10 and hello.memory_size == 256 and worker.memory_size == 128
    assert hello.layers == ("UtilLayer",) and hello.runtime == "python3.12"
    assert hello.code_uri == str((GOLDEN / "src").resolve())


def test_implicit_resources(full: object) -> None:
    resources = full.resources  # type: ignore[attr-defined]
    assert resources["HelloFunctionRole"].type == "AWS::IAM::Role"
    assert resources["HelloFunctionRole"].generated
    assert "WorkerFunctionRole" not in resources  # Role given
    assert resources["ServerlessRestApi"].type == "AWS::Serverless::Api"
    assert resources["ServerlessRestApiProdStage"].type == "AWS::ApiGateway::Stage"
    deployments = [lid for lid in resources if lid.startswith("ServerlessRestApiDeployment")]
    assert len(deployments) == 1 and re.fullmatch(r"ServerlessRestApiDeployment[0-9a-f]{10}", deployments[0])
    assert resources["ServerlessHttpApiApiGatewayDefaultStage"].type == "AWS::ApiGatewayV2::Stage"
    assert resources["WorkerFunctionOrders"].type == "AWS::Lambda::EventSourceMapping"
    assert resources["HelloFunctionUrl"].type == "AWS::Lambda::Url"
    assert resources["HelloFunctionEventInvokeConfig"].emulated
    assert resources["HelloFunctionHelloPermissionProd"].type == "AWS::Lambda::Permission"
    assert resources["HelloFunctionEventInvokeConfigOnSuccessQueue"].type == "AWS::SQS::Queue"
    assert resources["Table"].emulated  # the moto backend runs tables
    assert "ProdOnlyQueue" not in resources  # Condition IsProd is false
    assert [w.logical_id for w in full.warnings] == []  # type: ignore[attr-defined]


def test_apis_and_routes(full: object) -> None:
    rest = full.apis["ServerlessRestApi"]  # type: ignore[attr-defined]
    assert (rest.kind, rest.stage_name) == ("rest", "Prod")
    assert [(r.method, r.path, r.payload_format, r.timeout_ms) for r in rest.routes] == \
        [("GET", "/hello", "1.0", 29000)]
    assert rest.cors.allow_origins == ("*",)  # Globals.Api.Cors "'*'"
    http = full.apis["ServerlessHttpApi"]  # type: ignore[attr-defined]
    assert (http.kind, http.stage_name) == ("http", "$default")
    assert [(r.method, r.path, r.payload_format, r.timeout_ms) for r in http.routes] == \
        [("ANY", "$default", "2.0", 30000), ("POST", "/items/{id}", "1.0", 5000)]
    api = full.apis["MyApi"]  # type: ignore[attr-defined]
    assert api.stage_name == "v1" and api.api_id == "l7w31x7vd7" or len(api.api_id) == 10
    secured, open_ = api.routes
    assert (secured.authorizer, secured.api_key_required) == ("TokenAuth", True)
    assert (open_.authorizer, open_.api_key_required) == (None, False)
    auth = api.authorizers["TokenAuth"]
    assert auth.function == "AuthFunction" and auth.identity_header == "X-Token" and auth.ttl_seconds == 0
    assert api.cors.allow_origins == ("https://example.com",) and api.cors.allow_methods == ("GET", "POST")
    assert api.cors.max_age == 600


def test_queues_mappings_and_destinations(full: object) -> None:
    queues = full.queues  # type: ignore[attr-defined]
    assert queues["OrdersDLQ"].name == "app-dlq"
    orders = queues["OrdersQueue"]
    assert orders.name == physical_name("app", "OrdersQueue", 80)
    assert orders.url == CTX.queue_url(orders.name) and orders.arn == CTX.queue_arn(orders.name)
    assert orders.redrive_policy.dead_letter_target_arn == queues["OrdersDLQ"].arn
    fifo = queues["FifoQueue"]
    assert fifo.fifo and fifo.name.endswith(".fifo") and len(fifo.name) <= 80
    mapping = full.mappings["WorkerFunctionOrders"]  # type: ignore[attr-defined]
    assert (mapping.function, mapping.batch_size, mapping.maximum_batching_window_seconds) == \
        ("WorkerFunction", 100, 5)
    assert mapping.event_source_arn == orders.arn and mapping.maximum_concurrency == 5
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", mapping.uuid)
    assert mapping.filter_patterns == ('{"body": {"kind": ["order"]}}',)
    hello = full.functions["HelloFunction"]  # type: ignore[attr-defined]
    eic = hello.event_invoke_config
    assert eic.maximum_retry_attempts == 1
    assert eic.on_success.arn == queues["HelloFunctionEventInvokeConfigOnSuccessQueue"].arn
    assert eic.on_failure.arn == queues["OrdersDLQ"].arn
    worker = full.functions["WorkerFunction"]  # type: ignore[attr-defined]
    assert worker.name == "app-worker" and worker.dead_letter_queue.arn == queues["OrdersDLQ"].arn


def test_function_url_and_outputs(full: object) -> None:
    url = full.function_urls["HelloFunctionUrl"]  # type: ignore[attr-defined]
    assert re.fullmatch(r"[a-z0-9]{32}", url.url_id) and url.function == "HelloFunction"
    assert url.cors.allow_methods == ("GET",)
    outputs = {o.key: o for o in full.outputs}  # type: ignore[attr-defined]
    rest_id = full.apis["ServerlessRestApi"].api_id  # type: ignore[attr-defined]
    assert outputs["HelloApi"].value == f"https://{rest_id}.execute-api.us-east-1.amazonaws.com/Prod/hello/"
    assert outputs["Url"].value == f"https://{url.url_id}.lambda-url.us-east-1.on.aws/"
    assert outputs["Subnets"].value == "subnet-1,subnet-2"
    assert outputs["QueueArn"].export_name == "app-orders-arn"
    assert outputs["StageName"].value == "v1"
    assert "ProdQueue" not in outputs
    assert full.parameters["Memory"] == "256" and full.parameters["Subnets"] == ["subnet-1", "subnet-2"]  # type: ignore[attr-defined]
    assert full.no_echo_parameters == ("Secret",)  # type: ignore[attr-defined]


def test_parameter_overrides_switch_conditions() -> None:
    stack = load_stack(GOLDEN / "full.yaml", CTX, {"Stage": "prod"})
    assert "ProdOnlyQueue" in stack.queues
    assert stack.functions["HelloFunction"].timeout == 30
    assert stack.functions["HelloFunction"].environment["MAYBE"] == stack.queues["ProdOnlyQueue"].url
    assert any(o.key == "ProdQueue" for o in stack.outputs)
    with pytest.raises(TemplateError, match="AllowedValues"):
        load_stack(GOLDEN / "full.yaml", CTX, {"Stage": "qa"})


def test_ids_are_stable_across_loads() -> None:
    a = load_stack(GOLDEN / "full.yaml", CTX)
    b = load_stack(GOLDEN / "full.yaml", CTX)
    assert a == b
    c = load_stack(GOLDEN / "full.yaml", Context(stack_name="other"))
    assert c.apis["MyApi"].api_id != a.apis["MyApi"].api_id


def test_generated_fifo_name_fits(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    lid = "Q" + "x" * 90
    path.write_text(f"Resources:\n  {lid}:\n    Type: AWS::SQS::Queue\n    Properties:\n      FifoQueue: true\n")
    stack = load_stack(path, Context(stack_name="a-very-long-stack-name-for-testing"))
    name = stack.queues[lid].name
    assert name.endswith(".fifo") and len(name) == 80


def test_explicit_api_stage_and_http_default_route(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(textwrap.dedent("""\
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              InlineCode: "def handler(e, c): return 1"
              Handler: index.handler
              Runtime: python3.12
              FunctionUrlConfig: {AuthType: AWS_IAM}
              EventInvokeConfig:
                DestinationConfig:
                  OnFailure: {Type: SNS}
              Events:
                Default:
                  Type: HttpApi
                  Properties:
                    ApiId: !Ref Http
          Http:
            Type: AWS::Serverless::HttpApi
            Properties:
              CorsConfiguration:
                AllowOrigins: [https://a.example]
                AllowCredentials: true
        """))
    stack = load_stack(tmp_path / "template.yaml", CTX)
    fn = stack.functions["Fn"]
    assert fn.inline_code.startswith("def handler") and fn.code_uri is None
    http = stack.apis["Http"]
    assert http.stage_name == "$default" and http.routes[0].path == "$default"
    assert http.cors.allow_origins == ("https://a.example",) and http.cors.allow_credentials
    assert "HttpApiGatewayDefaultStage" in stack.resources
    assert stack.function_urls["FnUrl"].auth_type == "AWS_IAM"
    assert "FnUrlPublicPermissions" not in stack.resources
    assert fn.event_invoke_config.on_failure.type == "SNS"
    assert fn.event_invoke_config.on_failure.arn.startswith("arn:aws:sns:us-east-1:123456789012:")
    assert "FnEventInvokeConfigOnFailureTopic" in stack.resources
    # The topic is created (moto backend); async results are not delivered to it (the warning says so).
    assert stack.resources["FnEventInvokeConfigOnFailureTopic"].emulated


def test_load_stack_raises_with_every_error(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text("Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n"
                    "      DelaySeconds: 1000\n      VisibilityTimeout: -1\n")
    with pytest.raises(TemplateError) as info:
        load_stack(path, CTX)
    assert len(info.value.problems) == 2
    assert info.value.exit_code == 3
    assert f"{path}:5: Q.Properties.DelaySeconds" in info.value.message


def test_definition_body_routes_and_ssm_parameters(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(textwrap.dedent("""\
        Transform: AWS::Serverless-2016-10-31
        Parameters:
          Latest:
            Type: AWS::SSM::Parameter::Value<String>
            Default: /app/version
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              InlineCode: "def handler(e, c): return 1"
              Handler: index.handler
              Runtime: python3.12
              Environment: {Variables: {VERSION: !Ref Latest}}
          Api:
            Type: AWS::Serverless::Api
            Properties:
              StageName: dev
              DefinitionBody:
                openapi: 3.0.1
                paths:
                  /things/{id}:
                    x-amazon-apigateway-any-method:
                      x-amazon-apigateway-integration:
                        type: aws_proxy
                        httpMethod: POST
                        uri: !Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Fn.Arn}/invocations
                  /mock:
                    get:
                      x-amazon-apigateway-integration: {type: mock}
        """))
    from samlite.template import validate_template

    stack = load_stack(tmp_path / "template.yaml", CTX)
    (route,) = stack.apis["Api"].routes
    assert (route.method, route.path, route.function) == ("ANY", "/things/{id}", "Fn")
    assert stack.functions["Fn"].environment["VERSION"] == "/app/version"
    assert any("cannot be looked up offline" in p.message for p in
               validate_template(tmp_path / "template.yaml") if p.severity == "warning")
