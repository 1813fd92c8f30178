"""`samlite send-message`: send one message to a deployed (or API-created) queue.

QUEUE is a logical id (within --stack-name, or any stack when unique), a queue name or a queue
URL. The body comes from --body, --body-file or `-` (stdin). Prints the MessageId to stdout.
"""

from __future__ import annotations

import sys
from typing import Any

import click


def parse_attribute(text: str) -> tuple[str, dict[str, str]]:
    """`K=V` (String), `K=Number:5`, `K=String.custom:v`, `K=Binary:<base64>`."""
    from samlite.errors import UsageError

    key, sep, value = text.partition("=")
    if not sep or not key:
        raise UsageError(f"--attribute {text!r} is not KEY=VALUE")
    data_type = "String"
    head, colon, rest = value.partition(":")
    if colon and head.split(".", 1)[0] in ("String", "Number", "Binary"):
        data_type, value = head, rest
    field = "BinaryValue" if data_type.startswith("Binary") else "StringValue"
    return key, {"DataType": data_type, field: value}


@click.command(name="send-message")
@click.argument("queue")
@click.argument("stdin_marker", required=False, metavar="[-]")
@click.option("--stack-name", "stack_name", default=None, help="Stack whose logical id QUEUE names.")
@click.option("--body", default=None, help="The message body.")
@click.option("--body-file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Read the body from this file.")
@click.option("--attribute", "attributes", multiple=True, metavar="K=V",
              help="Message attribute (String); K=Number:5 or K=Binary:<base64> for other types. Repeatable.")
@click.option("--delay-seconds", type=int, default=None, help="Delay delivery 0-900 s (standard queues).")
@click.option("--group-id", default=None, help="MessageGroupId (FIFO queues).")
@click.option("--dedup-id", default=None, help="MessageDeduplicationId (FIFO queues).")
def send_message(queue: str, stdin_marker: str | None, stack_name: str | None, body: str | None,
                 body_file: str | None, attributes: tuple[str, ...], delay_seconds: int | None,
                 group_id: str | None, dedup_id: str | None) -> None:
    """Send a message to QUEUE (logical id, name or URL) and print its MessageId."""
    from samlite.client import connect
    from samlite.errors import UsageError

    sources = sum(x is not None for x in (body, body_file, stdin_marker))
    if stdin_marker is not None and stdin_marker != "-":
        raise UsageError(f"unexpected argument {stdin_marker!r} (use - to read the body from stdin)")
    if sources != 1:
        raise UsageError("give the body with exactly one of --body, --body-file or - (stdin)")
    if body_file is not None:
        try:
            with open(body_file, encoding="utf-8") as f:
                body = f.read()
        except UnicodeDecodeError:
            raise UsageError(f"{body_file} is not UTF-8 text; SQS bodies are text") from None
    elif stdin_marker == "-":
        body = sys.stdin.read()
    assert body is not None  # exactly one source was given
    attrs: dict[str, Any] = dict(parse_attribute(a) for a in attributes)
    client = connect()
    result = client.queues.send_message(queue, body, stack_name, attributes=attrs or None,
                                        delay_seconds=delay_seconds, group_id=group_id, dedup_id=dedup_id)
    click.echo(result["MessageId"])
