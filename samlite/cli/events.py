"""`samlite generate-event SERVICE EVENT`: print sample events in the shapes functions receive.

The API Gateway and function URL events are built by the same pure functions the gateway uses
(`samlite.services.apigateway.events`), and SQS records carry real MD5 digests, so a generated event is what
a deployed function would get. Supported (SAM's names and aliases):

    sqs receive-message              apigateway aws-proxy           apigateway http-api-proxy
    lambda function-url (functionurl) events schedule (cloudwatch scheduled-event)
    dynamodb update                  kinesis get-records
    s3 put                           s3 delete                      sns notification
    eventbridge event (events event)
"""

from __future__ import annotations

import json

import click

from samlite.sample_events import GENERATORS, REGION


def _listing() -> str:
    return ", ".join(f"{s} {e}" for s, e in GENERATORS)


@click.command("generate-event")
@click.argument("service", required=False)
@click.argument("event", required=False)
@click.option("--body", default=None, help="Message body (sqs) or request body (apigateway, lambda function-url).")
@click.option("--queue-name", default=None, help="SQS queue name for eventSourceARN (default my-queue).")
@click.option("--path", default=None, help="Request path, optionally with ?query (default /path/to/resource).")
@click.option("--method", default=None, help="HTTP method (default POST).")
@click.option("--resource", default=None, help="API resource / route path, e.g. /items/{id} (default: the path).")
@click.option("--stage", default=None, help="API stage (default prod; $default for HTTP APIs).")
@click.option("--rule-name", default=None, help="EventBridge rule name for schedule events.")
@click.option("--bucket", default=None, help="S3 bucket name (default example-bucket).")
@click.option("--key", default=None, help="S3 object key (default test/key); written URL-encoded, as S3 does.")
@click.option("--topic", default=None, help="SNS topic name (default ExampleTopic).")
@click.option("--subject", default=None, help="SNS subject (default TestInvoke).")
@click.option("--source", default=None, help="EventBridge source (default my.app).")
@click.option("--detail-type", default=None, help="EventBridge detail-type (default My Event).")
@click.option("--region", default=REGION, show_default=True, help="Region written into the event.")
def generate_event(service: str | None, event: str | None, body: str | None, queue_name: str | None,
                   path: str | None, method: str | None, resource: str | None, stage: str | None,
                   rule_name: str | None, bucket: str | None, key: str | None, topic: str | None,
                   subject: str | None, source: str | None, detail_type: str | None, region: str) -> None:
    """Print a sample event for SERVICE EVENT as JSON on stdout.

    \b
    Examples:
      samlite generate-event sqs receive-message --body '{"id": 1}' > event.json
      samlite generate-event apigateway aws-proxy --method GET --path '/items/42?q=1'
      samlite generate-event apigateway http-api-proxy
      samlite generate-event lambda function-url
      samlite generate-event events schedule
      samlite generate-event s3 put --bucket uploads --key 'photos/red flower.jpg'
      samlite generate-event sns notification --body '{"order": 1}'
      samlite generate-event eventbridge event --source shop --detail-type 'Order Placed' --body '{"total": 3}'
    """
    from samlite.errors import UsageError

    if service is None or event is None:
        raise UsageError("name the SERVICE and EVENT", hint=f"Available: {_listing()}.")
    builder = GENERATORS.get((service.lower(), event.lower()))
    if builder is None:
        raise UsageError(f"no sample event {service} {event}", hint=f"Available: {_listing()}.")
    opts = {"body": body, "queue_name": queue_name, "path": path, "method": method, "resource": resource,
            "stage": stage, "rule_name": rule_name, "bucket": bucket, "key": key, "topic": topic, "subject": subject,
            "source": source, "detail_type": detail_type, "region": region}
    click.echo(json.dumps(builder(opts), indent=2))
