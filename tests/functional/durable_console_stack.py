"""A durable function for the console's tests: a step, an hour-long wait (fired from the console or
`samlite executions fire`), then a callback whose result it returns."""

from __future__ import annotations

from pathlib import Path

from samlite.testing import EngineHandle, write_project

STACK = "flows"

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  OrderFlow:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: flow.handler
      CodeUri: src/
      Timeout: 30
      DurableConfig:
        ExecutionTimeout: 7200
"""

FLOW = """\
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration


@durable_execution
def handler(event, context: DurableContext):
    total = context.step(lambda _: event.get("n", 1) * 2, name="total")
    context.wait(Duration.from_seconds(3600), name="cool-off")
    approval = context.create_callback(name="approval").result()
    return {"total": total, "approval": approval}
"""


def deploy(engine: EngineHandle, root: Path) -> str:
    """Deploy the stack; the function's name."""
    template = write_project(root, TEMPLATE, {"src/flow.py": FLOW})
    engine.deploy(template, STACK)
    functions = engine.client("lambda").list_functions()["Functions"]
    return next(f["FunctionName"] for f in functions if "OrderFlow" in f["FunctionName"])
