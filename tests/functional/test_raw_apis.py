"""Raw API Gateway resources (RestApi/Resource/Method/Deployment/Stage and ApiGatewayV2
Api/Route/Integration/Stage) are served by the gateway with the events and URLs of SAM's APIs;
integrations that are not Lambda proxies are warned about by route."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from samlite.testing import EngineHandle, write_project

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  EchoRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]
  Echo:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      Code: src/
      Role: !GetAtt EchoRole.Arn
  Rest:
    Type: AWS::ApiGateway::RestApi
    Properties: {Name: raw-rest}
  Items:
    Type: AWS::ApiGateway::Resource
    Properties: {RestApiId: !Ref Rest, ParentId: !GetAtt Rest.RootResourceId, PathPart: items}
  Item:
    Type: AWS::ApiGateway::Resource
    Properties: {RestApiId: !Ref Rest, ParentId: !Ref Items, PathPart: '{id}'}
  GetItem:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Rest
      ResourceId: !Ref Item
      HttpMethod: GET
      AuthorizationType: NONE
      Integration:
        Type: AWS_PROXY
        IntegrationHttpMethod: POST
        Uri: !Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Echo.Arn}/invocations
  MockItems:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Rest
      ResourceId: !Ref Items
      HttpMethod: POST
      AuthorizationType: NONE
      Integration: {Type: MOCK}
  Deployment:
    Type: AWS::ApiGateway::Deployment
    DependsOn: [GetItem, MockItems]
    Properties: {RestApiId: !Ref Rest}
  Stage:
    Type: AWS::ApiGateway::Stage
    Properties: {RestApiId: !Ref Rest, DeploymentId: !Ref Deployment, StageName: v1}
  Http:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: raw-http, ProtocolType: HTTP}
  HttpIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Http
      IntegrationType: AWS_PROXY
      IntegrationUri: !GetAtt Echo.Arn
      PayloadFormatVersion: '2.0'
  OldIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Http
      IntegrationType: AWS_PROXY
      IntegrationUri: !GetAtt Echo.Arn
      PayloadFormatVersion: '1.0'
  HttpIntegrationOut:
    Type: AWS::ApiGatewayV2::Integration
    Properties: {ApiId: !Ref Http, IntegrationType: HTTP_PROXY, IntegrationUri: 'https://example.com',
                 IntegrationMethod: GET, PayloadFormatVersion: '1.0'}
  HelloRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Http, RouteKey: 'GET /hello/{name}', Target: !Sub 'integrations/${HttpIntegration}'}
  OldRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Http, RouteKey: 'POST /old', Target: !Join [/, [integrations, !Ref OldIntegration]]}
  DefaultRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Http, RouteKey: $default, Target: !Sub 'integrations/${HttpIntegration}'}
  OutRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Http, RouteKey: 'GET /out', Target: !Sub 'integrations/${HttpIntegrationOut}'}
  HttpStage:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {ApiId: !Ref Http, StageName: $default, AutoDeploy: true}
Outputs:
  RestUrl:
    Value: !Sub https://${Rest}.execute-api.${AWS::Region}.amazonaws.com/v1/
  HttpUrl:
    Value: !Sub https://${Http}.execute-api.${AWS::Region}.amazonaws.com/
"""

APP = """\
import json


def handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}
"""


@pytest.fixture(scope="module")
def deployed(samlite_module_engine: EngineHandle, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = write_project(tmp_path_factory.mktemp("raw-apis"), TEMPLATE, {"src/app.py": APP})
    result = samlite_module_engine.deploy(path, "raw")
    return {"engine": samlite_module_engine, "outputs": samlite_module_engine.outputs("raw"),
            "deploy": result.stdout + result.stderr}


def _call(url: str, method: str = "GET", body: bytes | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_rest_method_with_a_proxy_integration_answers(deployed: dict[str, Any]) -> None:
    base = deployed["outputs"]["RestUrl"]
    assert base.startswith("http://127.0.0.1:") and base.endswith("/v1/")
    status, event = _call(base + "items/42?q=1")
    assert status == 200
    assert event["resource"] == "/items/{id}" and event["path"] == "/items/42"
    assert event["pathParameters"] == {"id": "42"} and event["queryStringParameters"] == {"q": "1"}
    assert event["httpMethod"] == "GET" and event["requestContext"]["stage"] == "v1"
    assert event["requestContext"]["resourcePath"] == "/items/{id}"


def test_http_routes_with_both_payload_versions_and_default(deployed: dict[str, Any]) -> None:
    base = deployed["outputs"]["HttpUrl"]
    status, event = _call(base + "hello/ana")
    assert status == 200
    assert event["version"] == "2.0" and event["routeKey"] == "GET /hello/{name}"
    assert event["pathParameters"] == {"name": "ana"} and event["requestContext"]["stage"] == "$default"
    status, event = _call(base + "old", "POST", b"{}")
    assert status == 200 and event["version"] == "1.0" and event["httpMethod"] == "POST"
    status, event = _call(base + "anything/else")
    assert status == 200 and event["routeKey"] == "$default"


def test_non_lambda_integrations_are_warned_about_by_route(deployed: dict[str, Any]) -> None:
    text = deployed["deploy"]
    assert "route POST /items: MOCK integration" in text
    assert "route GET /out: HTTP_PROXY integration (https://example.com)" in text
    endpoints = deployed["engine"].endpoints("raw")
    rest = next(e for e in endpoints if e["resource"] == "Rest")
    assert rest["routes"] == ["GET /items/{id}"] and rest["stage"] == "v1"
    http = next(e for e in endpoints if e["resource"] == "Http")
    assert sorted(http["routes"]) == ["ANY $default", "GET /hello/{name}", "POST /old"]


def test_no_raw_api_resource_is_reported_as_skipped(deployed: dict[str, Any]) -> None:
    lines = [line for line in deployed["deploy"].splitlines() if "not emulated" in line]
    assert len(lines) == 2 and all(" integration" in line for line in lines), lines


def test_websocket_routes_are_warned_not_refused(tmp_path: Any, samlite_module_engine: EngineHandle) -> None:
    template = """\
Resources:
  Ws:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: ws, ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action}
  Connect:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Ws, RouteKey: $connect}
"""
    path = write_project(tmp_path, template, {})
    result = samlite_module_engine.cli("validate", "-t", str(path), "--output", "json", cwd=tmp_path)
    report = json.loads(result.stdout)
    assert result.returncode == 0 and not report["errors"]
    assert any("route $connect: WEBSOCKET API routes are not emulated" in w["message"] for w in report["warnings"])
